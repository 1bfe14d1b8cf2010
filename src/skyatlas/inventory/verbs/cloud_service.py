"""cloud-service create / update / delete / get / list / stat / analyze."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import param_conditions, verb_factory
from skyatlas.errors import not_found
from skyatlas.identity.roles import ALL_ROLE_TYPES
from skyatlas.ids import utcnow
from skyatlas.inventory import service
from skyatlas.inventory.collection_marks import add_collection_info
from skyatlas.inventory.custom_tags import add_custom_tags, detach_foreign_tags
from skyatlas.inventory.fields import FIELDS
from skyatlas.inventory.records import (
    MINIMAL,
    TagScope,
    normalise_tags,
    search_text,
    to_record,
    upsert_key,
)
from skyatlas.inventory.searchable import declared_keys, with_declared
from skyatlas.query.analyze import parse_analyze_query, run_analyze
from skyatlas.query.compile import FieldSet
from skyatlas.query.execute import run_list, run_stat
from skyatlas.query.spaceone import parse_query, parse_stat_query
from skyatlas.runtime import Ctx
from skyatlas.schemas import (
    AnalyzeQueryParam,
    Empty,
    Id,
    JSONObject,
    Name,
    QueryParam,
    Request,
    StatRequest,
    StatResponse,
    Text,
)
from skyatlas.store.tables import apps, cloud_services

LongText = Annotated[Text, Field(max_length=1024)]
IpList = Annotated[list[Annotated[Text, Field(max_length=64)]], Field(max_length=256)]


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource_id: LongText | None = None
    external_link: Annotated[Text, Field(max_length=4096)] | None = None


class CloudServiceCreate(Request):
    cloud_service_type: Name
    cloud_service_group: Name
    provider: Name
    data: JSONObject
    name: LongText | None = None
    account: Name | None = None
    instance_type: Name | None = None
    instance_size: float | None = None
    ip_addresses: IpList = []
    region_code: Name | None = None
    project_id: Id | None = None
    workspace_id: Id | None = None
    metadata: JSONObject = {}
    reference: Reference | None = None
    tags: JSONObject = {}

    def body(self) -> dict[str, Any]:
        """What `service.write_batch` takes: the fields that are set, without `workspace_id`
        (the caller's scope decides it). The same as `model_dump(exclude={"workspace_id"},
        exclude_none=True)`, except that `data`, `metadata` and `tags` are the validated
        objects themselves rather than copies: copying every record's document again cost a
        bulk write a fifth of its time."""
        out: dict[str, Any] = {}
        for name in _BODY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.reference is not None:
            out["reference"] = self.reference.model_dump(exclude_none=True)
        return out


_BODY_FIELDS = tuple(
    name for name in CloudServiceCreate.model_fields if name not in ("workspace_id", "reference")
)


class CloudServiceUpdate(Request):
    cloud_service_id: Id
    name: LongText | None = None
    account: Name | None = None
    instance_type: Name | None = None
    instance_size: float | None = None
    ip_addresses: IpList | None = None
    region_code: Name | None = None
    project_id: Id | None = None
    data: JSONObject | None = None
    metadata: JSONObject | None = None
    reference: Reference | None = None
    tags: JSONObject | None = None


class CloudServiceRef(Request):
    cloud_service_id: Id


Names = Name | list[Name]


class CloudServiceList(Request):
    query: QueryParam = None
    cloud_service_id: Id | list[Id] | None = None
    name: LongText | None = None
    state: Literal["ACTIVE", "DISCONNECTED", "DELETED"] | None = None
    account: Names | None = None
    instance_type: Names | None = None
    provider: Names | None = None
    cloud_service_group: Names | None = None
    cloud_service_type: Names | None = None
    region_code: Names | None = None
    project_id: Id | list[Id] | None = None
    workspace_id: Id | None = None


class CloudServiceInfo(BaseModel):
    cloud_service_id: str | None = None
    name: str | None = None
    state: str | None = None
    account: str | None = None
    instance_type: str | None = None
    instance_size: float | None = None
    ip_addresses: list[str] | None = None
    cloud_service_type: str | None = None
    cloud_service_group: str | None = None
    provider: str | None = None
    data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    reference: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    tag_keys: dict[str, Any] | None = None
    collection_info: dict[str, Any] | None = None
    region_code: str | None = None
    domain_id: str | None = None
    workspace_id: str | None = None
    project_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    deleted_at: str | None = None


class CloudServiceListResponse(BaseModel):
    results: list[CloudServiceInfo]
    total_count: int


def _get(ctx: Ctx, cloud_service_id: str) -> Any:
    row = ctx.conn.execute(
        select(cloud_services).where(
            cloud_services.c.cloud_service_id == cloud_service_id,
            *service.scope(ctx.conn, ctx.caller),
        )
    ).one_or_none()
    if row is None:
        raise not_found("cloud service", "cloud_service_id", cloud_service_id)
    return row


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "cloud-service", service="inventory")

    @verb("create", CloudServiceCreate, CloudServiceInfo, ALL_ROLE_TYPES, "Create a resource")
    def create(ctx: Ctx, req: CloudServiceCreate) -> dict[str, Any]:
        """Create a cloud service (a resource). `tags` may be `{key: value}` (the resource's own
        provider) or `{provider: {key: value}}`. A resource with the same provider, group, type,
        account and `reference.resource_id` already in the workspace is a 409."""
        caller = ctx.caller
        workspace_id = (
            caller.target_workspace(ctx.conn, req.workspace_id)
            if (req.workspace_id or not caller.is_admin or not req.project_id)
            else _project_workspace(ctx, req.project_id)
        )
        if req.project_id:
            service.check_projects(ctx.conn, caller, workspace_id, [req.project_id])
        elif caller.is_member:
            from skyatlas.errors import InvalidParameter

            raise InvalidParameter("project_id is required for a project-level app")
        body = req.body()
        result = service.write_batch(
            ctx.conn,
            domain_id=caller.domain_id,
            workspace_id=workspace_id,
            bodies=[body],
            upsert=False,
            created_by=_app_name(ctx),
        )
        assert result.ids
        return _record(ctx, _get(ctx, result.ids[0]))

    def _record(ctx: Ctx, row: Any) -> dict[str, Any]:
        records = [to_record(row)]
        _enrich(ctx, records)
        return records[0]

    def _enrich(ctx: Ctx, records: list[dict[str, Any]]) -> None:
        """What a record holds outside its row: custom tags and collection info."""
        add_custom_tags(ctx.conn, records)
        add_collection_info(ctx.conn, records)

    def _app_name(ctx: Ctx) -> str | None:
        """Who created it, as the record shows: the app's name, or the signed-in user's id."""
        if ctx.caller.user_id is not None:
            return ctx.caller.user_id
        return ctx.conn.execute(
            select(apps.c.name).where(apps.c.app_id == ctx.caller.app_id)
        ).scalar_one_or_none()

    @verb("update", CloudServiceUpdate, CloudServiceInfo, ALL_ROLE_TYPES, "Update a resource")
    def update_(ctx: Ctx, req: CloudServiceUpdate) -> dict[str, Any]:
        """Change a resource's fields. `data` and `metadata` are merged key by key at the top
        level; `tags` replaces the tags of each provider it names."""
        row = _get(ctx, req.cloud_service_id)
        now = utcnow()
        # content_hash cleared: the next collection rewrites the resource with what the cloud
        # says, even when the cloud's answer did not change since the previous collection
        values: dict[str, Any] = {"updated_at": now, "content_hash": None}
        for name in ("name", "account", "instance_type", "instance_size", "region_code"):
            if name in req.model_fields_set:
                values[name] = getattr(req, name)
        if req.ip_addresses is not None:
            values["ip_addresses"] = req.ip_addresses
        if req.project_id is not None:
            service.check_projects(ctx.conn, ctx.caller, row.workspace_id, [req.project_id])
            values["project_id"] = req.project_id
        if req.data is not None:
            values["data"] = {**row.data, **req.data}
        if req.metadata is not None:
            values["metadata"] = {**row.metadata, **req.metadata}
        if req.reference is not None:
            if "resource_id" in req.reference.model_fields_set:
                values["resource_id"] = req.reference.resource_id
            if "external_link" in req.reference.model_fields_set:
                values["external_link"] = req.reference.external_link
        if req.tags is not None:
            tags = {**row.tags, **normalise_tags(row.provider, req.tags)}
            values["tags"] = tags
            service.replace_tags(
                ctx.conn,
                row.cloud_service_id,
                row.tags or {},
                tags,
                TagScope(
                    row.domain_id,
                    row.workspace_id,
                    row.project_id,
                    visible=row.state in service.VISIBLE_STATES,
                ),
            )
        merged = {**row._mapping, **values}
        values["search_text"] = search_text(
            row.cloud_service_id,
            merged["name"],
            merged["ip_addresses"],
            row.cloud_service_group,
            row.cloud_service_type,
            merged["resource_id"],
        )
        values["upsert_key"] = upsert_key(
            row.provider,
            row.cloud_service_group,
            row.cloud_service_type,
            merged["account"],
            merged["resource_id"],
        )
        ctx.conn.execute(
            update(cloud_services)
            .where(cloud_services.c.cloud_service_id == row.cloud_service_id)
            .values(values)
        )
        if values.get("project_id", row.project_id) != row.project_id:
            detach_foreign_tags(ctx.conn, [row.cloud_service_id])
        return _record(ctx, _get(ctx, row.cloud_service_id))

    @verb("delete", CloudServiceRef, Empty, ALL_ROLE_TYPES, "Delete a resource (soft)")
    def delete_(ctx: Ctx, req: CloudServiceRef) -> dict[str, Any]:
        """Mark a resource DELETED (`deleted_at` set). Lists hide it unless they ask for
        `state`; it keeps its id if it is collected again."""
        row = _get(ctx, req.cloud_service_id)
        now = utcnow()
        ctx.conn.execute(
            update(cloud_services)
            .where(cloud_services.c.cloud_service_id == row.cloud_service_id)
            .values(state="DELETED", deleted_at=now, updated_at=now)
        )
        return {}

    @verb("get", CloudServiceRef, CloudServiceInfo, ALL_ROLE_TYPES, "Get a resource")
    def get(ctx: Ctx, req: CloudServiceRef) -> dict[str, Any]:
        """One resource the caller can see, whatever its state."""
        return _record(ctx, _get(ctx, req.cloud_service_id))

    @verb("list", CloudServiceList, CloudServiceListResponse, ALL_ROLE_TYPES, "List resources")
    def list_(ctx: Ctx, req: CloudServiceList) -> dict[str, Any]:
        """Resources matching the query. Top-level params (`provider`, `cloud_service_group`,
        `cloud_service_type`, `region_code`, `project_id`, ...) are `eq` filters (`in` for a
        list). DELETED resources are hidden unless the query filters on `state`. Keys: core
        fields, `data.<path>`, `metadata.<path>`, `tags.<provider>.<key>`,
        `reference.resource_id`, `collection_info.<field>`."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        query = parse_query(req.query).with_filters(*param_conditions(params))
        scope = [*service.scope(ctx.conn, ctx.caller), *service.state_scope(query)]
        return run_list(
            ctx.conn,
            cloud_services,
            _fields(ctx),
            query,
            to_record,
            scope=scope,
            minimal=MINIMAL,
            enrich=lambda records: _enrich(ctx, records),
        )

    @verb("analyze", AnalyzeRequest, AnalyzeResponse, ALL_ROLE_TYPES, "Analyze resources")
    def analyze(ctx: Ctx, req: AnalyzeRequest) -> dict[str, Any]:
        """Counts and sums of resources grouped by any keys (`group_by`), optionally over time
        (`granularity` DAILY / MONTHLY / YEARLY of `created_at`, `start` / `end` inclusive),
        with `field_group`, `select`, `sort` and `page`. Answers `{results, more,
        total_count}`."""
        query = parse_analyze_query(req.query)
        scope = [*service.scope(ctx.conn, ctx.caller), *service.state_scope(query)]
        return run_analyze(
            ctx.conn, cloud_services, _fields(ctx), query, date_key="created_at", scope=scope
        )

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate resources")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """`distinct` values or an `aggregate` pipeline (group, sort, limit, ...) over the
        resources the caller can see."""
        query = parse_stat_query(req.query)
        scope = [*service.scope(ctx.conn, ctx.caller), *service.state_scope(query)]
        return run_stat(ctx.conn, cloud_services, _fields(ctx), query, scope=scope)


class AnalyzeRequest(Request):
    query: AnalyzeQueryParam


class AnalyzeResponse(BaseModel):
    results: list[dict[str, Any]]
    more: bool
    total_count: int


def _fields(ctx: Ctx) -> FieldSet:
    """The cloud-service keys, with the caller's declared searchable paths on their indexes."""
    workspaces = None if ctx.caller.is_admin else [ctx.caller.workspace_id or ""]
    return with_declared(FIELDS, declared_keys(ctx.conn, workspaces))


def _project_workspace(ctx: Ctx, project_id: str) -> str:
    from skyatlas.store.tables import projects

    found = ctx.conn.execute(
        select(projects.c.workspace_id).where(
            projects.c.project_id == project_id, projects.c.domain_id == ctx.caller.domain_id
        )
    ).scalar_one_or_none()
    if found is None:
        raise not_found("project", "project_id", project_id)
    return found
