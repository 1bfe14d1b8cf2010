"""Tags as the Resource Explorer dialect sees them.

System tags are the provider tags collection brings in (`tags.<provider>.<key>` in the SpaceONE
dialect): read-only here, no tag_id. They are looked up in `cloud_service_tags`, keyed by key and
value first, so `tag.key=env&tag.value=prod` is one range scan. Custom tags (a project's own,
with ids) are attached through `custom_tag_links`; a tag condition matches either kind.

A search for exactly one key=value pair is counted from the scope columns tag rows carry (one
range of `ix_cloud_service_tags_count`), plus the few resources only a custom tag gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, or_, select, true, union_all

from skyatlas.explorer.filter_string import Filter, Pattern
from skyatlas.explorer.sqlmatch import form_parts, matches
from skyatlas.identity.caller import Caller
from skyatlas.inventory.service import VISIBLE_STATES, scope
from skyatlas.store.counts import cloud_service_tag_counts
from skyatlas.store.tables import cloud_service_tags as system_tags
from skyatlas.store.tables import cloud_services as cs
from skyatlas.store.tables import custom_tag_links, custom_tag_links_with_tags, custom_tags


def _where(table: Any, key: Sequence[Pattern], value: Sequence[Pattern], dialect: str) -> list:
    where = [matches(table.c.key, form_parts(p.form, p.text), dialect) for p in key]
    return where + [matches(table.c.value, form_parts(p.form, p.text), dialect) for p in value]


def tag_ids_matching(key: Sequence[Pattern], value: Sequence[Pattern], dialect: str) -> Any:
    """Ids of resources having one tag — system or custom — whose key matches every `key`
    pattern and whose value matches every `value` pattern."""
    system = select(system_tags.c.cloud_service_id).where(*_where(system_tags, key, value, dialect))
    custom = (
        select(custom_tag_links.c.cloud_service_id)
        .select_from(custom_tag_links_with_tags())
        .where(*_where(custom_tags, key, value, dialect))
    )
    return union_all(system, custom)


def row_has_tag(
    key: Sequence[Pattern], value: Sequence[Pattern], dialect: str
) -> ColumnElement[bool]:
    """The same test as `cloud_service_id IN tag_ids_matching(...)`, made on the row itself: its
    own `tags` document (which the tag rows mirror) or its custom-tag links.

    For a page walked along the KCRN index over a broad tag: the id set would be built in full
    first (449,100 ids: ~0.5 s on SQLite; PostgreSQL, expecting a match early, compared each
    walked row with all of them: 4.9 s), while a walk stops after a page, reading a handful of
    rows per match."""
    if dialect == "postgresql":  # a JSONB document: its members' values are JSON, then text
        outer, inner = func.jsonb_each(cs.c.tags), func.jsonb_each_text
    else:
        outer, inner = func.json_each(cs.c.tags), func.json_each
    provider = outer.table_valued("key", "value").alias("provider")
    pair = inner(provider.c.value).table_valued("key", "value").alias("pair")
    system = exists(
        select(1).select_from(provider).join(pair, true()).where(*_where(pair, key, value, dialect))
    )
    custom = exists(
        select(1)
        .select_from(custom_tag_links_with_tags())
        .where(
            custom_tag_links.c.cloud_service_id == cs.c.cloud_service_id,
            *_where(custom_tags, key, value, dialect),
        )
    )
    return or_(system, custom)


def exact_pair(flt: Filter) -> tuple[str, str] | None:
    """(key, value) when the filter is nothing but `tag.key=K&tag.value=V`, both exact."""
    if flt.words or len(flt.terms) != 2:
        return None
    by_key = {t.key: t for t in flt.terms}
    key, value = by_key.get("tag.key"), by_key.get("tag.value")
    if key is None or value is None or key.negated or value.negated:
        return None
    if key.pattern.form != "exact" or value.pattern.form != "exact":
        return None
    return key.pattern.text, value.pattern.text


def system_pair_count(conn: Connection, caller: Caller, key: str, value: str) -> Any:
    """Count of the system tag rows that each count one resource the caller sees for the pair:
    on SQLite a sum over the pair's kept counts (one row per scope, see
    `skyatlas.store.counts`), elsewhere a range of `ix_cloud_service_tags_count` read from the
    index alone."""
    if conn.dialect.name == "sqlite":
        k = cloud_service_tag_counts.c
        return select(func.coalesce(func.sum(k.n), 0)).where(
            k.key == key,
            k.value == value,
            k.domain_id == caller.domain_id,
            *caller.workspace_clauses(k.workspace_id),
            *caller.project_clauses(conn, k.project_id),
        )
    t = system_tags.c
    return (
        select(func.count())
        .select_from(system_tags)
        .where(
            t.key == key,
            t.value == value,
            t.domain_id == caller.domain_id,
            t.visible == true(),
            t.first_provider == true(),
            *caller.workspace_clauses(t.workspace_id),
            *caller.project_clauses(conn, t.project_id),
        )
    )


def count_with_pair(conn: Connection, caller: Caller, key: str, value: str) -> int:
    """How many resources the caller sees that have a tag key=value, system or custom: the
    system rows counting their resource (visible, first provider, in scope) plus the resources
    a custom tag alone gives the pair."""
    system = conn.execute(system_pair_count(conn, caller, key, value)).scalar_one()
    linked = conn.execute(
        select(cs.c.cloud_service_id, cs.c.tags)
        .select_from(
            custom_tag_links_with_tags().join(
                cs, cs.c.cloud_service_id == custom_tag_links.c.cloud_service_id
            )
        )
        .where(
            custom_tags.c.key == key,
            custom_tags.c.value == value,
            *scope(conn, caller),
            cs.c.state.in_(VISIBLE_STATES),
        )
        .distinct()
    ).all()
    custom_only = sum(
        1
        for _, tags in linked
        if not any(pairs.get(key) == value for pairs in (tags or {}).values())
    )
    return system + custom_only


def tagged_ids() -> Any:
    """Ids of resources that have at least one tag (system or custom)."""
    return union_all(
        select(system_tags.c.cloud_service_id), select(custom_tag_links.c.cloud_service_id)
    )


def system_tags_of(tags: dict[str, dict[str, str]] | None) -> list[dict[str, Any]]:
    """A resource's provider tags as Resource Explorer tags, ordered by key, value, provider."""
    out = [
        (key, value, provider)
        for provider, pairs in (tags or {}).items()
        for key, value in pairs.items()
    ]
    return [{"tag_id": None, "key": k, "value": v, "type": "system"} for k, v, _ in sorted(out)]


def resource_tags(conn: Connection, rows: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every tag of each row, custom tags first (rows carry `cloud_service_id` and `tags`)."""
    from skyatlas.explorer.custom_tags import custom_tags_of

    custom = custom_tags_of(conn, [r.cloud_service_id for r in rows])
    return {r.cloud_service_id: custom[r.cloud_service_id] + system_tags_of(r.tags) for r in rows}
