"""Answer resource counts from `cloud_service_counts` instead of counting a million rows.

The table (migration 0013, SQLite only) holds, per combination of scope, provider, group, type,
region and state, how many resources have it. A question whose filter and groups involve only
those columns has the same answer there: every resource of a combination either matches such a
filter or does not. `counted` rewrites such a statement onto the table, summing `n` where it
counted rows, and leaves every other statement alone — a keyword, a tag, a `data.*` path or a
custom tag touches another column of `cloud_services`, which the rewrite refuses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    FromClause,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.sql import functions, visitors
from sqlalchemy.sql.elements import ColumnClause, Label
from sqlalchemy.sql.util import find_tables

from skyatlas.store.tables import cloud_services
from skyatlas.store.text_counts import text_counted

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

#: Made by a migration on SQLite alone, so kept out of the schema metadata both backends share.
cloud_service_counts = Table(
    "cloud_service_counts",
    MetaData(),
    Column("k", String, primary_key=True),
    *(Column(name, String) for name in DIMENSIONS),
    Column("n", Integer, nullable=False),
)


#: Tag rows that count a resource for their pair (visible, first provider), per pair and scope
#: (migration 0016, SQLite only): the explorer's count of a lone `tag.key=K&tag.value=V`.
TAG_DIMENSIONS = ("key", "value", "domain_id", "workspace_id", "project_id")
cloud_service_tag_counts = Table(
    "cloud_service_tag_counts",
    MetaData(),
    Column("key", String, primary_key=True),
    Column("value", String, primary_key=True),
    Column("k", String, primary_key=True),
    *(Column(name, String) for name in TAG_DIMENSIONS[2:]),
    Column("n", Integer, nullable=False),
)


class _Refused(Exception):
    """The statement involves something the counts table does not keep."""


def _is_row_count(element: Any) -> bool:
    """`count(*)`, which SQLAlchemy spells as count over the literal column `*`."""
    if not isinstance(element, functions.count):
        return False
    args = list(element.clauses)
    return (
        len(args) == 1
        and isinstance(args[0], ColumnClause)
        and args[0].table is None
        and args[0].name == "*"
    )


def _replace(element: Any) -> Any:
    if element is cloud_services:
        return cloud_service_counts
    if isinstance(element, ColumnClause) and element.table is cloud_services:
        if element.name not in DIMENSIONS:
            raise _Refused(element.name)
        return cloud_service_counts.c[element.name]
    if _is_row_count(element):
        return func.coalesce(func.sum(cloud_service_counts.c.n), 0)
    return None


def _answerable_columns(stmt: Select[Any]) -> bool:
    """Each selected column is a row count or one of the GROUP BY expressions: nothing else
    (a sum, a min, a distinct count) can be read off per-combination counts."""
    groups = list(stmt._group_by_clauses)
    for column in stmt.selected_columns:
        element = column.element if isinstance(column, Label) else column
        if _is_row_count(element):
            continue
        if not any(element.compare(g) for g in groups):
            return False
    return True


def count_rows(conn: Connection, table: FromClause, where: Any) -> int:
    """How many rows of `table` match `where`: from the kept counts when they can say, else, for
    a substring search, from the trigram index and the narrow copy of the rows it tests
    (`skyatlas.store.text_counts`)."""
    stmt = select(func.count()).select_from(table).where(where)
    fast = counted(conn, stmt)
    if fast is stmt and table is cloud_services:
        joined = text_counted(conn, where)
        fast = stmt if joined is None else joined
    return conn.execute(fast).scalar_one()


def counted(conn: Connection, stmt: Select[Any]) -> Select[Any]:
    """`stmt` asked of the counts table when that gives the same rows, else `stmt` itself.

    `stmt` selects from `cloud_services` alone: `count(*)`, optionally grouped."""
    if conn.dialect.name != "sqlite":
        return stmt
    # (get_final_froms would compile the statement with the generic compiler, which cannot
    # render the dialect-only functions of the query engine.)
    froms = [*stmt._from_obj, *stmt.columns_clause_froms]
    if not froms or any(f is not cloud_services for f in froms):
        return stmt
    if not _answerable_columns(stmt):
        return stmt
    if stmt._having_criteria or stmt._order_by_clauses or stmt._limit_clause is not None:
        return stmt
    try:
        rewritten: Select[Any] = visitors.replacement_traverse(stmt, {}, _replace)
    except _Refused:
        return stmt
    if cloud_services in find_tables(rewritten, check_columns=True, include_joins=True):
        return stmt  # something reached the resources table other than through a column
    if stmt._group_by_clauses:
        # A combination whose resources all went elsewhere keeps a row with n = 0.
        rewritten = rewritten.having(func.sum(cloud_service_counts.c.n) > 0)
    return rewritten
