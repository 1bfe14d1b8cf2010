"""At most once per hour: the `schedule_runs` table shared by every kind of schedule.

Every worker (thread or process) looks at the clock; the primary key (owner, hour slot) lets
exactly one of them start an owner's run for that hour, however many workers look at once. An
hour during which no worker ran is not made up later, as with cron.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from skyatlas.ids import utcnow
from skyatlas.runtime import Runtime
from skyatlas.store.tables import schedule_runs

#: Starts an owner's run inside the slot's transaction: the job id, "-" when there was nothing
#: to start (still recorded, so it is not retried all hour), or None when the owner is no
#: longer due (nothing recorded).
Starter = Callable[[Connection, str], str | None]


def slot_of(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")


def run_due(runtime: Runtime, now: datetime, owners: list[str], start: Starter) -> list[str]:
    """Start the runs of `owners` (due at `now`) that no worker started this hour yet; the
    ids of the jobs started here."""
    slot = slot_of(now)
    if owners:
        with runtime.store.read() as conn:
            done = set(
                conn.execute(
                    select(schedule_runs.c.owner_id).where(
                        schedule_runs.c.slot == slot, schedule_runs.c.owner_id.in_(owners)
                    )
                ).scalars()
            )
        owners = [o for o in owners if o not in done]
    started = []
    for owner_id in owners:
        try:
            with runtime.store.begin(write=True) as conn:
                job_id = start(conn, owner_id)
                if job_id is None:
                    continue
                conn.execute(
                    insert(schedule_runs).values(
                        owner_id=owner_id, slot=slot, job_id=job_id, created_at=utcnow()
                    )
                )
                if job_id != "-":
                    started.append(job_id)
        except IntegrityError:  # another worker started this hour's run first
            continue
    return started
