"""Run a parsed list or stat query against one table and shape the SpaceONE response."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, Row, distinct, func, select

from skyatlas.errors import InvalidParameter
from skyatlas.ids import iso, parse_iso
from skyatlas.query.compile import FieldSet, compile_where, order_by
from skyatlas.query.model import Page, Query, SortKey, Stage, StatQuery
from skyatlas.query.projection import project
from skyatlas.query.sqlfuncs import (
    check_date_format,
    date_format,
    json_array_agg,
    json_array_agg_distinct,
)
from skyatlas.store.counts import count_rows, counted

Render = Callable[[Row[Any]], dict[str, Any]]


def _plain(value: Any) -> Any:
    """Values as the API shows them: timestamps in the API format, decimals as numbers."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        # PostgreSQL sums integers as numeric: a whole number stays an integer, as on SQLite.
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _paged(stmt: Any, page: Page | None) -> Any:
    if page is None:
        return stmt
    stmt = stmt.offset(page.offset)
    return stmt.limit(page.limit) if page.limit is not None else stmt


#: Beyond this many keyword matches, the first pages in id order are cheaper read along the
#: id index, testing each row, than sorted from every match.
WALK_THRESHOLD = 2000


def _walk_pays(query: Query, total: int) -> bool:
    """A keyword page in the default (id) order, well before the end of many matches: walking
    the id index stops after a page's worth of matches instead of sorting all of them."""
    if not query.keyword or query.sort or total <= WALK_THRESHOLD:
        return False
    end = (query.page.offset if query.page else 0) + (
        query.page.limit if query.page and query.page.limit is not None else total
    )
    return end * 4 <= total


def run_list(
    conn: Connection,
    table: FromClause,
    fields: FieldSet,
    query: Query,
    render: Render,
    *,
    scope: Sequence[ColumnElement[bool]] = (),
    minimal: tuple[str, ...] | None = None,
    enrich: Callable[[list[dict[str, Any]]], None] | None = None,
    refilter_page: bool = False,
    one_pass: bool = False,
) -> dict[str, Any]:
    """`{"results": [...], "total_count": N}` with N counting every match, not just the page.
    `enrich` completes a page of rendered records in one go (before `only` projects them).
    `refilter_page` repeats the filters when fetching the page's rows by id: a columnar store
    without an index on the id then skips row groups by the filters instead of scanning.
    `one_pass` reads the page's rows in one sorted, limited statement instead: a columnar store
    (DuckDB) reads the wide columns of only the rows that make the page by itself (late
    materialisation of a top-N), where fetching them again by id is a second filtered scan."""
    where = compile_where(query, fields, *scope)
    total = count_rows(conn, table, where)
    if query.count_only:
        return {"results": [], "total_count": total}
    if one_pass:
        stmt = select(table).where(where).order_by(*order_by(query.sort, fields))
        results = [render(row) for row in conn.execute(_paged(stmt, query.page))]
        return _finish(results, total, query, fields, minimal, enrich)
    # Deferred join: page through the ids first (a covering index can filter and sort those
    # without reading a single row), then fetch only the rows of the page.
    id_column = fields.resolve(fields.id_key).expr
    page_where = where
    if _walk_pays(query, total):
        page_where = compile_where(query, fields, *scope, probe=True)
    id_stmt = (
        select(id_column)
        .select_from(table)
        .where(page_where)
        .order_by(*order_by(query.sort, fields))
    )
    ids = conn.execute(_paged(id_stmt, query.page)).scalars().all()
    rows_by_id: dict[Any, Row[Any]] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        fetch = select(table).where(id_column.in_(chunk))
        if refilter_page:
            fetch = fetch.where(where)
        for row in conn.execute(fetch):
            rows_by_id[row._mapping[fields.id_key]] = row
    results = [render(rows_by_id[i]) for i in ids if i in rows_by_id]
    return _finish(results, total, query, fields, minimal, enrich)


def _finish(
    results: list[dict[str, Any]],
    total: int,
    query: Query,
    fields: FieldSet,
    minimal: tuple[str, ...] | None,
    enrich: Callable[[list[dict[str, Any]]], None] | None,
) -> dict[str, Any]:
    """A rendered page completed (`enrich`), then projected (`only` / `minimal`)."""
    if enrich is not None:
        enrich(results)
    paths = query.only or (minimal if query.minimal else None)
    if paths:
        results = [project(r, paths, fields.split_path) for r in results]
    return {"results": results, "total_count": total}


def _group_select(
    stage: Stage, fields: FieldSet, where: ColumnElement[bool], table: FromClause
) -> tuple[Any, list[str]]:
    columns: list[Any] = []
    group_exprs: list[Any] = []
    json_fields: list[tuple[str, bool]] = []
    for i, key in enumerate(stage.keys):
        where_label = f"query.aggregate.group.keys[{i}]"
        field = fields.resolve(key.key, where_label)
        expr: Any = field.expr
        if key.date_format:
            if field.type != "datetime" or not check_date_format(key.date_format):
                raise InvalidParameter(
                    f"{where_label}: date_format works on timestamp fields with the "
                    "directives %Y %m %d %H %M %S"
                )
            expr = date_format(expr, key.date_format)
        columns.append(expr.label(key.name))
        group_exprs.append(expr)
    for i, gf in enumerate(stage.fields):
        where_label = f"query.aggregate.group.fields[{i}]"
        if gf.operator == "count":
            columns.append(func.count().label(gf.name))
            continue
        field = fields.resolve(gf.key or "", where_label)
        if gf.operator in ("sum", "average") and field.type != "number":
            raise InvalidParameter(f"{where_label}: '{gf.operator}' needs a number field")
        if gf.operator in ("first", "last"):
            raise InvalidParameter(
                f"{where_label}: '{gf.operator}' is not available here; use min or max"
            )
        agg = {
            "sum": func.sum,
            "average": func.avg,
            "max": func.max,
            "min": func.min,
            "push": json_array_agg,
            "add_to_set": json_array_agg_distinct,
        }[gf.operator](field.expr)
        if gf.operator in ("push", "add_to_set"):
            json_fields.append((gf.name, field.type == "datetime"))
        columns.append(agg.label(gf.name))
    stmt = select(*columns).select_from(table).where(where)
    if group_exprs:
        stmt = stmt.group_by(*group_exprs)
    return stmt, json_fields


def _sort_rows(rows: list[dict[str, Any]], keys: Sequence[SortKey]) -> list[dict[str, Any]]:
    for key in reversed(keys):
        present = [r for r in rows if r.get(key.key) is not None]
        missing = [r for r in rows if r.get(key.key) is None]
        present.sort(key=lambda r, k=key.key: r[k], reverse=key.desc)
        rows = missing + present if not key.desc else present + missing
    return rows


def _post_stage(stage: Stage, rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if stage.kind == "sort":
        names = {k for r in rows for k in r}
        for key in stage.sort:
            if rows and key.key not in names:
                raise InvalidParameter(f"{where}: sort key '{key.key}' is not a grouped name")
        try:
            return _sort_rows(rows, stage.sort)
        except TypeError:
            raise InvalidParameter(f"{where}: values of mixed types cannot be sorted") from None
    if stage.kind == "limit":
        return rows[: stage.number]
    if stage.kind == "skip":
        return rows[stage.number :]
    if stage.kind == "count":
        return [{stage.name: len(rows)}]
    if stage.kind == "project":
        return [{name: r.get(key) for key, name in stage.projection} for r in rows]
    raise InvalidParameter(
        f"{where}: the '{stage.kind}' stage is only available before 'group' on this resource"
    )


def run_stat(
    conn: Connection,
    table: FromClause,
    fields: FieldSet,
    query: StatQuery,
    *,
    scope: Sequence[ColumnElement[bool]] = (),
) -> dict[str, Any]:
    where = compile_where(query, fields, *scope)
    if query.distinct is not None:
        expr = fields.resolve(query.distinct, "query.distinct").expr
        total = conn.execute(
            select(func.count(distinct(expr))).select_from(table).where(where)
        ).scalar_one()
        stmt = (
            select(expr)
            .select_from(table)
            .where(where, expr.is_not(None))
            .distinct()
            .order_by(expr.asc())
        )
        values = conn.execute(_paged(stmt, query.page)).scalars().all()
        return {"results": [_plain(v) for v in values], "total_count": total}

    stages = list(query.aggregate)
    # Leading match stages narrow the rows before grouping, exactly like an extra filter.
    extra = []
    while stages and stages[0].kind == "match":
        extra.extend(stages.pop(0).conditions)
    if extra:
        where = compile_where(StatQuery(filter=tuple(extra)), fields, where)
    if stages and stages[0].kind == "group":
        group_stage = stages.pop(0)
        stmt, json_fields = _group_select(group_stage, fields, where, table)
        rows = [dict(r._mapping) for r in conn.execute(counted(conn, stmt))]
        for row in rows:
            for name, is_datetime in json_fields:
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
                row[name] = [v for v in row[name] or [] if v is not None]
                if is_datetime:  # each backend spells timestamps inside JSON its own way
                    row[name] = [iso(parse_iso(v.replace(" ", "T"))) for v in row[name]]
            for name, value in row.items():
                row[name] = _plain(value)
        # Default order: by the group keys as given, so answers are stable on both backends.
        with contextlib.suppress(TypeError):
            rows = _sort_rows(rows, [SortKey(k.name) for k in group_stage.keys])
    elif stages and stages[0].kind == "count":
        rows = [{stages.pop(0).name: count_rows(conn, table, where)}]
    else:
        first = stages[0].kind if stages else "nothing"
        raise InvalidParameter(
            f"query.aggregate: start with 'group' or 'count' (after any 'match'), not {first}"
        )
    for i, stage in enumerate(stages):
        rows = _post_stage(stage, rows, f"query.aggregate[{i}]")
    total = len(rows)
    if query.page is not None:
        end = None if query.page.limit is None else query.page.offset + query.page.limit
        rows = rows[query.page.offset : end]
    return {"results": rows, "total_count": total}
