"""Custom tags (created and attached through the Resource Explorer dialect) as the SpaceONE
dialect shows them: `tags.custom.<key>` on a cloud service record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, exists, or_, select

from skyatlas.store.bulk import in_chunks
from skyatlas.store.tables import (
    cloud_services,
    custom_tag_links,
    custom_tag_links_with_tags,
    custom_tags,
)

CUSTOM = "custom"


def add_custom_tags(conn: Connection, records: Sequence[dict[str, Any]]) -> None:
    """Put each record's custom tags under `tags.custom` (and `tag_keys.custom`), in place."""
    ids = [r["cloud_service_id"] for r in records if "cloud_service_id" in r]
    if not ids:
        return
    found: dict[str, dict[str, str]] = {}
    rows = conn.execute(
        select(custom_tag_links.c.cloud_service_id, custom_tags.c.key, custom_tags.c.value)
        .select_from(custom_tag_links_with_tags())
        .where(custom_tag_links.c.cloud_service_id.in_(ids))
        .order_by(custom_tags.c.key, custom_tags.c.value)
    )
    for cid, key, value in rows:
        # Two custom tags with one key (env=dev, env=prod) on one resource: a record's tags are
        # a mapping, so the last in (key, value) order shows; search sees both.
        found.setdefault(cid, {})[key] = value
    for record in records:
        custom = found.get(record.get("cloud_service_id", ""))
        if custom:
            record.setdefault("tags", {})[CUSTOM] = custom
            if "tag_keys" in record:
                record["tag_keys"][CUSTOM] = sorted(custom)


def detach_foreign_tags(conn: Connection, cloud_service_ids: Sequence[str]) -> None:
    """A resource moved to another project keeps none of its old project's custom tags (a
    custom tag belongs to one project and tags only that project's resources)."""
    for chunk in in_chunks(cloud_service_ids):
        ids = list(chunk)
        foreign = exists().where(
            custom_tags.c.tag_id == custom_tag_links.c.tag_id,
            cloud_services.c.cloud_service_id == custom_tag_links.c.cloud_service_id,
            or_(
                cloud_services.c.project_id.is_(None),
                cloud_services.c.project_id != custom_tags.c.project_id,
            ),
        )
        conn.execute(
            delete(custom_tag_links).where(custom_tag_links.c.cloud_service_id.in_(ids), foreign)
        )
