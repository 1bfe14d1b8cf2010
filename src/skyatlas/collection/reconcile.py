"""Reconcile: what one successful run of a collector and service account did not see.

A resource missed once becomes DISCONNECTED (it may be a transient gap in the cloud's answer);
missed by 3 successful runs in a row it becomes DELETED. Seen again, the upsert makes it ACTIVE
with its old id. Kinds of resource the run could not read (a `CollectError` naming them) are
left alone (in the region the error names, when it names one), and a run with an error that
names no kind reconciles nothing: an unreadable answer is not evidence that anything is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, not_, or_, update

from skyatlas.ids import utcnow
from skyatlas.store.tables import cloud_services

MISSES_UNTIL_DELETED = 3


@dataclass
class Reconciled:
    disconnected: int = 0
    deleted: int = 0


def reconcile(
    conn: Connection,
    *,
    workspace_id: str,
    collector_id: str,
    service_account_id: str | None,
    run_started: datetime,
    unreadable_kinds: Iterable[tuple[str, str | None, str | None]] = (),
) -> Reconciled:
    c = cloud_services.c
    where: list[ColumnElement[bool]] = [
        c.collector_id == collector_id,
        c.service_account_id == service_account_id
        if service_account_id is not None
        else c.service_account_id.is_(None),
        c.workspace_id == workspace_id,
        c.state.in_(("ACTIVE", "DISCONNECTED")),
        or_(c.last_collected_at.is_(None), c.last_collected_at < run_started),
    ]
    for group, type_, region in sorted(set(unreadable_kinds), key=str):
        spared = [c.cloud_service_group == group]
        if type_ is not None:
            spared.append(c.cloud_service_type == type_)
        if region is not None:
            spared.append(c.region_code == region)
        where.append(not_(and_(*spared)))
    now = utcnow()
    deleted = conn.execute(
        update(cloud_services)
        .where(*where, c.missed_count >= MISSES_UNTIL_DELETED - 1)
        .values(
            state="DELETED",
            missed_count=c.missed_count + 1,
            deleted_at=now,
            updated_at=now,
        )
    ).rowcount
    disconnected = conn.execute(
        update(cloud_services)
        .where(*where, and_(c.missed_count < MISSES_UNTIL_DELETED - 1))
        .values(state="DISCONNECTED", missed_count=c.missed_count + 1, updated_at=now)
    ).rowcount
    return Reconciled(disconnected=disconnected, deleted=deleted)
