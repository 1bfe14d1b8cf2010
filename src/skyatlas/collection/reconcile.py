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

from sqlalchemy import ColumnElement, Connection, and_, not_, or_, select, update

from skyatlas.ids import utcnow
from skyatlas.store.bulk import in_chunks
from skyatlas.store.tables import cloud_service_collections, cloud_services

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
    c, m = cloud_services.c, cloud_service_collections.c
    # What this collector and account collected before and not in this run, by its marks: a
    # range of their index. Read first, then the resources updated by id: given the same
    # subquery inside the UPDATE, SQLite walked every resource of the workspace instead.
    missed = (
        conn.execute(
            select(m.cloud_service_id).where(
                m.collector_id == collector_id,
                m.service_account_id == service_account_id
                if service_account_id is not None
                else m.service_account_id.is_(None),
                or_(m.last_collected_at.is_(None), m.last_collected_at < run_started),
            )
        )
        .scalars()
        .all()
    )
    where: list[ColumnElement[bool]] = [
        c.workspace_id == workspace_id,
        c.state.in_(("ACTIVE", "DISCONNECTED")),
    ]
    for group, type_, region in sorted(set(unreadable_kinds), key=str):
        spared = [c.cloud_service_group == group]
        if type_ is not None:
            spared.append(c.cloud_service_type == type_)
        if region is not None:
            spared.append(c.region_code == region)
        where.append(not_(and_(*spared)))
    now = utcnow()
    done = Reconciled()
    for chunk in in_chunks(missed):
        these = c.cloud_service_id.in_(chunk)
        done.deleted += conn.execute(
            update(cloud_services)
            .where(these, *where, c.missed_count >= MISSES_UNTIL_DELETED - 1)
            .values(
                state="DELETED",
                missed_count=c.missed_count + 1,
                deleted_at=now,
                updated_at=now,
            )
        ).rowcount
        done.disconnected += conn.execute(
            update(cloud_services)
            .where(these, *where, c.missed_count < MISSES_UNTIL_DELETED - 1)
            .values(state="DISCONNECTED", missed_count=c.missed_count + 1, updated_at=now)
        ).rowcount
    return done
