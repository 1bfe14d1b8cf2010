"""role create / update / delete / get / list: the managed roles and a domain's custom roles."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import delete, func, insert, or_, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import fetch_one, field_set, list_rows, render, verb_factory
from skyatlas.errors import Conflict, InvalidParameter
from skyatlas.identity.roles import ADMIN, ADMIN_OWNER, PERMISSION_PATTERN, RoleType
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, Name, QueryParam, Request, Tags
from skyatlas.store.tables import apps, role_bindings, roles

FIELDS = field_set(roles, "role_id")


def _permission(value: str) -> str:
    if not PERMISSION_PATTERN.match(value):
        raise ValueError(
            f"'{value}' is not a permission; write service:Resource.read|write, e.g. "
            "inventory:CloudService.read, or a prefix such as inventory:"
        )
    return value


Permission = Annotated[
    str,
    Field(max_length=200, json_schema_extra={"pattern": PERMISSION_PATTERN.pattern}),
    AfterValidator(_permission),
]
Permissions = Annotated[list[Permission], Field(min_length=1, max_length=500)]


class RoleCreate(Request):
    name: Name
    role_type: RoleType
    permissions: Permissions
    tags: Tags = {}


class RoleUpdate(Request):
    role_id: Id
    name: Name | None = None
    permissions: Permissions | None = None
    tags: Tags | None = None


class RoleRef(Request):
    role_id: Id


class RoleList(Request):
    query: QueryParam = None
    role_id: Id | None = None
    name: Name | None = None
    role_type: RoleType | None = None


class RoleInfo(BaseModel):
    role_id: str | None = None
    name: str | None = None
    role_type: str | None = None
    permissions: list[str] | None = None
    is_managed: bool | None = None
    tags: dict[str, str] | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class RoleListResponse(BaseModel):
    results: list[RoleInfo]
    total_count: int


def scope(ctx: Ctx) -> list[Any]:
    return [or_(roles.c.domain_id.is_(None), roles.c.domain_id == ctx.caller.domain_id)]


def to_record(row: Any) -> dict[str, Any]:
    record = render(row)
    if not isinstance(record.get("permissions"), list):
        record["permissions"] = None
    return record


def get_role(ctx: Ctx, role_id: str) -> Any:
    return fetch_one(ctx.conn, roles, "role_id", role_id, scope(ctx), "role")


def _custom(ctx: Ctx, role_id: str) -> Any:
    row = get_role(ctx, role_id)
    if row.is_managed:
        raise InvalidParameter(f"role {role_id} is a managed role and cannot be changed")
    return row


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "role")

    @verb("create", RoleCreate, RoleInfo, ADMIN, "Create a custom role")
    def create(ctx: Ctx, req: RoleCreate) -> dict[str, Any]:
        """Create a custom role of a role type with permission strings such as
        `inventory:CloudService.read` (prefixes like `inventory:` grant a whole service, `*` is a
        wildcard). A role whose permissions all end in `.read` is read-only."""
        now = utcnow()
        role_id = new_id("role")
        ctx.conn.execute(
            insert(roles).values(
                role_id=role_id,
                domain_id=ctx.caller.domain_id,
                name=req.name,
                role_type=req.role_type.value,
                permissions=sorted(set(req.permissions)),
                is_managed=False,
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        return to_record(get_role(ctx, role_id))

    @verb("update", RoleUpdate, RoleInfo, ADMIN, "Update a custom role")
    def update_(ctx: Ctx, req: RoleUpdate) -> dict[str, Any]:
        """Rename a custom role or replace its permissions; apps using it are affected on their
        next request. Managed roles are not editable (400)."""
        _custom(ctx, req.role_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            values["name"] = req.name
        if req.permissions is not None:
            values["permissions"] = sorted(set(req.permissions))
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(update(roles).where(roles.c.role_id == req.role_id).values(values))
        return to_record(get_role(ctx, req.role_id))

    @verb("delete", RoleRef, Empty, ADMIN, "Delete a custom role")
    def delete_(ctx: Ctx, req: RoleRef) -> dict[str, Any]:
        """Delete a custom role no app or role binding uses (409 otherwise). Managed roles
        cannot be deleted."""
        _custom(ctx, req.role_id)
        held = {
            "app(s)": ctx.conn.execute(
                select(func.count()).where(apps.c.role_id == req.role_id)
            ).scalar_one(),
            "role binding(s)": ctx.conn.execute(
                select(func.count()).where(role_bindings.c.role_id == req.role_id)
            ).scalar_one(),
        }
        if any(held.values()):
            what = " and ".join(f"{n} {label}" for label, n in held.items() if n)
            raise Conflict(f"role {req.role_id} is used by {what}")
        ctx.conn.execute(delete(roles).where(roles.c.role_id == req.role_id))
        return {}

    @verb("get", RoleRef, RoleInfo, ADMIN_OWNER, "Get a role")
    def get(ctx: Ctx, req: RoleRef) -> dict[str, Any]:
        """A managed role or one of the domain's custom roles."""
        return to_record(get_role(ctx, req.role_id))

    @verb("list", RoleList, RoleListResponse, ADMIN_OWNER, "List roles")
    def list_(ctx: Ctx, req: RoleList) -> dict[str, Any]:
        """The three managed roles and the domain's custom roles."""
        params = req.model_dump(exclude={"query"}, exclude_none=True, mode="json")
        return list_rows(ctx.conn, roles, FIELDS, req.query, params, scope(ctx), to_record)
