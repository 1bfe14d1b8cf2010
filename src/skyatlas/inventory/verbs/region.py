"""region create / update / delete / get / list / stat: the regions a workspace's clouds use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import fetch_one, field_set, list_rows, render, stat_rows, verb_factory
from skyatlas.errors import Conflict
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, Name, QueryParam, Request, StatRequest, StatResponse, Tags
from skyatlas.store.tables import regions

FIELDS = field_set(regions, "region_id", keyword=("name", "region_code", "provider"))


class RegionCreate(Request):
    name: Name
    region_code: Name
    provider: Name
    workspace_id: Id | None = None
    tags: Tags = {}


class RegionUpdate(Request):
    region_id: Id
    name: Name | None = None
    tags: Tags | None = None


class RegionRef(Request):
    region_id: Id


class RegionList(Request):
    query: QueryParam = None
    region_id: Id | None = None
    name: Name | None = None
    region_code: Name | list[Name] | None = None
    provider: Name | list[Name] | None = None
    workspace_id: Id | None = None


class RegionInfo(BaseModel):
    region_id: str | None = None
    name: str | None = None
    region_code: str | None = None
    provider: str | None = None
    tags: dict[str, str] | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class RegionListResponse(BaseModel):
    results: list[RegionInfo]
    total_count: int


def scope(ctx: Ctx) -> list[Any]:
    return [
        regions.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(regions.c.workspace_id),
    ]


def get_region(ctx: Ctx, region_id: str) -> Any:
    return fetch_one(ctx.conn, regions, "region_id", region_id, scope(ctx), "region")


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "region", service="inventory")

    @verb("create", RegionCreate, RegionInfo, ADMIN_OWNER, "Register a region")
    def create(ctx: Ctx, req: RegionCreate) -> dict[str, Any]:
        """Register a provider's region in a workspace; `(provider, region_code)` is unique per
        workspace (409)."""
        workspace_id = ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        clash = ctx.conn.execute(
            select(regions.c.region_id).where(
                regions.c.workspace_id == workspace_id,
                regions.c.provider == req.provider,
                regions.c.region_code == req.region_code,
            )
        ).first()
        if clash:
            raise Conflict(f"region {req.provider}/{req.region_code} already exists")
        now = utcnow()
        region_id = new_id("region")
        ctx.conn.execute(
            insert(regions).values(
                region_id=region_id,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                name=req.name,
                region_code=req.region_code,
                provider=req.provider,
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        return render(get_region(ctx, region_id))

    @verb("update", RegionUpdate, RegionInfo, ADMIN_OWNER, "Rename or retag a region")
    def update_(ctx: Ctx, req: RegionUpdate) -> dict[str, Any]:
        """Change a region's display name and/or tags."""
        get_region(ctx, req.region_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            values["name"] = req.name
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(update(regions).where(regions.c.region_id == req.region_id).values(values))
        return render(get_region(ctx, req.region_id))

    @verb("delete", RegionRef, Empty, ADMIN_OWNER, "Delete a region")
    def delete_(ctx: Ctx, req: RegionRef) -> dict[str, Any]:
        """Delete a region record (resources keep their region_code)."""
        get_region(ctx, req.region_id)
        ctx.conn.execute(delete(regions).where(regions.c.region_id == req.region_id))
        return {}

    @verb("get", RegionRef, RegionInfo, ALL_ROLE_TYPES, "Get a region")
    def get(ctx: Ctx, req: RegionRef) -> dict[str, Any]:
        """One region of the caller's workspace."""
        return render(get_region(ctx, req.region_id))

    @verb("list", RegionList, RegionListResponse, ALL_ROLE_TYPES, "List regions")
    def list_(ctx: Ctx, req: RegionList) -> dict[str, Any]:
        """Regions matching the query (e.g. `{"provider": "aws"}`)."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(ctx.conn, regions, FIELDS, req.query, params, scope(ctx), render)

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate regions")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the workspace's regions."""
        return stat_rows(ctx.conn, regions, FIELDS, req.query, scope(ctx))
