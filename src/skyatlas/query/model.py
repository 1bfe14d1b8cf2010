"""Dialect-free query model: what to match, how to order, which page, which fields.

Values in a `Condition` are already checked against the operator's value type, so the compiler
never has to guess; keys are still plain strings until a `FieldSet` resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ValueKind = Literal[
    "scalar_or_null",
    "scalar",
    "list",
    "string",
    "string_list",
    "bool",
    "object",
    "datetime",
    "timediff",
]

#: Every operator of the SpaceONE query language with the kind of value it takes.
OPERATORS: dict[str, ValueKind] = {
    "eq": "scalar_or_null",
    "not": "scalar_or_null",
    "lt": "scalar",
    "lte": "scalar",
    "gt": "scalar",
    "gte": "scalar",
    "in": "list",
    "not_in": "list",
    "contain": "string",
    "not_contain": "string",
    "contain_in": "string_list",
    "not_contain_in": "string_list",
    "exists": "bool",
    "match": "object",
    "regex": "string",
    "regex_in": "string_list",
    "datetime_lt": "datetime",
    "datetime_lte": "datetime",
    "datetime_gt": "datetime",
    "datetime_gte": "datetime",
    "timediff_lt": "timediff",
    "timediff_lte": "timediff",
    "timediff_gt": "timediff",
    "timediff_gte": "timediff",
}


class _EmptyList:
    """Stands for `[]` inside an `in` / `not_in` list: "the field is an empty list"."""

    _instance: _EmptyList | None = None

    def __new__(cls) -> _EmptyList:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "[]"


EMPTY_LIST = _EmptyList()

GROUP_OPERATORS = ("count", "sum", "average", "max", "min", "first", "last", "push", "add_to_set")


@dataclass(frozen=True)
class Condition:
    key: str
    op: str
    value: Any
    #: How the user wrote it, for error messages ("filter[2] (name contain 5)").
    label: str = ""


@dataclass(frozen=True)
class SortKey:
    key: str
    desc: bool = False


@dataclass(frozen=True)
class Page:
    start: int = 1
    limit: int | None = None

    @property
    def offset(self) -> int:
        return self.start - 1


@dataclass(frozen=True)
class Query:
    filter: tuple[Condition, ...] = ()
    filter_or: tuple[Condition, ...] = ()
    keyword: str | None = None
    only: tuple[str, ...] | None = None
    sort: tuple[SortKey, ...] = ()
    page: Page | None = None
    minimal: bool = False
    count_only: bool = False

    def with_filters(self, *conditions: Condition) -> Query:
        """The same query with more AND conditions (used for top-level list params)."""
        return Query(
            filter=self.filter + tuple(conditions),
            filter_or=self.filter_or,
            keyword=self.keyword,
            only=self.only,
            sort=self.sort,
            page=self.page,
            minimal=self.minimal,
            count_only=self.count_only,
        )


@dataclass(frozen=True)
class GroupKey:
    key: str
    name: str
    date_format: str | None = None


@dataclass(frozen=True)
class GroupField:
    name: str
    operator: str
    key: str | None = None


@dataclass(frozen=True)
class Stage:
    """One aggregate stage; `kind` is the stage's name in the request."""

    kind: Literal["group", "sort", "limit", "skip", "count", "project", "match", "unwind"]
    keys: tuple[GroupKey, ...] = ()
    fields: tuple[GroupField, ...] = ()
    sort: tuple[SortKey, ...] = ()
    number: int = 0
    name: str = ""
    conditions: tuple[Condition, ...] = ()
    projection: tuple[tuple[str, str], ...] = ()
    path: str = ""


@dataclass(frozen=True)
class StatQuery:
    filter: tuple[Condition, ...] = ()
    filter_or: tuple[Condition, ...] = ()
    keyword: str | None = None
    distinct: str | None = None
    aggregate: tuple[Stage, ...] = field(default_factory=tuple)
    page: Page | None = None
