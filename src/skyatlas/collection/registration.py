"""What a plugin declares, registered in the workspace it collects into.

Types are created when missing (with the plugin's searchable fields, which get their indexes);
a type someone already declared keeps its flags and labels, and only gains the plugin's search
keys it lacks, so a user's own edits survive the next collection. Regions are created once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from skyatlas.ids import new_id, utcnow
from skyatlas.inventory.searchable import ensure_indexes, search_keys
from skyatlas.plugins.base import CloudServiceTypeSpec, RegionRecord
from skyatlas.store.tables import cloud_service_types, regions


def insert_missing(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT that skips rows another worker inserted first (ON CONFLICT DO NOTHING): tasks
    of different collections register the same types and regions at the same moment."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def register_types(
    conn: Connection, domain_id: str, workspace_id: str, specs: Iterable[CloudServiceTypeSpec]
) -> None:
    t = cloud_service_types.c
    now = utcnow()
    for spec in specs:
        search = [dict(entry) for entry in spec.search]
        row = conn.execute(
            select(t.cloud_service_type_id, t.metadata).where(
                t.workspace_id == workspace_id,
                t.provider == spec.provider,
                t.group == spec.group,
                t.name == spec.name,
            )
        ).first()
        if row is None:
            insert_missing(
                conn,
                cloud_service_types,
                [
                    {
                        "cloud_service_type_id": new_id("cst"),
                        "domain_id": domain_id,
                        "workspace_id": workspace_id,
                        "name": spec.name,
                        "group": spec.group,
                        "provider": spec.provider,
                        "is_primary": spec.is_primary,
                        "is_major": spec.is_major,
                        "resource_type": "inventory.CloudService",
                        "metadata": {"search": search} if search else {},
                        "labels": list(spec.labels),
                        "tags": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
        else:
            metadata: dict[str, Any] = dict(row.metadata or {})
            have = set(search_keys(metadata)) if isinstance(metadata.get("search"), list) else set()
            missing = [e for e in search if e["key"] not in have]
            if not missing:
                continue
            metadata["search"] = [*(metadata.get("search") or []), *missing]
            conn.execute(
                update(cloud_service_types)
                .where(t.cloud_service_type_id == row.cloud_service_type_id)
                .values(metadata=metadata, updated_at=now)
            )
        ensure_indexes(conn, [e["key"] for e in search])


def register_regions(
    conn: Connection, domain_id: str, workspace_id: str, found: Iterable[RegionRecord]
) -> None:
    wanted = {(r.provider, r.region_code): r for r in found}
    if not wanted:
        return
    have = set(
        conn.execute(
            select(regions.c.provider, regions.c.region_code).where(
                regions.c.workspace_id == workspace_id,
                regions.c.region_code.in_(sorted({code for _, code in wanted})),
            )
        ).all()
    )
    now = utcnow()
    rows = [
        {
            "region_id": new_id("region"),
            "domain_id": domain_id,
            "workspace_id": workspace_id,
            "name": r.name,
            "region_code": r.region_code,
            "provider": r.provider,
            "tags": {},
            "created_at": now,
            "updated_at": now,
        }
        for key, r in sorted(wanted.items())
        if key not in have
    ]
    if rows:
        insert_missing(conn, regions, rows)
