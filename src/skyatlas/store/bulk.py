"""Fast many-row inserts: the same rows SQLAlchemy would write, with less per-row overhead.

SQLAlchemy's executemany path rebuilds a parameter dict per row; for bulk imports on SQLite that
costs more than SQLite itself. Here each column's bind processor (the very function SQLAlchemy
would apply: JSON serialisation, UTC timestamps) is looked up once and applied in a tight loop,
and the driver gets plain tuples. PostgreSQL keeps SQLAlchemy's batched multi-row INSERT.
"""

from __future__ import annotations

import functools
import operator
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

_cache: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[Callable[[Any], Any] | None]]] = {}
_lock = threading.Lock()


def _prepared(
    conn: Connection, table: Table, columns: tuple[str, ...]
) -> tuple[str, list[Callable[[Any], Any] | None]]:
    key = (conn.dialect.name, table.name, columns)
    found = _cache.get(key)
    if found is not None:
        return found
    dialect = conn.dialect
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    quoted = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    sql = f"INSERT INTO {table.name} ({quoted}) VALUES ({', '.join('?' for _ in columns)})"
    with _lock:
        _cache[key] = (sql, processors)
    return sql, processors


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) into `table`."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), list(rows))
        return
    columns = tuple(rows[0])
    sql, processors = _prepared(conn, table, columns)
    getter = operator.itemgetter(*columns)
    converted = [(i, p) for i, p in enumerate(processors) if p is not None]
    if len(columns) == 1:
        params: list[Any] = [(getter(row),) for row in rows]
    else:
        params = [getter(row) for row in rows]
    if converted:
        # Only the columns with a processor (JSON, timestamps) are touched value by value.
        fixed = []
        for values in params:
            values = list(values)
            for i, process in converted:
                if values[i] is not None:
                    values[i] = process(values[i])
            fixed.append(tuple(values))
        params = fixed
    # Many rows per statement, not one statement per row: a statement that fires a trigger
    # into an FTS5 index (the text index) makes FTS5 write its pending terms out as a new
    # segment at the statement's savepoint, so row-at-a-time inserts leave one tiny segment per
    # resource, merged again and again (an import ran 20 times slower that way).
    start = 0
    for size in chunk_sizes(len(params), max(1, MAX_VARIABLES // len(columns))):
        chunk = params[start : start + size]
        start += size
        conn.exec_driver_sql(
            _many_rows(sql, len(columns), size), tuple(v for row in chunk for v in row)
        )


def chunk_sizes(total: int, most: int) -> list[int]:
    """Statement sizes for `total` rows: full statements of `most` rows, then the rest as
    powers of two. The driver keeps each distinct statement prepared (a statement of thousands
    of rows, with its triggers compiled in, holds megabytes); remainders of every possible size
    made an import's memory grow with each new size until the driver's cache of 128 was full.
    With these sizes a table has at most log2(most) + 1 distinct statements."""
    rest = total % most
    powers = [1 << b for b in reversed(range(rest.bit_length())) if rest >> b & 1]
    return [most] * (total // most) + powers


#: Values per `IN (...)` list: well inside every backend's limit on bound parameters, and small
#: enough that a statement's plan stays a list of key lookups.
IN_LIST = 500


def in_chunks(values: Sequence[Any], size: int = IN_LIST) -> Iterator[Sequence[Any]]:
    """`values` in consecutive slices of at most `size`, for statements that take them as an
    `IN (...)` list."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: SQLite's default limit on bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER).
MAX_VARIABLES = 32766


@functools.lru_cache(maxsize=64)
def _many_rows(sql: str, width: int, count: int) -> str:
    """`INSERT ... VALUES (?, ...)` extended to `count` rows."""
    row = "(" + ", ".join("?" for _ in range(width)) + ")"
    return sql.rsplit(" VALUES ", 1)[0] + " VALUES " + ", ".join(row for _ in range(count))
