"""The states of jobs and tasks, and how a task's end moves its job's totals.

A job's totals are updated in the same transaction that ends one of its tasks, with arithmetic
in SQL (`remained_tasks - 1`), so tasks ending at the same moment on different workers never
lose a count; the task that brings `remained_tasks` to zero decides the job's final status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from skyatlas.ids import utcnow
from skyatlas.store.tables import collector_job_tasks, collector_jobs

IN_PROGRESS, SUCCESS, FAILURE, CANCELED = "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"
PENDING = "PENDING"
TASK_DONE = (SUCCESS, FAILURE, CANCELED)
MAX_ERRORS_KEPT = 100

_COUNTER = {SUCCESS: "success_tasks", FAILURE: "failure_tasks", CANCELED: "canceled_tasks"}


def error_entry(code: str, message: str, additional: dict[str, Any] | None = None) -> dict:
    return {"error_code": code, "message": message, "additional": additional or {}}


def load_task(conn: Connection, job_task_id: str) -> Any:
    return conn.execute(
        select(collector_job_tasks).where(collector_job_tasks.c.job_task_id == job_task_id)
    ).first()


def load_job(conn: Connection, job_id: str) -> Any:
    return conn.execute(select(collector_jobs).where(collector_jobs.c.job_id == job_id)).first()


def finish_task(
    conn: Connection,
    job_task_id: str,
    status: str,
    *,
    values: dict[str, Any] | None = None,
    add_errors: Sequence[dict[str, Any]] = (),
) -> None:
    """End a task (once: a task already ended is left as it is) and count it on its job."""
    task = load_task(conn, job_task_id)
    if task is None or task.status in TASK_DONE:
        return
    now = utcnow()
    errors = [*(task.errors or []), *add_errors][:MAX_ERRORS_KEPT]
    conn.execute(
        update(collector_job_tasks)
        .where(collector_job_tasks.c.job_task_id == job_task_id)
        .values(
            status=status,
            errors=errors,
            failure_count=collector_job_tasks.c.failure_count + len(add_errors),
            finished_at=now,
            updated_at=now,
            **(values or {}),
        )
    )
    j = collector_jobs.c
    counter = _COUNTER[status]
    conn.execute(
        update(collector_jobs)
        .where(j.job_id == task.job_id)
        .values(
            {
                "remained_tasks": j.remained_tasks - 1,
                counter: getattr(j, counter) + 1,
                "updated_at": now,
            }
        )
    )
    job = load_job(conn, task.job_id)
    if job.remained_tasks <= 0 and job.status == IN_PROGRESS:
        final = FAILURE if job.failure_tasks else SUCCESS
        conn.execute(
            update(collector_jobs)
            .where(j.job_id == job.job_id)
            .values(status=final, finished_at=now, updated_at=now)
        )
    elif job.remained_tasks <= 0 and job.finished_at is None:
        conn.execute(update(collector_jobs).where(j.job_id == job.job_id).values(finished_at=now))
