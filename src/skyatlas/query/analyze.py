"""The `analyze` form: group_by by fields over time buckets, with field_group, select, sort, page.

It reuses the stat `group` stage for the SQL (one GROUP BY) and does the reshaping — `select`,
`field_group` folding, sorting and paging of grouped rows — in Python over the grouped rows,
which are few compared with the rows they summarise.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, and_

from skyatlas.errors import InvalidParameter
from skyatlas.query.compile import FieldSet, compile_where
from skyatlas.query.execute import _group_select, _plain, _sort_rows
from skyatlas.query.model import GROUP_OPERATORS, GroupField, GroupKey, Page, SortKey, Stage
from skyatlas.query.spaceone import (
    _conditions,
    _keyword,
    _object,
    check_key,
    parse_page,
    parse_sort,
)
from skyatlas.store.counts import counted

GRANULARITIES = {"DAILY": "%Y-%m-%d", "MONTHLY": "%Y-%m", "YEARLY": "%Y"}
_BOUND = {
    "DAILY": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "MONTHLY": re.compile(r"^\d{4}-\d{2}$"),
    "YEARLY": re.compile(r"^\d{4}$"),
}
_SHAPES = {"DAILY": "YYYY-MM-DD", "MONTHLY": "YYYY-MM", "YEARLY": "YYYY"}
_KEYS = {
    "group_by",
    "fields",
    "field_group",
    "select",
    "filter",
    "filter_or",
    "keyword",
    "sort",
    "page",
    "granularity",
    "start",
    "end",
}
_ARITHMETIC = {"add", "subtract", "multiply", "divide"}


@dataclass(frozen=True)
class AnalyzeQuery:
    keys: tuple[GroupKey, ...]
    fields: tuple[GroupField, ...]
    field_group: tuple[str, ...]
    select: dict[str, Any] | None
    filter: tuple[Any, ...]
    filter_or: tuple[Any, ...]
    keyword: str | None
    sort: tuple[SortKey, ...]
    page: Page | None
    granularity: str | None
    start: str | None
    end: str | None


def parse_analyze_query(raw: Any) -> AnalyzeQuery:
    raw = _object(raw, "query")
    unknown = set(raw) - _KEYS
    if unknown:
        raise InvalidParameter(
            f"query: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}"
        )
    group_by = raw.get("group_by") or []
    if not isinstance(group_by, list):
        raise InvalidParameter("query.group_by must be a list of keys or {key, name}")
    keys = []
    for i, item in enumerate(group_by):
        where = f"query.group_by[{i}]"
        if isinstance(item, str):
            keys.append(GroupKey(key=check_key(item, where), name=item))
        elif isinstance(item, dict) and set(item) <= {"key", "name"}:
            key = check_key(item.get("key"), where)
            name = item.get("name", key)
            if not isinstance(name, str) or not name:
                raise InvalidParameter(f"{where}.name must be a non-empty string")
            keys.append(GroupKey(key=key, name=name))
        else:
            raise InvalidParameter(f"{where} must be a key or an object {{key, name}}")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise InvalidParameter(
            'query.fields is required: {"<name>": {"operator": "count"|"sum"|..., "key": ...}}'
        )
    fields = []
    for name, spec in fields_raw.items():
        where = f"query.fields.{name}"
        if not isinstance(spec, dict) or set(spec) - {"key", "operator"}:
            raise InvalidParameter(f"{where} must be an object {{operator, key?}}")
        op = spec.get("operator")
        if op not in GROUP_OPERATORS:
            raise InvalidParameter(f"{where}: operator must be one of {', '.join(GROUP_OPERATORS)}")
        key = spec.get("key")
        if op != "count" or key is not None:
            key = check_key(key, where)
        fields.append(GroupField(name=name, operator=op, key=key))
    granularity = raw.get("granularity")
    if granularity is not None and granularity not in GRANULARITIES:
        raise InvalidParameter("query.granularity must be DAILY, MONTHLY or YEARLY")
    start, end = raw.get("start"), raw.get("end")
    for label, bound in (("start", start), ("end", end)):
        if bound is None:
            continue
        if granularity is None:
            raise InvalidParameter(f"query.{label} needs a granularity")
        if not isinstance(bound, str) or not _BOUND[granularity].match(bound):
            raise InvalidParameter(
                f"query.{label} must look like {_SHAPES[granularity]} for {granularity}"
            )
    names = [k.name for k in keys] + (["date"] if granularity else []) + [f.name for f in fields]
    if len(set(names)) != len(names):
        raise InvalidParameter("query: group_by names, 'date' and field names must be unique")
    field_group = raw.get("field_group") or []
    if not isinstance(field_group, list) or not all(isinstance(f, str) for f in field_group):
        raise InvalidParameter("query.field_group must be a list of group_by names")
    group_names = {k.name for k in keys} | ({"date"} if granularity else set())
    for name in field_group:
        if name not in group_names:
            raise InvalidParameter(f"query.field_group: '{name}' is not a group_by name or 'date'")
    select = raw.get("select")
    if select is not None and not isinstance(select, dict):
        raise InvalidParameter(
            "query.select must be an object {output: field | {operator, fields}}"
        )
    return AnalyzeQuery(
        keys=tuple(keys),
        fields=tuple(fields),
        field_group=tuple(field_group),
        select=select,
        filter=_conditions(raw.get("filter"), "query.filter"),
        filter_or=_conditions(raw.get("filter_or"), "query.filter_or"),
        keyword=_keyword(raw.get("keyword")),
        sort=parse_sort(raw.get("sort")),
        page=parse_page(raw.get("page")),
        granularity=granularity,
        start=start,
        end=end,
    )


def _bound(value: str, granularity: str, upper: bool) -> datetime:
    parts = [int(p) for p in value.split("-")]
    year = parts[0]
    month = parts[1] if len(parts) > 1 else 1
    day = parts[2] if len(parts) > 2 else 1
    try:
        ts = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise InvalidParameter(f"'{value}' is not a valid date") from None
    if not upper:
        return ts
    if granularity == "YEARLY":
        return ts.replace(year=year + 1)
    if granularity == "MONTHLY":
        return ts.replace(year=year + month // 12, month=month % 12 + 1)
    return ts + timedelta(days=1)


def _apply_select(rows: list[dict[str, Any]], select: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        new: dict[str, Any] = {}
        for name, spec in select.items():
            if isinstance(spec, str):
                if spec not in row:
                    raise InvalidParameter(f"query.select.{name}: '{spec}' is not an output name")
                new[name] = row[spec]
            elif isinstance(spec, dict) and spec.get("operator") in _ARITHMETIC:
                operands = spec.get("fields")
                if not isinstance(operands, list) or len(operands) < 2:
                    raise InvalidParameter(f"query.select.{name}.fields needs two or more names")
                values = [row.get(f) for f in operands]
                if any(not isinstance(v, int | float) for v in values):
                    new[name] = None
                    continue
                acc = values[0]
                for v in values[1:]:
                    op = spec["operator"]
                    if op == "add":
                        acc += v
                    elif op == "subtract":
                        acc -= v
                    elif op == "multiply":
                        acc *= v
                    else:
                        acc = None if v == 0 or acc is None else acc / v
                new[name] = acc
            else:
                raise InvalidParameter(
                    f"query.select.{name} must be an output name or "
                    "{operator: add|subtract|multiply|divide, fields: [...]}"
                )
        out.append(new)
    return out


def _fold(rows: list[dict[str, Any]], query: AnalyzeQuery) -> list[dict[str, Any]]:
    """field_group: one row per remaining key combination; each field becomes a list of
    {<folded key>: ..., "value": ...} plus `_total_<field>`."""
    folded_keys = query.field_group
    value_names = [f.name for f in query.fields]
    keep = [
        k
        for k in ([k.name for k in query.keys] + (["date"] if query.granularity else []))
        if k not in folded_keys
    ]
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        ident = tuple(_freeze(row.get(k)) for k in keep)
        target = groups.get(ident)
        if target is None:
            target = {k: row.get(k) for k in keep}
            for name in value_names:
                target[name] = []
                target[f"_total_{name}"] = 0
            groups[ident] = target
        for name in value_names:
            entry = {k: row.get(k) for k in folded_keys}
            entry["value"] = row.get(name)
            target[name].append(entry)
            if isinstance(row.get(name), int | float):
                target[f"_total_{name}"] += row[name]
    return list(groups.values())


def _freeze(value: Any) -> Any:
    return repr(value) if isinstance(value, list | dict) else value


def run_analyze(
    conn: Connection,
    table: FromClause,
    fields: FieldSet,
    query: AnalyzeQuery,
    *,
    date_key: str,
    scope: list[ColumnElement[bool]] = (),  # type: ignore[assignment]
    period_keys: dict[str, str] | None = None,
    group_fields: tuple[GroupField, ...] | None = None,
) -> dict[str, Any]:
    """`period_keys` (granularity → key) names text columns that already hold the period
    (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`, as the cost tables do): the date key then groups and
    compares as text instead of formatting a timestamp. `group_fields` replaces the query's
    fields in the SQL (a rollup counts by summing its row counts)."""
    where = compile_where(query, fields, *scope)  # type: ignore[arg-type]
    keys = list(query.keys)
    if query.granularity:
        bounds = []
        if period_keys is not None:
            period = period_keys[query.granularity]
            period_field = fields.resolve(period)
            keys.append(GroupKey(key=period, name="date"))
            if query.start:
                _bound(query.start, query.granularity, False)
                bounds.append(period_field.expr >= query.start)
            if query.end:
                _bound(query.end, query.granularity, False)
                bounds.append(period_field.expr <= query.end)
        else:
            date_field = fields.resolve(date_key)
            keys.append(
                GroupKey(key=date_key, name="date", date_format=GRANULARITIES[query.granularity])
            )
            if query.start:
                bounds.append(date_field.expr >= _bound(query.start, query.granularity, False))
            if query.end:
                bounds.append(date_field.expr < _bound(query.end, query.granularity, True))
        if bounds:
            where = and_(where, *bounds)
    stage = Stage(kind="group", keys=tuple(keys), fields=group_fields or query.fields)
    stmt, json_fields = _group_select(stage, fields, where, table)
    rows = [dict(r._mapping) for r in conn.execute(counted(conn, stmt))]
    for row in rows:
        for name, _is_dt in json_fields:
            if isinstance(row[name], str):
                row[name] = json.loads(row[name])
        for name, value in row.items():
            row[name] = _plain(value)
    if query.field_group:
        # Folded lists follow the group keys' order (dates ascending), whatever order the
        # database returned the groups in.
        with contextlib.suppress(TypeError):
            rows = _sort_rows(rows, [SortKey(k.name) for k in keys])
        rows = _fold(rows, query)
    if query.select:
        rows = _apply_select(rows, query.select)
    sort = query.sort or tuple(SortKey(k.name) for k in keys if k.name not in query.field_group)
    names = {k for r in rows for k in r}
    for key in sort:
        if rows and key.key not in names:
            raise InvalidParameter(f"query.sort: '{key.key}' is not an output name")
    try:
        rows = _sort_rows(rows, sort)
    except TypeError:
        raise InvalidParameter("query.sort: values of mixed types cannot be sorted") from None
    total = len(rows)
    more = False
    if query.page is not None:
        end = None if query.page.limit is None else query.page.offset + query.page.limit
        more = end is not None and end < total
        rows = rows[query.page.offset : end]
    return {"results": rows, "more": more, "total_count": total}
