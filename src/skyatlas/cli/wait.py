"""`--wait`: follow a job a verb started (collect, sync) until it ends, with a progress bar.

The bar goes to stderr, so `-o json` on stdout stays a clean document of the final job.
Imported only when `--wait` is given: Rich's progress machinery stays off the fast path.
"""

from __future__ import annotations

import time
from typing import Any

FINAL = ("SUCCESS", "FAILURE", "CANCELED")
COUNTERS = ("created_count", "updated_count", "disconnected_count", "deleted_count")


def task_totals(client: Any, service: str, job_id: str) -> dict[str, int]:
    totals = dict.fromkeys((*COUNTERS, "failure_count"), 0)
    for page in client.iter_pages(service, "job-task", "list", {"job_id": job_id}):
        for task in page["results"]:
            for key in totals:
                totals[key] += int(task.get(key) or 0)
    return totals


def describe(totals: dict[str, int]) -> str:
    return (
        f"created {totals['created_count']:,} · updated {totals['updated_count']:,} · "
        f"disconnected {totals['disconnected_count']:,} · deleted {totals['deleted_count']:,}"
        + (f" · errors {totals['failure_count']:,}" if totals["failure_count"] else "")
    )


def wait_for_job(
    client: Any, service: str, job: dict[str, Any], *, interval: float = 1.0
) -> dict[str, Any]:
    """Poll `<service> job get` until the job ends; returns the final job."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    job_id = job["job_id"]
    with_tasks = service == "inventory"
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks  {task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task(f"job {job_id}", total=job.get("total_tasks") or None, counts="")
        while True:
            job = client.call(service, "job", "get", {"job_id": job_id})
            done = (job.get("total_tasks") or 0) - (job.get("remained_tasks") or 0)
            counts = describe(task_totals(client, service, job_id)) if with_tasks else ""
            progress.update(bar, completed=done, counts=counts)
            if job.get("status") in FINAL:
                break
            time.sleep(interval)
        progress.update(bar, description=f"job {job_id} {job['status']}")
    return job
