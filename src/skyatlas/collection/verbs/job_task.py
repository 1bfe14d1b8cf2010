"""job-task get / list / stat: one service account's part of a collection."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from skyatlas.api.registry import Registry
from skyatlas.crud import fetch_one, field_set, list_rows, render, stat_rows, verb_factory
from skyatlas.identity.roles import ALL_ROLE_TYPES
from skyatlas.runtime import Ctx
from skyatlas.schemas import Id, QueryParam, Request, StatRequest, StatResponse
from skyatlas.store.tables import collector_job_tasks

FIELDS = field_set(
    collector_job_tasks, "job_task_id", exclude=("errors",), keyword=("job_id", "status")
)
TaskStatus = Literal["PENDING", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"]


class JobTaskRef(Request):
    job_task_id: Id


class JobTaskList(Request):
    query: QueryParam = None
    job_task_id: Id | None = None
    job_id: Id | None = None
    status: TaskStatus | list[TaskStatus] | None = None
    collector_id: Id | None = None
    service_account_id: Id | None = None
    project_id: Id | None = None
    workspace_id: Id | None = None


class JobTaskError(BaseModel):
    error_code: str
    message: str
    additional: dict[str, Any] = {}


class JobTaskInfo(BaseModel):
    job_task_id: str | None = None
    job_id: str | None = None
    status: str | None = None
    collector_id: str | None = None
    service_account_id: str | None = None
    secret_id: str | None = None
    project_id: str | None = None
    created_count: int | None = None
    updated_count: int | None = None
    deleted_count: int | None = None
    disconnected_count: int | None = None
    failure_count: int | None = None
    errors: list[JobTaskError] | None = None
    attempts: int | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class JobTaskListResponse(BaseModel):
    results: list[JobTaskInfo]
    total_count: int


def scope(ctx: Ctx) -> list[Any]:
    """Tasks of the caller's workspace; a member sees its own projects' tasks only."""
    return [
        collector_job_tasks.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(collector_job_tasks.c.workspace_id),
        *ctx.caller.project_clauses(ctx.conn, collector_job_tasks.c.project_id),
    ]


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "job-task", service="inventory")

    @verb("get", JobTaskRef, JobTaskInfo, ALL_ROLE_TYPES, "Get a collection task")
    def get(ctx: Ctx, req: JobTaskRef) -> dict[str, Any]:
        """A task with its live counters and up to 100 `errors`."""
        return render(
            fetch_one(
                ctx.conn,
                collector_job_tasks,
                "job_task_id",
                req.job_task_id,
                scope(ctx),
                "job task",
            )
        )

    @verb("list", JobTaskList, JobTaskListResponse, ALL_ROLE_TYPES, "List collection tasks")
    def list_(ctx: Ctx, req: JobTaskList) -> dict[str, Any]:
        """Tasks matching the query, e.g. `{"job_id": ...}`."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(
            ctx.conn, collector_job_tasks, FIELDS, req.query, params, scope(ctx), render
        )

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate collection tasks")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible tasks."""
        return stat_rows(ctx.conn, collector_job_tasks, FIELDS, req.query, scope(ctx))
