"""Starting a collection: one job, one task per service account, each task a queued job.

Each task goes to the queue `collect:<collector>:<service account>`, so two runs for the same
account never overlap (the second waits for the first), while different accounts run in
parallel on as many workers as there are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from skyatlas.collection.bookkeeping import IN_PROGRESS, PENDING
from skyatlas.errors import InvalidParameter, not_found
from skyatlas.ids import new_id, utcnow
from skyatlas.jobs.queue import enqueue
from skyatlas.store.tables import collector_job_tasks, collector_jobs, service_accounts

TASK_KIND = "collect"


def accounts_to_collect(
    conn: Connection, collector: Any, service_account_id: str | None
) -> list[Any]:
    """The service accounts a run covers: the collector's provider, its workspace (every
    workspace for a DOMAIN collector), its `secret_filter`, and credentials present."""
    sa = service_accounts.c
    stmt = select(service_accounts).where(sa.domain_id == collector.domain_id)
    if collector.workspace_id != "*":
        stmt = stmt.where(sa.workspace_id == collector.workspace_id)
    if collector.provider:
        stmt = stmt.where(sa.provider == collector.provider)
    wanted = (collector.secret_filter or {}).get("service_accounts") or []
    if wanted:
        stmt = stmt.where(sa.service_account_id.in_(wanted))
    if service_account_id is not None:
        stmt = stmt.where(sa.service_account_id == service_account_id)
    rows = list(conn.execute(stmt.order_by(sa.service_account_id)))
    if service_account_id is not None and not rows:
        raise not_found("service account", "service_account_id", service_account_id)
    with_secret = [r for r in rows if r.secret_encrypted is not None]
    if service_account_id is not None and not with_secret:
        raise InvalidParameter(
            f"service account {service_account_id} has no secret_data; set it with "
            "identity service-account update-secret-data"
        )
    if not with_secret:
        where = "this workspace" if collector.workspace_id != "*" else "this domain"
        raise InvalidParameter(
            f"no service account of provider '{collector.provider}' with secret_data in {where}"
            + (" matches secret_filter.service_accounts" if wanted else "")
            + "; create one with identity service-account create"
        )
    return with_secret


def start_collect(
    conn: Connection,
    collector: Any,
    metadata: Any,
    *,
    service_account_id: str | None = None,
    trigger: str = "MANUAL",
) -> str:
    """Create the job and its tasks and queue them; returns the job id (IN_PROGRESS)."""
    now = utcnow()
    job_id = new_id("job")
    if metadata.needs_service_account:
        accounts = accounts_to_collect(conn, collector, service_account_id)
        tasks = [
            {
                "workspace_id": a.workspace_id,
                "project_id": a.project_id,
                "service_account_id": a.service_account_id,
                "secret_id": a.secret_id,
            }
            for a in accounts
        ]
    else:
        if service_account_id is not None:
            raise InvalidParameter(
                f"service_account_id: the {metadata.plugin_id} plugin collects without service "
                "accounts"
            )
        tasks = [
            {
                "workspace_id": collector.workspace_id,
                "project_id": None,
                "service_account_id": None,
                "secret_id": None,
            }
        ]
    conn.execute(
        insert(collector_jobs).values(
            job_id=job_id,
            domain_id=collector.domain_id,
            workspace_id=collector.workspace_id,
            collector_id=collector.collector_id,
            plugin_id=metadata.plugin_id,
            trigger=trigger,
            status=IN_PROGRESS,
            total_tasks=len(tasks),
            remained_tasks=len(tasks),
            success_tasks=0,
            failure_tasks=0,
            canceled_tasks=0,
            created_at=now,
            updated_at=now,
        )
    )
    for task in tasks:
        task_id = new_id("job-task")
        conn.execute(
            insert(collector_job_tasks).values(
                job_task_id=task_id,
                job_id=job_id,
                domain_id=collector.domain_id,
                collector_id=collector.collector_id,
                status=PENDING,
                created_count=0,
                updated_count=0,
                deleted_count=0,
                disconnected_count=0,
                failure_count=0,
                errors=[],
                attempts=0,
                created_at=now,
                updated_at=now,
                **task,
            )
        )
        enqueue(
            conn,
            kind=TASK_KIND,
            queue=f"collect:{collector.collector_id}:{task['service_account_id'] or '-'}",
            domain_id=collector.domain_id,
            workspace_id=task["workspace_id"],
            project_id=task["project_id"],
            payload={"job_task_id": task_id, "job_id": job_id},
            prefix="qjob",
        )
    return job_id
