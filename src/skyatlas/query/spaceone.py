"""Parse the SpaceONE `query` object into the query model, checking every value's type.

Errors name the offending part as the user wrote it (`query.filter[1] (name contain 5): ...`), so a
400 says what to fix. Nothing here knows about tables: keys are checked later by a `FieldSet`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from skyatlas.errors import InvalidParameter
from skyatlas.ids import parse_iso, utcnow
from skyatlas.query.model import (
    EMPTY_LIST,
    GROUP_OPERATORS,
    OPERATORS,
    Condition,
    GroupField,
    GroupKey,
    Page,
    Query,
    SortKey,
    Stage,
    StatQuery,
)

MAX_PAGE_LIMIT = 10_000
MAX_KEY_LENGTH = 512
_SCALARS = (str, int, float, bool)

_QUERY_KEYS = {
    "filter",
    "filter_or",
    "keyword",
    "only",
    "sort",
    "page",
    "minimal",
    "count_only",
}
_STAT_KEYS = {"filter", "filter_or", "keyword", "aggregate", "distinct", "page"}
_TIMEDIFF = re.compile(
    r"^now(?:/(?P<round>[dwm]))?\s*(?:(?P<sign>[+-])\s*(?P<n>\d{1,9})\s*(?P<unit>[smhdw]))?$"
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS)


def check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"{where}: the key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(f"{where}: the key is longer than {MAX_KEY_LENGTH} characters")
    if "\x00" in key:
        raise InvalidParameter(f"{where}: the key contains a NUL character")
    return key


def resolve_timediff(expr: str, now: datetime | None = None) -> datetime:
    """`now`, `now/d|w|m`, optionally `± N s|m|h|d|w`, relative to the current UTC time."""
    match = _TIMEDIFF.match(expr.strip())
    if match is None:
        raise ValueError(expr)
    ts = now or utcnow()
    rounding = match["round"]
    if rounding:
        ts = ts.replace(hour=0, minute=0, second=0, microsecond=0)
        if rounding == "w":
            ts -= timedelta(days=ts.weekday())
        elif rounding == "m":
            ts = ts.replace(day=1)
    if match["sign"]:
        delta = timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
        ts = ts + delta if match["sign"] == "+" else ts - delta
    return ts


def _no_nul_strings(value: Any, where: str) -> None:
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, str) and "\x00" in item:
            raise InvalidParameter(f"{where}: values must not contain NUL characters")


def _check_value(op: str, value: Any, where: str) -> Any:
    """Return the value in the form the compiler expects, or raise a 400 naming the condition."""
    kind = OPERATORS[op]

    def bad(expected: str) -> InvalidParameter:
        # Concatenation, not str.format: `where` quotes user input, which may contain braces.
        return InvalidParameter(
            where + ": operator '" + op + "' needs " + expected + ", got " + _type_name(value)
        )

    _no_nul_strings(value, where)
    if kind == "scalar_or_null":
        if value is not None and not _is_scalar(value):
            raise bad("a string, number, boolean or null")
        return value
    if kind == "scalar":
        if not _is_scalar(value):
            raise bad("a string, number or boolean")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise bad("a list")
        for item in value:
            if not (item is None or _is_scalar(item) or item == []):
                raise InvalidParameter(
                    f"{where}: operator '{op}' takes a list of strings, numbers, booleans, "
                    f"null or [], got an item of type {_type_name(item)}"
                )
        return tuple(EMPTY_LIST if item == [] else item for item in value)
    if kind == "string":
        if not isinstance(value, str):
            raise bad("a string")
        if op == "regex":
            _check_regex(value, where)
        return value
    if kind == "string_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        if op == "regex_in":
            for pattern in value:
                _check_regex(pattern, where)
        return tuple(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind == "object":
        if not isinstance(value, dict) or not value:
            raise bad("a non-empty object of {key: value}")
        for k, v in value.items():
            check_key(k, where)
            if '"' in k or "\\" in k:
                raise InvalidParameter(
                    f"{where}: 'match' keys cannot contain quotes or backslashes"
                )
            if v is not None and not _is_scalar(v):
                raise InvalidParameter(f"{where}: 'match' values must be scalars or null")
            _no_nul_strings(v, where)
        return value
    if kind == "datetime":
        if not isinstance(value, str):
            raise bad("an ISO 8601 date or time string")
        try:
            return parse_iso(value)
        except ValueError:
            raise InvalidParameter(
                f"{where}: {value!r} is not an ISO 8601 date or time within years 1-9999"
            ) from None
    # timediff
    if not isinstance(value, str):
        raise bad("a string like 'now-7d'")
    try:
        return resolve_timediff(value)
    except (ValueError, OverflowError):
        raise InvalidParameter(
            f"{where}: {value!r} is not a time difference; use now, now/d, now/w or now/m "
            "optionally followed by +N or -N with a unit s, m, h, d or w (e.g. now-7d)"
        ) from None


_NOT_PORTABLE = (
    (re.compile(r"\(\?P?<[A-Za-z_]"), "named groups"),
    (re.compile(r"\(\?<[=!]"), "look-behind"),
    (re.compile(r"\(\?P[=>]"), "named back-references"),
)
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
MAX_REPEAT = 255  # PostgreSQL's limit on {n,m}


def _check_regex(pattern: str, where: str) -> None:
    """A pattern both backends run alike: Python's `re` (SQLite) and PostgreSQL's engine."""
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise InvalidParameter(f"{where}: invalid regular expression {pattern!r}: {exc}") from None
    for finder, what in _NOT_PORTABLE:
        if finder.search(pattern):
            raise InvalidParameter(
                f"{where}: regular expression {pattern!r} uses {what}, which are not supported"
            )
    for low, high in _REPEAT.findall(pattern):
        if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
            raise InvalidParameter(
                f"{where}: regular expression {pattern!r} repeats more than {MAX_REPEAT} times"
            )


def parse_condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{where}: a condition must be an object like {{k, v, o}}")
    unknown = set(raw) - {"k", "key", "v", "value", "o", "operator"}
    if unknown:
        raise InvalidParameter(f"{where}: unknown field(s) {sorted(unknown)} in a condition")
    if "k" in raw and "key" in raw:
        raise InvalidParameter(f"{where}: give 'k' or 'key', not both")
    if "v" in raw and "value" in raw:
        raise InvalidParameter(f"{where}: give 'v' or 'value', not both")
    if "o" in raw and "operator" in raw:
        raise InvalidParameter(f"{where}: give 'o' or 'operator', not both")
    key = check_key(raw.get("k", raw.get("key")), where)
    op = raw.get("o", raw.get("operator", "eq"))
    if not isinstance(op, str) or op not in OPERATORS:
        raise InvalidParameter(
            f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
        )
    if "v" not in raw and "value" not in raw:
        raise InvalidParameter(f"{where}: the condition on '{key}' has no value")
    value = raw.get("v", raw.get("value"))
    label = f"{where} ({key} {op} {_short(value)})"
    return Condition(key=key, op=op, value=_check_value(op, value, label), label=label)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidParameter(f"{where} must be a list of conditions")
    return tuple(parse_condition(item, f"{where}[{i}]") for i, item in enumerate(raw))


def parse_sort(raw: Any, where: str = "query.sort") -> tuple[SortKey, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise InvalidParameter(f"{where} must be a list of {{key, desc}} or one such object")
    keys = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidParameter(f"{where}[{i}] must be an object {{key, desc}}")
        unknown = set(item) - {"key", "desc"}
        if unknown:
            raise InvalidParameter(f"{where}[{i}]: unknown field(s) {sorted(unknown)}")
        desc = item.get("desc", False)
        if not isinstance(desc, bool):
            raise InvalidParameter(f"{where}[{i}].desc must be true or false")
        keys.append(SortKey(key=check_key(item.get("key"), f"{where}[{i}]"), desc=desc))
    return tuple(keys)


def parse_page(raw: Any, where: str = "query.page") -> Page | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{where} must be an object {{start, limit}}")
    unknown = set(raw) - {"start", "limit"}
    if unknown:
        raise InvalidParameter(f"{where}: unknown field(s) {sorted(unknown)}")
    start = raw.get("start", 1)
    limit = raw.get("limit")
    if isinstance(start, bool) or not isinstance(start, int) or start < 1:
        raise InvalidParameter(f"{where}.start must be an integer ≥ 1 (pages are 1-based)")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT
    ):
        raise InvalidParameter(f"{where}.limit must be an integer from 1 to {MAX_PAGE_LIMIT}")
    if start > 2**31:
        raise InvalidParameter(f"{where}.start is too large")
    return Page(start=start, limit=limit)


def _keyword(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidParameter("query.keyword must be a string")
    if "\x00" in raw:
        raise InvalidParameter("query.keyword contains a NUL character")
    return raw.strip() or None


def _bool(raw: Any, where: str) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise InvalidParameter(f"{where} must be true or false")
    return raw


def _object(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{where} must be an object")
    return raw


def parse_query(raw: Any) -> Query:
    """The `query` of a list request."""
    raw = _object(raw, "query")
    unknown = set(raw) - _QUERY_KEYS
    if unknown:
        raise InvalidParameter(
            f"query: unknown field(s) {sorted(unknown)}; allowed: {sorted(_QUERY_KEYS)}"
        )
    only = raw.get("only")
    if only is not None:
        if not isinstance(only, list):
            raise InvalidParameter("query.only must be a list of field paths")
        only = tuple(check_key(k, f"query.only[{i}]") for i, k in enumerate(only))
    return Query(
        filter=_conditions(raw.get("filter"), "query.filter"),
        filter_or=_conditions(raw.get("filter_or"), "query.filter_or"),
        keyword=_keyword(raw.get("keyword")),
        only=only,
        sort=parse_sort(raw.get("sort")),
        page=parse_page(raw.get("page")),
        minimal=_bool(raw.get("minimal"), "query.minimal"),
        count_only=_bool(raw.get("count_only"), "query.count_only"),
    )


def _int(raw: Any, where: str, minimum: int = 0) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum or raw > 2**31:
        raise InvalidParameter(f"{where} must be an integer ≥ {minimum}")
    return raw


def _name(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_KEY_LENGTH or "\x00" in raw:
        raise InvalidParameter(f"{where} must be a non-empty string")
    return raw


def _group_stage(raw: Any, where: str) -> Stage:
    raw = _object(raw, where)
    unknown = set(raw) - {"keys", "fields"}
    if unknown:
        raise InvalidParameter(f"{where}: unknown field(s) {sorted(unknown)}")
    keys_raw = raw.get("keys") or []
    fields_raw = raw.get("fields") or []
    if not isinstance(keys_raw, list) or not isinstance(fields_raw, list):
        raise InvalidParameter(f"{where}.keys and {where}.fields must be lists")
    keys = []
    for i, item in enumerate(keys_raw):
        w = f"{where}.keys[{i}]"
        if not isinstance(item, dict) or set(item) - {"key", "name", "date_format"}:
            raise InvalidParameter(f"{w} must be an object {{key, name, date_format?}}")
        key = check_key(item.get("key"), w)
        date_format = item.get("date_format")
        if date_format is not None and not isinstance(date_format, str):
            raise InvalidParameter(f"{w}.date_format must be a string like '%Y-%m'")
        keys.append(
            GroupKey(
                key=key, name=_name(item.get("name", key), f"{w}.name"), date_format=date_format
            )
        )
    fields = []
    for i, item in enumerate(fields_raw):
        w = f"{where}.fields[{i}]"
        if not isinstance(item, dict) or set(item) - {"key", "name", "operator"}:
            raise InvalidParameter(f"{w} must be an object {{key?, name, operator}}")
        op = item.get("operator")
        if op not in GROUP_OPERATORS:
            raise InvalidParameter(f"{w}: operator must be one of {', '.join(GROUP_OPERATORS)}")
        key = item.get("key")
        if op != "count" or key is not None:
            key = check_key(key, w)
        fields.append(GroupField(name=_name(item.get("name"), f"{w}.name"), operator=op, key=key))
    names = [k.name for k in keys] + [f.name for f in fields]
    if len(set(names)) != len(names):
        raise InvalidParameter(f"{where}: key and field names must be unique")
    if not keys and not fields:
        raise InvalidParameter(f"{where} needs keys or fields")
    return Stage(kind="group", keys=tuple(keys), fields=tuple(fields))


def _stage(raw: Any, where: str) -> Stage:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise InvalidParameter(f"{where} must be an object with exactly one stage name")
    ((kind, body),) = raw.items()
    if kind == "group":
        return _group_stage(body, f"{where}.group")
    if kind == "sort":
        if isinstance(body, dict) and "key" not in body and "keys" in body:
            body = body["keys"]
        return Stage(kind="sort", sort=parse_sort(body, f"{where}.sort"))
    if kind in ("limit", "skip"):
        return Stage(kind=kind, number=_int(body, f"{where}.{kind}", 1 if kind == "limit" else 0))
    if kind == "count":
        body = _object(body, f"{where}.count")
        return Stage(
            kind="count", name=_name(body.get("name", "total_count"), f"{where}.count.name")
        )
    if kind == "unwind":
        body = _object(body, f"{where}.unwind")
        return Stage(kind="unwind", path=check_key(body.get("path"), f"{where}.unwind.path"))
    if kind == "match":
        body = _object(body, f"{where}.match")
        return Stage(
            kind="match", conditions=_conditions(body.get("filter"), f"{where}.match.filter")
        )
    if kind == "project":
        body = _object(body, f"{where}.project")
        fields = body.get("fields") or []
        if not isinstance(fields, list):
            raise InvalidParameter(f"{where}.project.fields must be a list of {{key, name}}")
        pairs = []
        for i, f in enumerate(fields):
            w = f"{where}.project.fields[{i}]"
            if not isinstance(f, dict):
                raise InvalidParameter(f"{w} must be an object {{key, name}}")
            key = check_key(f.get("key"), w)
            pairs.append((key, _name(f.get("name", key), f"{w}.name")))
        return Stage(kind="project", projection=tuple(pairs))
    raise InvalidParameter(
        f"{where}: unknown stage {kind!r}; use group, sort, limit, skip, count, unwind, "
        "project or match"
    )


def parse_stat_query(raw: Any) -> StatQuery:
    """The `query` of a stat request: `distinct` or an `aggregate` pipeline."""
    raw = _object(raw, "query")
    unknown = set(raw) - _STAT_KEYS
    if unknown:
        raise InvalidParameter(
            f"query: unknown field(s) {sorted(unknown)}; allowed: {sorted(_STAT_KEYS)}"
        )
    distinct = raw.get("distinct")
    aggregate = raw.get("aggregate")
    if (distinct is None) == (aggregate is None):
        raise InvalidParameter("query needs exactly one of 'distinct' or 'aggregate'")
    stages: tuple[Stage, ...] = ()
    if aggregate is not None:
        if isinstance(aggregate, dict):
            aggregate = [aggregate]
        if not isinstance(aggregate, list) or not aggregate:
            raise InvalidParameter("query.aggregate must be a non-empty list of stages")
        stages = tuple(_stage(s, f"query.aggregate[{i}]") for i, s in enumerate(aggregate))
    return StatQuery(
        filter=_conditions(raw.get("filter"), "query.filter"),
        filter_or=_conditions(raw.get("filter_or"), "query.filter_or"),
        keyword=_keyword(raw.get("keyword")),
        distinct=check_key(distinct, "query.distinct") if distinct is not None else None,
        aggregate=stages,
        page=parse_page(raw.get("page")),
    )
