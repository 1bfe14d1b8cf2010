"""collector create / update / delete / get / list / stat / collect.

A collector names a plugin (`plugin_info.plugin_id`, validated options), which service accounts
it collects (`provider`, `secret_filter`) and when (`schedule.hours`, UTC). `collect` answers
at once with the job; the work happens on the workers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.collection.bookkeeping import IN_PROGRESS, load_job
from skyatlas.collection.start import start_collect
from skyatlas.collection.verbs.job import JobInfo, job_record
from skyatlas.crud import (
    fetch_shared,
    field_set,
    list_rows,
    render,
    shared_scope,
    stat_rows,
    verb_factory,
)
from skyatlas.errors import Conflict, InvalidParameter, PermissionDenied
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.plugins.registry import validated_options
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
from skyatlas.store.tables import collector_jobs, collectors

JSON_COLUMNS = ("plugin_info", "schedule", "secret_filter")
FIELDS = field_set(collectors, "collector_id", exclude=JSON_COLUMNS, keyword=("name", "provider"))


class PluginInfo(Request):
    plugin_id: Name
    options: JSONObject = {}
    version: Name | None = None


class Schedule(Request):
    state: Literal["ENABLED", "DISABLED"] = "DISABLED"
    hours: Annotated[list[Annotated[int, Field(ge=0, le=23)]], Field(max_length=24)] = []

    @field_validator("hours")
    @classmethod
    def _distinct(cls, hours: list[int]) -> list[int]:
        return sorted(set(hours))


class SecretFilter(Request):
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    service_accounts: Annotated[list[Id], Field(max_length=1000)] = []


class CollectorCreate(Request):
    name: Name
    plugin_info: PluginInfo
    provider: Name | None = None
    schedule: Schedule | None = None
    secret_filter: SecretFilter | None = None
    resource_group: Literal["DOMAIN", "WORKSPACE"] = "WORKSPACE"
    workspace_id: Id | None = None
    tags: Tags = {}


class CollectorUpdate(Request):
    collector_id: Id
    name: Name | None = None
    plugin_info: PluginInfo | None = None
    schedule: Schedule | None = None
    secret_filter: SecretFilter | None = None
    tags: Tags | None = None


class CollectorRef(Request):
    collector_id: Id


class CollectorCollect(Request):
    collector_id: Id
    service_account_id: Id | None = None


class CollectorList(Request):
    query: QueryParam = None
    collector_id: Id | None = None
    name: Name | None = None
    provider: Name | list[Name] | None = None
    resource_group: Literal["DOMAIN", "WORKSPACE"] | None = None
    workspace_id: Id | None = None


class CollectorInfo(BaseModel):
    collector_id: str | None = None
    name: str | None = None
    provider: str | None = None
    plugin_info: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    secret_filter: dict[str, Any] | None = None
    resource_group: str | None = None
    tags: dict[str, str] | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_collected_at: str | None = None


class CollectorListResponse(BaseModel):
    results: list[CollectorInfo]
    total_count: int


def read_scope(ctx: Ctx) -> list[Any]:
    """Workspace callers see their workspace's collectors and the domain's shared ones."""
    return shared_scope(collectors, ctx.caller)


def get_collector(ctx: Ctx, collector_id: str, *, write: bool = False) -> Any:
    return fetch_shared(
        ctx.conn, ctx.caller, collectors, "collector_id", collector_id, "collector", write=write
    )


def to_record(ctx: Ctx) -> Any:
    def record(row: Any) -> dict[str, Any]:
        out = render(row)
        plugin_id = (row.plugin_info or {}).get("plugin_id")
        try:
            meta = ctx.runtime.plugins.get(plugin_id, "collector").metadata
        except InvalidParameter:
            return out
        out["plugin_info"] = {
            **row.plugin_info,
            "metadata": {
                "name": meta.name,
                "description": meta.description,
                "supported_resource_types": list(meta.supported_resource_types),
                "options_schema": meta.options_schema(),
                "cloud_service_types": [
                    f"{t.provider}/{t.group}/{t.name}" for t in meta.cloud_service_types
                ],
            },
        }
        return out

    return record


def _plugin_info(ctx: Ctx, info: PluginInfo) -> tuple[dict[str, Any], Any]:
    plugin = ctx.runtime.plugins.get(info.plugin_id, "collector")
    meta = plugin.metadata
    out = {"plugin_id": meta.plugin_id, "options": validated_options(meta, info.options)}
    if info.version:
        out["version"] = info.version
    return out, meta


def _metadata(ctx: Ctx, row: Any) -> Any:
    """The metadata of a stored collector's plugin (its options were validated when stored)."""
    return ctx.runtime.plugins.get(row.plugin_info["plugin_id"], "collector").metadata


def _unique_name(ctx: Ctx, workspace_id: str, name: str, exclude: str = "") -> None:
    clash = ctx.conn.execute(
        select(collectors.c.collector_id).where(
            collectors.c.workspace_id == workspace_id,
            collectors.c.name == name,
            collectors.c.collector_id != exclude,
        )
    ).first()
    if clash:
        raise Conflict(f"a collector named '{name}' already exists")


def _check_accounts_filter(meta: Any, secret_filter: SecretFilter | None) -> None:
    if secret_filter and secret_filter.service_accounts and not meta.needs_service_account:
        raise InvalidParameter(
            f"secret_filter: the {meta.plugin_id} plugin collects without service accounts"
        )


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "collector", service="inventory")

    @verb("create", CollectorCreate, CollectorInfo, ADMIN_OWNER, "Create a collector")
    def create(ctx: Ctx, req: CollectorCreate) -> dict[str, Any]:
        """Create a collector for an installed plugin (`plugin_info.plugin_id`; the options are
        validated against the plugin's schema). `resource_group: DOMAIN` (domain admins)
        collects the matching service accounts of every workspace. `schedule: {state: ENABLED,
        hours: [0, 12]}` collects at those UTC hours."""
        plugin_info, meta = _plugin_info(ctx, req.plugin_info)
        _check_accounts_filter(meta, req.secret_filter)
        if req.resource_group == "DOMAIN":
            if not ctx.caller.is_admin:
                raise PermissionDenied("resource_group DOMAIN needs a DOMAIN_ADMIN app")
            if not meta.needs_service_account:
                raise InvalidParameter(
                    f"resource_group: the {meta.plugin_id} plugin collects into one workspace; "
                    "use WORKSPACE"
                )
            workspace_id = "*"
        else:
            workspace_id = ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        provider = req.provider or meta.provider
        if meta.provider and provider != meta.provider:
            raise InvalidParameter(
                f"provider: the {meta.plugin_id} plugin collects '{meta.provider}' accounts"
            )
        _unique_name(ctx, workspace_id, req.name)
        now = utcnow()
        collector_id = new_id("collector")
        ctx.conn.execute(
            insert(collectors).values(
                collector_id=collector_id,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                resource_group=req.resource_group,
                name=req.name,
                provider=provider,
                plugin_info=plugin_info,
                schedule=(req.schedule or Schedule()).model_dump(),
                secret_filter=(req.secret_filter or SecretFilter()).model_dump(),
                tags=req.tags,
                created_at=now,
                updated_at=now,
            )
        )
        return to_record(ctx)(get_collector(ctx, collector_id))

    @verb("update", CollectorUpdate, CollectorInfo, ADMIN_OWNER, "Update a collector")
    def update_(ctx: Ctx, req: CollectorUpdate) -> dict[str, Any]:
        """Change name, options (re-validated), schedule, secret_filter or tags. The plugin
        itself cannot change: create another collector for another plugin."""
        row = get_collector(ctx, req.collector_id, write=True)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            _unique_name(ctx, row.workspace_id, req.name, exclude=row.collector_id)
            values["name"] = req.name
        if req.plugin_info is not None:
            if req.plugin_info.plugin_id != row.plugin_info["plugin_id"]:
                raise InvalidParameter(
                    "plugin_info.plugin_id cannot change; create a collector for that plugin"
                )
            values["plugin_info"], _ = _plugin_info(ctx, req.plugin_info)
        if req.schedule is not None:
            values["schedule"] = req.schedule.model_dump()
        if req.secret_filter is not None:
            _check_accounts_filter(_metadata(ctx, row), req.secret_filter)
            values["secret_filter"] = req.secret_filter.model_dump()
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(
            update(collectors).where(collectors.c.collector_id == row.collector_id).values(values)
        )
        return to_record(ctx)(get_collector(ctx, row.collector_id))

    @verb("delete", CollectorRef, Empty, ADMIN_OWNER, "Delete a collector")
    def delete_(ctx: Ctx, req: CollectorRef) -> dict[str, Any]:
        """Delete a collector. Refused (409) while one of its jobs is IN_PROGRESS; the resources
        it collected stay (they are no longer reconciled by it)."""
        row = get_collector(ctx, req.collector_id, write=True)
        running = ctx.conn.execute(
            select(collector_jobs.c.job_id).where(
                collector_jobs.c.collector_id == row.collector_id,
                collector_jobs.c.status == IN_PROGRESS,
            )
        ).first()
        if running:
            raise Conflict(
                f"collector {row.collector_id} has job {running.job_id} in progress; cancel it "
                "first (inventory job cancel)"
            )
        ctx.conn.execute(delete(collectors).where(collectors.c.collector_id == row.collector_id))
        return {}

    @verb("get", CollectorRef, CollectorInfo, ALL_ROLE_TYPES, "Get a collector")
    def get(ctx: Ctx, req: CollectorRef) -> dict[str, Any]:
        """One collector, with its plugin's metadata (options schema, resource types)."""
        return to_record(ctx)(get_collector(ctx, req.collector_id))

    @verb("list", CollectorList, CollectorListResponse, ALL_ROLE_TYPES, "List collectors")
    def list_(ctx: Ctx, req: CollectorList) -> dict[str, Any]:
        """Collectors matching the query."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(
            ctx.conn, collectors, FIELDS, req.query, params, read_scope(ctx), to_record(ctx)
        )

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate collectors")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible collectors."""
        return stat_rows(ctx.conn, collectors, FIELDS, req.query, read_scope(ctx))

    @verb("collect", CollectorCollect, JobInfo, ADMIN_OWNER, "Start a collection")
    def collect(ctx: Ctx, req: CollectorCollect) -> dict[str, Any]:
        """Start collecting now: answers at once with the job (IN_PROGRESS), one task per
        service account (or only `service_account_id`). Follow it with `job get`, or
        `skyatlas inventory collect Collector -p collector_id=... --wait`."""
        row = get_collector(ctx, req.collector_id, write=True)
        job_id = start_collect(
            ctx.conn, row, _metadata(ctx, row), service_account_id=req.service_account_id
        )
        if ctx.runtime.workers is not None:
            ctx.after_commit(ctx.runtime.workers.wake)
        return job_record(load_job(ctx.conn, job_id))
