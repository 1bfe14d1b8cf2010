"""Conditions on paths inside JSON documents (`data.compute.instance_state`, `tags.aws.Name`).

Semantics (those of Cloudforet's MongoDB store): walking the path, a list met before the last
segment fans out over its object elements; at the end, a list's elements are the candidate
values. A condition holds if *some* candidate satisfies it; the negated operators (`not`,
`not_in`, `not_contain`, `not_contain_in`) hold when the positive one does not. `eq null` also
holds for a missing field; `in` with `[]` holds for an empty list.

Two candidate sets are compiled per backend, always with path segments and values as bound
parameters (nothing a user typed becomes SQL text):
- *nodes*: the values at the path (lists not unwrapped) — for `exists`, `[]` and `match`;
- *values*: the nodes with lists unwrapped one level — for comparisons.

SQLite walks the document with chained `json_each` calls and first applies a cheap `instr`
prefilter on the raw JSON text for positive conditions; PostgreSQL uses `jsonb_path_query` in
lax mode (which unwraps lists exactly like this) and an `@?` prefilter a GIN index can answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, literal, not_, or_
from sqlalchemy.ext.compiler import compiles

from skyatlas.errors import InvalidParameter
from skyatlas.ids import iso
from skyatlas.query.model import EMPTY_LIST, Condition
from skyatlas.query.sqlfuncs import like_pattern


@dataclass(frozen=True)
class Pred:
    """A test on one candidate value: `kind` is eq | cmp | contain | regex | dt | match."""

    kind: str
    value: Any = None
    op: str = ""


class JsonExists(ColumnElement[bool]):
    """EXISTS(candidate of `doc` at `path` satisfying `pred`) — or, for `pred=None`, EXISTS a
    non-null node (`nodes=True`) / an empty-list node (`pred.kind == 'empty'`)."""

    __visit_name__ = "json_exists"
    inherit_cache = False
    type = Boolean()

    def __init__(self, doc: ColumnElement[Any], path: tuple[str, ...], pred: Pred) -> None:
        self.doc = doc
        self.path = path
        self.pred = pred

    @property
    def _from_objects(self) -> list[Any]:  # correlate with the document's table
        return self.doc._from_objects

    def self_group(self, against: Any = None) -> ColumnElement[bool]:
        return self


def _bind(compiler: Any, value: Any, **kw: Any) -> str:
    return compiler.process(literal(value), **kw)


# -- SQLite --------------------------------------------------------------------------------


def _quoted(segment: str) -> str:
    """A path segment as SQLite's JSON path syntax takes it: double-quoted, raw UTF-8 (SQLite
    reads no escapes there; segments with quotes or backslashes are refused earlier)."""
    return '"' + segment + '"'


def _sqlite_member(compiler: Any, json_text: str, segment: str, **kw: Any) -> str:
    # `->` returns JSON text (strings stay quoted), so the next level can parse it again.
    return f"({json_text} -> {_bind(compiler, '$.' + _quoted(segment), **kw)})"


def _sqlite_chain(
    compiler: Any, element: JsonExists, unwrap_last: bool, **kw: Any
) -> tuple[list[str], list[str], str, str]:
    """The json_each calls that walk the path, their filters, and the (type, value) SQL of the
    final candidates."""
    froms: list[str] = []
    filters: list[str] = []
    current = compiler.process(element.doc, **kw)
    steps: tuple[str | None, ...] = element.path or (None,)
    for i, seg in enumerate(steps):
        # An empty path means the document itself (e.g. the ip_addresses list).
        node = current if seg is None else _sqlite_member(compiler, current, seg, **kw)
        last = i == len(steps) - 1
        if last and not unwrap_last:
            return froms, filters, f"json_type({node})", node
        alias = f"je{i}"
        # A list fans out over its elements; anything else counts as a one-element list.
        froms.append(
            f"json_each(CASE WHEN {node} IS NULL THEN '[]' "
            f"WHEN json_type({node}) = 'array' THEN {node} "
            f"ELSE json_array(json({node})) END) AS {alias}"
        )
        if last:
            return froms, filters, f"{alias}.type", f"{alias}.value"
        filters.append(f"{alias}.type = 'object'")  # only objects have members to walk into
        current = f"{alias}.value"
    raise AssertionError("empty path")


def _sqlite_pred(compiler: Any, typ: str, val: str, pred: Pred, **kw: Any) -> str:
    b = lambda v: _bind(compiler, v, **kw)  # noqa: E731
    v = pred.value
    if pred.kind == "nonnull":
        return f"{typ} IS NOT NULL AND {typ} != 'null'"
    if pred.kind == "empty":
        return f"{typ} = 'array' AND json_array_length({val}) = 0"
    if pred.kind == "null":
        return f"{typ} = 'null'"
    if pred.kind in ("eq", "cmp"):
        sql_op = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[pred.op or "eq"]
        if isinstance(v, bool):
            if pred.kind == "cmp":
                return "0"
            return f"{typ} = {b('true' if v else 'false')}"
        if isinstance(v, int | float):
            return f"{typ} IN ('integer', 'real') AND {val} {sql_op} {b(v)}"
        return f"{typ} = 'text' AND {val} {sql_op} {b(v)}"
    if pred.kind == "contain":
        if v.isascii():
            return f"{typ} = 'text' AND {val} LIKE {b(like_pattern(v))} ESCAPE '\\'"
        return (
            f"{typ} = 'text' AND skyatlas_lower({val}) LIKE {b(like_pattern(v.lower()))} "
            "ESCAPE '\\'"
        )
    if pred.kind == "regex":
        return f"{typ} = 'text' AND skyatlas_regexp({b(v)}, {val})"
    if pred.kind == "dt":
        sql_op = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[pred.op]
        return f"{typ} = 'text' AND substr(replace({val}, ' ', 'T'), 1, 19) {sql_op} {b(v)}"
    if pred.kind == "match":
        parts = [f"{typ} = 'object'"]
        for key, want in v.items():
            inner = f"({val} -> {b('$.' + _quoted(key))})"
            ityp = f"json_type({inner})"
            ival = f"({val} ->> {b('$.' + _quoted(key))})"
            parts.append(_sqlite_pred(compiler, ityp, ival, _eq_pred(want), **kw))
        return " AND ".join(f"({p})" for p in parts)
    raise AssertionError(pred.kind)


@compiles(JsonExists, "sqlite")
def _json_exists_sqlite(element: JsonExists, compiler: Any, **kw: Any) -> str:
    pred = element.pred
    unwrap = pred.kind not in ("nonnull", "empty")
    froms, filters, typ, val = _sqlite_chain(compiler, element, unwrap, **kw)
    test = _sqlite_pred(compiler, typ, val, pred, **kw)
    where = " AND ".join([*filters, f"({test})"])
    if froms:
        body = f"EXISTS (SELECT 1 FROM {', '.join(froms)} WHERE {where})"
    else:  # a test on a missing node is NULL; make it false so that NOT keeps the row
        body = f"COALESCE(({where}), 0)"
    needles = _sqlite_needles(element.path, pred)
    if not needles:
        return body
    # Necessary conditions on the stored JSON text (written by orjson: `"key":`, values in
    # JSON spelling): a substring search rejects most rows before any JSON is parsed. Being
    # necessary for the EXISTS, they stay correct under NOT as well.
    doc = compiler.process(element.doc, **kw)
    checks = " AND ".join(f"instr({doc}, {_bind(compiler, n, **kw)}) > 0" for n in needles)
    return f"({checks} AND {body})"


def _plain_json_string(text: str) -> bool:
    return all(c not in text for c in '"\\') and all(ord(c) >= 0x20 for c in text)


def _sqlite_needles(path: tuple[str, ...], pred: Pred) -> list[str]:
    needles = []
    if path and _plain_json_string(path[-1]):
        needles.append(json.dumps(path[-1], ensure_ascii=False) + ":")
    if pred.kind == "eq" and isinstance(pred.value, str) and _plain_json_string(pred.value):
        needles.append(json.dumps(pred.value, ensure_ascii=False))
    return needles


# -- PostgreSQL ------------------------------------------------------------------------------


def _jsonpath(path: tuple[str, ...], unwrap_last: bool) -> str:
    body = "".join("." + json.dumps(seg) for seg in path)
    return f"lax ${body}" + ("[*]" if unwrap_last else "")


def _pg_pred(compiler: Any, v_sql: str, pred: Pred, **kw: Any) -> str:
    b = lambda v: _bind(compiler, v, **kw)  # noqa: E731
    v = pred.value
    typ = f"jsonb_typeof({v_sql})"
    text = f"({v_sql} #>> '{{}}')"
    if pred.kind == "nonnull":
        return f"{typ} != 'null'"
    if pred.kind == "empty":
        return f"{typ} = 'array' AND jsonb_array_length({v_sql}) = 0"
    if pred.kind == "null":
        return f"{typ} = 'null'"
    if pred.kind in ("eq", "cmp"):
        sql_op = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[pred.op or "eq"]
        if isinstance(v, bool):
            if pred.kind == "cmp":
                return "false"
            return f"{typ} = 'boolean' AND {v_sql} = {b(json.dumps(v))}::jsonb"
        if isinstance(v, int | float):
            return f"{typ} = 'number' AND {v_sql} {sql_op} {b(json.dumps(v))}::jsonb"
        return f"{typ} = 'string' AND {text} COLLATE \"C\" {sql_op} {b(v)}"
    if pred.kind == "contain":
        return (
            f"{typ} = 'string' AND lower({text} COLLATE \"default\") LIKE "
            f"{b(like_pattern(v.lower()))} ESCAPE '\\'"
        )
    if pred.kind == "regex":
        return f"{typ} = 'string' AND ({text} COLLATE \"default\") ~* {b(v)}"
    if pred.kind == "dt":
        sql_op = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[pred.op]
        return (
            f"{typ} = 'string' AND substr(replace({text}, ' ', 'T'), 1, 19) COLLATE \"C\" "
            f"{sql_op} {b(v)}"
        )
    if pred.kind == "match":
        parts = [f"{typ} = 'object'"]
        for key, want in v.items():
            parts.append(_pg_pred(compiler, f"({v_sql} -> {b(key)})", _eq_pred(want), **kw))
        return " AND ".join(f"({p})" for p in parts)
    raise AssertionError(pred.kind)


@compiles(JsonExists, "postgresql")
def _json_exists_pg(element: JsonExists, compiler: Any, **kw: Any) -> str:
    pred = element.pred
    unwrap = pred.kind not in ("nonnull", "empty")
    doc = compiler.process(element.doc, **kw)
    path = _bind(compiler, _jsonpath(element.path, unwrap), **kw)
    test = _pg_pred(compiler, "jc.v", pred, **kw)
    exists = (
        f"EXISTS (SELECT 1 FROM jsonb_path_query({doc}, CAST({path} AS jsonpath)) AS jc(v) "
        f"WHERE {test})"
    )
    probe = _pg_index_probe(element.path, pred)
    if probe is None:
        return exists
    # `@?` with a literal path can be answered by a GIN (jsonb_path_ops) index; the EXISTS then
    # checks only the rows it leaves.
    return f"({doc} @? CAST({_bind(compiler, probe, **kw)} AS jsonpath) AND {exists})"


def _pg_index_probe(path: tuple[str, ...], pred: Pred) -> str | None:
    if pred.kind != "eq" or pred.op not in ("", "eq") or pred.value is None:
        return None
    return _jsonpath(path, False) + f" ? (@ == {json.dumps(pred.value)})"


# -- building conditions ------------------------------------------------------------------------


def _eq_pred(value: Any) -> Pred:
    return Pred("null") if value is None else Pred("eq", value, "eq")


def _exists(doc: ColumnElement[Any], path: tuple[str, ...], pred: Pred) -> ColumnElement[bool]:
    return JsonExists(doc, path, pred)  # type: ignore[return-value]


def compile_json_condition(
    doc: ColumnElement[Any], path: tuple[str, ...], cond: Condition
) -> ColumnElement[bool]:
    """The condition on `doc` at `path`, with the semantics described in the module doc."""
    op, value, label = cond.op, cond.value, cond.label

    def present() -> ColumnElement[bool]:
        return _exists(doc, path, Pred("nonnull"))

    def eq(v: Any) -> ColumnElement[bool]:
        if v is None:
            return or_(not_(present()), _exists(doc, path, Pred("null")))
        if v is EMPTY_LIST:
            return _exists(doc, path, Pred("empty"))
        return _exists(doc, path, Pred("eq", v, "eq"))

    if op == "eq":
        return eq(value)
    if op == "not":
        return not_(eq(value))
    if op in ("lt", "lte", "gt", "gte"):
        return _exists(doc, path, Pred("cmp", value, op))
    if op in ("in", "not_in"):
        clause = or_(*[eq(v) for v in value]) if value else literal(False)
        return clause if op == "in" else not_(clause)
    if op in ("contain", "not_contain"):
        clause = _exists(doc, path, Pred("contain", value))
        return clause if op == "contain" else not_(clause)
    if op in ("contain_in", "not_contain_in"):
        clause = (
            or_(*[_exists(doc, path, Pred("contain", v)) for v in value])
            if value
            else literal(False)
        )
        return clause if op == "contain_in" else not_(clause)
    if op == "exists":
        return present() if value else not_(present())
    if op == "regex":
        return _exists(doc, path, Pred("regex", value))
    if op == "regex_in":
        return (
            or_(*[_exists(doc, path, Pred("regex", v)) for v in value]) if value else literal(False)
        )
    if op.startswith(("datetime_", "timediff_")):
        bound = iso(value)[:19]  # compared with the first 19 characters of ISO strings
        return _exists(doc, path, Pred("dt", bound, op.split("_", 1)[1]))
    if op == "match":
        return _exists(doc, path, Pred("match", value))
    raise InvalidParameter(f"{label}: unknown operator '{op}'")  # pragma: no cover


__all__ = ["JsonExists", "compile_json_condition"]
