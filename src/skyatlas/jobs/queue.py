"""The `jobs` table as a queue: accept a job (a committed row), run the next one.

Order: jobs of one `queue` run strictly in acceptance order (`seq`). On PostgreSQL, accepting
takes a transaction-scoped advisory lock on the queue, so `seq` order is also commit order, and
running claims the head of a queue with `FOR UPDATE SKIP LOCKED`, so several workers (threads
or `skyatlas worker` processes) never run two jobs of one queue at once. On SQLite, writers are
serialised by the store itself.

Exactly once: a job is applied inside the transaction that marks it SUCCEEDED. A crash before
the commit leaves it PENDING, to be run again; a failure the handler reports (a `SkyatlasError`)
rolls back to a savepoint and marks it FAILED with the message, so nothing of it stays applied.

Long jobs (a collection task runs for minutes and commits as it goes) cannot hold one
transaction: they are *claimed* (RUNNING, with a heartbeat the worker renews while it runs) and
finished later. A RUNNING job whose heartbeat is older than the lease belongs to a worker that
died; the next worker claims it again, up to `MAX_ATTEMPTS` claims, after which it is given up
with a reason (its handler's `abandon` records that on the job's own records).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import Connection, and_, exists, or_, select, text, update

from skyatlas.errors import SkyatlasError
from skyatlas.ids import new_id, utcnow
from skyatlas.store.engine import Store
from skyatlas.store.tables import jobs

log = logging.getLogger(__name__)

PENDING, RUNNING, SUCCEEDED, FAILED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED"
Handler = Callable[[Connection, Any], None]
MAX_ATTEMPTS = 3


class LongHandler(Protocol):
    """A job that runs outside one transaction (it commits its own progress)."""

    def run(self, store: Store, job: Any) -> None:
        """Do the work; raise `SkyatlasError` to fail the job with that message."""

    def abandon(self, conn: Connection, job: Any, reason: str) -> None:
        """The job will not be tried again: record `reason` where its users look."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def lock_queue(conn: Connection, queue: str) -> None:
    """Serialise acceptance into `queue` until this transaction ends (PostgreSQL; SQLite
    transactions that write are serialised already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:q))"), {"q": queue})


def enqueue(
    conn: Connection,
    *,
    kind: str,
    queue: str,
    domain_id: str,
    payload: Mapping[str, Any],
    workspace_id: str | None = None,
    project_id: str | None = None,
    prefix: str = "op",
) -> str:
    """Accept a job inside the caller's transaction; its id is returned at once."""
    lock_queue(conn, queue)
    job_id = new_id(prefix)
    conn.execute(
        jobs.insert().values(
            job_id=job_id,
            kind=kind,
            queue=queue,
            domain_id=domain_id,
            workspace_id=workspace_id,
            project_id=project_id,
            payload=dict(payload),
            state=PENDING,
            created_at=utcnow(),
        )
    )
    return job_id


def pending_payloads(conn: Connection, queue: str, kind: str) -> list[dict[str, Any]]:
    """Payloads of jobs accepted into `queue` and not run yet (acceptance checks look ahead)."""
    rows = conn.execute(
        select(jobs.c.payload)
        .where(jobs.c.state == PENDING, jobs.c.queue == queue, jobs.c.kind == kind)
        .order_by(jobs.c.seq)
    )
    return [r.payload for r in rows]


def _next(conn: Connection, kinds: list[str], long_kinds: list[str], stale_before: Any) -> Any:
    head = jobs.alias("head")
    earlier = jobs.alias("earlier")
    ahead = exists().where(
        earlier.c.queue == head.c.queue,
        earlier.c.seq < head.c.seq,
        earlier.c.state.in_((PENDING, RUNNING)),
    )
    runnable = head.c.state == PENDING
    if long_kinds:  # a long job whose worker stopped renewing its lease is taken over
        runnable = or_(
            runnable,
            and_(
                head.c.state == RUNNING,
                head.c.kind.in_(long_kinds),
                head.c.heartbeat_at < stale_before,
            ),
        )
    stmt = (
        select(head)
        .where(runnable, head.c.kind.in_([*kinds, *long_kinds]), ~ahead)
        .order_by(head.c.seq)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=head)
    return conn.execute(stmt).first()


def run_next(
    store: Store,
    handlers: Mapping[str, Handler],
    long_handlers: Mapping[str, LongHandler] | None = None,
    *,
    lease_seconds: float = 60.0,
) -> bool:
    """Run the next runnable job, if any. True when one ran (succeeded, failed or given up)."""
    long_handlers = long_handlers or {}
    me = worker_name()
    with store.begin(write=True) as conn:
        now = utcnow()
        job = _next(
            conn, list(handlers), list(long_handlers), now - timedelta(seconds=lease_seconds)
        )
        if job is None:
            return False
        if job.kind in long_handlers:
            if job.attempts >= MAX_ATTEMPTS:
                reason = (
                    f"given up after {job.attempts} attempts: the worker running it stopped "
                    "each time (crash or restart)"
                )
                with conn.begin_nested():
                    long_handlers[job.kind].abandon(conn, job, reason)
                _finish(conn, job.seq, FAILED, reason)
                return True
            conn.execute(
                update(jobs)
                .where(jobs.c.seq == job.seq)
                .values(state=RUNNING, attempts=job.attempts + 1, heartbeat_at=now, worker=me)
            )
        else:
            _apply(conn, job, handlers[job.kind])
            return True
    claimed = SimpleNamespace(**{**job._mapping, "attempts": job.attempts + 1})
    _run_long(store, claimed, long_handlers[job.kind], me, lease_seconds)
    return True


def _apply(conn: Connection, job: Any, handler: Handler) -> None:
    state, error = SUCCEEDED, None
    try:
        with conn.begin_nested():
            handler(conn, job)
    except SkyatlasError as exc:
        state, error = FAILED, exc.message
    except Exception:  # a defect: fail this job rather than retry it forever
        log.exception("job %s (%s) failed", job.job_id, job.kind)
        state, error = FAILED, "internal error"
    _finish(conn, job.seq, state, error)


def _finish(
    conn: Connection, seq: int, state: str, error: str | None, worker: str | None = None
) -> None:
    stmt = update(jobs).where(jobs.c.seq == seq)
    if worker is not None:  # only the lease holder finishes a long job
        stmt = stmt.where(jobs.c.state == RUNNING, jobs.c.worker == worker)
    conn.execute(stmt.values(state=state, error=error, finished_at=utcnow()))


def _run_long(store: Store, job: Any, handler: LongHandler, me: str, lease_seconds: float) -> None:
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(lease_seconds / 4):
            try:
                with store.begin(write=True) as conn:
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.seq == job.seq, jobs.c.worker == me)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception as exc:  # the store is busy: the next beat tries again
                log.warning("job %s: heartbeat failed (%s)", job.job_id, type(exc).__name__)

    beat = threading.Thread(target=heartbeat, name=f"heartbeat-{job.job_id}", daemon=True)
    beat.start()
    state, error = SUCCEEDED, None
    try:
        handler.run(store, job)
    except SkyatlasError as exc:
        state, error = FAILED, exc.message
    except Exception:
        log.exception("job %s (%s) failed", job.job_id, job.kind)
        state, error = FAILED, "internal error"
    finally:
        done.set()
        beat.join()
    with store.begin(write=True) as conn:
        _finish(conn, job.seq, state, error, worker=me)


def get(conn: Connection, job_id: str) -> Any:
    return conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
