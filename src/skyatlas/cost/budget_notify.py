"""Sending budget notices: the long-job handler of `budget-notify` jobs.

A webhook is slow network I/O that may need retries, so it never runs inside a database
transaction: the job is claimed (RUNNING, with a lease the worker renews), the POST is made
with retries, and the outcome is recorded on the notice row afterwards.

Retries: a connection error or timeout, a 5xx or a 429 answer, is tried again after a growing
pause (base, 2 * base, 4 * base, ...), up to `attempts` tries in one run; any other answer that
is not 2xx (4xx, 3xx) is final at once. When the last try fails, the job ends FAILED with the
reason.

Idempotency: every try of one notice — including a re-run of the job after its worker died
mid-send — carries the same `notice_id` in the body and as the `Idempotency-Key` header, so a
receiver can drop repeats. A notice already recorded as DELIVERED is not sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Connection, select, update

from skyatlas.cost.budget import DELIVERED, FAILED, NOTIFY_KIND
from skyatlas.errors import SkyatlasError
from skyatlas.ids import utcnow
from skyatlas.store.engine import Store
from skyatlas.store.tables import budget_notices

log = logging.getLogger(__name__)

TASK_KIND = NOTIFY_KIND
USER_AGENT = "skyatlas-budget-notify/1"


def record(conn: Connection, notice_id: str, status: str, error: str | None = None) -> None:
    """The outcome of a notice (its row may be gone: the budget was deleted meanwhile)."""
    values: dict[str, Any] = {"status": status, "error": error}
    if status == DELIVERED:
        values["delivered_at"] = utcnow()
    conn.execute(
        update(budget_notices).where(budget_notices.c.notice_id == notice_id).values(values)
    )


class BudgetNotifyTask:
    """POST a notice's body to its webhook, with retries (see the module's description)."""

    def __init__(
        self,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self.sleep = sleep
        self.transport = transport

    def abandon(self, conn: Connection, job: Any, reason: str) -> None:
        record(conn, job.payload["notice_id"], FAILED, reason)

    def run(self, store: Store, job: Any) -> None:
        payload = job.payload
        notice_id = payload["notice_id"]
        with store.read() as conn:
            status = conn.execute(
                select(budget_notices.c.status).where(budget_notices.c.notice_id == notice_id)
            ).scalar_one_or_none()
        if status == DELIVERED:  # a re-run after the worker stopped between send and finish
            return
        error = self.send(payload["url"], payload["body"], notice_id)
        with store.begin(write=True) as conn:
            record(conn, notice_id, FAILED if error else DELIVERED, error)
        if error:
            raise SkyatlasError(f"budget notice {notice_id} not delivered: {error}")

    def send(self, url: str, body: dict[str, Any], notice_id: str) -> str | None:
        """POST until delivered; None, or why it was not."""
        headers = {"Idempotency-Key": notice_id, "User-Agent": USER_AGENT}
        problem = "not sent"
        with httpx.Client(
            timeout=self.timeout, follow_redirects=False, transport=self.transport
        ) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.post(url, json=body, headers=headers)
                except httpx.InvalidURL as exc:
                    return f"the webhook URL is not usable ({exc}); not retried"
                except httpx.HTTPError as exc:
                    problem = f"the webhook could not be reached ({type(exc).__name__}: {exc})"
                    retry = True
                else:
                    if response.is_success:
                        return None
                    problem = (
                        f"the webhook answered {response.status_code} {response.reason_phrase}"
                    )
                    # 429 Too Many Requests asks to come back later, like a 5xx
                    retry = response.status_code >= 500 or response.status_code == 429
                if not retry:
                    return f"{problem}; not retried"
                log.info("budget notice %s: try %d failed: %s", notice_id, attempt, problem)
                if attempt < self.attempts:
                    self.sleep(self.base_delay * 2 ** (attempt - 1))
        return f"{problem} (after {self.attempts} tries)"
