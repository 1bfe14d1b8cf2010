"""Custom tags: create, delete, attach/detach (asynchronous), search, get; and operations.

A change is checked in full when it is accepted — a request that would fail is a 400 and
enqueues nothing — then applied by a worker through the job queue, in acceptance order (one
queue per domain, so per-project order holds a fortiori). Checks look ahead at operations
accepted but not applied yet, so "create a tag, then attach it" works without waiting.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy import (
    Connection,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)

from skyatlas.errors import Conflict, InvalidParameter, NotFound
from skyatlas.explorer import filter_string, kcrn
from skyatlas.explorer.filter_string import Filter
from skyatlas.explorer.search import resource_id_is
from skyatlas.explorer.sqlmatch import form_parts, matches
from skyatlas.identity.caller import Caller
from skyatlas.ids import iso, new_id, utcnow
from skyatlas.inventory.service import VISIBLE_STATES, scope
from skyatlas.jobs import queue
from skyatlas.store.tables import (
    KCRN,
    cloud_service_tags,
    custom_tag_links,
    custom_tag_links_with_tags,
    custom_tags,
    projects,
)
from skyatlas.store.tables import cloud_services as cs

MAX_ITEMS = 100
KIND_CREATE, KIND_DELETE, KIND_ATTACH = "tag.create", "tag.delete", "tag.attach"
KINDS = (KIND_CREATE, KIND_DELETE, KIND_ATTACH)
TAG_SORT = {
    "tag.key": "key",
    "tag.value": "value",
    "tag.type": "type",
    "tag.created_at": "created_at",
}


def queue_of(caller: Caller) -> str:
    return f"tags:{caller.domain_id}"


# -- request models --------------------------------------------------------------------------


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: StrictStr = Field(min_length=1, max_length=128)
    value: StrictStr = Field("", max_length=256)


class TagCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[TagIn] = Field(min_length=1, max_length=MAX_ITEMS)
    project_id: StrictStr | None = Field(
        None, description="The tags' project; required unless the app is bound to one project."
    )


class TagDeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag_ids: list[StrictStr] = Field(min_length=1, max_length=MAX_ITEMS)


class TagAttachRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kcrns: list[StrictStr] = Field(max_length=MAX_ITEMS)
    connect_tag_ids: list[StrictStr] = Field(max_length=MAX_ITEMS)
    disconnect_tag_ids: list[StrictStr] = Field(max_length=MAX_ITEMS)


class TagSearchFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filter_string: StrictStr | None = None


class TagSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filter: TagSearchFilter | None = None
    offset: StrictInt = Field(0, ge=0)
    limit: StrictInt = Field(500, ge=1, le=500)
    sort: StrictStr | None = Field(
        None, description="`+`/`-` tag.key, tag.value, tag.type or tag.created_at."
    )


# -- visibility ------------------------------------------------------------------------------


def _tag_scope(conn: Connection, caller: Caller) -> list[Any]:
    return [
        custom_tags.c.domain_id == caller.domain_id,
        *caller.workspace_clauses(custom_tags.c.workspace_id),
        *caller.project_clauses(conn, custom_tags.c.project_id),
    ]


def _check_text(label: str, text: str) -> None:
    """Control characters (Unicode category Cc) only: other spaces and joiners are text."""
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidParameter(f"{label} must not contain control characters")


def _pending_created(conn: Connection, caller: Caller) -> dict[str, dict[str, Any]]:
    """Tags of accepted, not yet applied creates the caller could see once applied:
    tag_id → {key, value, project_id, …}."""
    visible = caller.project_ids(conn) if caller.is_member else None
    out: dict[str, dict[str, Any]] = {}
    for payload in queue.pending_payloads(conn, queue_of(caller), KIND_CREATE):
        if not caller.is_admin and payload["workspace_id"] != caller.workspace_id:
            continue
        if visible is not None and payload["project_id"] not in visible:
            continue
        for tag in payload["tags"]:
            out[tag["tag_id"]] = {**tag, "project_id": payload["project_id"]}
    return out


def _known_tags(conn: Connection, caller: Caller, tag_ids: Iterable[str]) -> dict[str, str]:
    """tag_id → project_id of the given custom tags the caller can see (applied or pending).

    Pending operations are read before the table: a create applied in between is then seen in
    the table (read committed), never missed by both reads."""
    wanted = sorted(set(tag_ids))
    pending = _pending_created(conn, caller)
    found = {
        r.tag_id: r.project_id
        for r in conn.execute(
            select(custom_tags.c.tag_id, custom_tags.c.project_id).where(
                custom_tags.c.tag_id.in_(wanted), *_tag_scope(conn, caller)
            )
        )
    }
    for tag_id in wanted:
        if tag_id not in found and tag_id in pending:
            found[tag_id] = pending[tag_id]["project_id"]
    return found


def _project(conn: Connection, caller: Caller, project_id: str | None) -> Any:
    if project_id is None:
        if caller.is_member and caller.project_id:
            project_id = caller.project_id
        else:
            raise InvalidParameter(
                "project_id is required: custom tags belong to a project, and this app is not "
                "bound to exactly one"
            )
    row = conn.execute(
        select(projects.c.project_id, projects.c.workspace_id).where(
            projects.c.project_id == project_id,
            projects.c.domain_id == caller.domain_id,
            *caller.workspace_clauses(projects.c.workspace_id),
        )
    ).first()
    if row is None:
        raise NotFound(f"project not found (project_id={project_id})")
    caller.check_project(conn, project_id)
    return row


# -- accepting -------------------------------------------------------------------------------


def accept_create(conn: Connection, caller: Caller, req: TagCreateRequest) -> dict[str, Any]:
    project = _project(conn, caller, req.project_id)
    pairs: list[tuple[str, str]] = []
    for i, tag in enumerate(req.tags):
        _check_text(f"tags[{i}].key", tag.key)
        _check_text(f"tags[{i}].value", tag.value)
        pairs.append((tag.key, tag.value))
    dupes = sorted({p for p in pairs if pairs.count(p) > 1})
    if dupes:
        raise InvalidParameter(f"the request names a tag twice: {_pairs_text(dupes)}")
    queue.lock_queue(conn, queue_of(caller))
    # Pending first, then the table (see _known_tags): a create applied in between is not missed.
    pending = {
        (t["key"], t["value"])
        for t in _pending_created(conn, caller).values()
        if t["project_id"] == project.project_id
    }
    existing = pending | {
        (r.key, r.value)
        for r in conn.execute(
            select(custom_tags.c.key, custom_tags.c.value).where(
                custom_tags.c.project_id == project.project_id,
                or_(*(and_(custom_tags.c.key == k, custom_tags.c.value == v) for k, v in pairs)),
            )
        )
    }
    clash = sorted(set(pairs) & existing)
    if clash:
        raise Conflict(
            f"project {project.project_id} already has the tag(s) {_pairs_text(clash)}; "
            "nothing was created"
        )
    tags = [{"tag_id": new_id("tag"), "key": k, "value": v} for k, v in pairs]
    op = queue.enqueue(
        conn,
        kind=KIND_CREATE,
        queue=queue_of(caller),
        domain_id=caller.domain_id,
        workspace_id=project.workspace_id,
        project_id=project.project_id,
        payload={
            "project_id": project.project_id,
            "workspace_id": project.workspace_id,
            "tags": tags,
            "app_id": caller.app_id,
        },
    )
    return {"success": True, "tags": tags, "operation_id": op}


def _pairs_text(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs)


def accept_delete(conn: Connection, caller: Caller, req: TagDeleteRequest) -> dict[str, Any]:
    queue.lock_queue(conn, queue_of(caller))
    known = _known_tags(conn, caller, req.tag_ids)
    unknown = [t for t in dict.fromkeys(req.tag_ids) if t not in known]
    if unknown:
        raise InvalidParameter(f"no such custom tag(s): {', '.join(unknown)}; nothing was deleted")
    op = queue.enqueue(
        conn,
        kind=KIND_DELETE,
        queue=queue_of(caller),
        domain_id=caller.domain_id,
        workspace_id=caller.workspace_id,
        payload={"tag_ids": sorted(set(req.tag_ids)), "app_id": caller.app_id},
    )
    return {"success": True, "operation_id": op}


def resolve_kcrns(conn: Connection, caller: Caller, kcrns: Sequence[str]) -> dict[str, list[Any]]:
    """KCRN → the visible resources that have it (usually one)."""
    out: dict[str, list[Any]] = {}
    for text in dict.fromkeys(kcrns):
        _region, _project, service, rtype, rid = kcrn.split(text)
        where = [
            *scope(conn, caller),
            cs.c.state.in_(VISIBLE_STATES),
            cs.c.cloud_service_group == service,
            cs.c.cloud_service_type == rtype,
            text == KCRN,
            resource_id_is(rid),
        ]
        out[text] = list(conn.execute(select(cs.c.cloud_service_id, cs.c.project_id).where(*where)))
    return out


def accept_attach(conn: Connection, caller: Caller, req: TagAttachRequest) -> dict[str, Any]:
    if not req.kcrns:
        raise InvalidParameter("kcrns is empty: name at least one resource")
    if not (req.connect_tag_ids or req.disconnect_tag_ids):
        raise InvalidParameter(
            "connect_tag_ids and disconnect_tag_ids are both empty: nothing to change"
        )
    both = sorted(set(req.connect_tag_ids) & set(req.disconnect_tag_ids))
    if both:
        raise InvalidParameter(f"tag(s) both connected and disconnected: {', '.join(both)}")
    resources = resolve_kcrns(conn, caller, req.kcrns)
    unknown = [k for k, rows in resources.items() if not rows]
    if unknown:
        raise InvalidParameter(f"no such resource(s): {', '.join(unknown)}; nothing was applied")
    tag_ids = [*req.connect_tag_ids, *req.disconnect_tag_ids]
    queue.lock_queue(conn, queue_of(caller))
    known = _known_tags(conn, caller, tag_ids)
    missing = [t for t in dict.fromkeys(tag_ids) if t not in known]
    if missing:
        raise InvalidParameter(
            f"no such custom tag(s): {', '.join(missing)} (system tags cannot be attached or "
            "detached); nothing was applied"
        )
    for text, rows in resources.items():
        for row in rows:
            for tag_id in tag_ids:
                if known[tag_id] != row.project_id:
                    raise InvalidParameter(
                        f"tag {tag_id} belongs to project {known[tag_id]}, resource {text} to "
                        f"{row.project_id or 'no project'}: a custom tag can only be attached "
                        "to its own project's resources; nothing was applied"
                    )
    ids = sorted({r.cloud_service_id for rows in resources.values() for r in rows})
    projects_named = sorted(set(known.values()))
    op = queue.enqueue(
        conn,
        kind=KIND_ATTACH,
        queue=queue_of(caller),
        domain_id=caller.domain_id,
        workspace_id=caller.workspace_id,
        project_id=projects_named[0] if len(projects_named) == 1 else None,
        payload={
            "cloud_service_ids": ids,
            "app_id": caller.app_id,
            "connect": list(dict.fromkeys(req.connect_tag_ids)),
            "disconnect": list(dict.fromkeys(req.disconnect_tag_ids)),
        },
    )
    return {"success": True, "operation_id": op}


# -- applying (in the worker, in acceptance order) ---------------------------------------------


def apply_create(conn: Connection, job: Any) -> None:
    p = job.payload
    now = utcnow()
    clash = conn.execute(
        select(custom_tags.c.key, custom_tags.c.value).where(
            custom_tags.c.project_id == p["project_id"],
            or_(
                *(
                    and_(custom_tags.c.key == t["key"], custom_tags.c.value == t["value"])
                    for t in p["tags"]
                )
            ),
        )
    ).first()
    if clash is not None:
        raise Conflict(f"the tag {clash.key}={clash.value} exists already in the project")
    conn.execute(
        insert(custom_tags),
        [
            {
                "tag_id": t["tag_id"],
                "domain_id": job.domain_id,
                "workspace_id": p["workspace_id"],
                "project_id": p["project_id"],
                "key": t["key"],
                "value": t["value"],
                "created_at": now,
            }
            for t in p["tags"]
        ],
    )


def apply_delete(conn: Connection, job: Any) -> None:
    ids = job.payload["tag_ids"]
    conn.execute(delete(custom_tag_links).where(custom_tag_links.c.tag_id.in_(ids)))
    conn.execute(delete(custom_tags).where(custom_tags.c.tag_id.in_(ids)))


def apply_attach(conn: Connection, job: Any) -> None:
    p = job.payload
    wanted = [*p["connect"], *p["disconnect"]]
    present = set(
        conn.execute(select(custom_tags.c.tag_id).where(custom_tags.c.tag_id.in_(wanted))).scalars()
    )
    gone = [t for t in wanted if t not in present]
    if gone:
        raise InvalidParameter(f"tag(s) deleted before this operation applied: {', '.join(gone)}")
    ids = p["cloud_service_ids"]
    if p["disconnect"]:
        conn.execute(
            delete(custom_tag_links).where(
                custom_tag_links.c.tag_id.in_(p["disconnect"]),
                custom_tag_links.c.cloud_service_id.in_(ids),
            )
        )
    if p["connect"]:
        have = {
            (r.tag_id, r.cloud_service_id)
            for r in conn.execute(
                select(custom_tag_links).where(
                    custom_tag_links.c.tag_id.in_(p["connect"]),
                    custom_tag_links.c.cloud_service_id.in_(ids),
                )
            )
        }
        rows = [
            {"tag_id": t, "cloud_service_id": c}
            for t in p["connect"]
            for c in ids
            if (t, c) not in have
        ]
        if rows:
            conn.execute(insert(custom_tag_links), rows)


HANDLERS = {KIND_CREATE: apply_create, KIND_DELETE: apply_delete, KIND_ATTACH: apply_attach}


# -- reading ---------------------------------------------------------------------------------


def _visible_resources(conn: Connection, caller: Caller) -> list[Any]:
    return [*scope(conn, caller), cs.c.state.in_(VISIBLE_STATES)]


def _wanted_types(flt: Filter) -> set[str]:
    """Which halves of the tag relation a filter can match at all: `tag.type=custom` need not
    group every provider tag of the store (the expensive half) only to throw it away."""
    wanted = {"custom", "system"}
    for term in flt.terms:
        if term.key == "tag.type" and term.pattern.form == "exact":
            wanted = wanted - {term.pattern.text} if term.negated else wanted & {term.pattern.text}
    return wanted


def _tag_rows(conn: Connection, caller: Caller, wanted: set[str] | None = None) -> Any:
    """Every tag the caller can see as one relation: custom tags (with their own counts) and
    system tags grouped by key and value."""
    wanted = {"custom", "system"} if wanted is None else wanted
    visible = _visible_resources(conn, caller)
    linked = (
        select(func.count())
        .select_from(
            custom_tag_links.join(cs, cs.c.cloud_service_id == custom_tag_links.c.cloud_service_id)
        )
        .where(custom_tag_links.c.tag_id == custom_tags.c.tag_id, *visible)
        .scalar_subquery()
    )
    custom = select(
        custom_tags.c.tag_id.label("tag_id"),
        custom_tags.c.project_id.label("project_id"),
        custom_tags.c.key.label("key"),
        custom_tags.c.value.label("value"),
        literal("custom").label("type"),
        custom_tags.c.created_at.label("created_at"),
        linked.label("resource_count"),
    ).where(*_tag_scope(conn, caller))
    system = (
        select(
            null().label("tag_id"),
            null().label("project_id"),
            cloud_service_tags.c.key.label("key"),
            cloud_service_tags.c.value.label("value"),
            literal("system").label("type"),
            func.min(cs.c.created_at).label("created_at"),
            func.count(func.distinct(cs.c.cloud_service_id)).label("resource_count"),
        )
        .select_from(
            cloud_service_tags.join(
                cs, cs.c.cloud_service_id == cloud_service_tags.c.cloud_service_id
            )
        )
        .where(*visible)
        .group_by(cloud_service_tags.c.key, cloud_service_tags.c.value)
    )
    if wanted == {"custom"}:
        return custom.subquery("tags")
    if wanted == {"system"}:
        return system.subquery("tags")
    if not wanted:
        return custom.where(false()).subquery("tags")
    return union_all(custom, system).subquery("tags")


def _tag_conditions(t: Any, flt: Filter, dialect: str) -> list[Any]:
    out = []
    for term in flt.terms:
        column = {"tag.key": t.c.key, "tag.value": t.c.value, "tag.type": t.c.type}[term.key]
        clause = matches(column, form_parts(term.pattern.form, term.pattern.text), dialect)
        out.append(~clause if term.negated else clause)
    if "tag:in_use" in flt.words:
        out.append(t.c.resource_count > 0)
    if "tag:not_in_use" in flt.words:
        out.append(t.c.resource_count == 0)
    return out


def _render_tag(row: Any, *, count: bool = True) -> dict[str, Any]:
    out = {
        "tag_id": row.tag_id,
        "project_id": row.project_id,
        "key": row.key,
        "value": row.value,
        "type": row.type,
        "created_at": iso(row.created_at),
    }
    if count:
        out["resource_count"] = row.resource_count
    return out


def search_tags(conn: Connection, caller: Caller, req: TagSearchRequest) -> dict[str, Any]:
    flt = filter_string.parse(
        req.filter.filter_string if req.filter else None, filter_string.TAG_GRAMMAR
    )
    t = _tag_rows(conn, caller, _wanted_types(flt))
    where = _tag_conditions(t, flt, conn.dialect.name)
    tie = [t.c.type, t.c.key, t.c.value, t.c.tag_id]
    order = tie
    if req.sort:
        desc = req.sort.startswith("-")
        key = req.sort[1:] if req.sort[:1] in "+-" else req.sort
        if key not in TAG_SORT:
            raise InvalidParameter(
                f'sort "{req.sort}" is not supported; use +field or -field with one of '
                + ", ".join(TAG_SORT)
            )
        column = t.c[TAG_SORT[key]]
        order = [column.desc() if desc else column.asc(), *tie]
    total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
    rows = conn.execute(
        select(t).where(*where).order_by(*order).offset(req.offset).limit(req.limit)
    ).all()
    tags = [_render_tag(r) for r in rows]
    return {"success": True, "total_count": total, "count": len(tags), "tags": tags}


def get_tag(conn: Connection, caller: Caller, tag_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(
            custom_tags.c.tag_id,
            custom_tags.c.project_id,
            custom_tags.c.key,
            custom_tags.c.value,
            literal("custom").label("type"),
            custom_tags.c.created_at,
        ).where(custom_tags.c.tag_id == tag_id, *_tag_scope(conn, caller))
    ).first()
    if row is None:
        raise NotFound(f"tag not found (tag_id={tag_id})")
    return {"success": True, "tag": _render_tag(row, count=False)}


def custom_tags_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Custom tags attached to each of these resources, ordered by key and value."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(
            custom_tag_links.c.cloud_service_id,
            custom_tags.c.tag_id,
            custom_tags.c.key,
            custom_tags.c.value,
        )
        .select_from(custom_tag_links_with_tags())
        .where(custom_tag_links.c.cloud_service_id.in_(list(ids)))
        .order_by(custom_tags.c.key, custom_tags.c.value, custom_tags.c.tag_id)
    )
    for r in rows:
        out[r.cloud_service_id].append(
            {"tag_id": r.tag_id, "key": r.key, "value": r.value, "type": "custom"}
        )
    return out


def get_operation(conn: Connection, caller: Caller, operation_id: str) -> dict[str, Any]:
    job = queue.get(conn, operation_id)
    visible = (
        job is not None
        and job.kind in KINDS
        and job.domain_id == caller.domain_id
        and (
            caller.is_admin
            or job.payload.get("app_id") == caller.app_id
            or (not caller.is_member and job.workspace_id == caller.workspace_id)
        )
    )
    if not visible:
        raise NotFound(f"operation not found (operation_id={operation_id})")
    return {
        "success": True,
        "operation": {
            "operation_id": job.job_id,
            "kind": job.kind,
            "state": job.state,
            "created_at": iso(job.created_at),
            "finished_at": iso(job.finished_at),
            "error": job.error,
        },
    }
