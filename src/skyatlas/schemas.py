"""Request and response building blocks shared by every verb's models.

Every string the API accepts goes through `Text`/`Name`, which reject NUL characters: PostgreSQL
cannot store them, and refusing them here keeps the two backends answering alike (400, not 500).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _clean_json(value: Any) -> Any:
    """Storable on both backends: serialisable, no NUL anywhere, integers within 64 bits.

    One orjson pass does all three checks in C (it refuses integers beyond 64 bits and nesting
    beyond its limit, and writes NUL as an escape we can look for), which keeps bulk imports fast.
    """
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"cannot be stored: {exc}") from None
    if b"\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_no_nul)]
Id = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]
TagKey = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_no_nul)]
TagValue = Annotated[str, Field(max_length=1024), AfterValidator(_no_nul)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=100)]
JSONObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]

_CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A condition. `k|key`, `v|value`, `o|operator` (default `eq`).",
    "properties": {
        "k": {"type": "string"},
        "key": {"type": "string"},
        "v": {},
        "value": {},
        "o": {"type": "string"},
        "operator": {"type": "string"},
    },
}
_PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "start": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 10000},
    },
}
_SORT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "desc": {"type": "boolean"}},
    },
}
#: What every query form shares: the conditions and the page.
_FILTERS: dict[str, Any] = {
    "filter": {"type": "array", "items": _CONDITION_SCHEMA},
    "filter_or": {"type": "array", "items": _CONDITION_SCHEMA},
    "keyword": {"type": "string"},
    "page": _PAGE_SCHEMA,
}
QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "SpaceONE query: `filter` (AND) and `filter_or` (OR) conditions with the 24 operators, "
        "`keyword`, `only` (dotted paths), `sort` (`[{key, desc}]`, ties broken by id), "
        "`page` (`{start ≥ 1, limit ≤ 10000}`; no page = every match), `minimal`, `count_only`."
    ),
    "properties": {
        **_FILTERS,
        "only": {"type": "array", "items": {"type": "string"}},
        "sort": _SORT_SCHEMA,
        "minimal": {"type": "boolean"},
        "count_only": {"type": "boolean"},
    },
}
STAT_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "SpaceONE stat query: `distinct` (a field) or `aggregate` (stages `group`, `sort`, "
        "`limit`, `skip`, `count`, `project`, `match`), with `filter`, `filter_or`, `page`."
    ),
    "properties": {
        **_FILTERS,
        "distinct": {"type": "string"},
        "aggregate": {"type": "array", "items": {"type": "object"}},
    },
    "oneOf": [{"required": ["distinct"]}, {"required": ["aggregate"]}],
}

ANALYZE_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "SpaceONE analyze query: `group_by` (keys or {key, name}), `fields` (required: "
        "{name: {operator, key?}}), `granularity` DAILY|MONTHLY|YEARLY with `start`/`end`, "
        "`field_group`, `select`, `filter`, `filter_or`, `sort`, `page`."
    ),
    "required": ["fields"],
    "properties": {
        "group_by": {"type": "array", "items": {}},
        "fields": {"type": "object"},
        "field_group": {"type": "array", "items": {"type": "string"}},
        "select": {"type": "object"},
        **_FILTERS,
        "sort": _SORT_SCHEMA,
        "granularity": {"type": "string", "enum": ["DAILY", "MONTHLY", "YEARLY"]},
        "start": {"type": "string"},
        "end": {"type": "string"},
    },
}

QueryParam = Annotated[dict[str, Any] | None, WithJsonSchema(QUERY_SCHEMA)]
ANALYZE_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "SpaceONE analyze query: `group_by` (keys or {key, name}), `fields` (required: "
        "{name: {operator, key?}}), `granularity` DAILY|MONTHLY|YEARLY with `start`/`end`, "
        "`field_group`, `select`, `filter`, `filter_or`, `sort`, `page`."
    ),
    "required": ["fields"],
    "properties": {
        "group_by": {"type": "array", "items": {}},
        "fields": {"type": "object"},
        "field_group": {"type": "array", "items": {"type": "string"}},
        "select": {"type": "object"},
        **_FILTERS,
        "sort": _SORT_SCHEMA,
        "granularity": {"type": "string", "enum": ["DAILY", "MONTHLY", "YEARLY"]},
        "start": {"type": "string"},
        "end": {"type": "string"},
    },
}

StatQueryParam = Annotated[dict[str, Any], WithJsonSchema(STAT_QUERY_SCHEMA)]
AnalyzeQueryParam = Annotated[dict[str, Any], WithJsonSchema(ANALYZE_QUERY_SCHEMA)]


class Request(BaseModel):
    """Base of every request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class StatRequest(Request):
    query: StatQueryParam


class StatResponse(BaseModel):
    results: list[Any]
    total_count: int


class Empty(BaseModel):
    """An empty JSON object `{}` (the answer of delete and similar verbs)."""

    model_config = ConfigDict(extra="forbid")


def first_error(exc: ValidationError) -> tuple[str, str]:
    """Where (a dotted path, '' for the whole value) and what of a validation error's first
    problem, never the offending input (it may be a secret)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    return ".".join(str(p) for p in first["loc"]), first["msg"]
