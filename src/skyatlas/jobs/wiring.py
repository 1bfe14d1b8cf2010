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
    from skyatlas.cost.budget_notify import TASK_KIND as BUDGET_NOTIFY
    from skyatlas.cost.budget_notify import BudgetNotifyTask
    from skyatlas.cost.sync import TASK_KIND as COST_SYNC
    from skyatlas.cost.sync import CostSyncTask

    return {
        TASK_KIND: CollectTask(runtime),
        COST_SYNC: CostSyncTask(runtime),
        BUDGET_NOTIFY: BudgetNotifyTask(),
    }


def build_workers(runtime: Runtime, threads: int, *, poll_seconds: float = 0.5) -> Workers:
    from skyatlas.collection.schedule import queue_due_collections
    from skyatlas.cost.schedule import queue_due_syncs

    def tick() -> None:
        queue_due_collections(runtime)
        queue_due_syncs(runtime)

    return Workers(
        runtime.store,
        job_handlers(),
        long_handlers=long_job_handlers(runtime),
        tick=tick,
        threads=threads,
        poll_seconds=poll_seconds,
        lease_seconds=runtime.settings.job_lease_seconds,
    )
