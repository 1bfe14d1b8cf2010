"""A resource's `collection_info`, kept in `cloud_service_collections`.

Every collection run marks every resource it sees with the collector, service account, secret
and time. These marks live in a narrow table of their own so that a run that finds a resource
unchanged writes a few dozen bytes instead of the resource's whole row: in the steady state of
a scheduled collector that is nearly every resource of every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from skyatlas.ids import iso
from skyatlas.store.bulk import in_chunks, insert_rows
from skyatlas.store.tables import cloud_service_collections


class Collector(NamedTuple):
    """Who collected a resource: what a mark says besides when."""

    collector_id: str
    service_account_id: str | None
    secret_id: str | None


def write_marks(
    conn: Connection,
    who: Collector | None,
    collected_at: datetime | None,
    created: Sequence[str],
    seen: Mapping[str, Collector | None],
    pending: list[str] | None = None,
) -> None:
    """Mark resources as written by `who` at `collected_at`.

    `created` are resources this write inserted (they have no mark yet); `seen` are existing
    resources it wrote or saw again, each with the mark it had before. A write that is not a
    collection (`who` None: an API create, an import) leaves its resources unmarked, so no
    collector's reconcile counts them as its own any more.

    Resources already marked by `who` only need the new time. With `pending`, their ids are
    added to it for the caller to `touch` later, all at once, instead of now.
    """
    if who is None:
        _delete(conn, [cid for cid, mark in seen.items() if mark is not None])
        return
    same = [cid for cid, mark in seen.items() if mark == who]
    if pending is not None:
        pending.extend(same)
    else:
        touch(conn, same, collected_at)
    c = cloud_service_collections.c
    fields = {**who._asdict(), "last_collected_at": collected_at}
    others = [{"cloud_service_id": cid, **fields} for cid, mark in seen.items() if mark != who]
    if others:  # newly collected, or by another collector, account or secret
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(cloud_service_collections)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[c.cloud_service_id],
                set_={k: stmt.excluded[k] for k in fields},
            ),
            others,
        )
    if created:
        insert_rows(
            conn,
            cloud_service_collections,
            [{"cloud_service_id": cid, **fields} for cid in created],
        )


def touch(conn: Connection, ids: list[str], collected_at: datetime | None) -> None:
    """Set the time of these resources' marks (a collection saw them again).

    In id order, one statement per chunk of ids: the marks are keyed by the resource's random
    id, so a batch of a collection's resources lands on nearly as many pages as it has rows,
    and each page is written again at each commit. Touched all at once, in order, a run writes
    each page of its marks once (at 100,000 resources: 2,500 pages instead of 70,000).
    """
    c = cloud_service_collections.c
    for chunk in in_chunks(sorted(set(ids))):
        conn.execute(
            update(cloud_service_collections)
            .where(c.cloud_service_id.in_(chunk))
            .values(last_collected_at=collected_at)
        )


def _delete(conn: Connection, ids: list[str]) -> None:
    c = cloud_service_collections.c
    for chunk in in_chunks(ids):
        conn.execute(delete(cloud_service_collections).where(c.cloud_service_id.in_(chunk)))


def collection_info_of(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The `collection_info` of these resources, by id (unmarked ones are absent)."""
    c = cloud_service_collections.c
    found: dict[str, dict[str, Any]] = {}
    for chunk in in_chunks(list(ids)):
        for row in conn.execute(
            select(cloud_service_collections).where(c.cloud_service_id.in_(chunk))
        ):
            found[row.cloud_service_id] = info(
                row.collector_id, row.service_account_id, row.secret_id, row.last_collected_at
            )
    return found


def info(
    collector_id: str | None,
    service_account_id: str | None,
    secret_id: str | None,
    last_collected_at: datetime | None,
) -> dict[str, Any]:
    """The record's `collection_info` object."""
    return {
        "service_account_id": service_account_id,
        "secret_id": secret_id,
        "collector_id": collector_id,
        "last_collected_at": iso(last_collected_at),
    }


UNCOLLECTED = info(None, None, None, None)


def add_collection_info(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Fill the `collection_info` of rendered records in one query."""
    found = collection_info_of(conn, [r["cloud_service_id"] for r in records])
    for record in records:
        record["collection_info"] = found.get(record["cloud_service_id"], dict(UNCOLLECTED))
