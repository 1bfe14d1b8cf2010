"""Compile the query model into SQLAlchemy expressions, one code path for SQLite and PostgreSQL.

A `FieldSet` is the only way a key becomes SQL: it maps each allowed key to an expression built
from table columns (JSON paths bind their path segments as parameters). A key the set does not
know is a 400, so no key, value or sort key ever reaches the database as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, not_, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from skyatlas.errors import InvalidParameter
from skyatlas.ids import parse_iso
from skyatlas.query.model import EMPTY_LIST, Condition, Query, SortKey, StatQuery
from skyatlas.query.sqlfuncs import contains_insensitive, regexp_ci

FieldType = Literal["string", "number", "boolean", "datetime", "json"]
Compiler = Callable[[Condition], ColumnElement[bool]]


@dataclass(frozen=True)
class Field:
    """One queryable key.

    `expr` is a scalar SQL expression of its value (used by conditions on plain columns, and by
    sort, distinct and group keys); `condition`, when set, compiles conditions itself (JSON
    paths with list semantics, tag-table lookups).
    """

    expr: ColumnElement[Any]
    type: FieldType = "string"
    condition: Compiler | None = None
    #: ORDER BY expressions when sorting needs more than `expr` (JSON values of mixed types).
    sort_keys: tuple[ColumnElement[Any], ...] | None = None


@dataclass(frozen=True)
class Prefix:
    """Keys that start with `<name>.`: how the rest becomes a field, and how `only` splits it."""

    resolve: Callable[[str], Field]
    split: Callable[[str], list[str]]


@dataclass(frozen=True)
class FieldSet:
    """The keys a resource answers to.

    `columns` are exact keys; `prefixes` handle `<name>.<rest>` keys (`data.compute.az`,
    `tags.aws.Name`); `keyword` lists the keys a keyword token is matched against, unless
    `keyword_search` compiles the tokens itself (a resource set with an index for them).
    """

    id_key: str
    columns: Mapping[str, Field]
    prefixes: Mapping[str, Prefix] = dc_field(default_factory=dict)
    keyword: tuple[str, ...] = ()
    #: (tokens, probe) → condition; `probe`: the page is read along an index in sort order,
    #: so the tokens are tested row by row instead of driving the query (see `run_list`).
    keyword_search: Callable[[list[str], bool], ColumnElement[bool]] | None = None

    def split_path(self, key: str) -> list[str]:
        """The segments of a key as a record nests them (`only` uses this)."""
        head, _, rest = key.partition(".")
        if rest and head in self.prefixes:
            return [head, *self.prefixes[head].split(rest)]
        return key.split(".")

    def resolve(self, key: str, where: str = "") -> Field:
        field = self.columns.get(key)
        if field is not None:
            return field
        head, _, rest = key.partition(".")
        if rest and head in self.prefixes:
            try:
                return self.prefixes[head].resolve(rest)
            except InvalidParameter as exc:
                prefix = f"{where}: " if where else ""
                raise InvalidParameter(f"{prefix}{exc.message}") from None
        known = sorted(self.columns) + [f"{name}.<key>" for name in self.prefixes]
        prefix = f"{where}: " if where else ""
        raise InvalidParameter(f"{prefix}unknown field '{key}'; known fields: {', '.join(known)}")


def flat_map(column: ColumnElement[Any]) -> Prefix:
    """A JSON object of string values whose keys may contain dots (`tags.app.kubernetes.io`)."""
    return Prefix(
        resolve=lambda rest: Field(column[rest].as_string(), "string"),
        split=lambda rest: [rest],
    )


def json_path(rest: str) -> tuple[str, ...]:
    path = tuple(rest.split("."))
    if not all(path):
        raise InvalidParameter(f"'{rest}' has an empty path segment")
    for segment in path:
        if '"' in segment or "\\" in segment or any(ord(c) < 0x20 for c in segment):
            raise InvalidParameter(
                f"'{rest}': path segments cannot contain quotes, backslashes or control characters"
            )
    return path


def json_field(doc: ColumnElement[Any], path: tuple[str, ...]) -> Field:
    """A path inside a JSON document, with list semantics (see `skyatlas.query.jsonpath`)."""
    from skyatlas.query.jsonpath import compile_json_condition
    from skyatlas.query.sqlfuncs import json_scalar, json_sort_keys

    return Field(
        json_scalar(doc, path),
        "json",
        condition=lambda cond: compile_json_condition(doc, path, cond),
        sort_keys=json_sort_keys(doc, path),
    )


def json_document(doc: ColumnElement[Any]) -> Prefix:
    """`<name>.<dotted.path>` into a JSON document column."""
    return Prefix(
        resolve=lambda rest: json_field(doc, json_path(rest)),
        split=lambda rest: rest.split("."),
    )


def _coerce(field: Field, value: Any, label: str) -> Any:
    """Check a scalar against the field's type; a mismatch is a 400, never a silent non-match."""
    if value is None:
        return None
    if field.type == "datetime":
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return parse_iso(value)
            except ValueError:
                pass
        raise InvalidParameter(f"{label}: this field holds timestamps; give an ISO 8601 string")
    if field.type == "boolean":
        if isinstance(value, bool):
            return value
        raise InvalidParameter(f"{label}: this field holds true/false values")
    if field.type == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise InvalidParameter(f"{label}: this field holds numbers")
    if isinstance(value, str):
        return value
    raise InvalidParameter(f"{label}: this field holds strings; give a string value")


def _like(expr: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """Case-insensitive literal substring; `%`, `_` and `\\` match themselves."""
    return contains_insensitive(expr, text)


def _in(field: Field, values: Iterable[Any], label: str) -> ColumnElement[bool]:
    items = [v for v in values if v is not None and v is not EMPTY_LIST]
    wants_missing = any(v is None or v is EMPTY_LIST for v in values)
    coerced = [_coerce(field, v, label) for v in items]
    clause: ColumnElement[bool] = field.expr.in_(coerced) if coerced else false()
    if wants_missing:
        clause = or_(clause, field.expr.is_(None))
    return clause


def _regex(expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return regexp_ci(expr, pattern)


_ORDERED: dict[str, Callable[[ColumnElement[Any], Any], ColumnElement[bool]]] = {
    "lt": lambda e, v: e < v,
    "lte": lambda e, v: e <= v,
    "gt": lambda e, v: e > v,
    "gte": lambda e, v: e >= v,
}


def compile_condition(cond: Condition, fields: FieldSet) -> ColumnElement[bool]:
    field = fields.resolve(cond.key, cond.label)
    if field.condition is not None:
        return field.condition(cond)
    expr, op, value, label = field.expr, cond.op, cond.value, cond.label
    if op == "eq":
        return expr.is_(None) if value is None else expr == _coerce(field, value, label)
    if op == "not":
        if value is None:
            return expr.is_not(None)
        return or_(expr != _coerce(field, value, label), expr.is_(None))
    if op in _ORDERED:
        return _ORDERED[op](expr, _coerce(field, value, label))
    if op == "in":
        return _in(field, value, label)
    if op == "not_in":
        return (
            not_(_in(field, value, label))
            if any(v is None or v is EMPTY_LIST for v in value)
            else or_(not_(_in(field, value, label)), expr.is_(None))
        )
    if op in ("contain", "not_contain", "contain_in", "not_contain_in", "regex", "regex_in"):
        if field.type != "string":
            raise InvalidParameter(f"{label}: operator '{op}' works on string fields only")
        if op == "contain":
            return _like(expr, value)
        if op == "not_contain":
            return or_(not_(_like(expr, value)), expr.is_(None))
        if op == "contain_in":
            return or_(*[_like(expr, v) for v in value]) if value else false()
        if op == "not_contain_in":
            if not value:
                return true()
            return or_(not_(or_(*[_like(expr, v) for v in value])), expr.is_(None))
        if op == "regex":
            return _regex(expr, value)
        return or_(*[_regex(expr, v) for v in value]) if value else false()
    if op == "exists":
        return expr.is_not(None) if value else expr.is_(None)
    if op.startswith(("datetime_", "timediff_")):
        if field.type != "datetime":
            raise InvalidParameter(f"{label}: operator '{op}' works on timestamp fields only")
        return _ORDERED[op.split("_", 1)[1]](expr, value)
    if op == "match":
        raise InvalidParameter(
            f"{label}: operator 'match' works on lists of objects; '{cond.key}' is not one"
        )
    raise InvalidParameter(f"{label}: unknown operator '{op}'")  # pragma: no cover


def compile_keyword(
    keyword: str | None, fields: FieldSet, probe: bool = False
) -> ColumnElement[bool] | None:
    """Every token must be a substring of at least one keyword field (tokens AND together)."""
    if not keyword or not (fields.keyword or fields.keyword_search):
        return None
    if fields.keyword_search is not None:
        return fields.keyword_search(keyword.split(), probe)
    exprs = [fields.resolve(k).expr for k in fields.keyword]
    return and_(*[or_(*[_like(e, token) for e in exprs]) for token in keyword.split()])


def compile_where(
    query: Query | StatQuery,
    fields: FieldSet,
    *extra: ColumnElement[bool],
    probe: bool = False,
) -> ColumnElement[bool]:
    """filter (AND) ∧ (filter_or, ORed) ∧ keyword ∧ any scope clauses the service adds."""
    parts: list[ColumnElement[bool]] = list(extra)
    parts.extend(compile_condition(c, fields) for c in query.filter)
    if query.filter_or:
        parts.append(or_(*[compile_condition(c, fields) for c in query.filter_or]))
    kw = compile_keyword(query.keyword, fields, probe)
    if kw is not None:
        parts.append(kw)
    return and_(true(), *parts)


def order_by(
    sort: Iterable[SortKey], fields: FieldSet, where: str = "query.sort"
) -> list[UnaryExpression[Any]]:
    """ORDER BY the given keys, NULLs first ascending / last descending on both backends,
    then by the id so that equal keys never make pages overlap or skip."""
    clauses: list[UnaryExpression[Any]] = []
    for i, key in enumerate(sort):
        field = fields.resolve(key.key, f"{where}[{i}]")
        for expr in field.sort_keys or (field.expr,):
            clauses.append(expr.desc().nulls_last() if key.desc else expr.asc().nulls_first())
    clauses.append(fields.resolve(fields.id_key).expr.asc())
    return clauses
