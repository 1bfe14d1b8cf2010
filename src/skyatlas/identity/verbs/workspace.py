"""workspace create / update / delete / enable / disable / get / list / stat."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import (
    fetch_one,
    field_set,
    list_rows,
    render,
    stat_rows,
    verb_factory,
)
from skyatlas.errors import Conflict
from skyatlas.identity.roles import ADMIN, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, Name, QueryParam, Request, StatRequest, StatResponse, Tags
from skyatlas.store.tables import (
    WORKSPACE_OWNED,
    cloud_service_collections,
    cloud_service_tags,
    cloud_services,
    workspaces,
)

FIELDS = field_set(workspaces, "workspace_id")


class WorkspaceCreate(Request):
    name: Name
    tags: Tags = {}


class WorkspaceUpdate(Request):
    workspace_id: Id
    name: Name | None = None
    tags: Tags | None = None


class WorkspaceRef(Request):
    workspace_id: Id


class WorkspaceDelete(Request):
    workspace_id: Id
    force: bool = False


class WorkspaceList(Request):
    query: QueryParam = None
    workspace_id: Id | None = None
    name: Name | None = None
    state: str | None = None


class WorkspaceInfo(BaseModel):
    workspace_id: str | None = None
    name: str | None = None
    state: str | None = None
    tags: dict[str, str] | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class WorkspaceList_(BaseModel):
    results: list[WorkspaceInfo]
    total_count: int


def _scope(ctx: Ctx) -> list[Any]:
    return [
        workspaces.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(workspaces.c.workspace_id),
    ]


def _get(ctx: Ctx, workspace_id: str) -> Any:
    return fetch_one(ctx.conn, workspaces, "workspace_id", workspace_id, _scope(ctx), "workspace")


def _unique_name(ctx: Ctx, name: str, exclude: str | None = None) -> None:
    clash = ctx.conn.execute(
        select(workspaces.c.workspace_id).where(
            workspaces.c.domain_id == ctx.caller.domain_id,
            workspaces.c.name == name,
            workspaces.c.workspace_id != (exclude or ""),
        )
    ).first()
    if clash:
        raise Conflict(f"a workspace named '{name}' already exists")


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "workspace")

    @verb("create", WorkspaceCreate, WorkspaceInfo, ADMIN, "Create a workspace")
    def create(ctx: Ctx, req: WorkspaceCreate) -> dict[str, Any]:
        """Create a workspace in the caller's domain. Names are unique per domain (409)."""
        _unique_name(ctx, req.name)
        now = utcnow()
        workspace_id = new_id("workspace")
        ctx.conn.execute(
            insert(workspaces).values(
                workspace_id=workspace_id,
                domain_id=ctx.caller.domain_id,
                name=req.name,
                state="ENABLED",
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        return render(_get(ctx, workspace_id))

    @verb("update", WorkspaceUpdate, WorkspaceInfo, ADMIN, "Rename or retag a workspace")
    def update_(ctx: Ctx, req: WorkspaceUpdate) -> dict[str, Any]:
        """Change a workspace's name and/or tags (tags are replaced whole)."""
        _get(ctx, req.workspace_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            _unique_name(ctx, req.name, exclude=req.workspace_id)
            values["name"] = req.name
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(
            update(workspaces).where(workspaces.c.workspace_id == req.workspace_id).values(values)
        )
        return render(_get(ctx, req.workspace_id))

    def _set_state(ctx: Ctx, workspace_id: str, state: str) -> dict[str, Any]:
        _get(ctx, workspace_id)
        ctx.conn.execute(
            update(workspaces)
            .where(workspaces.c.workspace_id == workspace_id)
            .values(state=state, updated_at=utcnow())
        )
        return render(_get(ctx, workspace_id))

    @verb("enable", WorkspaceRef, WorkspaceInfo, ADMIN, "Enable a workspace")
    def enable(ctx: Ctx, req: WorkspaceRef) -> dict[str, Any]:
        """Enable a workspace: its apps work again."""
        return _set_state(ctx, req.workspace_id, "ENABLED")

    @verb("disable", WorkspaceRef, WorkspaceInfo, ADMIN, "Disable a workspace")
    def disable(ctx: Ctx, req: WorkspaceRef) -> dict[str, Any]:
        """Disable a workspace: its apps are refused (403) until it is enabled again."""
        return _set_state(ctx, req.workspace_id, "DISABLED")

    @verb("delete", WorkspaceDelete, Empty, ADMIN, "Delete a workspace")
    def delete_(ctx: Ctx, req: WorkspaceDelete) -> dict[str, Any]:
        """Delete a workspace. One that still holds projects, project groups, apps or service
        accounts is refused (409) unless `force` is true, which deletes them with it."""
        _get(ctx, req.workspace_id)
        counts = {
            label: ctx.conn.execute(
                select(func.count()).select_from(t).where(t.c.workspace_id == req.workspace_id)
            ).scalar_one()
            for label, t in WORKSPACE_OWNED
        }
        if any(counts.values()) and not req.force:
            held = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
            raise Conflict(
                f"workspace {req.workspace_id} still holds {held}; delete them first or pass "
                "force: true"
            )
        # The tag index and the collection marks have no workspace column: clear them through
        # the workspace's resources.
        resources = select(cloud_services.c.cloud_service_id).where(
            cloud_services.c.workspace_id == req.workspace_id
        )
        for per_resource in (cloud_service_tags, cloud_service_collections):
            ctx.conn.execute(
                delete(per_resource).where(per_resource.c.cloud_service_id.in_(resources))
            )
        for _label, t in WORKSPACE_OWNED:
            ctx.conn.execute(delete(t).where(t.c.workspace_id == req.workspace_id))
        ctx.conn.execute(delete(workspaces).where(workspaces.c.workspace_id == req.workspace_id))
        return {}

    @verb("get", WorkspaceRef, WorkspaceInfo, ALL_ROLE_TYPES, "Get a workspace")
    def get(ctx: Ctx, req: WorkspaceRef) -> dict[str, Any]:
        """One workspace. Workspace-level callers see only their own workspace."""
        return render(_get(ctx, req.workspace_id))

    @verb("list", WorkspaceList, WorkspaceList_, ALL_ROLE_TYPES, "List workspaces")
    def list_(ctx: Ctx, req: WorkspaceList) -> dict[str, Any]:
        """Workspaces matching the query; workspace-level callers see only their own."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(ctx.conn, workspaces, FIELDS, req.query, params, _scope(ctx), render)

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate workspaces")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible workspaces."""
        return stat_rows(ctx.conn, workspaces, FIELDS, req.query, _scope(ctx))
