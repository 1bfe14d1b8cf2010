"""Searchable fields: `data.*` paths a cloud-service type declares in `metadata.search`.

Each declared path gets an expression index on both backends, and queries on exactly that key
compile to the same expression, so a filter on it is an index lookup instead of a scan.
Declared fields are expected to hold one value (not a list): they are compared as text.
Undeclared paths keep working through the general JSON-path conditions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

from sqlalchemy import Column, Connection, Index, MetaData, Table, select
from sqlalchemy.schema import CreateIndex

from skyatlas.errors import InvalidParameter
from skyatlas.query.compile import Field, FieldSet, Prefix, compile_condition
from skyatlas.query.model import Condition
from skyatlas.query.sqlfuncs import json_text
from skyatlas.store.tables import cloud_service_types, cloud_services
from skyatlas.store.types import JSONDoc

DECLARED_KEY = re.compile(r"^data(\.[A-Za-z0-9_\-]{1,64}){1,8}$")
_TEXT_OPS = {
    "eq",
    "not",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contain",
    "not_contain",
    "contain_in",
    "not_contain_in",
    "exists",
    "regex",
    "regex_in",
}


def search_keys(metadata: dict[str, Any]) -> list[str]:
    """The `data.*` keys of `metadata.search` (`[{"key": ..., "name": ...}]` or `["key"]`)."""
    entries = metadata.get("search") or []
    if not isinstance(entries, list):
        raise InvalidParameter("metadata.search must be a list of {key, name}")
    keys = []
    for i, entry in enumerate(entries):
        key = entry.get("key") if isinstance(entry, dict) else entry
        if not isinstance(key, str) or not DECLARED_KEY.match(key):
            raise InvalidParameter(
                f"metadata.search[{i}]: {key!r} is not a searchable path; write data.<a>.<b> "
                "with letters, digits, '_' or '-' in each segment"
            )
        keys.append(key)
    return keys


def index_name(key: str) -> str:
    return "ix_cs_search_" + hashlib.sha256(key.encode()).hexdigest()[:16]


#: `cloud_services` as DDL sees it, outside the schema's metadata: an `Index` binds itself to the
#: table of its column, and declared indexes must not join the metadata that migrations and
#: schema comparisons are checked against (nor grow it with every declaration).
_DDL_TABLE = Table(cloud_services.name, MetaData(), Column("data", JSONDoc))


def ensure_indexes(conn: Connection, keys: list[str]) -> None:
    """Create the expression index of each declared key (idempotent)."""
    for key in keys:
        path = tuple(key.split(".")[1:])
        index = Index(index_name(key), json_text(_DDL_TABLE.c.data, path))
        # IF NOT EXISTS in the statement itself: SQLite's reflection does not list expression
        # indexes, so a "check first" would miss them and fail on the second declaration.
        conn.execute(CreateIndex(index, if_not_exists=True))


def declared_keys(conn: Connection, workspace_ids: list[str] | None) -> set[str]:
    stmt = select(cloud_service_types.c.metadata)
    if workspace_ids is not None:
        stmt = stmt.where(cloud_service_types.c.workspace_id.in_(workspace_ids))
    keys: set[str] = set()
    for (metadata,) in conn.execute(stmt):
        try:
            keys.update(search_keys(metadata or {}))
        except InvalidParameter:
            continue
    return keys


def with_declared(fields: FieldSet, keys: set[str]) -> FieldSet:
    """The field set where each declared key compiles to its indexed expression."""
    if not keys:
        return fields
    base = fields.prefixes["data"]

    def resolve(rest: str) -> Field:
        key = "data." + rest
        if key not in keys:
            return base.resolve(rest)
        general = base.resolve(rest)
        text = Field(json_text(cloud_services.c.data, tuple(rest.split("."))), "string")
        text_set = FieldSet(id_key="v", columns={"v": text})

        def condition(cond: Condition) -> Any:
            scalar_ok = cond.op in _TEXT_OPS and all(
                v is None or isinstance(v, str)
                for v in (cond.value if isinstance(cond.value, tuple) else (cond.value,))
            )
            if not scalar_ok or cond.op == "exists":
                assert general.condition is not None
                return general.condition(cond)
            return compile_condition(Condition("v", cond.op, cond.value, cond.label), text_set)

        return Field(text.expr, "string", condition)

    prefixes = {**fields.prefixes, "data": Prefix(resolve=resolve, split=base.split)}
    return dataclasses.replace(fields, prefixes=prefixes)
