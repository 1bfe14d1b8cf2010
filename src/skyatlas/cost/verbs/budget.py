"""budget create / update / delete / get / list and budget-usage list / analyze.

Scope: a workspace's owners manage its budgets; a WORKSPACE_MEMBER app reads the budgets of
its projects (never a whole-workspace budget); domain admins see and manage every budget of
the domain. Usage is computed from the cost store's monthly rollup when asked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, insert, select, update

from skyatlas.api.registry import Registry
from skyatlas.cost import budget as service
from skyatlas.cost.verbs.data_source import get_data_source
from skyatlas.crud import fetch_one, field_set, list_rows, render, verb_factory
from skyatlas.errors import InvalidParameter, not_found
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import AnalyzeQueryParam, Empty, Id, Name, QueryParam, Request, Tags
from skyatlas.store.tables import budgets, projects

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
TimeUnit = Literal["TOTAL", "MONTHLY"]
JSON_COLUMNS = ("planned_limits", "notification")
FIELDS = field_set(budgets, "budget_id", exclude=JSON_COLUMNS, keyword=("name",))


class PlannedLimit(Request):
    date: Month
    limit: float


class NotificationPlan(Request):
    threshold: float = Field(description="percent of the limit (PERCENT) or an amount")
    unit: Literal["PERCENT", "ACTUAL_COST"] = "PERCENT"


class Recipients(Request):
    webhook_url: Annotated[str, Field(max_length=2048)] | None = None


class Notification(Request):
    state: Literal["ENABLED", "DISABLED"] = "DISABLED"
    recipients: Recipients = Recipients()
    plans: list[NotificationPlan] = Field(default=[], max_length=20)


class BudgetCreate(Request):
    name: Name
    time_unit: TimeUnit
    start: Month
    end: Month
    limit: float | None = Field(default=None, description="TOTAL budgets: the whole limit")
    planned_limits: list[PlannedLimit] | None = Field(
        default=None,
        max_length=service.MAX_MONTHS,
        description="MONTHLY budgets: one limit per month from start to end",
    )
    currency: Currency = "USD"
    notification: Notification | None = None
    data_source_id: Id | None = None
    project_id: Id | None = None
    workspace_id: Id | None = None
    resource_group: Literal["WORKSPACE", "PROJECT"] | None = None
    tags: Tags = {}


class BudgetUpdate(Request):
    budget_id: Id
    name: Name | None = None
    start: Month | None = None
    end: Month | None = None
    limit: float | None = None
    planned_limits: list[PlannedLimit] | None = Field(default=None, max_length=service.MAX_MONTHS)
    currency: Currency | None = None
    notification: Notification | None = None
    tags: Tags | None = None


class BudgetRef(Request):
    budget_id: Id


class BudgetList(Request):
    query: QueryParam = None
    budget_id: Id | None = None
    name: Name | None = None
    time_unit: TimeUnit | None = None
    data_source_id: Id | None = None
    project_id: Id | None = None
    workspace_id: Id | None = None


class BudgetInfo(BaseModel):
    budget_id: str | None = None
    name: str | None = None
    time_unit: str | None = None
    limit: float | None = None
    planned_limits: list[dict[str, Any]] | None = None
    start: str | None = None
    end: str | None = None
    currency: str | None = None
    notification: dict[str, Any] | None = None
    tags: dict[str, str] | None = None
    resource_group: str | None = None
    data_source_id: str | None = None
    project_id: str | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class BudgetListResponse(BaseModel):
    results: list[BudgetInfo]
    total_count: int


class BudgetUsageList(Request):
    budget_id: Id | None = None
    workspace_id: Id | None = None
    project_id: Id | None = None


class BudgetUsageAnalyze(Request):
    query: AnalyzeQueryParam
    budget_id: Id | None = None


class BudgetUsageInfo(BaseModel):
    budget_id: str
    name: str
    date: str
    cost: float
    limit: float | None = None
    utilization_rate: float | None = None
    currency: str
    time_unit: str
    data_source_id: str | None = None
    workspace_id: str
    project_id: str | None = None
    domain_id: str


class BudgetUsageListResponse(BaseModel):
    results: list[BudgetUsageInfo]
    total_count: int


class BudgetUsageAnalyzeResponse(BaseModel):
    results: list[dict[str, Any]]
    more: bool
    total_count: int


def read_scope(ctx: Ctx) -> list[Any]:
    caller = ctx.caller
    clauses = [budgets.c.domain_id == caller.domain_id]
    if not caller.is_admin:
        clauses.append(budgets.c.workspace_id == caller.workspace_id)
    if caller.is_member:  # members see their projects' budgets, not the workspace's
        clauses.append(budgets.c.project_id.in_(sorted(caller.project_ids(ctx.conn))))
    return clauses


def get_budget(ctx: Ctx, budget_id: str) -> Any:
    return fetch_one(ctx.conn, budgets, "budget_id", budget_id, read_scope(ctx), "budget")


def to_record(ctx: Ctx) -> Any:
    hide_recipients = ctx.caller.is_member

    def record(row: Any) -> dict[str, Any]:
        out = render(row)
        out["resource_group"] = "PROJECT" if row.project_id else "WORKSPACE"
        if hide_recipients:  # a webhook URL often is a credential (Slack, Teams)
            out["notification"] = {**(row.notification or {}), "recipients": {}}
        return out

    return record


def _place(ctx: Ctx, req: BudgetCreate) -> tuple[str, str | None]:
    """The budget's workspace and project."""
    if req.resource_group == "PROJECT" and req.project_id is None:
        raise InvalidParameter("project_id is required for a PROJECT budget")
    if req.resource_group == "WORKSPACE" and req.project_id is not None:
        raise InvalidParameter("a WORKSPACE budget has no project_id; use resource_group PROJECT")
    if req.project_id is None:
        return ctx.caller.target_workspace(ctx.conn, req.workspace_id), None
    where = [projects.c.project_id == req.project_id, projects.c.domain_id == ctx.caller.domain_id]
    if not ctx.caller.is_admin:
        where.append(projects.c.workspace_id == ctx.caller.workspace_id)
    if req.workspace_id is not None:
        ctx.caller.target_workspace(ctx.conn, req.workspace_id)
        where.append(projects.c.workspace_id == req.workspace_id)
    found = ctx.conn.execute(select(projects.c.workspace_id).where(*where)).first()
    if found is None:
        raise not_found("project", "project_id", req.project_id)
    return found.workspace_id, req.project_id


def _check_data_source(ctx: Ctx, data_source_id: str, workspace_id: str) -> None:
    ds = get_data_source(ctx, data_source_id)
    if ds.workspace_id not in (workspace_id, "*"):
        raise InvalidParameter(
            f"data source {data_source_id} belongs to another workspace: its costs never "
            f"count toward a budget of {workspace_id}"
        )


def _notification(raw: Notification | None) -> dict[str, Any]:
    return service.normalise_notification(raw.model_dump() if raw is not None else None)


def _planned(items: list[PlannedLimit] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [i.model_dump() for i in items]


def _visible_budgets(ctx: Ctx, req: BudgetUsageList | BudgetUsageAnalyze) -> list[Any]:
    where = read_scope(ctx)
    if req.budget_id is not None:
        where.append(budgets.c.budget_id == req.budget_id)
    for key in ("workspace_id", "project_id"):
        value = getattr(req, key, None)
        if value is not None:
            where.append(budgets.c[key] == value)
    stmt = select(budgets).where(*where).order_by(budgets.c.name, budgets.c.budget_id)
    return list(ctx.conn.execute(stmt))


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "budget", service="cost-analysis")
    usage_verb = verb_factory(registry, "budget-usage", service="cost-analysis")

    @verb("create", BudgetCreate, BudgetInfo, ADMIN_OWNER, "Create a budget")
    def create(ctx: Ctx, req: BudgetCreate) -> dict[str, Any]:
        """A budget over whole months from `start` to `end` (YYYY-MM). TOTAL: one `limit`
        for the period; MONTHLY: `planned_limits`, one `{date, limit}` per month. With
        `project_id` it counts that project's costs, otherwise the whole workspace's; with
        `data_source_id` only that data source's. `notification: {state: ENABLED,
        recipients: {webhook_url}, plans: [{threshold: 80, unit: PERCENT}]}` POSTs to the
        webhook once per threshold crossed (per month for MONTHLY budgets), checked after
        each sync."""
        workspace_id, project_id = _place(ctx, req)
        if req.data_source_id is not None:
            _check_data_source(ctx, req.data_source_id, workspace_id)
        limits = service.validate_budget(
            {
                "time_unit": req.time_unit,
                "start": req.start,
                "end": req.end,
                "limit": req.limit,
                "planned_limits": _planned(req.planned_limits),
            }
        )
        now = utcnow()
        budget_id = new_id("budget")
        ctx.conn.execute(
            insert(budgets).values(
                budget_id=budget_id,
                name=req.name,
                domain_id=ctx.caller.domain_id,
                workspace_id=workspace_id,
                project_id=project_id,
                data_source_id=req.data_source_id,
                time_unit=req.time_unit,
                start=req.start,
                end=req.end,
                currency=req.currency,
                notification=_notification(req.notification),
                tags=req.tags,
                created_at=now,
                updated_at=now,
                **limits,
            )
        )
        return to_record(ctx)(get_budget(ctx, budget_id))

    @verb("update", BudgetUpdate, BudgetInfo, ADMIN_OWNER, "Update a budget")
    def update_(ctx: Ctx, req: BudgetUpdate) -> dict[str, Any]:
        """Change name, period, limits, currency, notification or tags (the time unit, project
        and data source are fixed: create another budget). The result is validated as a
        whole. Thresholds the costs no longer reach under the new terms notify again when
        crossed later; those still crossed do not notify twice."""
        row = get_budget(ctx, req.budget_id)
        given = req.model_fields_set
        values: dict[str, Any] = {"updated_at": utcnow()}
        for key in ("name", "currency", "tags"):
            if key in given and getattr(req, key) is not None:
                values[key] = getattr(req, key)
        terms = {
            "time_unit": row.time_unit,
            "start": req.start or row.start,
            "end": req.end or row.end,
            "limit": req.limit if "limit" in given else row.limit,
            "planned_limits": (
                _planned(req.planned_limits) if "planned_limits" in given else row.planned_limits
            ),
        }
        rearm = bool(given & {"start", "end", "limit", "planned_limits", "notification"})
        if rearm:
            values.update(start=terms["start"], end=terms["end"])
            values.update(service.validate_budget(terms))
        if "notification" in given:
            values["notification"] = _notification(req.notification)
        ctx.conn.execute(update(budgets).where(budgets.c.budget_id == row.budget_id).values(values))
        fresh = get_budget(ctx, row.budget_id)
        if rearm:
            service.rearm(ctx.conn, ctx.runtime, fresh)
        return to_record(ctx)(fresh)

    @verb("delete", BudgetRef, Empty, ADMIN_OWNER, "Delete a budget")
    def delete_(ctx: Ctx, req: BudgetRef) -> dict[str, Any]:
        """Delete a budget and the record of its notices (webhooks already queued are still
        sent)."""
        row = get_budget(ctx, req.budget_id)
        service.forget(ctx.conn, row.budget_id)
        ctx.conn.execute(delete(budgets).where(budgets.c.budget_id == row.budget_id))
        return {}

    @verb("get", BudgetRef, BudgetInfo, ALL_ROLE_TYPES, "Get a budget")
    def get(ctx: Ctx, req: BudgetRef) -> dict[str, Any]:
        """One budget (a member app sees its projects' budgets, without the webhook URL)."""
        return to_record(ctx)(get_budget(ctx, req.budget_id))

    @verb("list", BudgetList, BudgetListResponse, ALL_ROLE_TYPES, "List budgets")
    def list_(ctx: Ctx, req: BudgetList) -> dict[str, Any]:
        """Budgets matching the query (`{"query": {}}` lists every visible one)."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(
            ctx.conn, budgets, FIELDS, req.query, params, read_scope(ctx), to_record(ctx)
        )

    @usage_verb("list", BudgetUsageList, BudgetUsageListResponse, ALL_ROLE_TYPES, "Budget usage")
    def usage_list(ctx: Ctx, req: BudgetUsageList) -> dict[str, Any]:
        """Per visible budget and month from its start to its end: `cost`, `limit` and
        `utilization_rate` (percent). TOTAL budgets show the whole limit on every month and a
        cumulative `utilization_rate`."""
        rows = service.usage_rows(ctx.runtime, _visible_budgets(ctx, req))
        return {"results": rows, "total_count": len(rows)}

    @usage_verb(
        "analyze", BudgetUsageAnalyze, BudgetUsageAnalyzeResponse, ALL_ROLE_TYPES, "Analyze usage"
    )
    def usage_analyze(ctx: Ctx, req: BudgetUsageAnalyze) -> dict[str, Any]:
        """Group the usage rows: `group_by` (budget_id, name, date, currency, time_unit,
        data_source_id, workspace_id, project_id), `fields` ({name: {key: cost | limit |
        utilization_rate, operator: sum | min | max | average | count}}), `filter`, `start` /
        `end` (months), `sort`, `page`. Summing `limit` over the months of a TOTAL budget
        counts its limit once per month: use `max` there."""
        rows = service.usage_rows(ctx.runtime, _visible_budgets(ctx, req))
        return service.analyze_usage(rows, req.query)
