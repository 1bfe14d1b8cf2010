"""After a bulk import the planner has what it needs: statistics on both backends, and on
PostgreSQL the visibility map, without which a count over the tag or resource indexes fetches
a heap page for every entry it reads (the explorer's count of a broad tag took twice as long)."""

from __future__ import annotations

import json

from sqlalchemy import text

from skyatlas.inventory.importer import import_cloud_services


def _records(n: int) -> list[dict]:
    return [
        {
            "provider": "aws",
            "cloud_service_group": "EC2",
            "cloud_service_type": "Instance",
            "name": f"vm-{i}",
            "account": "123456789012",
            "region_code": "eu-central-1",
            "reference": {"resource_id": f"i-{i:05d}"},
            "data": {},
            "tags": {"env": "prod" if i % 2 else "dev"},
        }
        for i in range(n)
    ]


def test_an_import_leaves_the_tables_analysed_and_vacuumed(env, tmp_path) -> None:
    source = tmp_path / "resources.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in _records(300)))
    store = env.runtime.store
    result = import_cloud_services(store, source, workspace_id=env.workspace_id)
    assert result.created == 300
    with store.read() as conn:
        if env.backend == "sqlite":
            analysed = conn.execute(text("SELECT DISTINCT tbl FROM sqlite_stat1")).scalars()
            assert {"cloud_services", "cloud_service_tags"} <= set(analysed)
            return
        rows = conn.execute(
            text(
                "SELECT relname, relallvisible, reltuples FROM pg_class "
                "WHERE relname IN ('cloud_services', 'cloud_service_tags')"
            )
        ).all()
    assert len(rows) == 2
    for name, all_visible, tuples in rows:
        assert all_visible > 0 and tuples >= 300, name  # vacuumed, and analysed
