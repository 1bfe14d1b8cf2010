"""Cloud services: scoping, writes through one upsert path, reads through the query engine.

The API verbs, the bulk import and the collectors all write through `write_batch`, so a resource
is stored the same way whichever door it came in by.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, select, update

from skyatlas.errors import InvalidParameter, not_found
from skyatlas.identity.caller import Caller
from skyatlas.ids import new_id, utcnow
from skyatlas.inventory.collection_marks import Collector, write_marks
from skyatlas.inventory.custom_tags import detach_foreign_tags
from skyatlas.inventory.records import (
    TagScope,
    normalise_tags,
    search_text,
    tag_keys,
    tag_rows,
    upsert_key,
)
from skyatlas.store.bulk import in_chunks, insert_rows
from skyatlas.store.tables import (
    cloud_service_collections,
    cloud_service_tags,
    cloud_services,
    projects,
)

VISIBLE_STATES = ("ACTIVE", "DISCONNECTED")


def scope(conn: Connection, caller: Caller) -> list[ColumnElement[bool]]:
    return [
        cloud_services.c.domain_id == caller.domain_id,
        *caller.workspace_clauses(cloud_services.c.workspace_id),
        *caller.project_clauses(conn, cloud_services.c.project_id),
    ]


def mentions_state(query: Any) -> bool:
    return any(c.key == "state" for c in (*query.filter, *query.filter_or))


def state_scope(query: Any) -> list[ColumnElement[bool]]:
    """DELETED resources stay hidden unless the query asks about `state` itself."""
    if mentions_state(query):
        return []
    return [cloud_services.c.state.in_(VISIBLE_STATES)]


@dataclass
class Collection:
    """Who collected a batch (absent for API creates and plain imports)."""

    collector_id: str | None = None
    service_account_id: str | None = None
    secret_id: str | None = None
    collected_at: datetime | None = None
    #: Resources seen again already marked by this collector, account and secret: with a list
    #: here their new time is left to the caller (`collection_marks.touch`), which writes the
    #: marks of a whole run at once.
    pending: list[str] | None = None


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    ids: list[str] | None = None


def _row_values(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    provider = body["provider"]
    group = body["cloud_service_group"]
    type_ = body["cloud_service_type"]
    reference = body.get("reference") or {}
    ips = list(body.get("ip_addresses") or [])
    return {
        "provider": provider,
        "cloud_service_group": group,
        "cloud_service_type": type_,
        "name": body.get("name"),
        "account": body.get("account"),
        "instance_type": body.get("instance_type"),
        "instance_size": body.get("instance_size"),
        "region_code": body.get("region_code"),
        "resource_id": reference.get("resource_id"),
        "external_link": reference.get("external_link"),
        "ip_addresses": ips,
        "data": body.get("data") or {},
        "metadata": body.get("metadata") or {},
        "tags": normalise_tags(provider, body.get("tags")),
        "upsert_key": upsert_key(
            provider, group, type_, body.get("account"), reference.get("resource_id")
        ),
        "updated_at": now,
    }


#: What a write sets, in the digest that lets an unchanged resource skip its rewrite.
_CONTENT_KEYS = (
    "provider",
    "cloud_service_group",
    "cloud_service_type",
    "name",
    "account",
    "instance_type",
    "instance_size",
    "region_code",
    "resource_id",
    "external_link",
    "ip_addresses",
    "data",
    "metadata",
    "tags",
    "project_id",
)


def content_hash(values: dict[str, Any]) -> str:
    document = orjson.dumps([values.get(k) for k in _CONTENT_KEYS], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(document, digest_size=16).hexdigest()


def check_projects(
    conn: Connection, caller: Caller | None, workspace_id: str, project_ids: Iterable[str]
) -> None:
    """Every named project exists in the workspace and, for a member, is one of its own."""
    wanted = sorted(set(project_ids))
    if not wanted:
        return
    found = set(
        conn.execute(
            select(projects.c.project_id).where(
                projects.c.workspace_id == workspace_id, projects.c.project_id.in_(wanted)
            )
        ).scalars()
    )
    for project_id in wanted:
        if project_id not in found:
            raise not_found("project", "project_id", project_id)
        if caller is not None:
            caller.check_project(conn, project_id)


def write_batch(
    conn: Connection,
    *,
    domain_id: str,
    workspace_id: str,
    bodies: Sequence[dict[str, Any]],
    upsert: bool,
    default_project_id: str | None = None,
    collection: Collection | None = None,
    created_by: str | None = None,
) -> WriteResult:
    """Create (or, with `upsert`, create-or-update by the collection key) a batch of resources
    in one transaction. Bodies are validated create requests (dicts). `created_by` (an app's
    name, `import`, a collector's name) is kept on resources this batch creates."""
    now = utcnow()
    collection = collection or Collection()
    rows = []
    for body in bodies:
        values = _row_values(body, now)
        values["project_id"] = body.get("project_id") or default_project_id
        rows.append(values)
    existing: dict[str, str] = {}  # upsert key → cloud_service_id
    digests: dict[str, str | None] = {}
    projects_of: dict[str, str | None] = {}  # a re-collected resource's current project
    settled: set[str] = set()  # keys of resources ACTIVE and missed by no collection
    marks: dict[str, Collector | None] = {}  # an existing resource's collection mark
    keys = [r["upsert_key"] for r in rows if r["upsert_key"]]
    if keys:
        cs, m = cloud_services.c, cloud_service_collections.c
        for chunk in in_chunks(keys):
            for cid, key, digest, project_id, state, missed, *mark in conn.execute(
                select(
                    cs.cloud_service_id,
                    cs.upsert_key,
                    cs.content_hash,
                    cs.project_id,
                    cs.state,
                    cs.missed_count,
                    m.collector_id,
                    m.service_account_id,
                    m.secret_id,
                )
                .select_from(
                    cloud_services.outerjoin(
                        cloud_service_collections, m.cloud_service_id == cs.cloud_service_id
                    )
                )
                .where(cs.workspace_id == workspace_id, cs.upsert_key.in_(chunk))
            ):
                existing[key] = cid
                digests[key] = digest
                projects_of[cid] = project_id
                if state == "ACTIVE" and not missed:
                    settled.add(key)
                marks[cid] = Collector(*mark) if mark[0] is not None else None
    if existing and not upsert:
        raise InvalidParameter(
            "a resource with the same provider, group, type, account and reference.resource_id "
            "already exists; update it instead",
            code="ERROR_ALREADY_EXIST",
        )
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    # Re-seen and unchanged: the resource's row is not written at all (its collection mark is,
    # in its own table), unless it was missed or is not ACTIVE: then its state is reset. A
    # statement that sets `state` rewrites every index holding it and runs the state triggers
    # even when the value stays the same.
    seen_again = 0
    revived: list[dict[str, Any]] = []
    seen_in_batch: dict[str, dict[str, Any]] = {}
    ids: list[str] = []
    for values in rows:
        key = values["upsert_key"]
        if key and key in seen_in_batch:  # the same resource twice in one batch: last wins
            target = seen_in_batch[key]
            target.update({k: v for k, v in values.items() if k != "cloud_service_id"})
            ids.append(target["cloud_service_id"])
            continue
        if key and key in existing:
            cid = existing[key]
            values["content_hash"] = content_hash(values)
            if values["content_hash"] == digests[key]:
                if key in settled:
                    seen_again += 1
                else:
                    revived.append({"_id": cid})
                ids.append(cid)
                continue
            values.update(cloud_service_id=cid, state="ACTIVE", deleted_at=None, missed_count=0)
            updates.append(values)
        else:
            cid = new_id("cloud-svc")
            values.update(
                cloud_service_id=cid,
                domain_id=domain_id,
                workspace_id=workspace_id,
                state="ACTIVE",
                created_at=now,
                deleted_at=None,
                missed_count=0,
                created_by=created_by,
            )
            values["content_hash"] = content_hash(values)
            inserts.append(values)
        values["search_text"] = search_text(
            cid,
            values["name"],
            values["ip_addresses"],
            values["cloud_service_group"],
            values["cloud_service_type"],
            values["resource_id"],
        )
        if key:
            seen_in_batch[key] = values
        ids.append(cid)
    if inserts:
        insert_rows(conn, cloud_services, inserts)
    if updates:
        # Read before they are overwritten, and only for rewritten resources: decoding every
        # re-seen resource's tags cost a re-collection more than its writes.
        old_tags = _tags_of(conn, [u["cloud_service_id"] for u in updates])
        cols = [c for c in updates[0] if c not in ("cloud_service_id", "project_id")]
        assignments: dict[str, Any] = {c: bindparam(c) for c in cols}
        # A re-collected resource keeps its project unless the batch names one.
        assignments["project_id"] = func.coalesce(
            bindparam("project_id"), cloud_services.c.project_id
        )
        stmt = (
            update(cloud_services)
            .where(cloud_services.c.cloud_service_id == bindparam("_id"))
            .values(assignments)
        )
        conn.execute(stmt, [{**u, "_id": u["cloud_service_id"]} for u in updates])
        moved = [u["cloud_service_id"] for u in updates if u.get("project_id")]
        if moved:  # a resource moved to another project leaves that project's custom tags
            detach_foreign_tags(conn, moved)
        delete_tag_rows(
            conn,
            [
                t
                for u in updates
                for t in tag_keys(u["cloud_service_id"], old_tags.get(u["cloud_service_id"]) or {})
            ],
        )
    if revived:
        conn.execute(
            update(cloud_services)
            .where(cloud_services.c.cloud_service_id == bindparam("_id"))
            .values(_REVIVED),
            revived,
        )
    who = (
        Collector(collection.collector_id, collection.service_account_id, collection.secret_id)
        if collection.collector_id is not None
        else None
    )
    created = [r["cloud_service_id"] for r in inserts]
    write_marks(conn, who, collection.collected_at, created, marks, collection.pending)
    # Written or rewritten resources are ACTIVE; an update keeps its project unless the batch
    # names one (as the UPDATE above does).
    tag_values = [
        t
        for r in (*inserts, *updates)
        for t in tag_rows(
            r["cloud_service_id"],
            r["tags"],
            TagScope(
                domain_id,
                workspace_id,
                r["project_id"] or projects_of.get(r["cloud_service_id"]),
                visible=True,
            ),
        )
    ]
    if tag_values:
        # In the table's own order (it is clustered on its primary key): consecutive rows land
        # on the same pages instead of one random page each.
        tag_values.sort(key=_TAG_ORDER)
        insert_rows(conn, cloud_service_tags, tag_values)
    touched = seen_again + len(revived)
    return WriteResult(created=len(inserts), updated=len(updates) + touched, ids=ids)


#: What brings back a resource seen again unchanged after it had been missed (DISCONNECTED,
#: or DELETED by the reconcile).
_REVIVED = {"missed_count": 0, "state": "ACTIVE", "deleted_at": None}


_TAG_ORDER = operator.itemgetter("key", "value", "provider", "cloud_service_id")


def _tags_of(conn: Connection, ids: list[str]) -> dict[str, dict[str, dict[str, str]]]:
    """The stored `tags` of these resources, by id."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for chunk in in_chunks(ids):
        found.update(
            conn.execute(
                select(cloud_services.c.cloud_service_id, cloud_services.c.tags).where(
                    cloud_services.c.cloud_service_id.in_(chunk)
                )
            ).all()
        )
    return found


def delete_tag_rows(conn: Connection, rows: list[dict[str, str]]) -> None:
    """Remove tag-index rows by their full key (the index has no other access path)."""
    if not rows:
        return
    t = cloud_service_tags.c
    conn.execute(
        delete(cloud_service_tags).where(
            t.provider == bindparam("p"),
            t.key == bindparam("k"),
            t.value == bindparam("v"),
            t.cloud_service_id == bindparam("i"),
        ),
        [
            {"p": r["provider"], "k": r["key"], "v": r["value"], "i": r["cloud_service_id"]}
            for r in rows
        ],
    )


def replace_tags(
    conn: Connection,
    cloud_service_id: str,
    old: dict[str, dict[str, str]],
    new: dict[str, dict[str, str]],
    scope: TagScope,
) -> None:
    """Swap a resource's tag-index rows; `scope` is the resource's as it stands now (a change
    made to it afterwards reaches the new rows through the scope trigger)."""
    delete_tag_rows(conn, tag_keys(cloud_service_id, old))
    insert_rows(conn, cloud_service_tags, tag_rows(cloud_service_id, new, scope))
