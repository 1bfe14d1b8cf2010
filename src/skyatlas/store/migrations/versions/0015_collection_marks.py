"""a resource's collection info in a narrow table of its own

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23

Every collection run writes the collector, service account, secret and `last_collected_at` of
every resource it sees, changed or not. Kept in `cloud_services`, that meant rewriting each
resource's whole row (about 2.6 kB with its `data`) and moving its entry in an index on
`last_collected_at`: about 100 us a resource on SQLite, most of a re-collection that found
nothing changed. `cloud_service_collections` holds those four fields, one narrow row per
collected resource, and the reconcile reads the range of its index that one collector and
service account did not see since a time.

The columns are moved, not copied: SQLite rewrites the table once per dropped column (about
0.3 s per 30,000 resources each, measured), PostgreSQL only marks them dropped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = skyatlas.store.types.UTCDateTime(timezone=True)
MOVED = ("collector_id", "service_account_id", "secret_id", "last_collected_at")
_LIST = ", ".join(MOVED)


def upgrade() -> None:
    op.create_table(
        "cloud_service_collections",
        sa.Column("cloud_service_id", Str(40), nullable=False),
        sa.Column("collector_id", Str(40), nullable=False),
        sa.Column("service_account_id", Str(40), nullable=True),
        sa.Column("secret_id", Str(40), nullable=True),
        sa.Column("last_collected_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("cloud_service_id", name=op.f("pk_cloud_service_collections")),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO cloud_service_collections (cloud_service_id, {_LIST}) "
        f"SELECT cloud_service_id, {_LIST} FROM cloud_services WHERE collector_id IS NOT NULL"
    )
    op.create_index(
        "ix_cloud_service_collections_collector",
        "cloud_service_collections",
        ["collector_id", "service_account_id", "last_collected_at"],
    )
    op.drop_index("ix_cloud_services_collection", table_name="cloud_services")
    for column in MOVED:
        # A plain ALTER TABLE ... DROP COLUMN on both backends (SQLite 3.35+): a batch
        # operation would copy the table and rebuild its triggers and text index.
        op.execute(f"ALTER TABLE cloud_services DROP COLUMN {column}")


def downgrade() -> None:
    with op.batch_alter_table("cloud_services") as batch_op:
        batch_op.add_column(sa.Column("collector_id", Str(40), nullable=True))
        batch_op.add_column(sa.Column("service_account_id", Str(40), nullable=True))
        batch_op.add_column(sa.Column("secret_id", Str(40), nullable=True))
        batch_op.add_column(sa.Column("last_collected_at", TIMESTAMP, nullable=True))
    op.execute(
        "UPDATE cloud_services SET "
        + ", ".join(
            f"{c} = (SELECT m.{c} FROM cloud_service_collections m "
            "WHERE m.cloud_service_id = cloud_services.cloud_service_id)"
            for c in MOVED
        )
    )
    op.create_index(
        "ix_cloud_services_collection",
        "cloud_services",
        ["collector_id", "service_account_id", "last_collected_at"],
    )
    op.drop_index("ix_cloud_service_collections_collector", table_name="cloud_service_collections")
    op.drop_table("cloud_service_collections")
