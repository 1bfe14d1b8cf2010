"""Case-sensitive wildcard matching in SQL, the same on SQLite and PostgreSQL.

A pattern is a list of literal strings and wildcards (None, matching any run of characters).
SQLite's LIKE ignores ASCII case, so SQLite gets GLOB (case-sensitive, and able to use an index
for a prefix); PostgreSQL gets LIKE, which is case-sensitive there (and indexable under the
"C" collation our string columns use). Literal text is escaped for each, so a user's `%`, `_`,
`?` or `[` is just a character.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, literal, true

Parts = Sequence[str | None]


def _glob_literal(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(expr: Any, parts: Parts, dialect: str) -> ColumnElement[bool]:
    """`expr` matches the pattern: `true()` for a bare wildcard, `=` when there is none."""
    if all(p is None for p in parts):
        return true()
    if all(p is not None for p in parts):
        return expr == "".join(p for p in parts if p is not None)
    if dialect == "sqlite":
        pattern = "".join("*" if p is None else _glob_literal(p) for p in parts)
        return expr.op("GLOB", is_comparison=True)(literal(pattern))
    pattern = "".join("%" if p is None else _like_literal(p) for p in parts)
    return expr.like(pattern, escape="\\")


def glob_parts(segment: str) -> list[str | None]:
    """A KCRN glob segment (`*` is always a wildcard there) as pattern parts. An empty segment
    matches only an empty value (a resource without a project)."""
    if segment == "":
        return [""]
    parts: list[str | None] = []
    for i, piece in enumerate(segment.split("*")):
        if i:
            parts.append(None)
        if piece:
            parts.append(piece)
    return parts


def form_parts(form: str, text: str) -> list[str | None]:
    """A filter_string value form (exact, prefix, suffix, contains, any) as pattern parts."""
    return {
        "exact": [text],
        "prefix": [text, None],
        "suffix": [None, text],
        "contains": [None, text, None],
        "any": [None],
    }[form]
