"""cost-analysis job get / list / cancel: the syncs of data sources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import update

from skyatlas.api.registry import Registry
from skyatlas.cost.sync import CANCELED, IN_PROGRESS, load_job
from skyatlas.crud import fetch_one, field_set, list_rows, render, verb_factory
from skyatlas.errors import InvalidParameter
from skyatlas.identity.roles import ADMIN_OWNER, ALL_ROLE_TYPES
from skyatlas.ids import utcnow
from skyatlas.runtime import Ctx
from skyatlas.schemas import Id, QueryParam, Request
from skyatlas.store.tables import cost_jobs

FIELDS = field_set(
    cost_jobs, "job_id", exclude=("options", "months"), keyword=("data_source_id", "status")
)
JobStatus = Literal["IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"]


class JobRef(Request):
    job_id: Id


class JobList(Request):
    query: QueryParam = None
    job_id: Id | None = None
    status: JobStatus | list[JobStatus] | None = None
    data_source_id: Id | None = None
    workspace_id: Id | None = None


class JobInfo(BaseModel):
    job_id: str | None = None
    status: str | None = None
    data_source_id: str | None = None
    trigger: str | None = None
    options: dict[str, Any] | None = None
    months: list[str] | None = None
    total_rows: int | None = None
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
    """Syncs of the caller's workspace (a DOMAIN data source's syncs: domain admins)."""
    return [
        cost_jobs.c.domain_id == ctx.caller.domain_id,
        *ctx.caller.workspace_clauses(cost_jobs.c.workspace_id),
    ]


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "job", service="cost-analysis")

    @verb("get", JobRef, JobInfo, ALL_ROLE_TYPES, "Get a cost sync job")
    def get(ctx: Ctx, req: JobRef) -> dict[str, Any]:
        """A sync: its status, the months it replaced and how many rows it loaded, or why it
        failed."""
        return job_record(fetch_one(ctx.conn, cost_jobs, "job_id", req.job_id, scope(ctx), "job"))

    @verb("list", JobList, JobListResponse, ALL_ROLE_TYPES, "List cost sync jobs")
    def list_(ctx: Ctx, req: JobList) -> dict[str, Any]:
        """Syncs matching the query, e.g. `{"data_source_id": ..., "status": "FAILURE"}`."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        return list_rows(ctx.conn, cost_jobs, FIELDS, req.query, params, scope(ctx), job_record)

    @verb("cancel", JobRef, JobInfo, ADMIN_OWNER, "Cancel a cost sync job")
    def cancel(ctx: Ctx, req: JobRef) -> dict[str, Any]:
        """Cancel an IN_PROGRESS sync: it stops at its next batch and changes no cost data (a
        sync that already swapped its months in is done)."""
        job = fetch_one(ctx.conn, cost_jobs, "job_id", req.job_id, scope(ctx), "job")
        if job.status != IN_PROGRESS:
            raise InvalidParameter(
                f"job {job.job_id} is {job.status}; only IN_PROGRESS jobs can be cancelled"
            )
        now = utcnow()
        ctx.conn.execute(
            update(cost_jobs)
            .where(cost_jobs.c.job_id == job.job_id, cost_jobs.c.status == IN_PROGRESS)
            .values(
                status=CANCELED,
                reason=f"cancelled by app {ctx.caller.app_id}",
                updated_at=now,
                finished_at=now,
            )
        )
        return job_record(load_job(ctx.conn, job.job_id))
