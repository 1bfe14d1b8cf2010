"""job get / list / delete / stat / cancel: one collect of a collector and its totals."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import delete, select, update

from skyatlas.api.registry import Registry
from skyatlas.collection.bookkeeping import CANCELED, IN_PROGRESS, PENDING, finish_task
from skyatlas.crud import fetch_one, field_set, list_rows, render, stat_rows, verb_factory
from skyatlas.errors import InvalidParameter
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Id, QueryParam, Request, StatRequest, StatResponse
from skyatlas.store.tables import collector_job_tasks, collector_jobs

FIELDS = field_set(collector_jobs, "job_id", keyword=("collector_id", "status"))
JobStatus = Literal["IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"]


class JobRef(Request):
    job_id: Id


class JobList(Request):
    query: QueryParam = None
    job_id: Id | None = None
    status: JobStatus | list[JobStatus] | None = None
    collector_id: Id | None = None
    workspace_id: Id | None = None


class JobInfo(BaseModel):
    job_id: str | None = None
    status: str | None = None
    collector_id: str | None = None
    plugin_id: str | None = None
    trigger: str | None = None
    total_tasks: int | None = None
    remained_tasks: int | None = None
    success_tasks: int | None = None
    failure_tasks: int | None = None
    canceled_tasks: int | None = None
    reason: str | None = None
    workspace_id: str | None = None
    domain_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None


class JobListResponse(BaseModel):
    results: list[JobInfo]
    total_count: int


def job_record(row: Any) -> dict[str, Any]:
    return render(row)


def scope(ctx: Ctx) -> list[Any]:
    """Jobs of the caller's workspace (a DOMAIN collector's jobs: domain admins)."""
    return [
        collector_jobs.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(collector_jobs.c.workspace_id),
    ]


def get_job(ctx: Ctx, job_id: str) -> Any:
    return fetch_one(ctx.conn, collector_jobs, "job_id", job_id, scope(ctx), "job")


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "job", service="inventory")

    @verb("get", JobRef, JobInfo, ALL_ROLE_TYPES, "Get a collection job")
    def get(ctx: Ctx, req: JobRef) -> dict[str, Any]:
        """A job with its task totals (`remained_tasks` falls as tasks end)."""
        return job_record(get_job(ctx, req.job_id))

    @verb("list", JobList, JobListResponse, ALL_ROLE_TYPES, "List collection jobs")
    def list_(ctx: Ctx, req: JobList) -> dict[str, Any]:
        """Jobs matching the query, e.g. `{"collector_id": ..., "status": "FAILURE"}`."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(
            ctx.conn, collector_jobs, FIELDS, req.query, params, scope(ctx), job_record
        )

    @verb("stat", StatRequest, StatResponse, ALL_ROLE_TYPES, "Aggregate collection jobs")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible jobs."""
        return stat_rows(ctx.conn, collector_jobs, FIELDS, req.query, scope(ctx))

    @verb("delete", JobRef, Empty, ADMIN_OWNER, "Delete a collection job")
    def delete_(ctx: Ctx, req: JobRef) -> dict[str, Any]:
        """Delete a finished job and its tasks (an IN_PROGRESS job must be cancelled first)."""
        job = get_job(ctx, req.job_id)
        if job.status == IN_PROGRESS:
            raise InvalidParameter(
                f"job {job.job_id} is IN_PROGRESS; cancel it first (inventory job cancel)"
            )
        ctx.conn.execute(
            delete(collector_job_tasks).where(collector_job_tasks.c.job_id == job.job_id)
        )
        ctx.conn.execute(delete(collector_jobs).where(collector_jobs.c.job_id == job.job_id))
        return {}

    @verb("cancel", JobRef, JobInfo, ADMIN_OWNER, "Cancel a collection job")
    def cancel(ctx: Ctx, req: JobRef) -> dict[str, Any]:
        """Cancel an IN_PROGRESS job: tasks not started are CANCELED at once, running ones stop
        at their next batch. A cancelled run disconnects nothing; what it wrote stays."""
        job = get_job(ctx, req.job_id)
        if job.status != IN_PROGRESS:
            raise InvalidParameter(
                f"job {job.job_id} is {job.status}; only IN_PROGRESS jobs can be cancelled"
            )
        now = utcnow()
        ctx.conn.execute(
            update(collector_jobs)
            .where(collector_jobs.c.job_id == job.job_id)
            .values(status=CANCELED, reason=f"cancelled by app {ctx.caller.app_id}", updated_at=now)
        )
        pending = ctx.conn.execute(
            select(collector_job_tasks.c.job_task_id).where(
                collector_job_tasks.c.job_id == job.job_id,
                collector_job_tasks.c.status == PENDING,
            )
        ).scalars()
        for task_id in list(pending):
            finish_task(ctx.conn, task_id, CANCELED)
        return job_record(get_job(ctx, job.job_id))
