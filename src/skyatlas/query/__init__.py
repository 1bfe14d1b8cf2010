"""The one query model every dialect parses into and the store compiles from.

`model` holds the dialect-free description of a query, `spaceone` parses the SpaceONE `query`
object into it, `compile` turns it into SQLAlchemy for SQLite and PostgreSQL alike, and
`projection` applies `only`.
"""

from skyatlas.query.model import (
    OPERATORS,
    Condition,
    GroupField,
    GroupKey,
    Page,
    Query,
    SortKey,
    StatQuery,
)

__all__ = [
    "OPERATORS",
    "Condition",
    "GroupField",
    "GroupKey",
    "Page",
    "Query",
    "SortKey",
    "StatQuery",
]
