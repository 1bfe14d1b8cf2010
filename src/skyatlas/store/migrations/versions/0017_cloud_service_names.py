"""each resource's name, state and scope in a narrow table keyed by its row id (SQLite)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23

The exact count of a substring search (`resource_name=*web*`, a keyword) takes its candidates
from the trigram index by row id, then tests each candidate's name, state and scope. Read from
`cloud_services`, each candidate is a row of about 2.6 kB, one page apiece: 89,006 matches of a
million resources took 182 ms, nearly all of it reading those pages. `cloud_service_names` holds
only what such a count tests, under the same row id, about 100 bytes a resource (40 to a page):
the same count takes 79 ms (`skyatlas.store.text_counts`). Triggers keep it in step with every
statement that writes `cloud_services`.

SQLite only: PostgreSQL answers these searches from its own trigram indexes (0011).

The row id is the one the trigram index (0011) already keys on, so both stay valid together.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("name", "state", "domain_id", "workspace_id", "project_id")
_LIST = ", ".join(COLUMNS)
TRIGGERS = (
    "cloud_service_names_insert",
    "cloud_service_names_delete",
    "cloud_service_names_update",
)
_CHANGED = " OR ".join(f"old.{c} IS NOT new.{c}" for c in COLUMNS)

DDL = (
    "CREATE TABLE cloud_service_names (id INTEGER PRIMARY KEY, name VARCHAR, "
    "state VARCHAR NOT NULL, domain_id VARCHAR NOT NULL, workspace_id VARCHAR NOT NULL, "
    "project_id VARCHAR)",
    "CREATE TRIGGER cloud_service_names_insert AFTER INSERT ON cloud_services BEGIN "
    f"INSERT INTO cloud_service_names (id, {_LIST}) "
    f"VALUES (new.rowid, {', '.join(f'new.{c}' for c in COLUMNS)}); END",
    "CREATE TRIGGER cloud_service_names_delete AFTER DELETE ON cloud_services BEGIN "
    "DELETE FROM cloud_service_names WHERE id = old.rowid; END",
    f"CREATE TRIGGER cloud_service_names_update AFTER UPDATE OF {_LIST} ON cloud_services "
    f"WHEN {_CHANGED} BEGIN UPDATE cloud_service_names SET "
    + ", ".join(f"{c} = new.{c}" for c in COLUMNS)
    + " WHERE id = new.rowid; END",
    f"INSERT INTO cloud_service_names (id, {_LIST}) SELECT rowid, {_LIST} FROM cloud_services",
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
    op.execute("DROP TABLE IF EXISTS cloud_service_names")
