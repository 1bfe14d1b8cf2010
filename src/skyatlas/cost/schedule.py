"""Scheduled syncs: a data source with `schedule: {state: ENABLED, hour: H}` syncs once a day
at UTC hour H (at most once, however many workers: see `skyatlas.jobs.slots`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from skyatlas.cost.sync import start_sync
from skyatlas.ids import utcnow
from skyatlas.jobs.slots import run_due
from skyatlas.runtime import Runtime
from skyatlas.store.tables import data_sources


def due(schedule: Any, now: datetime) -> bool:
    return (
        isinstance(schedule, dict)
        and schedule.get("state") == "ENABLED"
        and schedule.get("hour") == now.hour
    )


def queue_due_syncs(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """Queue the syncs due this hour that no worker queued yet; their job ids."""
    now = now or utcnow()
    enabled = (data_sources.c.data_source_type == "EXTERNAL", data_sources.c.state == "ENABLED")
    with runtime.store.read() as conn:
        owners = [
            row.data_source_id
            for row in conn.execute(
                select(data_sources.c.data_source_id, data_sources.c.schedule).where(*enabled)
            )
            if due(row.schedule, now)
        ]

    def start(conn: Connection, data_source_id: str) -> str | None:
        row = conn.execute(
            select(data_sources).where(data_sources.c.data_source_id == data_source_id, *enabled)
        ).first()
        if row is None or not due(row.schedule, now):
            return None
        return start_sync(conn, row, trigger="SCHEDULED")

    return run_due(runtime, now, owners, start)
