"""resources counted per scope, provider, group, type, region and state (SQLite)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

An exact count over a million resources reads a million index entries (160 to 275 ms on SQLite
however the index is shaped), and the console's overview, inventory table and counts panel each
ask for one. `cloud_service_counts` keeps one row per combination of the columns those
questions filter and group on, with the number of resources in it; triggers keep it exact
through every statement that writes `cloud_services`. `skyatlas.store.counts` answers a count
or a group count from it whenever the question only involves those columns.

SQLite only: it has one writer at a time, so the hot counter rows cost nothing. On PostgreSQL
concurrent writers (API, workers) would queue on the same counter rows, and its counts run as
parallel index-only scans instead.

`k` is the combination as a JSON array: a primary key that tells a NULL project or region apart
from an empty one (a UNIQUE index over nullable columns would not).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = (
    "domain_id",
    "workspace_id",
    "project_id",
    "provider",
    "cloud_service_group",
    "cloud_service_type",
    "region_code",
    "state",
)
_COLUMNS = ", ".join(DIMENSIONS)
TRIGGERS = (
    "cloud_service_counts_insert",
    "cloud_service_counts_delete",
    "cloud_service_counts_move",
)


def _key(row: str) -> str:
    return "json_array(" + ", ".join(f"{row}.{d}" for d in DIMENSIONS) + ")"


def _add(row: str) -> str:
    values = ", ".join(f"{row}.{d}" for d in DIMENSIONS)
    return (
        f"INSERT INTO cloud_service_counts (k, {_COLUMNS}, n) VALUES ({_key(row)}, {values}, 1) "
        "ON CONFLICT (k) DO UPDATE SET n = n + 1;"
    )


def _remove(row: str) -> str:
    return f"UPDATE cloud_service_counts SET n = n - 1 WHERE k = {_key(row)};"


_CHANGED = " OR ".join(f"old.{d} IS NOT new.{d}" for d in DIMENSIONS)

DDL = (
    "CREATE TABLE cloud_service_counts (k TEXT PRIMARY KEY NOT NULL, "
    + ", ".join(f"{d} VARCHAR" for d in DIMENSIONS)
    + ", n INTEGER NOT NULL) WITHOUT ROWID",
    f"CREATE TRIGGER cloud_service_counts_insert AFTER INSERT ON cloud_services BEGIN "
    f"{_add('new')} END",
    f"CREATE TRIGGER cloud_service_counts_delete AFTER DELETE ON cloud_services BEGIN "
    f"{_remove('old')} END",
    f"CREATE TRIGGER cloud_service_counts_move AFTER UPDATE OF {_COLUMNS} ON cloud_services "
    f"WHEN {_CHANGED} BEGIN {_remove('old')} {_add('new')} END",
    f"INSERT INTO cloud_service_counts (k, {_COLUMNS}, n) "
    f"SELECT json_array({_COLUMNS}), {_COLUMNS}, count(*) FROM cloud_services "
    f"GROUP BY {_COLUMNS}",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS cloud_service_counts")
