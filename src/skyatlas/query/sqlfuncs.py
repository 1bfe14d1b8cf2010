"""SQL functions whose spelling differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import ARRAY, JSON, Boolean, NullType, String

# strftime directives we accept and their PostgreSQL to_char equivalents.
_PG_FORMAT = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}


def pg_date_format(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in _PG_FORMAT:
            out.append(_PG_FORMAT[token])
            i += 2
            continue
        ch = fmt[i]
        # Anything that is not a directive is quoted so to_char copies it literally.
        out.append('"' + ch.replace('"', '\\"') + '"' if ch.isalnum() else ch)
        i += 1
    return "".join(out)


def check_date_format(fmt: str) -> bool:
    """Only the directives both backends understand: %Y %m %d %H %M %S."""
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            if fmt[i : i + 2] not in _PG_FORMAT:
                return False
            i += 2
        else:
            i += 1
    return True


class date_format(FunctionElement[str]):
    """`date_format(expr, fmt)` formats a timestamp with strftime directives on both backends."""

    type = String()
    inherit_cache = True
    name = "date_format"

    def __init__(self, expr: Any, fmt: str) -> None:
        # Both spellings travel as bound literals so the compiled statement stays cacheable.
        super().__init__(expr, literal(fmt), literal(pg_date_format(fmt)))


@compiles(date_format, "sqlite")
def _date_format_sqlite(element: date_format, compiler: Any, **kw: Any) -> str:
    expr, fmt, _ = list(element.clauses)
    return f"strftime({compiler.process(fmt, **kw)}, {compiler.process(expr, **kw)})"


@compiles(date_format, "postgresql")
def _date_format_pg(element: date_format, compiler: Any, **kw: Any) -> str:
    expr, _, pg_fmt = list(element.clauses)
    return (
        f"to_char(({compiler.process(expr, **kw)}) AT TIME ZONE 'UTC', "
        f"{compiler.process(pg_fmt, **kw)})"
    )


class json_array_agg(FunctionElement[Any]):
    """Aggregate values into a JSON array; `distinct=True` keeps each value once."""

    type = JSON()
    inherit_cache = True
    name = "json_array_agg"


class json_array_agg_distinct(json_array_agg):
    inherit_cache = True
    name = "json_array_agg_distinct"


@compiles(json_array_agg, "sqlite")
def _agg_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_array_agg_distinct, "sqlite")
def _agg_d_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(DISTINCT {compiler.process(element.clauses, **kw)})"


@compiles(json_array_agg, "postgresql")
def _agg_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


@compiles(json_array_agg_distinct, "postgresql")
def _agg_d_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_agg(DISTINCT {compiler.process(element.clauses, **kw)})"


def like_pattern(needle: str) -> str:
    """A LIKE pattern matching `needle` literally anywhere (escape character: backslash)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class contains_ci(FunctionElement[bool]):
    """Case-insensitive literal substring test, Unicode-aware on both backends.

    SQLite's LIKE and lower() fold ASCII only; an ASCII needle can use plain LIKE (already
    ASCII case-insensitive, and index-friendly), any other needle folds both sides in Python.
    """

    type = Boolean()
    inherit_cache = True
    name = "contains_ci"

    def __init__(self, expr: Any, needle: str) -> None:
        self.ascii = needle.isascii()
        super().__init__(expr, literal(like_pattern(needle)), literal(like_pattern(needle.lower())))


class contains_ci_unicode(contains_ci):
    inherit_cache = True
    name = "contains_ci_unicode"


def contains_insensitive(expr: Any, needle: str) -> Any:
    return (contains_ci if needle.isascii() else contains_ci_unicode)(expr, needle)


@compiles(contains_ci, "sqlite")
def _contains_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    expr, pattern, _ = list(element.clauses)
    return f"({compiler.process(expr, **kw)} LIKE {compiler.process(pattern, **kw)} ESCAPE '\\')"


@compiles(contains_ci_unicode, "sqlite")
def _contains_u_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    expr, _, lowered = list(element.clauses)
    return (
        f"(skyatlas_lower({compiler.process(expr, **kw)}) LIKE "
        f"{compiler.process(lowered, **kw)} ESCAPE '\\')"
    )


@compiles(contains_ci, "postgresql")
def _contains_pg(element: Any, compiler: Any, **kw: Any) -> str:
    expr, _, lowered = list(element.clauses)
    return (
        # Columns sort with COLLATE "C", which folds ASCII only: fold with the database's
        # default collation instead, which knows the rest of Unicode.
        f'(lower(({compiler.process(expr, **kw)}) COLLATE "default") LIKE '
        f"{compiler.process(lowered, **kw)} ESCAPE '\\')"
    )


class regexp_ci(FunctionElement[bool]):
    """Case-insensitive regular-expression search (Python `re` on SQLite, `~*` on PostgreSQL)."""

    type = Boolean()
    inherit_cache = True
    name = "regexp_ci"


@compiles(regexp_ci, "sqlite")
def _regexp_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    expr, pattern = list(element.clauses)
    return f"skyatlas_regexp({compiler.process(pattern, **kw)}, {compiler.process(expr, **kw)})"


@compiles(regexp_ci, "postgresql")
def _regexp_pg(element: Any, compiler: Any, **kw: Any) -> str:
    expr, pattern = list(element.clauses)
    return (
        f'((({compiler.process(expr, **kw)}) COLLATE "default") ~* '
        f"{compiler.process(pattern, **kw)})"
    )


class json_scalar(FunctionElement[Any]):
    """The value at a path of a JSON document, for DISTINCT and GROUP BY.

    SQLite gives typed scalars (objects and lists as JSON text); PostgreSQL gives jsonb, which
    the driver decodes. No result processing: the values already arrive as Python values.
    """

    type = NullType()
    inherit_cache = True
    name = "json_scalar"

    def __init__(self, doc: Any, path: tuple[str, ...]) -> None:

        super().__init__(
            doc,
            literal("$" + "".join('."' + seg + '"' for seg in path)),
            literal(list(path), type_=ARRAY(String())),
        )


@compiles(json_scalar, "sqlite")
def _json_scalar_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    doc, path, _ = list(element.clauses)
    return f"json_extract({compiler.process(doc, **kw)}, {compiler.process(path, **kw)})"


@compiles(json_scalar, "postgresql")
def _json_scalar_pg(element: Any, compiler: Any, **kw: Any) -> str:
    doc, _, path = list(element.clauses)
    return f"({compiler.process(doc, **kw)} #> {compiler.process(path, **kw)})"


class json_text(FunctionElement[str]):
    """The text of the scalar at a *declared* JSON path, spelled exactly like the expression
    index built for that path: the path is rendered inline (it comes from validated
    cloud-service-type metadata, never from a request) because neither SQLite nor PostgreSQL
    matches an index expression against a bound parameter."""

    type = String()
    inherit_cache = True
    name = "json_text"

    def __init__(self, doc: Any, path: tuple[str, ...]) -> None:
        import json

        self.path = path
        super().__init__(
            doc,
            literal_column(
                "'" + ("$" + "".join("." + json.dumps(s) for s in path)).replace("'", "''") + "'"
            ),
            literal_column("'{" + ",".join(json.dumps(s) for s in path).replace("'", "''") + "}'"),
        )


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    doc, path, _ = list(element.clauses)
    return f"json_extract({compiler.process(doc, **kw)}, {compiler.process(path, **kw)})"


@compiles(json_text, "postgresql")
def _json_text_pg(element: Any, compiler: Any, **kw: Any) -> str:
    doc, _, path = list(element.clauses)
    return f"({compiler.process(doc, **kw)} #>> {compiler.process(path, **kw)})"


class _json_sort(FunctionElement[Any]):
    type = NullType()
    inherit_cache = True
    part = ""

    def __init__(self, doc: Any, path: tuple[str, ...]) -> None:
        super().__init__(
            doc,
            literal("$" + "".join('."' + seg + '"' for seg in path)),
            literal(list(path), type_=ARRAY(String())),
        )


class json_sort_rank(_json_sort):
    inherit_cache = True
    name = "json_sort_rank"
    part = "rank"


class json_sort_number(_json_sort):
    inherit_cache = True
    name = "json_sort_number"
    part = "number"


class json_sort_text(_json_sort):
    inherit_cache = True
    name = "json_sort_text"
    part = "text"


def json_sort_keys(doc: Any, path: tuple[str, ...]) -> tuple[Any, ...]:
    """ORDER BY keys giving SQLite's (and MongoDB's) order on both backends: missing and null
    first, then numbers (booleans as 0/1) numerically, then strings by code point."""
    return (json_sort_rank(doc, path), json_sort_number(doc, path), json_sort_text(doc, path))


@compiles(json_sort_rank, "sqlite")
@compiles(json_sort_number, "sqlite")
@compiles(json_sort_text, "sqlite")
def _json_sort_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    if element.part != "rank":
        return "NULL"  # SQLite's own ordering of json_extract already is the order wanted
    doc, path, _ = list(element.clauses)
    return f"json_extract({compiler.process(doc, **kw)}, {compiler.process(path, **kw)})"


@compiles(json_sort_rank, "postgresql")
@compiles(json_sort_number, "postgresql")
@compiles(json_sort_text, "postgresql")
def _json_sort_pg(element: Any, compiler: Any, **kw: Any) -> str:
    doc, _, path = list(element.clauses)
    v = f"({compiler.process(doc, **kw)} #> {compiler.process(path, **kw)})"
    t = f"jsonb_typeof({v})"
    if element.part == "rank":
        return (
            f"(CASE WHEN {v} IS NULL OR {t} = 'null' THEN NULL "
            f"WHEN {t} IN ('number', 'boolean') THEN 1 ELSE 2 END)"
        )
    if element.part == "number":
        return (
            f"(CASE WHEN {t} = 'number' THEN ({v} #>> '{{}}')::numeric "
            f"WHEN {t} = 'boolean' THEN (CASE WHEN {v} = 'true'::jsonb THEN 1 ELSE 0 END) END)"
        )
    return (
        f"(CASE WHEN {t} = 'string' THEN ({v} #>> '{{}}') "
        f"WHEN {t} IN ('object', 'array') THEN {v}::text END) COLLATE \"C\""
    )


# -- DuckDB (the embedded cost store) ------------------------------------------------------


@compiles(contains_ci, "duckdb")
@compiles(contains_ci_unicode, "duckdb")
def _contains_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    expr, pattern, _ = list(element.clauses)
    return f"({compiler.process(expr, **kw)} ILIKE {compiler.process(pattern, **kw)} ESCAPE '\\')"


@compiles(regexp_ci, "duckdb")
def _regexp_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    expr, pattern = list(element.clauses)
    return f"regexp_matches({compiler.process(expr, **kw)}, {compiler.process(pattern, **kw)}, 'i')"


@compiles(json_array_agg, "duckdb")
def _agg_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    return f"to_json(list({compiler.process(element.clauses, **kw)}))"


@compiles(json_array_agg_distinct, "duckdb")
def _agg_d_duckdb(element: Any, compiler: Any, **kw: Any) -> str:
    return f"to_json(list(DISTINCT {compiler.process(element.clauses, **kw)}))"
