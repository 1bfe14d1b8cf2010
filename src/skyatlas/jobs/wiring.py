"""Which jobs a worker runs: every kind the server knows, and the scheduler's clock."""

from __future__ import annotations

from typing import Any

from skyatlas.jobs.worker import Workers
from skyatlas.runtime import Runtime


def job_handlers() -> dict[str, Any]:
    """Jobs applied inside one transaction (tag operations)."""
    from skyatlas.explorer.custom_tags import HANDLERS

    return dict(HANDLERS)


def long_job_handlers(runtime: Runtime) -> dict[str, Any]:
    """Jobs that run for a while and commit as they go (collection tasks)."""
    from skyatlas.collection.runner import CollectTask
    from skyatlas.collection.start import TASK_KIND

    return {TASK_KIND: CollectTask(runtime)}


def build_workers(runtime: Runtime, threads: int, *, poll_seconds: float = 0.5) -> Workers:
    from skyatlas.collection.schedule import queue_due_collections

    return Workers(
        runtime.store,
        job_handlers(),
        long_handlers=long_job_handlers(runtime),
        tick=lambda: queue_due_collections(runtime),
        threads=threads,
        poll_seconds=poll_seconds,
        lease_seconds=runtime.settings.job_lease_seconds,
    )
