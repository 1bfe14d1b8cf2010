"""data-source register / update / deregister / sync / get / list / stat.

A data source is EXTERNAL (a cost plugin and its options: `focus`, `aws-cost-explorer`, or a
third party's) or LOCAL (rows arrive through `cost create`). Its costs map to projects through
the service account whose `data.account_id` is the billing sub-account, else through the tag
named by `plugin_info.options.project_tag_key`.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.cost.sync import CORE_OPTIONS, IN_PROGRESS, assignment_for, load_job, start_sync
from skyatlas.cost.verbs.job import JobInfo, job_record
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
from skyatlas.store.tables import cost_jobs, data_sources, service_accounts

JSON_COLUMNS = (
    "plugin_info",
    "schedule",
    "secret_filter",
    "cost_tag_keys",
    "cost_additional_info_keys",
    "cost_data_keys",
    "months",
)
FIELDS = field_set(data_sources, "data_source_id", exclude=JSON_COLUMNS, keyword=("name",))


class PluginInfo(Request):
    plugin_id: Name
    options: JSONObject = {}
    version: Name | None = None


class Schedule(Request):
    state: Literal["ENABLED", "DISABLED"] = "DISABLED"
    hour: int | None = Field(default=None, ge=0, le=23)


class SecretFilter(Request):
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    secrets: list[Id] = []
    service_accounts: list[Id] = Field(default=[], max_length=100)
    schemas: list[Name] = []


class DataSourceRegister(Request):
    name: Name
    data_source_type: Literal["LOCAL", "EXTERNAL"] = "EXTERNAL"
    provider: Name | None = None
    plugin_info: PluginInfo | None = None
    secret_type: Literal["MANUAL", "USE_SERVICE_ACCOUNT_SECRET"] = "MANUAL"
    secret_filter: SecretFilter | None = None
    schedule: Schedule | None = None
    resource_group: Literal["DOMAIN", "WORKSPACE"] = "WORKSPACE"
    workspace_id: Id | None = None
    tags: Tags = {}


class DataSourceUpdate(Request):
    data_source_id: Id
    name: Name | None = None
    plugin_info: PluginInfo | None = None
    secret_filter: SecretFilter | None = None
    schedule: Schedule | None = None
    state: Literal["ENABLED", "DISABLED"] | None = None
    tags: Tags | None = None


class DataSourceRef(Request):
    data_source_id: Id


class DataSourceSync(Request):
    data_source_id: Id
    start: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="First day to fetch (YYYY-MM-DD), for sources queried by date range",
    )
    end: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Last day to fetch, inclusive"
    )


class DataSourceList(Request):
    query: QueryParam = None
    data_source_id: Id | None = None
    name: Name | None = None
    state: Literal["ENABLED", "DISABLED"] | None = None
    data_source_type: Literal["LOCAL", "EXTERNAL"] | None = None
    provider: Name | None = None
    workspace_id: Id | None = None


class DataSourceInfo(BaseModel):
    data_source_id: str | None = None
    name: str | None = None
    state: str | None = None
    data_source_type: str | None = None
    permissions: dict[str, Any] | None = None
    provider: str | None = None
    secret_type: str | None = None
    secret_filter: dict[str, Any] | None = None
    plugin_info: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    tags: dict[str, str] | None = None
    cost_tag_keys: list[str] | None = None
    cost_additional_info_keys: list[str] | None = None
    cost_data_keys: list[str] | None = None
    months: list[str] | None = None
    data_source_account_count: int | None = None
    connected_workspace_count: int | None = None
    resource_group: str | None = None
    domain_id: str | None = None
    workspace_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_synchronized_at: str | None = None


class DataSourceListResponse(BaseModel):
    results: list[DataSourceInfo]
    total_count: int


def read_scope(ctx: Ctx) -> list[Any]:
    """Workspace callers see their workspace's data sources and the domain's shared ones."""
    return shared_scope(data_sources, ctx.caller)


def get_data_source(ctx: Ctx, data_source_id: str, *, write: bool = False) -> Any:
    return fetch_shared(
        ctx.conn,
        ctx.caller,
        data_sources,
        "data_source_id",
        data_source_id,
        "data source",
        write=write,
    )


def to_record(ctx: Ctx) -> Any:
    def record(row: Any) -> dict[str, Any]:
        out = render(row)
        assignment = assignment_for(ctx.conn, row)
        out["permissions"] = {}
        out["data_source_account_count"] = len(assignment.accounts)
        workspaces = {w for _, _, w in assignment.accounts.values()}
        out["connected_workspace_count"] = len(workspaces) if row.workspace_id == "*" else 1
        return out

    return record


def _plugin_info(ctx: Ctx, info: PluginInfo) -> tuple[dict[str, Any], Any]:
    plugin = ctx.runtime.plugins.get(info.plugin_id, "cost")
    meta = plugin.metadata
    core = {k: info.options[k] for k in CORE_OPTIONS if k in info.options}
    for key, value in core.items():
        if not isinstance(value, str) or not value:
            raise InvalidParameter(f"plugin_info.options.{key} must be a non-empty string")
    options = {k: v for k, v in info.options.items() if k not in CORE_OPTIONS}
    options = validated_options(meta, options)
    out = {"plugin_id": meta.plugin_id, "options": {**options, **core}}
    if info.version:
        out["version"] = info.version
    return out, meta


def _check_accounts(ctx: Ctx, workspace_id: str, secret_filter: SecretFilter | None) -> None:
    """Every service account named must exist where the data source can use it."""
    wanted = secret_filter.service_accounts if secret_filter else []
    if not wanted:
        return
    where = [
        service_accounts.c.service_account_id.in_(wanted),
        service_accounts.c.domain_id == ctx.caller.domain_id,
    ]
    if workspace_id != "*":
        where.append(service_accounts.c.workspace_id == workspace_id)
    found = set(
        ctx.conn.execute(select(service_accounts.c.service_account_id).where(*where)).scalars()
    )
    missing = [a for a in wanted if a not in found]
    if missing:
        raise InvalidParameter(
            f"secret_filter.service_accounts: service account(s) not found: {', '.join(missing)}"
        )


def _unique_name(ctx: Ctx, workspace_id: str, name: str, exclude: str = "") -> None:
    clash = ctx.conn.execute(
        select(data_sources.c.data_source_id).where(
            data_sources.c.workspace_id == workspace_id,
            data_sources.c.name == name,
            data_sources.c.data_source_id != exclude,
        )
    ).first()
    if clash:
        raise Conflict(f"a data source named '{name}' already exists")


def _running_job(ctx: Ctx, data_source_id: str) -> Any:
    return ctx.conn.execute(
        select(cost_jobs.c.job_id).where(
            cost_jobs.c.data_source_id == data_source_id, cost_jobs.c.status == IN_PROGRESS
        )
    ).first()


def whole_months(start: str | None, end: str | None) -> dict[str, str]:
    """A sync replaces whole months, so a range is widened to the months it touches: a
    source asked for 10-20 March would otherwise replace all of March with ten days."""
    out = {}
    try:
        if start:
            out["start"] = date.fromisoformat(start).replace(day=1).isoformat()
        if end:
            day = date.fromisoformat(end)
            last = calendar.monthrange(day.year, day.month)[1]
            out["end"] = day.replace(day=last).isoformat()
    except ValueError as exc:
        raise InvalidParameter(f"start/end: {exc}") from None
    return out


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "data-source", service="cost-analysis")

    @verb("register", DataSourceRegister, DataSourceInfo, ADMIN_OWNER, "Register a data source")
    def register_(ctx: Ctx, req: DataSourceRegister) -> dict[str, Any]:
        """Register where costs come from. EXTERNAL: `plugin_info.plugin_id` names an installed
        cost plugin (`focus`, `aws-cost-explorer`), its options are validated against the
        plugin's schema; `plugin_info.options.project_tag_key` maps rows to projects by a tag.
        Credentials come from the service accounts of `secret_filter.service_accounts`.
        LOCAL: rows arrive through `cost create`. `schedule: {state: ENABLED, hour: 3}` syncs
        daily at that UTC hour. `resource_group: DOMAIN` (domain admins) maps costs into any
        workspace of the domain."""
        if req.data_source_type == "EXTERNAL":
            if req.plugin_info is None:
                raise InvalidParameter("plugin_info is required for an EXTERNAL data source")
            plugin_info, meta = _plugin_info(ctx, req.plugin_info)
            provider = req.provider or meta.provider
            if meta.needs_service_account and not (
                req.secret_filter and req.secret_filter.service_accounts
            ):
                raise InvalidParameter(
                    f"secret_filter.service_accounts: the {meta.plugin_id} plugin needs "
                    "credentials; name the service account(s) holding them"
                )
        else:
            if req.plugin_info is not None:
                raise InvalidParameter("a LOCAL data source has no plugin_info")
            plugin_info, provider = {}, req.provider
        if req.resource_group == "DOMAIN":
            if not ctx.caller.is_admin:
                raise PermissionDenied("resource_group DOMAIN needs a DOMAIN_ADMIN app")
            workspace_id = "*"
        else:
            workspace_id = ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        _check_accounts(ctx, workspace_id, req.secret_filter)
        _unique_name(ctx, workspace_id, req.name)
        now = utcnow()
        data_source_id = new_id("ds")
        ctx.conn.execute(
            insert(data_sources).values(
                data_source_id=data_source_id,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                resource_group=req.resource_group,
                name=req.name,
                state="ENABLED",
                data_source_type=req.data_source_type,
                provider=provider,
                secret_type=req.secret_type,
                secret_filter=(req.secret_filter or SecretFilter()).model_dump(),
                plugin_info=plugin_info,
                schedule=(req.schedule or Schedule()).model_dump(),
                tags=req.tags,
                cost_tag_keys=[],
                cost_additional_info_keys=[],
                cost_data_keys=[],
                months=[],
                created_at=now,
                updated_at=now,
            )
        )
        return to_record(ctx)(get_data_source(ctx, data_source_id))

    @verb("update", DataSourceUpdate, DataSourceInfo, ADMIN_OWNER, "Update a data source")
    def update_(ctx: Ctx, req: DataSourceUpdate) -> dict[str, Any]:
        """Change name, options (re-validated), credentials, schedule, state or tags. The
        plugin itself cannot change: register another data source for another plugin."""
        row = get_data_source(ctx, req.data_source_id, write=True)
        values: dict[str, Any] = {"updated_at": utcnow()}
        if req.name is not None:
            _unique_name(ctx, row.workspace_id, req.name, exclude=row.data_source_id)
            values["name"] = req.name
        if req.plugin_info is not None:
            if row.data_source_type == "LOCAL":
                raise InvalidParameter("a LOCAL data source has no plugin_info")
            if req.plugin_info.plugin_id != row.plugin_info["plugin_id"]:
                raise InvalidParameter(
                    "plugin_info.plugin_id cannot change; register a data source for that plugin"
                )
            values["plugin_info"], _ = _plugin_info(ctx, req.plugin_info)
        if req.secret_filter is not None:
            _check_accounts(ctx, row.workspace_id, req.secret_filter)
            values["secret_filter"] = req.secret_filter.model_dump()
        if req.schedule is not None:
            values["schedule"] = req.schedule.model_dump()
        if req.state is not None:
            values["state"] = req.state
        if req.tags is not None:
            values["tags"] = req.tags
        ctx.conn.execute(
            update(data_sources)
            .where(data_sources.c.data_source_id == row.data_source_id)
            .values(values)
        )
        return to_record(ctx)(get_data_source(ctx, row.data_source_id))

    @verb("deregister", DataSourceRef, Empty, ADMIN_OWNER, "Deregister a data source")
    def deregister(ctx: Ctx, req: DataSourceRef) -> dict[str, Any]:
        """Remove a data source with all its costs and jobs. Refused (409) while a sync runs."""
        row = get_data_source(ctx, req.data_source_id, write=True)
        running = _running_job(ctx, row.data_source_id)
        if running:
            raise Conflict(
                f"data source {row.data_source_id} has sync job {running.job_id} in progress; "
                "cancel it first (cost-analysis job cancel)"
            )
        ctx.runtime.costs.delete(row.data_source_id)
        ctx.conn.execute(delete(cost_jobs).where(cost_jobs.c.data_source_id == row.data_source_id))
        ctx.conn.execute(
            delete(data_sources).where(data_sources.c.data_source_id == row.data_source_id)
        )
        return {}

    @verb("sync", DataSourceSync, JobInfo, ADMIN_OWNER, "Sync a data source")
    def sync(ctx: Ctx, req: DataSourceSync) -> dict[str, Any]:
        """Start a sync now: answers at once with the job (IN_PROGRESS). The months the source
        covers are replaced atomically when it ends; a failed or cancelled sync changes
        nothing. `start` / `end` (YYYY-MM-DD) narrow sources queried by date range; they are
        widened to whole months, the unit a sync replaces."""
        row = get_data_source(ctx, req.data_source_id, write=True)
        if row.data_source_type != "EXTERNAL":
            raise InvalidParameter(
                f"data source {row.data_source_id} is LOCAL: its rows arrive through cost create"
            )
        if row.state != "ENABLED":
            raise InvalidParameter(f"data source {row.data_source_id} is DISABLED")
        if req.start and req.end and req.start > req.end:
            raise InvalidParameter("start must not be after end")
        options = whole_months(req.start, req.end)
        job_id = start_sync(ctx.conn, row, options=options)
        if ctx.runtime.workers is not None:
            ctx.after_commit(ctx.runtime.workers.wake)
        return job_record(load_job(ctx.conn, job_id))

    @verb("get", DataSourceRef, DataSourceInfo, ALL_ROLE_TYPES, "Get a data source")
    def get(ctx: Ctx, req: DataSourceRef) -> dict[str, Any]:
        """One data source, with what its data holds (`cost_tag_keys`, ...)."""
        return to_record(ctx)(get_data_source(ctx, req.data_source_id))

    @verb("list", DataSourceList, DataSourceListResponse, ALL_ROLE_TYPES, "List data sources")
    def list_(ctx: Ctx, req: DataSourceList) -> dict[str, Any]:
        """Data sources matching the query (`{"query": {}}` lists them all)."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(
            ctx.conn, data_sources, FIELDS, req.query, params, read_scope(ctx), to_record(ctx)
        )

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate data sources")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible data sources."""
        return stat_rows(ctx.conn, data_sources, FIELDS, req.query, read_scope(ctx))
