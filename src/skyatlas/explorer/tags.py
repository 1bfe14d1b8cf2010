"""Tags as the Resource Explorer dialect sees them.

System tags are the provider tags collection brings in (`tags.<provider>.<key>` in the SpaceONE
dialect): read-only here, no tag_id. They are looked up in `cloud_service_tags`, keyed by key and
value first, so `tag.key=env&tag.value=prod` is one range scan. Custom tags (a project's own,
with ids) are attached through `custom_tag_links`; a tag condition matches either kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, union_all

from skyatlas.explorer.filter_string import Pattern
from skyatlas.explorer.sqlmatch import form_parts, matches
from skyatlas.store.tables import cloud_service_tags as system_tags
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
