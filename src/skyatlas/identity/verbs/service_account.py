"""service-account create / update / update-secret-data / delete / get / list / stat.

A service account is a cloud account a project owns (`data`, e.g. `{"account_id": ...}`) and the
credentials to reach it (`secret_data`). The credentials are write-only: sealed with AES-GCM under
the master key, bound to the account's id, and never returned, logged or shown again.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import Connection, delete, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import (
    fetch_one,
    field_set,
    list_rows,
    render,
    stat_rows,
    verb_factory,
)
from skyatlas.crypto import Sealer
from skyatlas.errors import Conflict, not_found
from skyatlas.identity.roles import ALL_ROLE_TYPES
from skyatlas.identity.verbs.project import get_project
from skyatlas.ids import new_id, utcnow
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
from skyatlas.store.tables import service_accounts

HIDDEN = ("secret_encrypted",)
FIELDS = field_set(service_accounts, "service_account_id", exclude=HIDDEN)


class ServiceAccountCreate(Request):
    name: Name
    provider: Name
    project_id: Id
    data: JSONObject = {}
    secret_data: JSONObject | None = None
    tags: Tags = {}


class ServiceAccountUpdate(Request):
    service_account_id: Id
    name: Name | None = None
    data: JSONObject | None = None
    project_id: Id | None = None
    tags: Tags | None = None


class ServiceAccountSecret(Request):
    service_account_id: Id
    secret_data: JSONObject


class ServiceAccountRef(Request):
    service_account_id: Id


class ServiceAccountList(Request):
    query: QueryParam = None
    service_account_id: Id | None = None
    name: Name | None = None
    provider: Name | None = None
    project_id: Id | None = None
    workspace_id: Id | None = None


class ServiceAccountInfo(BaseModel):
    service_account_id: str | None = None
    name: str | None = None
    provider: str | None = None
    data: dict[str, Any] | None = None
    secret_id: str | None = None
    project_id: str | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    tags: dict[str, str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ServiceAccountListResponse(BaseModel):
    results: list[ServiceAccountInfo]
    total_count: int


def to_record(row: Any) -> dict[str, Any]:
    return render(row, hide=HIDDEN)


def scope(ctx: Ctx) -> list[Any]:
    caller = ctx.caller
    return [
        service_accounts.c.domain_id == caller.domain_id,
        *caller.workspace_clauses(service_accounts.c.workspace_id),
        *caller.project_clauses(ctx.conn, service_accounts.c.project_id),
    ]


def get_account(ctx: Ctx, service_account_id: str) -> Any:
    return fetch_one(
        ctx.conn,
        service_accounts,
        "service_account_id",
        service_account_id,
        scope(ctx),
        "service account",
    )


def _seal(sealer: Sealer, service_account_id: str, secret: dict[str, Any]) -> bytes:
    return sealer.seal(orjson.dumps(secret), context=f"service-account:{service_account_id}")


def read_secret_data(
    conn: Connection, sealer: Sealer, service_account_id: str
) -> dict[str, Any] | None:
    """The decrypted credentials, for collectors and cost sources running inside the server."""
    sealed = conn.execute(
        select(service_accounts.c.secret_encrypted).where(
            service_accounts.c.service_account_id == service_account_id
        )
    ).scalar_one_or_none()
    if sealed is None:
        return None
    return orjson.loads(sealer.open(sealed, context=f"service-account:{service_account_id}"))


def _unique_name(ctx: Ctx, workspace_id: str, name: str, exclude: str | None = None) -> None:
    clash = ctx.conn.execute(
        select(service_accounts.c.service_account_id).where(
            service_accounts.c.workspace_id == workspace_id,
            service_accounts.c.name == name,
            service_accounts.c.service_account_id != (exclude or ""),
        )
    ).first()
    if clash:
        raise Conflict(f"a service account named '{name}' already exists in this workspace")


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "service-account")

    @verb(
        "create",
        ServiceAccountCreate,
        ServiceAccountInfo,
        ALL_ROLE_TYPES,
        "Register a cloud account and its credentials",
    )
    def create(ctx: Ctx, req: ServiceAccountCreate) -> dict[str, Any]:
        """Register a cloud account under a project. `secret_data` (e.g. access keys) is
        stored encrypted and is never returned; the answer shows only its `secret_id`."""
        project = get_project(ctx, req.project_id)
        _unique_name(ctx, project.workspace_id, req.name)
        now = utcnow()
        sa_id = new_id("sa")
        ctx.conn.execute(
            insert(service_accounts).values(
                service_account_id=sa_id,
                domain_id=ctx.caller.domain_id,
                workspace_id=project.workspace_id,
                project_id=project.project_id,
                name=req.name,
                provider=req.provider,
                data=req.data,
                tags=req.tags,
                secret_id=new_id("secret") if req.secret_data is not None else None,
                secret_encrypted=(
                    _seal(ctx.runtime.sealer, sa_id, req.secret_data)
                    if req.secret_data is not None
                    else None
                ),
                created_at=now,
                updated_at=now,
            )
        )
        return to_record(get_account(ctx, sa_id))

    @verb(
        "update",
        ServiceAccountUpdate,
        ServiceAccountInfo,
        ALL_ROLE_TYPES,
        "Update a service account",
    )
    def update_(ctx: Ctx, req: ServiceAccountUpdate) -> dict[str, Any]:
        """Change name, `data`, tags, or move the account to another project of the same
        workspace. Credentials change only through update-secret-data."""
        row = get_account(ctx, req.service_account_id)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            _unique_name(ctx, row.workspace_id, req.name, exclude=req.service_account_id)
            values["name"] = req.name
        if req.data is not None:
            values["data"] = req.data
        if req.tags is not None:
            values["tags"] = req.tags
        if req.project_id is not None:
            project = get_project(ctx, req.project_id)
            if project.workspace_id != row.workspace_id:
                raise not_found("project", "project_id", req.project_id)
            values["project_id"] = project.project_id
        ctx.conn.execute(
            update(service_accounts)
            .where(service_accounts.c.service_account_id == req.service_account_id)
            .values(values)
        )
        return to_record(get_account(ctx, req.service_account_id))

    @verb(
        "update-secret-data",
        ServiceAccountSecret,
        ServiceAccountInfo,
        ALL_ROLE_TYPES,
        "Replace a service account's credentials",
    )
    def update_secret_data(ctx: Ctx, req: ServiceAccountSecret) -> dict[str, Any]:
        """Replace the stored credentials (write-only; a new `secret_id` is assigned)."""
        get_account(ctx, req.service_account_id)
        ctx.conn.execute(
            update(service_accounts)
            .where(service_accounts.c.service_account_id == req.service_account_id)
            .values(
                secret_id=new_id("secret"),
                secret_encrypted=_seal(ctx.runtime.sealer, req.service_account_id, req.secret_data),
                updated_at=utcnow(),
            )
        )
        return to_record(get_account(ctx, req.service_account_id))

    @verb("delete", ServiceAccountRef, Empty, ALL_ROLE_TYPES, "Delete a service account")
    def delete_(ctx: Ctx, req: ServiceAccountRef) -> dict[str, Any]:
        """Delete a service account and its stored credentials."""
        get_account(ctx, req.service_account_id)
        ctx.conn.execute(
            delete(service_accounts).where(
                service_accounts.c.service_account_id == req.service_account_id
            )
        )
        return {}

    @verb("get", ServiceAccountRef, ServiceAccountInfo, ALL_ROLE_TYPES, "Get a service account")
    def get(ctx: Ctx, req: ServiceAccountRef) -> dict[str, Any]:
        """One service account the caller can see (never its credentials)."""
        return to_record(get_account(ctx, req.service_account_id))

    @verb(
        "list",
        ServiceAccountList,
        ServiceAccountListResponse,
        ALL_ROLE_TYPES,
        "List service accounts",
    )
    def list_(ctx: Ctx, req: ServiceAccountList) -> dict[str, Any]:
        """Service accounts matching the query; members see their projects' accounts only."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(
            ctx.conn, service_accounts, FIELDS, req.query, params, scope(ctx), to_record
        )

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate service accounts")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible service accounts."""
        return stat_rows(ctx.conn, service_accounts, FIELDS, req.query, scope(ctx))
