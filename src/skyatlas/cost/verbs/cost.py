"""cost create / delete / get / list / analyze / stat.

Every cost query is scoped like the rest of the product: a workspace's apps see its costs, a
WORKSPACE_MEMBER app only its projects' (costs no project claims stay with workspace owners).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

import pyarrow as pa
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Table, select

from skyatlas.api.registry import Registry
from skyatlas.cost.analyze import analyze_costs
from skyatlas.cost.budget import notify_after_sync
from skyatlas.cost.fields import COST_FIELDS
from skyatlas.cost.reader import StoreReader
from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.cost.store import month_of
from skyatlas.cost.sync import assignment_for
from skyatlas.cost.tables import RECORD_COLUMNS, costs
from skyatlas.crud import param_conditions, verb_factory
from skyatlas.errors import InvalidParameter, not_found
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id
from skyatlas.query.analyze import parse_analyze_query
from skyatlas.query.execute import run_list, run_stat
from skyatlas.query.model import Condition
from skyatlas.query.spaceone import parse_query, parse_stat_query
from skyatlas.runtime import Ctx
from skyatlas.schemas import (
    AnalyzeQueryParam,
    Empty,
    Id,
    Name,
    QueryParam,
    Request,
    StatRequest,
    StatResponse,
    Tags,
)
from skyatlas.store.tables import projects

Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
TextMap = Annotated[dict[str, str], Field(max_length=200)]
NumberMap = Annotated[dict[str, float], Field(max_length=200)]


class CostCreate(Request):
    data_source_id: Id
    cost: float
    billed_date: Day
    usage_quantity: float | None = None
    usage_unit: Name | None = None
    provider: Name | None = None
    region_code: Name | None = None
    product: Name | None = None
    usage_type: Name | None = None
    resource: Annotated[str, Field(max_length=2048)] | None = None
    account_id: Name | None = None
    project_id: Id | None = None
    tags: Tags = {}
    additional_info: TextMap = {}
    data: NumberMap = {}


class CostRef(Request):
    cost_id: Id


class CostList(Request):
    query: QueryParam = None
    cost_id: Id | None = None
    data_source_id: Id | None = None
    provider: Name | None = None
    region_code: Name | None = None
    product: Name | None = None
    account_id: Name | None = None
    project_id: Id | None = None
    workspace_id: Id | None = None
    billed_date: Day | None = None
    billed_month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] | None = None
    billed_year: Annotated[str, Field(pattern=r"^\d{4}$")] | None = None


class CostAnalyze(Request):
    query: AnalyzeQueryParam
    data_source_id: Id | None = None


class CostStat(StatRequest):
    data_source_id: Id | None = None


class CostInfo(BaseModel):
    cost_id: str | None = None
    cost: float | None = None
    usage_quantity: float | None = None
    usage_unit: str | None = None
    provider: str | None = None
    region_code: str | None = None
    region_key: str | None = None
    product: str | None = None
    usage_type: str | None = None
    resource: str | None = None
    tags: dict[str, str] | None = None
    additional_info: dict[str, str] | None = None
    data: dict[str, float] | None = None
    domain_id: str | None = None
    workspace_id: str | None = None
    project_id: str | None = None
    service_account_id: str | None = None
    data_source_id: str | None = None
    account_id: str | None = None
    billed_year: str | None = None
    billed_month: str | None = None
    billed_date: str | None = None


class CostListResponse(BaseModel):
    results: list[CostInfo]
    total_count: int


class CostAnalyzeResponse(BaseModel):
    results: list[dict[str, Any]]
    more: bool
    total_count: int


def cost_scope(ctx: Ctx) -> Any:
    """The caller's costs, for whichever cost table a query reads."""
    caller = ctx.caller
    member_projects = sorted(caller.project_ids(ctx.conn)) if caller.is_member else None

    def scope(table: Table) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [table.c.domain_id == caller.domain_id]
        if not caller.is_admin:
            clauses.append(table.c.workspace_id == caller.workspace_id)
        if member_projects is not None:
            clauses.append(table.c.project_id.in_(member_projects))
        return clauses

    return scope


def cost_record(row: Any) -> dict[str, Any]:
    mapping = row._mapping
    out = {name: mapping.get(name) for name in RECORD_COLUMNS}
    for name in ("tags", "additional_info", "data"):
        value = out[name]
        if isinstance(value, str):  # JSON text on the embedded store
            value = json.loads(value)
        elif isinstance(value, list):  # tags as key/value entries on the embedded store
            value = {e["key"]: e["value"] for e in value}
        out[name] = {k: v for k, v in (value or {}).items() if v is not None}
    return out


def _reader(ctx: Ctx) -> Any:
    return StoreReader(ctx.runtime.costs)


def _data_source(ctx: Ctx, data_source_id: str) -> Any:
    from skyatlas.cost.verbs.data_source import get_data_source

    return get_data_source(ctx, data_source_id)


def _get_cost(ctx: Ctx, cost_id: str) -> dict[str, Any]:
    stmt = select(costs).where(costs.c.cost_id == cost_id, *cost_scope(ctx)(costs))
    month = month_of(cost_id)
    if month is not None:  # lets the cost store skip every other month's rows
        stmt = stmt.where(costs.c.billed_month == month)
    rows = ctx.runtime.costs.fetch(stmt)
    if not rows:
        raise not_found("cost", "cost_id", cost_id)
    return rows[0]


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "cost", service="cost-analysis")

    @verb("create", CostCreate, CostInfo, ADMIN_OWNER, "Add a cost row")
    def create(ctx: Ctx, req: CostCreate) -> dict[str, Any]:
        """Add one row to a LOCAL data source. `project_id` assigns it to a project; otherwise
        `account_id` maps it through the service account with that `data.account_id`."""
        ds = _data_source(ctx, req.data_source_id)
        if ds.data_source_type != "LOCAL":
            raise InvalidParameter(
                f"data source {ds.data_source_id} is EXTERNAL: its rows come from syncs"
            )
        project = None
        if req.project_id is not None:
            where = [projects.c.project_id == req.project_id]
            where.append(projects.c.domain_id == ctx.caller.domain_id)
            if ds.workspace_id != "*":
                where.append(projects.c.workspace_id == ds.workspace_id)
            found = ctx.conn.execute(select(projects).where(*where)).first()
            if found is None:
                raise not_found("project", "project_id", req.project_id)
            ctx.caller.check_project(ctx.conn, req.project_id)
            project = (found.project_id, found.workspace_id)
        from skyatlas.cost.schema import normalise_provider

        row = {
            "cost": req.cost,
            "usage_quantity": req.usage_quantity,
            "usage_unit": req.usage_unit,
            "provider": normalise_provider(req.provider) if req.provider else ds.provider,
            "region_code": req.region_code,
            "region_key": None,
            "product": req.product,
            "usage_type": req.usage_type,
            "resource": req.resource,
            "account_id": req.account_id,
            "billed_date": req.billed_date,
            "tags": list(req.tags.items()),
            "additional_info": json.dumps(req.additional_info),
            "data": json.dumps(req.data),
        }
        if row["provider"] and row["region_code"]:
            row["region_key"] = f"{row['provider']}.{row['region_code']}"
        table = pa.Table.from_pylist([row], schema=COST_SCHEMA)
        (cost_id,) = ctx.runtime.costs.insert(
            assignment_for(ctx.conn, ds), new_id("create"), table, project=project
        )
        notices = notify_after_sync(ctx.conn, ctx.runtime, ds, [req.billed_date[:7]])
        if notices and ctx.runtime.workers is not None:
            ctx.after_commit(ctx.runtime.workers.wake)
        return cost_record(_Row(_get_cost(ctx, cost_id)))

    @verb("delete", CostRef, Empty, ADMIN_OWNER, "Delete a cost row")
    def delete_(ctx: Ctx, req: CostRef) -> dict[str, Any]:
        """Delete one row (a row of an EXTERNAL source comes back with its month's next sync)."""
        found = _get_cost(ctx, req.cost_id)
        ctx.runtime.costs.delete(found["data_source_id"], [req.cost_id])
        return {}

    @verb("get", CostRef, CostInfo, ALL_ROLE_TYPES, "Get a cost row")
    def get(ctx: Ctx, req: CostRef) -> dict[str, Any]:
        """One cost row."""
        return cost_record(_Row(_get_cost(ctx, req.cost_id)))

    @verb("list", CostList, CostListResponse, ALL_ROLE_TYPES, "List cost rows")
    def list_(ctx: Ctx, req: CostList) -> dict[str, Any]:
        """Cost rows matching the query, e.g. one data source's rows of one day:
        `{"query": {"filter": [{"key": "data_source_id", "value": "ds-…", "operator": "eq"},
        {"key": "billed_date", "value": "2024-12-16", "operator": "eq"}]}}`."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        query = parse_query(req.query).with_filters(*param_conditions(params))
        return run_list(
            _reader(ctx),
            costs,
            COST_FIELDS,
            query,
            cost_record,
            scope=cost_scope(ctx)(costs),
            one_pass=True,
        )

    @verb("analyze", CostAnalyze, CostAnalyzeResponse, ALL_ROLE_TYPES, "Analyze costs")
    def analyze(ctx: Ctx, req: CostAnalyze) -> dict[str, Any]:
        """Sums and counts of costs grouped by any keys (`group_by`: any cost field,
        `tags.<key>`, `additional_info.<key>`), per day, month or year (`granularity`,
        `start` / `end` inclusive — any range the data covers), with `field_group`,
        `select`, `sort` and `page`. `data.<key>` numbers can be summed. Answers
        `{results, more, total_count}`; monthly questions read the monthly rollup."""
        query = parse_analyze_query(req.query)
        if req.data_source_id is not None:
            cond = Condition("data_source_id", "eq", req.data_source_id, "data_source_id")
            query = dataclasses.replace(query, filter=(*query.filter, cond))
        result, _table = analyze_costs(_reader(ctx), query, cost_scope(ctx))
        return result

    @verb("stat", CostStat, StatResponse, ALL_ROLE_TYPES, "Aggregate costs")
    def stat(ctx: Ctx, req: CostStat) -> dict[str, Any]:
        """`distinct` values (e.g. `{"query": {"distinct": "product"}}`) or an aggregate
        pipeline over the caller's costs."""
        query = parse_stat_query(req.query)
        if req.data_source_id is not None:
            cond = Condition("data_source_id", "eq", req.data_source_id, "data_source_id")
            query = dataclasses.replace(query, filter=(*query.filter, cond))
        return run_stat(_reader(ctx), costs, COST_FIELDS, query, scope=cost_scope(ctx)(costs))


class _Row:
    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping
