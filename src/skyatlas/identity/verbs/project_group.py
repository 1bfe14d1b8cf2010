"""project-group create / update / delete / get / list / stat: a tree of groups per workspace."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, delete, func, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import (
    fetch_one,
    field_set,
    list_rows,
    render,
    stat_rows,
    verb_factory,
)
from skyatlas.errors import Conflict, InvalidParameter, not_found
from skyatlas.identity.caller import Caller, descendant_groups
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, Name, QueryParam, Request, StatRequest, StatResponse, Tags
from skyatlas.store.tables import apps, project_groups, projects, role_bindings

FIELDS = field_set(project_groups, "project_group_id")


class ProjectGroupCreate(Request):
    name: Name
    parent_group_id: Id | None = None
    workspace_id: Id | None = None
    tags: Tags = {}


class ProjectGroupUpdate(Request):
    project_group_id: Id
    name: Name | None = None
    parent_group_id: Id | None = None
    tags: Tags | None = None


class ProjectGroupRef(Request):
    project_group_id: Id


class ProjectGroupList(Request):
    query: QueryParam = None
    project_group_id: Id | None = None
    name: Name | None = None
    parent_group_id: Id | None = None
    workspace_id: Id | None = None


class ProjectGroupInfo(BaseModel):
    project_group_id: str | None = None
    name: str | None = None
    parent_group_id: str | None = None
    tags: dict[str, str] | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ProjectGroupListResponse(BaseModel):
    results: list[ProjectGroupInfo]
    total_count: int


def visible_groups(conn: Connection, caller: Caller) -> set[str]:
    """A member sees its group's subtree and the groups above each of its projects."""
    assert caller.workspace_id is not None
    parents = dict(
        conn.execute(
            select(project_groups.c.project_group_id, project_groups.c.parent_group_id).where(
                project_groups.c.workspace_id == caller.workspace_id
            )
        ).all()
    )
    seen: set[str] = set()
    if caller.project_group_id:
        seen |= descendant_groups(conn, caller.workspace_id, [caller.project_group_id])
    project_ids = sorted(caller.project_ids(conn))
    starts = conn.execute(
        select(projects.c.project_group_id).where(projects.c.project_id.in_(project_ids))
    ).scalars()
    for gid in starts:
        while gid is not None and gid not in seen:
            seen.add(gid)
            gid = parents.get(gid)
    return seen


def scope(ctx: Ctx) -> list[Any]:
    caller = ctx.caller
    clauses = [
        project_groups.c.domain_id == caller.domain_id,
        *caller.workspace_clauses(project_groups.c.workspace_id),
    ]
    if caller.is_member:
        clauses.append(
            project_groups.c.project_group_id.in_(sorted(visible_groups(ctx.conn, caller)))
        )
    return clauses


def get_group(ctx: Ctx, project_group_id: str) -> Any:
    return fetch_one(
        ctx.conn,
        project_groups,
        "project_group_id",
        project_group_id,
        scope(ctx),
        "project group",
    )


def _unique_name(
    ctx: Ctx, workspace_id: str, parent: str | None, name: str, exclude: str | None = None
) -> None:
    clash = ctx.conn.execute(
        select(project_groups.c.project_group_id).where(
            project_groups.c.workspace_id == workspace_id,
            project_groups.c.parent_group_id.is_(None)
            if parent is None
            else project_groups.c.parent_group_id == parent,
            project_groups.c.name == name,
            project_groups.c.project_group_id != (exclude or ""),
        )
    ).first()
    if clash:
        raise Conflict(f"a project group named '{name}' already exists at that place in the tree")


def _check_parent(ctx: Ctx, workspace_id: str, parent_group_id: str) -> None:
    found = ctx.conn.execute(
        select(project_groups.c.project_group_id).where(
            project_groups.c.project_group_id == parent_group_id,
            project_groups.c.workspace_id == workspace_id,
        )
    ).first()
    if found is None:
        raise not_found("parent project group", "parent_group_id", parent_group_id)


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "project-group")

    @verb("create", ProjectGroupCreate, ProjectGroupInfo, ADMIN_OWNER, "Create a project group")
    def create(ctx: Ctx, req: ProjectGroupCreate) -> dict[str, Any]:
        """Create a project group, at the top of the workspace's tree or under
        `parent_group_id`. Names are unique among siblings (409)."""
        workspace_id = ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        if req.parent_group_id:
            _check_parent(ctx, workspace_id, req.parent_group_id)
        _unique_name(ctx, workspace_id, req.parent_group_id, req.name)
        now = utcnow()
        gid = new_id("pg")
        ctx.conn.execute(
            insert(project_groups).values(
                project_group_id=gid,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                name=req.name,
                parent_group_id=req.parent_group_id,
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        return render(get_group(ctx, gid))

    @verb("update", ProjectGroupUpdate, ProjectGroupInfo, ADMIN_OWNER, "Update a project group")
    def update_(ctx: Ctx, req: ProjectGroupUpdate) -> dict[str, Any]:
        """Rename, retag or move a group under another parent (never under itself or one of
        its own descendants)."""
        row = get_group(ctx, req.project_group_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        parent = row.parent_group_id
        if "parent_group_id" in req.model_fields_set:
            parent = req.parent_group_id
            if parent is not None:
                _check_parent(ctx, row.workspace_id, parent)
                below = descendant_groups(ctx.conn, row.workspace_id, [req.project_group_id])
                if parent in below:
                    raise InvalidParameter(
                        "parent_group_id: a group cannot move under itself or its descendants"
                    )
            values["parent_group_id"] = parent
        if req.name is not None:
            values["name"] = req.name
        if req.name is not None or "parent_group_id" in req.model_fields_set:
            _unique_name(
                ctx,
                row.workspace_id,
                parent,
                values.get("name", row.name),
                exclude=req.project_group_id,
            )
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(
            update(project_groups)
            .where(project_groups.c.project_group_id == req.project_group_id)
            .values(values)
        )
        return render(get_group(ctx, req.project_group_id))

    @verb("delete", ProjectGroupRef, Empty, ADMIN_OWNER, "Delete an empty project group")
    def delete_(ctx: Ctx, req: ProjectGroupRef) -> dict[str, Any]:
        """Delete a project group. A group that still holds groups or projects, or that an app
        or role binding is assigned to, is refused (409)."""
        get_group(ctx, req.project_group_id)
        gid = req.project_group_id
        held = {
            "project groups": ctx.conn.execute(
                select(func.count()).where(project_groups.c.parent_group_id == gid)
            ).scalar_one(),
            "projects": ctx.conn.execute(
                select(func.count()).where(projects.c.project_group_id == gid)
            ).scalar_one(),
            "apps": ctx.conn.execute(
                select(func.count()).where(apps.c.project_group_id == gid)
            ).scalar_one(),
            "role bindings": ctx.conn.execute(
                select(func.count()).where(role_bindings.c.project_group_id == gid)
            ).scalar_one(),
        }
        if any(held.values()):
            what = ", ".join(f"{n} {label}" for label, n in held.items() if n)
            raise Conflict(f"project group {gid} still holds {what}")
        ctx.conn.execute(delete(project_groups).where(project_groups.c.project_group_id == gid))
        return {}

    @verb("get", ProjectGroupRef, ProjectGroupInfo, ALL_ROLE_TYPES, "Get a project group")
    def get(ctx: Ctx, req: ProjectGroupRef) -> dict[str, Any]:
        """One project group the caller can see."""
        return render(get_group(ctx, req.project_group_id))

    @verb("list", ProjectGroupList, ProjectGroupListResponse, ALL_ROLE_TYPES, "List project groups")
    def list_(ctx: Ctx, req: ProjectGroupList) -> dict[str, Any]:
        """Project groups matching the query. Members see the groups above and below their
        projects only."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(ctx.conn, project_groups, FIELDS, req.query, params, scope(ctx), render)

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate project groups")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible project groups."""
        return stat_rows(ctx.conn, project_groups, FIELDS, req.query, scope(ctx))
