"""tag rows counted per key, value and scope (SQLite)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23

The explorer's exact count of a lone `tag.key=K&tag.value=V` reads one index entry per matching
resource: 80 ms for a tag held by 449,100 of a million resources, most of such a search.
`cloud_service_tag_counts` keeps, per key, value, domain, workspace and project, how many tag
rows count a resource for that pair (visible, and the first provider giving it the pair: the
rows `skyatlas.explorer.tags.system_pair_count` counts). Triggers on `cloud_service_tags` keep
it exact through every statement that writes tag rows, including the trigger that carries a
resource's state and project over to them (0012). A key whose count drops to nothing is
removed, so the table holds the pairs in use, not every pair ever seen.

SQLite only, as `cloud_service_counts` (0013): one writer at a time, where on PostgreSQL
concurrent writers would queue on the same counter rows.

`k` is the combination as a JSON array, which tells a NULL project apart from an empty one; the
primary key starts with the key and value, so a pair's counts are one range.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = ("key", "value", "domain_id", "workspace_id", "project_id")
_COLUMNS = ", ".join(f'"{d}"' for d in DIMENSIONS)
TRIGGERS = (
    "cloud_service_tag_counts_insert",
    "cloud_service_tag_counts_delete",
    "cloud_service_tag_counts_move",
)


def _key(row: str) -> str:
    return "json_array(" + ", ".join(f'{row}."{d}"' for d in DIMENSIONS) + ")"


def _counted(row: str) -> str:
    return f"{row}.visible AND {row}.first_provider"


def _add(row: str) -> str:
    values = ", ".join(f'{row}."{d}"' for d in DIMENSIONS)
    return (
        f"INSERT INTO cloud_service_tag_counts (k, {_COLUMNS}, n) "
        f"SELECT {_key(row)}, {values}, 1 WHERE {_counted(row)} "
        'ON CONFLICT ("key", value, k) DO UPDATE SET n = n + 1;'
    )


def _remove(row: str) -> str:
    at = f'"key" = {row}."key" AND value = {row}.value AND k = {_key(row)}'
    return (
        f"UPDATE cloud_service_tag_counts SET n = n - 1 WHERE {at} AND {_counted(row)}; "
        f"DELETE FROM cloud_service_tag_counts WHERE {at} AND n = 0;"
    )


_MOVED = (*DIMENSIONS, "visible", "first_provider")
_CHANGED = " OR ".join(f'old."{d}" IS NOT new."{d}"' for d in _MOVED)

DDL = (
    'CREATE TABLE cloud_service_tag_counts ("key" VARCHAR NOT NULL, value VARCHAR NOT NULL, '
    "k TEXT NOT NULL, domain_id VARCHAR, workspace_id VARCHAR, project_id VARCHAR, "
    'n INTEGER NOT NULL, PRIMARY KEY ("key", value, k)) WITHOUT ROWID',
    f"CREATE TRIGGER cloud_service_tag_counts_insert AFTER INSERT ON cloud_service_tags "
    f"BEGIN {_add('new')} END",
    f"CREATE TRIGGER cloud_service_tag_counts_delete AFTER DELETE ON cloud_service_tags "
    f"BEGIN {_remove('old')} END",
    "CREATE TRIGGER cloud_service_tag_counts_move AFTER UPDATE OF "
    + ", ".join(f'"{d}"' for d in _MOVED)
    + f" ON cloud_service_tags WHEN {_CHANGED} BEGIN {_remove('old')} {_add('new')} END",
    f"INSERT INTO cloud_service_tag_counts (k, {_COLUMNS}, n) "
    f"SELECT json_array({_COLUMNS}), {_COLUMNS}, count(*) FROM cloud_service_tags "
    f"WHERE visible AND first_provider GROUP BY {_COLUMNS}",
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
    op.execute("DROP TABLE IF EXISTS cloud_service_tag_counts")
