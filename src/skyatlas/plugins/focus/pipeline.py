"""Running the stages of a read side by side: DuckDB producing batches, Arrow assembling the
ones before (two at a time), the core storing the ones before that.

Each stage spends its time in C++ (DuckDB, Arrow kernels) with the GIL released, so giving
the stages their own threads lets them overlap and use every core, where one batch going
through the stages after another would leave all but one core idle most of the time.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_ITEM, _END, _ERROR = 0, 1, 2
_POLL_S = 0.1


def prefetch(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """`source`'s items, produced in a thread up to `depth` ahead of the consumer.

    An exception of `source` is raised here, in the consumer, where it would have been
    without the thread. Closing this generator (or leaving its loop) stops the thread and
    closes `source` there; it waits at most for the item being produced."""
    slots: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[int, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put((_ITEM, item)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((_ERROR, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name="skyatlas-focus-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _END:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stop.set()  # a producer waiting for room sees it within _POLL_S
        thread.join()


def ordered_map(function: Callable[[T], R], source: Iterator[T], workers: int = 2) -> Iterator[R]:
    """`function` of each item of `source`, computed by `workers` threads at once (at most
    `workers` items ahead of the consumer), in `source`'s order.

    An exception of `function` is raised here, for the item it failed on. Closing this
    generator cancels what has not started, waits for what has, and closes `source`."""
    pending: deque[Future[R]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="skyatlas-focus-build")
    try:
        for item in source:
            pending.append(pool.submit(function, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(source, "close", None)
        if close is not None:
            close()
