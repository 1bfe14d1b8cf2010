"""Helpers for verbs over one table: field sets, 404-alike lookups, list, stat, registration."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, Integer, Row, Table, select

from skyatlas.errors import PermissionDenied, not_found
from skyatlas.ids import iso
from skyatlas.query.compile import Field, FieldSet, Prefix, flat_map, json_document
from skyatlas.query.execute import run_list, run_stat
from skyatlas.query.model import Condition
from skyatlas.query.spaceone import parse_query, parse_stat_query

DATETIME_COLUMNS = (
    "created_at",
    "updated_at",
    "expired_at",
    "last_accessed_at",
    "started_at",
    "finished_at",
    "last_collected_at",
    "last_synchronized_at",
)


def field_set(
    table: Table,
    id_key: str,
    *,
    exclude: Sequence[str] = (),
    keyword: tuple[str, ...] = ("name",),
) -> FieldSet:
    """Every plain column is a field; `tags.<key>` and `data.<path>` reach into JSON."""
    columns: dict[str, Field] = {}
    prefixes: dict[str, Prefix] = {}
    for col in table.columns:
        if col.name in exclude:
            continue
        if col.name == "tags":
            prefixes["tags"] = flat_map(col)
            continue
        if col.name == "data":
            prefixes["data"] = json_document(col)
            continue
        if col.name == "permissions":
            continue
        kind = "datetime" if col.name in DATETIME_COLUMNS else "string"
        if col.name in ("is_managed",):
            kind = "boolean"
        elif isinstance(col.type, Integer | Float):
            kind = "number"
        columns[col.name] = Field(col, kind)  # type: ignore[arg-type]
    return FieldSet(id_key=id_key, columns=columns, prefixes=prefixes, keyword=(id_key, *keyword))


def render(row: Row[Any], *, hide: Sequence[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if key in hide:
            continue
        out[key] = iso(value) if key in DATETIME_COLUMNS else value
    return out


def fetch_one(
    conn: Connection,
    table: Table,
    id_column: str,
    value: str,
    scope: Sequence[ColumnElement[bool]],
    kind: str,
) -> Row[Any]:
    """The row with this id if the caller may see it; otherwise the same 404 as a missing id."""
    row = conn.execute(select(table).where(table.c[id_column] == value, *scope)).one_or_none()
    if row is None:
        raise not_found(kind, id_column, value)
    return row


def shared_scope(table: Table, caller: Any) -> list[ColumnElement[bool]]:
    """Rows of the caller's workspace plus the domain-wide ones (`workspace_id` "*", e.g. a
    DOMAIN collector or data source); a domain admin sees all of its domain's."""
    clauses = [table.c.domain_id == caller.domain_id]
    if not caller.is_admin:
        clauses.append(table.c.workspace_id.in_((caller.workspace_id, "*")))
    return clauses


def fetch_shared(
    conn: Connection,
    caller: Any,
    table: Table,
    id_column: str,
    value: str,
    kind: str,
    *,
    write: bool = False,
) -> Row[Any]:
    """`fetch_one` under `shared_scope`; changing a domain-wide row takes a domain admin."""
    row = fetch_one(conn, table, id_column, value, shared_scope(table, caller), kind)
    if write and row.workspace_id == "*" and not caller.is_admin:
        raise PermissionDenied(f"a DOMAIN {kind} is managed by domain admins only")
    return row


def list_rows(
    conn: Connection,
    table: Table,
    fields: FieldSet,
    raw_query: Any,
    params: Mapping[str, Any],
    scope: Sequence[ColumnElement[bool]],
    to_record: Callable[[Row[Any]], dict[str, Any]],
) -> dict[str, Any]:
    """A list verb: the query plus top-level params (`eq`, or `in` for a list) as filters."""
    query = parse_query(raw_query).with_filters(*param_conditions(params))
    return run_list(conn, table, fields, query, to_record, scope=scope)


def param_conditions(params: Mapping[str, Any]) -> list[Condition]:
    """Top-level list params as conditions: `eq`, or `in` for a list."""
    return [
        Condition(
            key=k,
            op="in" if isinstance(v, list) else "eq",
            value=tuple(v) if isinstance(v, list) else v,
            label=k,
        )
        for k, v in params.items()
        if v is not None
    ]


def stat_rows(
    conn: Connection,
    table: Table,
    fields: FieldSet,
    raw_query: Any,
    scope: Sequence[ColumnElement[bool]],
) -> dict[str, Any]:
    return run_stat(conn, table, fields, parse_stat_query(raw_query), scope=scope)


def verb_factory(registry: Any, resource: str, service: str = "identity") -> Callable[..., Any]:
    """`verb(name, request, response, roles, summary, public=False)` for one resource of one
    service."""

    def verb(
        name: str,
        request: type,
        response: type | None,
        roles: frozenset,
        summary: str,
        *,
        public: bool = False,
    ) -> Callable[..., Any]:
        return registry.verb(
            service,
            resource,
            name,
            request=request,
            response=response,
            roles=roles,
            summary=summary,
            public=public,
        )

    return verb
