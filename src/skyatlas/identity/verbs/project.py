"""project create / update / delete / get / list / stat."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import (
    fetch_one,
    field_set,
    list_rows,
    render,
    stat_rows,
    verb_factory,
)
from skyatlas.errors import Conflict, not_found
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, Name, QueryParam, Request, StatRequest, StatResponse, Tags
from skyatlas.store.tables import (
    apps,
    project_groups,
    projects,
    role_bindings,
    service_accounts,
)

FIELDS = field_set(projects, "project_id")
ProjectType = Literal["PUBLIC", "PRIVATE"]


class ProjectCreate(Request):
    name: Name
    project_group_id: Id | None = None
    project_type: ProjectType = "PRIVATE"
    workspace_id: Id | None = None
    tags: Tags = {}


class ProjectUpdate(Request):
    project_id: Id
    name: Name | None = None
    project_group_id: Id | None = None
    project_type: ProjectType | None = None
    tags: Tags | None = None


class ProjectRef(Request):
    project_id: Id


class ProjectList(Request):
    query: QueryParam = None
    project_id: Id | list[Id] | None = None
    name: Name | None = None
    project_group_id: Id | None = None
    project_type: ProjectType | None = None
    workspace_id: Id | None = None


class ProjectInfo(BaseModel):
    project_id: str | None = None
    name: str | None = None
    project_type: str | None = None
    project_group_id: str | None = None
    tags: dict[str, str] | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ProjectListResponse(BaseModel):
    results: list[ProjectInfo]
    total_count: int


def scope(ctx: Ctx) -> list[Any]:
    caller = ctx.caller
    return [
        projects.c.domain_id == caller.domain_id,
        *caller.workspace_clauses(projects.c.workspace_id),
        *caller.project_clauses(ctx.conn, projects.c.project_id),
    ]


def get_project(ctx: Ctx, project_id: str) -> Any:
    return fetch_one(ctx.conn, projects, "project_id", project_id, scope(ctx), "project")


def _check_group(ctx: Ctx, workspace_id: str, project_group_id: str) -> None:
    found = ctx.conn.execute(
        select(project_groups.c.project_group_id).where(
            project_groups.c.project_group_id == project_group_id,
            project_groups.c.workspace_id == workspace_id,
        )
    ).first()
    if found is None:
        raise not_found("project group", "project_group_id", project_group_id)


def _unique_name(ctx: Ctx, workspace_id: str, name: str, exclude: str | None = None) -> None:
    clash = ctx.conn.execute(
        select(projects.c.project_id).where(
            projects.c.workspace_id == workspace_id,
            projects.c.name == name,
            projects.c.project_id != (exclude or ""),
        )
    ).first()
    if clash:
        raise Conflict(f"a project named '{name}' already exists in this workspace")


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "project")

    @verb("create", ProjectCreate, ProjectInfo, ADMIN_OWNER, "Create a project")
    def create(ctx: Ctx, req: ProjectCreate) -> dict[str, Any]:
        """Create a project, optionally inside a project group of the same workspace. Names are
        unique per workspace (409)."""
        workspace_id = ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        if req.project_group_id:
            _check_group(ctx, workspace_id, req.project_group_id)
        _unique_name(ctx, workspace_id, req.name)
        now = utcnow()
        project_id = new_id("project")
        ctx.conn.execute(
            insert(projects).values(
                project_id=project_id,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                name=req.name,
                project_type=req.project_type,
                project_group_id=req.project_group_id,
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        return render(get_project(ctx, project_id))

    @verb("update", ProjectUpdate, ProjectInfo, ADMIN_OWNER, "Update a project")
    def update_(ctx: Ctx, req: ProjectUpdate) -> dict[str, Any]:
        """Rename, retag, retype or move a project to another group (`project_group_id: null`
        moves it to the top)."""
        row = get_project(ctx, req.project_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            _unique_name(ctx, row.workspace_id, req.name, exclude=req.project_id)
            values["name"] = req.name
        if "project_group_id" in req.model_fields_set:
            if req.project_group_id is not None:
                _check_group(ctx, row.workspace_id, req.project_group_id)
            values["project_group_id"] = req.project_group_id
        if req.project_type is not None:
            values["project_type"] = req.project_type
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(
            update(projects).where(projects.c.project_id == req.project_id).values(values)
        )
        return render(get_project(ctx, req.project_id))

    @verb("delete", ProjectRef, Empty, ADMIN_OWNER, "Delete a project")
    def delete_(ctx: Ctx, req: ProjectRef) -> dict[str, Any]:
        """Delete a project. One that apps, service accounts or role bindings still belong to
        is refused (409)."""
        get_project(ctx, req.project_id)
        held = {
            "apps": ctx.conn.execute(
                select(func.count()).where(apps.c.project_id == req.project_id)
            ).scalar_one(),
            "service accounts": ctx.conn.execute(
                select(func.count()).where(service_accounts.c.project_id == req.project_id)
            ).scalar_one(),
            "role bindings": ctx.conn.execute(
                select(func.count()).where(role_bindings.c.project_id == req.project_id)
            ).scalar_one(),
        }
        if any(held.values()):
            what = ", ".join(f"{n} {label}" for label, n in held.items() if n)
            raise Conflict(f"project {req.project_id} still has {what}")
        ctx.conn.execute(sql_delete(projects).where(projects.c.project_id == req.project_id))
        return {}

    @verb("get", ProjectRef, ProjectInfo, ALL_ROLE_TYPES, "Get a project")
    def get(ctx: Ctx, req: ProjectRef) -> dict[str, Any]:
        """One project the caller can see (members: only their own projects)."""
        return render(get_project(ctx, req.project_id))

    @verb("list", ProjectList, ProjectListResponse, ALL_ROLE_TYPES, "List projects")
    def list_(ctx: Ctx, req: ProjectList) -> dict[str, Any]:
        """Projects matching the query; members see only their projects."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(ctx.conn, projects, FIELDS, req.query, params, scope(ctx), render)

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate projects")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible projects."""
        return stat_rows(ctx.conn, projects, FIELDS, req.query, scope(ctx))
