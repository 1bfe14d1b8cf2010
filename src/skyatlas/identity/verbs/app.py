"""app create / update / generate-client-secret / enable / disable / delete / get / list / stat.

An app is an API credential: a role, a place (domain, workspace, or a project / project group
for member roles) and one current client secret. The secret is a signed JWT that is shown by
create and generate-client-secret only; the store keeps just its id (`client_id`), so it never
exists at rest and regenerating it revokes the old one at once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel
from sqlalchemy import delete, insert, update

from skyatlas.api.registry import Registry
from skyatlas.crud import (
    fetch_one,
    field_set,
    list_rows,
    render,
    stat_rows,
    verb_factory,
)
from skyatlas.errors import InvalidParameter
from skyatlas.identity.roles import ADMIN_OWNER, RoleType
from skyatlas.identity.tokens import issue_client_secret
from skyatlas.identity.verbs.placement import resolve_place
from skyatlas.identity.verbs.role import get_role
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, Name, QueryParam, Request, StatRequest, StatResponse, Tags
from skyatlas.store.tables import apps

FIELDS = field_set(apps, "app_id", keyword=("name", "client_id"))
MAX_LIFETIME = timedelta(days=365)
ResourceGroup = Literal["DOMAIN", "WORKSPACE", "PROJECT"]
_GROUP_FOR_ROLE = {
    RoleType.DOMAIN_ADMIN: "DOMAIN",
    RoleType.WORKSPACE_OWNER: "WORKSPACE",
    RoleType.WORKSPACE_MEMBER: "PROJECT",
}


class AppCreate(Request):
    name: Name
    role_id: Id
    resource_group: ResourceGroup | None = None
    workspace_id: Id | None = None
    project_id: Id | None = None
    project_group_id: Id | None = None
    expired_at: AwareDatetime | None = None
    tags: Tags = {}


class AppUpdate(Request):
    app_id: Id
    name: Name | None = None
    tags: Tags | None = None


class AppRef(Request):
    app_id: Id


class AppGenerateSecret(Request):
    app_id: Id
    expired_at: AwareDatetime | None = None


class AppList(Request):
    query: QueryParam = None
    app_id: Id | None = None
    name: Name | None = None
    state: Literal["ENABLED", "DISABLED"] | None = None
    role_type: RoleType | None = None
    role_id: Id | None = None
    resource_group: ResourceGroup | None = None
    workspace_id: Id | None = None
    project_id: Id | None = None
    client_id: str | None = None


class AppInfo(BaseModel):
    app_id: str | None = None
    name: str | None = None
    state: str | None = None
    role_type: str | None = None
    role_id: str | None = None
    resource_group: str | None = None
    client_id: str | None = None
    project_id: str | None = None
    project_group_id: str | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    tags: dict[str, str] | None = None
    expired_at: str | None = None
    last_accessed_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class AppWithSecret(AppInfo):
    client_secret: str


class AppListResponse(BaseModel):
    results: list[AppInfo]
    total_count: int


def scope(ctx: Ctx) -> list[Any]:
    return [
        apps.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(apps.c.workspace_id),
    ]


def get_app(ctx: Ctx, app_id: str) -> Any:
    return fetch_one(ctx.conn, apps, "app_id", app_id, scope(ctx), "app")


def _expiry(requested: Any) -> Any:
    now = utcnow()
    if requested is None:
        return now + MAX_LIFETIME
    if requested <= now:
        raise InvalidParameter("expired_at must be in the future")
    if requested > now + MAX_LIFETIME + timedelta(minutes=5):
        raise InvalidParameter("expired_at must be at most one year from now")
    return requested


def _with_secret(ctx: Ctx, row: Any) -> dict[str, Any]:
    secret = issue_client_secret(
        ctx.conn,
        ctx.runtime.sealer,
        domain_id=row.domain_id,
        workspace_id=row.workspace_id,
        role_type=row.role_type,
        app_id=row.app_id,
        client_id=row.client_id,
        expires_at=row.expired_at,
    )
    return {**render(row), "client_secret": secret}


def _place(ctx: Ctx, req: AppCreate, role_type: RoleType) -> dict[str, Any]:
    """Where the app acts: checks the resource group against the role and the caller's reach."""
    group = _GROUP_FOR_ROLE[role_type]
    label = f"a {group} app" + (" (workspace member role)" if group == "PROJECT" else "")
    return resolve_place(
        ctx,
        kind="app",
        label=label,
        role_type=role_type,
        group=group,
        requested_group=req.resource_group,
        workspace_id=req.workspace_id,
        project_id=req.project_id,
        project_group_id=req.project_group_id,
    )


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "app")

    @verb("create", AppCreate, AppWithSecret, ADMIN_OWNER, "Create an app and its client secret")
    def create(ctx: Ctx, req: AppCreate) -> dict[str, Any]:
        """Create an app with a role. The resource group follows the role: a DOMAIN_ADMIN role
        makes a DOMAIN app (domain admins only), a WORKSPACE_OWNER role a WORKSPACE app, a
        WORKSPACE_MEMBER role a PROJECT app bound to exactly one of `project_id` /
        `project_group_id`. `expired_at` is at most one year ahead (default: one year). The
        answer carries `client_secret`, shown this once."""
        role = get_role(ctx, req.role_id)
        role_type = RoleType(role.role_type)
        place = _place(ctx, req, role_type)
        now = utcnow()
        app_id = new_id("app")
        ctx.conn.execute(
            insert(apps).values(
                app_id=app_id,
                domain_id=ctx.caller.domain_id,
                name=req.name,
                state="ENABLED",
                role_id=role.role_id,
                role_type=role_type.value,
                client_id=str(uuid.uuid4()),
                expired_at=_expiry(req.expired_at),
                tags=req.tags,
                created_at=now,
                updated_at=now,
                **place,
            )
        )
        return _with_secret(ctx, get_app(ctx, app_id))

    @verb("update", AppUpdate, AppInfo, ADMIN_OWNER, "Rename or retag an app")
    def update_(ctx: Ctx, req: AppUpdate) -> dict[str, Any]:
        """Change an app's name and/or tags. Its role and place are fixed at creation."""
        get_app(ctx, req.app_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            values["name"] = req.name
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(update(apps).where(apps.c.app_id == req.app_id).values(values))
        return render(get_app(ctx, req.app_id))

    @verb(
        "generate-client-secret",
        AppGenerateSecret,
        AppWithSecret,
        ADMIN_OWNER,
        "Issue a new client secret, revoking the old one",
    )
    def generate_client_secret(ctx: Ctx, req: AppGenerateSecret) -> dict[str, Any]:
        """Issue a new client secret (new `client_id`); the previous secret stops working on the
        next request. Optionally sets a new `expired_at` (at most one year ahead)."""
        get_app(ctx, req.app_id)
        ctx.conn.execute(
            update(apps)
            .where(apps.c.app_id == req.app_id)
            .values(
                client_id=str(uuid.uuid4()), expired_at=_expiry(req.expired_at), updated_at=utcnow()
            )
        )
        return _with_secret(ctx, get_app(ctx, req.app_id))

    def _set_state(ctx: Ctx, app_id: str, state: str) -> dict[str, Any]:
        get_app(ctx, app_id)
        ctx.conn.execute(
            update(apps).where(apps.c.app_id == app_id).values(state=state, updated_at=utcnow())
        )
        return render(get_app(ctx, app_id))

    @verb("enable", AppRef, AppInfo, ADMIN_OWNER, "Enable an app")
    def enable(ctx: Ctx, req: AppRef) -> dict[str, Any]:
        """Enable an app: its current client secret works again."""
        return _set_state(ctx, req.app_id, "ENABLED")

    @verb("disable", AppRef, AppInfo, ADMIN_OWNER, "Disable an app")
    def disable(ctx: Ctx, req: AppRef) -> dict[str, Any]:
        """Disable an app: its client secret is refused (401) from the next request on."""
        return _set_state(ctx, req.app_id, "DISABLED")

    @verb("delete", AppRef, Empty, ADMIN_OWNER, "Delete an app")
    def delete_(ctx: Ctx, req: AppRef) -> dict[str, Any]:
        """Delete an app; its client secret is refused (401) from the next request on."""
        get_app(ctx, req.app_id)
        ctx.conn.execute(delete(apps).where(apps.c.app_id == req.app_id))
        return {}

    @verb("get", AppRef, AppInfo, ADMIN_OWNER, "Get an app")
    def get(ctx: Ctx, req: AppRef) -> dict[str, Any]:
        """One app (never its client secret)."""
        return render(get_app(ctx, req.app_id))

    @verb("list", AppList, AppListResponse, ADMIN_OWNER, "List apps")
    def list_(ctx: Ctx, req: AppList) -> dict[str, Any]:
        """Apps matching the query: all of the domain's for a domain admin, the workspace's
        for a workspace owner."""
        params = req.model_dump(exclude={"query"}, exclude_none=True, mode="json")
        return list_rows(ctx.conn, apps, FIELDS, req.query, params, scope(ctx), render)

    @verb("stat", StatRequest, StatResponse, ADMIN_OWNER, "Aggregate apps")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible apps."""
        return stat_rows(ctx.conn, apps, FIELDS, req.query, scope(ctx))
