"""tag rows carry their resource's scope and visibility

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

- `cloud_service_tags` gains `domain_id`, `workspace_id`, `project_id`, `visible` (state ACTIVE
  or DISCONNECTED) and `first_provider` (the one row counting a resource for its key=value when
  several providers give it the same pair), filled from the resources here, and the index
  `ix_cloud_service_tags_count` over key, value and those columns: counting the resources a
  caller sees with a tag is then a range count of that index.
- The trigger `cloud_service_tags_scope` copies a later change of a resource's state, project,
  workspace or domain onto its tag rows, whatever statement makes it (a collector's reconcile
  marks thousands DELETED in one UPDATE). It finds the rows by their primary key through the
  resource's `tags` document.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from skyatlas.store.types import Str

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIBLE = "('ACTIVE', 'DISCONNECTED')"
COLUMNS = ("domain_id", "workspace_id", "project_id", "visible", "first_provider")
INDEX = ("key", "value", "domain_id", "visible", "first_provider", "workspace_id", "project_id")

#: Which changes of a resource its tag rows must follow.
_CHANGED = (
    "({o}.state IN {v}) IS {ne} ({n}.state IN {v}) OR {o}.project_id IS {ne} {n}.project_id "
    "OR {o}.workspace_id IS {ne} {n}.workspace_id OR {o}.domain_id IS {ne} {n}.domain_id"
)

SQLITE_TRIGGER = (
    "CREATE TRIGGER cloud_service_tags_scope "
    "AFTER UPDATE OF state, project_id, workspace_id, domain_id ON cloud_services "
    f"WHEN {_CHANGED.format(o='old', n='new', v=VISIBLE, ne='NOT')} BEGIN "
    "UPDATE cloud_service_tags SET domain_id = new.domain_id, "
    "workspace_id = new.workspace_id, project_id = new.project_id, "
    f"visible = (new.state IN {VISIBLE}) "
    "WHERE (key, value, provider, cloud_service_id) IN ("
    "SELECT pair.key, pair.value, provider.key, new.cloud_service_id "
    "FROM json_each(new.tags) AS provider, json_each(provider.value) AS pair); END"
)

PG_FUNCTION = f"""
CREATE FUNCTION cloud_service_tags_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cloud_service_tags AS t
    SET domain_id = NEW.domain_id, workspace_id = NEW.workspace_id,
        project_id = NEW.project_id, visible = (NEW.state IN {VISIBLE})
    FROM jsonb_each(NEW.tags) AS provider, jsonb_each_text(provider.value) AS pair
    WHERE t.key = pair.key AND t.value = pair.value AND t.provider = provider.key
      AND t.cloud_service_id = NEW.cloud_service_id;
    RETURN NULL;
END
$$
"""
PG_TRIGGER = (
    "CREATE TRIGGER cloud_service_tags_scope "
    "AFTER UPDATE OF state, project_id, workspace_id, domain_id ON cloud_services "
    f"FOR EACH ROW WHEN ({_CHANGED.format(o='OLD', n='NEW', v=VISIBLE, ne='DISTINCT FROM')}) "
    "EXECUTE FUNCTION cloud_service_tags_scope()"
)

_FILL = (
    "UPDATE cloud_service_tags SET (domain_id, workspace_id, project_id, visible) = ("
    f"SELECT cs.domain_id, cs.workspace_id, cs.project_id, cs.state IN {VISIBLE} "
    "FROM cloud_services cs WHERE cs.cloud_service_id = cloud_service_tags.cloud_service_id)"
)
_SECOND_PROVIDERS = (
    "UPDATE cloud_service_tags SET first_provider = false "
    "WHERE (key, value, provider, cloud_service_id) IN ("
    "SELECT key, value, provider, cloud_service_id FROM ("
    "SELECT key, value, provider, cloud_service_id, row_number() OVER ("
    "PARTITION BY cloud_service_id, key, value ORDER BY provider) AS n "
    "FROM cloud_service_tags) AS ranked WHERE n > 1)"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # Added with defaults so existing rows are valid, then filled from their resources.
    op.add_column(
        "cloud_service_tags",
        sa.Column("domain_id", Str(40), nullable=False, server_default=""),
    )
    op.add_column(
        "cloud_service_tags",
        sa.Column("workspace_id", Str(40), nullable=False, server_default=""),
    )
    op.add_column("cloud_service_tags", sa.Column("project_id", Str(40), nullable=True))
    op.add_column(
        "cloud_service_tags",
        sa.Column("visible", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "cloud_service_tags",
        sa.Column("first_provider", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.execute(_FILL)
    op.execute(_SECOND_PROVIDERS)
    if postgres:  # SQLite cannot drop a default in place; writers always set every column
        for column in COLUMNS:
            if column != "project_id":
                op.alter_column("cloud_service_tags", column, server_default=None)
    op.create_index("ix_cloud_service_tags_count", "cloud_service_tags", list(INDEX))
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
    # Every row was rewritten and the index is new: statistics for it, where a store keeps any
    # (a store never analysed is analysed in full at start-up).
    if postgres or _sqlite_analysed():
        op.execute("ANALYZE cloud_service_tags")


def _sqlite_analysed() -> bool:
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    )
    return found.first() is not None


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cloud_service_tags_scope ON cloud_services")
        op.execute("DROP FUNCTION IF EXISTS cloud_service_tags_scope()")
    else:
        op.execute("DROP TRIGGER IF EXISTS cloud_service_tags_scope")
    op.drop_index("ix_cloud_service_tags_count", table_name="cloud_service_tags")
    with op.batch_alter_table(
        "cloud_service_tags", table_kwargs={"sqlite_with_rowid": False}
    ) as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
