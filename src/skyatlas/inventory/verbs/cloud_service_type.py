"""cloud-service-type create / update / delete / get / list / stat.

A type names a kind of resource (`aws` / `EC2` / `Instance`) and may declare its searchable
`data.*` paths in `metadata.search`; declaring a path builds an index for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import fetch_one, field_set, list_rows, render, stat_rows, verb_factory
from skyatlas.errors import Conflict
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.inventory.searchable import ensure_indexes, search_keys
from skyatlas.runtime import Ctx
from skyatlas.schemas import (
    Empty,
    Id,
    JSONObject,
    Name,
    QueryParam,
    Request,
    StatRequest,
    StatResponse,
    Tags,
)
from skyatlas.store.tables import cloud_service_types as types_table

FIELDS = field_set(types_table, "cloud_service_type_id", keyword=("name", "group", "provider"))
Labels = Annotated[list[Name], Field(max_length=50)]


class CloudServiceTypeCreate(Request):
    name: Name
    group: Name
    provider: Name
    is_primary: bool = False
    is_major: bool = False
    resource_type: Name = "inventory.CloudService"
    metadata: JSONObject = {}
    labels: Labels = []
    tags: Tags = {}
    workspace_id: Id | None = None


class CloudServiceTypeUpdate(Request):
    cloud_service_type_id: Id
    is_primary: bool | None = None
    is_major: bool | None = None
    metadata: JSONObject | None = None
    labels: Labels | None = None
    tags: Tags | None = None


class CloudServiceTypeRef(Request):
    cloud_service_type_id: Id


class CloudServiceTypeList(Request):
    query: QueryParam = None
    cloud_service_type_id: Id | None = None
    name: Name | list[Name] | None = None
    group: Name | list[Name] | None = None
    provider: Name | list[Name] | None = None
    is_primary: bool | None = None
    is_major: bool | None = None
    workspace_id: Id | None = None


class CloudServiceTypeInfo(BaseModel):
    cloud_service_type_id: str | None = None
    name: str | None = None
    group: str | None = None
    provider: str | None = None
    is_primary: bool | None = None
    is_major: bool | None = None
    resource_type: str | None = None
    metadata: dict[str, Any] | None = None
    labels: list[str] | None = None
    tags: dict[str, str] | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class CloudServiceTypeListResponse(BaseModel):
    results: list[CloudServiceTypeInfo]
    total_count: int


def scope(ctx: Ctx) -> list[Any]:
    return [
        types_table.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(types_table.c.workspace_id),
    ]


def get_type(ctx: Ctx, type_id: str) -> Any:
    return fetch_one(
        ctx.conn, types_table, "cloud_service_type_id", type_id, scope(ctx), "cloud service type"
    )


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "cloud-service-type", service="inventory")

    @verb(
        "create",
        CloudServiceTypeCreate,
        CloudServiceTypeInfo,
        ADMIN_OWNER,
        "Declare a cloud service type",
    )
    def create(ctx: Ctx, req: CloudServiceTypeCreate) -> dict[str, Any]:
        """Declare a kind of resource: `provider`, `group`, `name` (unique per workspace, 409).
        `metadata.search` lists the `data.*` paths people filter on (`[{"key":
        "data.compute.instance_state", "name": "Instance State"}]`); each gets an index."""
        workspace_id = ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        keys = search_keys(req.metadata)
        clash = ctx.conn.execute(
            select(types_table.c.cloud_service_type_id).where(
                types_table.c.workspace_id == workspace_id,
                types_table.c.provider == req.provider,
                types_table.c.group == req.group,
                types_table.c.name == req.name,
            )
        ).first()
        if clash:
            raise Conflict(f"cloud service type {req.provider}/{req.group}/{req.name} exists")
        now = utcnow()
        type_id = new_id("cst")
        ctx.conn.execute(
            insert(types_table).values(
                cloud_service_type_id=type_id,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                name=req.name,
                group=req.group,
                provider=req.provider,
                is_primary=req.is_primary,
                is_major=req.is_major,
                resource_type=req.resource_type,
                metadata=req.metadata,
                labels=req.labels,
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        ensure_indexes(ctx.conn, keys)
        return render(get_type(ctx, type_id))

    @verb(
        "update",
        CloudServiceTypeUpdate,
        CloudServiceTypeInfo,
        ADMIN_OWNER,
        "Update a cloud service type",
    )
    def update_(ctx: Ctx, req: CloudServiceTypeUpdate) -> dict[str, Any]:
        """Change flags, labels, tags or `metadata` (new `metadata.search` paths get indexes)."""
        get_type(ctx, req.cloud_service_type_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        for name in ("is_primary", "is_major", "labels", "tags", "metadata"):
            if getattr(req, name) is not None:
                values[name] = getattr(req, name)
        if req.metadata is not None:
            ensure_indexes(ctx.conn, search_keys(req.metadata))
        ctx.conn.execute(
            update(types_table)
            .where(types_table.c.cloud_service_type_id == req.cloud_service_type_id)
            .values(values)
        )
        return render(get_type(ctx, req.cloud_service_type_id))

    @verb("delete", CloudServiceTypeRef, Empty, ADMIN_OWNER, "Delete a cloud service type")
    def delete_(ctx: Ctx, req: CloudServiceTypeRef) -> dict[str, Any]:
        """Delete a type declaration (its resources stay)."""
        get_type(ctx, req.cloud_service_type_id)
        ctx.conn.execute(
            delete(types_table).where(
                types_table.c.cloud_service_type_id == req.cloud_service_type_id
            )
        )
        return {}

    @verb(
        "get", CloudServiceTypeRef, CloudServiceTypeInfo, ALL_ROLE_TYPES, "Get a cloud service type"
    )
    def get(ctx: Ctx, req: CloudServiceTypeRef) -> dict[str, Any]:
        """One cloud service type of the caller's workspace."""
        return render(get_type(ctx, req.cloud_service_type_id))

    @verb(
        "list",
        CloudServiceTypeList,
        CloudServiceTypeListResponse,
        ALL_ROLE_TYPES,
        "List cloud service types",
    )
    def list_(ctx: Ctx, req: CloudServiceTypeList) -> dict[str, Any]:
        """Cloud service types matching the query (e.g. `{"provider": "aws"}`)."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(ctx.conn, types_table, FIELDS, req.query, params, scope(ctx), render)

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate cloud service types")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the workspace's types."""
        return stat_rows(ctx.conn, types_table, FIELDS, req.query, scope(ctx))
