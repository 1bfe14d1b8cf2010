"""Worker threads: drain the job queue in the background of `skyatlas serve`.

A worker runs jobs until none is runnable, then sleeps until woken (a job accepted by this
process calls `wake()`) or until the poll interval passes (jobs accepted by other processes on
the same PostgreSQL database). Between jobs, a worker also looks at the clock for scheduled
work (`tick`, at most every `tick_seconds`), which writes jobs into the same queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from sqlalchemy.exc import OperationalError

from skyatlas.jobs.queue import Handler, LongHandler, run_next
from skyatlas.store.engine import Store

log = logging.getLogger(__name__)


class Workers:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        *,
        long_handlers: Mapping[str, LongHandler] | None = None,
        tick: Callable[[], None] | None = None,
        threads: int = 1,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        tick_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self.long_handlers = dict(long_handlers or {})
        self.tick = tick
        self.lease_seconds = lease_seconds
        self.tick_seconds = tick_seconds
        self._last_tick = 0.0
        self._tick_lock = threading.Lock()
        self.threads = threads
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running: list[threading.Thread] = []

    def start(self) -> None:
        if self._running:
            return
        self._stop.clear()
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"skyatlas-worker-{i}", daemon=True)
            t.start()
            self._running.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._running:
            t.join(timeout)
        self._running.clear()

    def wake(self) -> None:
        self._wake.set()

    def drain(self) -> int:
        """Run every runnable job now, in this thread (tests, `skyatlas worker --once`)."""
        ran = 0
        self._maybe_tick(force=True)
        while self._run_one():
            ran += 1
        return ran

    def _run_one(self) -> bool:
        return run_next(
            self.store, self.handlers, self.long_handlers, lease_seconds=self.lease_seconds
        )

    def _maybe_tick(self, *, force: bool = False) -> None:
        """Queue scheduled work that is due (one thread of this process at a time)."""
        if self.tick is None:
            return
        now = time.monotonic()
        if not force and now - self._last_tick < self.tick_seconds:
            return
        if not self._tick_lock.acquire(blocking=False):
            return
        try:
            self._last_tick = now
            self.tick()
        finally:
            self._tick_lock.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._maybe_tick()
                while not self._stop.is_set() and self._run_one():
                    self._maybe_tick()
            except OperationalError as exc:  # store busy or unreachable: try again shortly
                log.warning("worker: store unavailable (%s); retrying", type(exc.orig).__name__)
            except Exception:
                log.exception("worker: unexpected error; retrying")
            self._wake.wait(self.poll_seconds)
