"""role-binding create / delete / get / list: what a user may do where.

A binding gives a user a role in the domain (a DOMAIN_ADMIN role, resource group DOMAIN) or in
one workspace (an owner or member role, resource group WORKSPACE; a member role also names one
project or project group, as a member app does). A user has at most one binding per workspace
and at most one DOMAIN binding. Like an app's, a binding takes effect on the user's next request.

Domain admins manage every binding; a workspace owner manages those of its own workspace.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, delete, insert, select

from skyatlas.api.registry import Registry
from skyatlas.crud import fetch_one, field_set, list_rows, render, verb_factory
from skyatlas.errors import Conflict, not_found
from skyatlas.identity.roles import ADMIN_OWNER, RoleType
from skyatlas.identity.verbs.placement import resolve_place
from skyatlas.identity.verbs.role import get_role
from skyatlas.identity.verbs.user import UserId
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, QueryParam, Request
from skyatlas.store.tables import role_bindings, users

FIELDS = field_set(role_bindings, "role_binding_id", keyword=("user_id", "role_id"))
ResourceGroup = Literal["DOMAIN", "WORKSPACE"]


class RoleBindingCreate(Request):
    user_id: UserId
    role_id: Id
    resource_group: ResourceGroup | None = None
    workspace_id: Id | None = None
    project_id: Id | None = None
    project_group_id: Id | None = None


class RoleBindingRef(Request):
    role_binding_id: Id


class RoleBindingList(Request):
    query: QueryParam = None
    role_binding_id: Id | None = None
    user_id: UserId | None = None
    workspace_id: Id | None = None
    role_type: RoleType | None = None
    role_id: Id | None = None
    resource_group: ResourceGroup | None = None


class RoleBindingInfo(BaseModel):
    role_binding_id: str | None = None
    user_id: str | None = None
    role_id: str | None = None
    role_type: str | None = None
    resource_group: str | None = None
    workspace_id: str | None = None
    project_id: str | None = None
    project_group_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None


class RoleBindingListResponse(BaseModel):
    results: list[RoleBindingInfo]
    total_count: int


def scope(ctx: Ctx) -> list[ColumnElement[bool]]:
    """The domain's bindings; a workspace owner's workspace's only (never the DOMAIN ones)."""
    return [
        role_bindings.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(role_bindings.c.workspace_id),
    ]


def get_binding(ctx: Ctx, role_binding_id: str) -> Any:
    return fetch_one(
        ctx.conn, role_bindings, "role_binding_id", role_binding_id, scope(ctx), "role binding"
    )


def _unique(ctx: Ctx, user_id: str, workspace_id: str | None) -> None:
    where_ws = (
        role_bindings.c.workspace_id.is_(None)
        if workspace_id is None
        else role_bindings.c.workspace_id == workspace_id
    )
    clash = ctx.conn.execute(
        select(role_bindings.c.role_binding_id).where(
            role_bindings.c.domain_id == ctx.caller.domain_id,
            role_bindings.c.user_id == user_id,
            where_ws,
        )
    ).scalar_one_or_none()
    if clash is not None:
        where = "the domain" if workspace_id is None else f"workspace {workspace_id}"
        raise Conflict(
            f"user {user_id} already has a role binding in {where} ({clash}); delete it first"
        )


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "role-binding")

    @verb("create", RoleBindingCreate, RoleBindingInfo, ADMIN_OWNER, "Give a user a role")
    def create(ctx: Ctx, req: RoleBindingCreate) -> dict[str, Any]:
        """Bind a role to a user. The resource group follows the role (and may be left out): a
        DOMAIN_ADMIN role is DOMAIN-level (domain admins only); an owner or member role is
        WORKSPACE-level, and a member role needs exactly one of `project_id` /
        `project_group_id` in that workspace. One binding per user and workspace, one DOMAIN
        binding per user (409 otherwise)."""
        role = get_role(ctx, req.role_id)
        role_type = RoleType(role.role_type)
        group = "DOMAIN" if role_type is RoleType.DOMAIN_ADMIN else "WORKSPACE"
        label = (
            "a DOMAIN role binding"
            if group == "DOMAIN"
            else f"a WORKSPACE role binding with a {role_type} role"
        )
        place = resolve_place(
            ctx,
            kind="role binding",
            label=label,
            role_type=role_type,
            group=group,
            requested_group=req.resource_group,
            workspace_id=req.workspace_id,
            project_id=req.project_id,
            project_group_id=req.project_group_id,
        )
        user = ctx.conn.execute(
            select(users.c.user_id).where(
                users.c.domain_id == ctx.caller.domain_id, users.c.user_id == req.user_id
            )
        ).first()
        if user is None:
            raise not_found("user", "user_id", req.user_id)
        _unique(ctx, req.user_id, place["workspace_id"])
        binding_id = new_id("rb")
        ctx.conn.execute(
            insert(role_bindings).values(
                role_binding_id=binding_id,
                domain_id=ctx.caller.domain_id,
                user_id=req.user_id,
                role_id=role.role_id,
                role_type=role_type.value,
                created_at=utcnow(),
                **place,
            )
        )
        return render(get_binding(ctx, binding_id))

    @verb("delete", RoleBindingRef, Empty, ADMIN_OWNER, "Take a role from a user")
    def delete_(ctx: Ctx, req: RoleBindingRef) -> dict[str, Any]:
        """Delete a role binding; the user loses that role on its next request."""
        get_binding(ctx, req.role_binding_id)
        ctx.conn.execute(
            delete(role_bindings).where(role_bindings.c.role_binding_id == req.role_binding_id)
        )
        return {}

    @verb("get", RoleBindingRef, RoleBindingInfo, ADMIN_OWNER, "Get a role binding")
    def get(ctx: Ctx, req: RoleBindingRef) -> dict[str, Any]:
        """One role binding. A workspace owner sees its workspace's bindings only."""
        return render(get_binding(ctx, req.role_binding_id))

    @verb("list", RoleBindingList, RoleBindingListResponse, ADMIN_OWNER, "List role bindings")
    def list_(ctx: Ctx, req: RoleBindingList) -> dict[str, Any]:
        """Role bindings matching the query (filters `user_id`, `workspace_id`, `role_type`,
        `role_id`, `resource_group`). A workspace owner sees its workspace's bindings only."""
        params = req.model_dump(exclude={"query"}, exclude_none=True, mode="json")
        return list_rows(ctx.conn, role_bindings, FIELDS, req.query, params, scope(ctx), render)
