"""Scheduled syncs: a data source with `schedule: {state: ENABLED, hour: H}` syncs once a day
at UTC hour H. Like collector schedules, the `schedule_runs` primary key (data source, hour)
lets exactly one worker queue each run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from skyatlas.cost.sync import start_sync
from skyatlas.ids import utcnow
from skyatlas.runtime import Runtime
from skyatlas.store.tables import data_sources, schedule_runs


def due(schedule: Any, now: datetime) -> bool:
    return (
        isinstance(schedule, dict)
        and schedule.get("state") == "ENABLED"
        and schedule.get("hour") == now.hour
    )


def queue_due_syncs(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """Queue the syncs due this hour that no worker queued yet; their job ids."""
    now = now or utcnow()
    slot = now.strftime("%Y-%m-%dT%H")
    with runtime.store.read() as conn:
        candidates = [
            row.data_source_id
            for row in conn.execute(
                select(data_sources.c.data_source_id, data_sources.c.schedule).where(
                    data_sources.c.data_source_type == "EXTERNAL",
                    data_sources.c.state == "ENABLED",
                )
            )
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
    for data_source_id in candidates:
        try:
            with runtime.store.begin(write=True) as conn:
                row = conn.execute(
                    select(data_sources).where(data_sources.c.data_source_id == data_source_id)
                ).first()
                if row is None or not due(row.schedule, now):
                    continue
                job_id = start_sync(conn, row, trigger="SCHEDULED")
                conn.execute(
                    insert(schedule_runs).values(
                        owner_id=data_source_id, slot=slot, job_id=job_id, created_at=utcnow()
                    )
                )
                started.append(job_id)
        except IntegrityError:  # another worker queued this hour's run first
            continue
    return started
