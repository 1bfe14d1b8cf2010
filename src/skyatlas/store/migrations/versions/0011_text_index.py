"""trigram indexes for substring search (keyword, `*web*` names)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

- SQLite: the FTS5 table `cloud_services_text` (trigram tokenizer, external content) over
  `cloud_services.search_text` (which holds the lower-cased name), with the triggers that keep
  it in step; existing resources are indexed here (one pass over the table).
- PostgreSQL: `pg_trgm` GIN indexes on `search_text` and `name`. `pg_trgm` is a trusted extension
  (a database owner may create it); where it cannot be created the indexes are left out and
  substring search scans, as before.
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

from skyatlas.store.textindex import SQLITE_DDL, SQLITE_DROP

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("skyatlas.store")

PG_INDEXES = {
    "ix_cloud_services_search_trgm": "search_text",
    "ix_cloud_services_name_trgm": "name",
}


def _pg_trgm() -> bool:
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning("pg_trgm is not available (%s); substring search will scan", exc.orig)
        return False
    return True


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        if _pg_trgm():
            for name, column in PG_INDEXES.items():
                op.execute(
                    f"CREATE INDEX {name} ON cloud_services USING gin ({column} gin_trgm_ops)"
                )
        return
    for statement in SQLITE_DDL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        return
    for statement in SQLITE_DROP:
        op.execute(statement)
