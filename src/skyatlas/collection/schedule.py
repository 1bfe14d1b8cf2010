"""Scheduled collections: at each UTC hour a collector lists, queue one collect.

Every worker (thread or process) looks at the clock; the `schedule_runs` primary key
(collector, hour) lets exactly one of them queue the run, so a schedule fires at most once per
hour per collector however many workers there are. An hour during which no worker ran is not
made up later, as with cron.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from skyatlas.collection.start import start_collect
from skyatlas.errors import SkyatlasError
from skyatlas.ids import utcnow
from skyatlas.runtime import Runtime
from skyatlas.store.tables import collectors, schedule_runs

log = logging.getLogger(__name__)


def due(schedule: Any, now: datetime) -> bool:
    return (
        isinstance(schedule, dict)
        and schedule.get("state") == "ENABLED"
        and now.hour in (schedule.get("hours") or [])
    )


def queue_due_collections(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """Queue the collections due this hour that no worker queued yet; their job ids."""
    now = now or utcnow()
    slot = now.strftime("%Y-%m-%dT%H")
    with runtime.store.read() as conn:
        candidates = [
            row.collector_id
            for row in conn.execute(select(collectors.c.collector_id, collectors.c.schedule))
            if due(row.schedule, now)
        ]
        if candidates:
            done = set(
                conn.execute(
                    select(schedule_runs.c.owner_id).where(
                        schedule_runs.c.slot == slot, schedule_runs.c.owner_id.in_(candidates)
                    )
                ).scalars()
            )
            candidates = [c for c in candidates if c not in done]
    started = []
    for collector_id in candidates:
        try:
            with runtime.store.begin(write=True) as conn:
                row = conn.execute(
                    select(collectors).where(collectors.c.collector_id == collector_id)
                ).first()
                if row is None or not due(row.schedule, now):
                    continue
                job_id = "-"
                try:
                    plugin = runtime.plugins.get(row.plugin_info["plugin_id"], "collector")
                    with conn.begin_nested():
                        job_id = start_collect(conn, row, plugin.metadata, trigger="SCHEDULED")
                except SkyatlasError as exc:  # nothing to collect: note it once per hour
                    log.warning("scheduled collection of %s skipped: %s", row.name, exc.message)
                conn.execute(
                    insert(schedule_runs).values(
                        owner_id=collector_id, slot=slot, job_id=job_id, created_at=utcnow()
                    )
                )
                if job_id != "-":
                    started.append(job_id)
        except IntegrityError:  # another worker queued this hour's run first
            continue
    return started
