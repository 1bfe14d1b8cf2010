"""Scheduled collections: at each UTC hour a collector lists, queue one collect (at most once
per hour per collector, however many workers: see `skyatlas.jobs.slots`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from skyatlas.collection.start import start_collect
from skyatlas.errors import SkyatlasError
from skyatlas.ids import utcnow
from skyatlas.jobs.slots import run_due
from skyatlas.runtime import Runtime
from skyatlas.store.tables import collectors

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
    with runtime.store.read() as conn:
        owners = [
            row.collector_id
            for row in conn.execute(select(collectors.c.collector_id, collectors.c.schedule))
            if due(row.schedule, now)
        ]

    def start(conn: Connection, collector_id: str) -> str | None:
        row = conn.execute(
            select(collectors).where(collectors.c.collector_id == collector_id)
        ).first()
        if row is None or not due(row.schedule, now):
            return None
        try:
            plugin = runtime.plugins.get(row.plugin_info["plugin_id"], "collector")
            with conn.begin_nested():
                return start_collect(conn, row, plugin.metadata, trigger="SCHEDULED")
        except SkyatlasError as exc:  # nothing to collect: note it once per hour
            log.warning("scheduled collection of %s skipped: %s", row.name, exc.message)
            return "-"

    return run_due(runtime, now, owners, start)
