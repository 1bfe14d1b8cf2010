"""explorer: who created a resource; tag rows keyed tag-first

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

- `cloud_services.created_by`: the app, import or collector that first wrote the resource (the
  Resource Explorer dialect shows it as `user_name`). Rows written before keep NULL.
- `cloud_service_tags` is re-keyed `(key, value, provider, cloud_service_id)`: the Resource
  Explorer dialect looks tags up by key and value without a provider, the SpaceONE dialect by
  provider, key and value; one key order serves both as a range scan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from skyatlas.store.types import Str

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = ("provider", "key", "value", "cloud_service_id")
NEW_KEY = ("key", "value", "provider", "cloud_service_id")


def _rekey_tags(key: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_cloud_service_tags", "cloud_service_tags", type_="primary")
        op.create_primary_key("pk_cloud_service_tags", "cloud_service_tags", list(key))
        return
    # SQLite cannot change a WITHOUT ROWID table's key in place: copy into the new shape.
    op.create_table(
        "cloud_service_tags_rekeyed",
        sa.Column("provider", Str(64), nullable=False),
        sa.Column("key", Str(255), nullable=False),
        sa.Column("value", Str(1024), nullable=False),
        sa.Column("cloud_service_id", Str(40), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_cloud_service_tags"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO cloud_service_tags_rekeyed (provider, key, value, cloud_service_id) "
        "SELECT provider, key, value, cloud_service_id FROM cloud_service_tags"
    )
    op.drop_table("cloud_service_tags")
    op.rename_table("cloud_service_tags_rekeyed", "cloud_service_tags")


def upgrade() -> None:
    # A plain ADD COLUMN on both backends: no table copy, however many resources there are.
    op.add_column("cloud_services", sa.Column("created_by", Str(255), nullable=True))
    _rekey_tags(NEW_KEY)


def downgrade() -> None:
    _rekey_tags(OLD_KEY)
    with op.batch_alter_table("cloud_services") as batch:
        batch.drop_column("created_by")
