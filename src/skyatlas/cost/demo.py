"""A year of demo costs for `serve --demo`, matching the demo inventory: one row per day for
800 of its instances, databases and buckets, for the same accounts, regions and resource ids,
priced by kind of resource, with the resources' `team` and `env` tags. Deterministic per
resource; relative to today, so the charts always end now.

Rows are generated in DuckDB (a resource list crossed with the days) and loaded through the
cost store's ordinary `replace`, as a sync would, into a LOCAL data source "Demo billing".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import insert, select, update

from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.cost.sync import assignment_for
from skyatlas.ids import new_id, utcnow
from skyatlas.runtime import Runtime
from skyatlas.store.tables import cloud_services, data_sources, workspaces

NAME = "Demo billing"
#: How many resources get a daily cost row: enough for real charts (about 290,000 rows a
#: year), few enough that `serve --demo` starts in seconds.
BILLED_RESOURCES = 800
#: Daily price range (USD) by cloud service group: a VM costs more than a bucket.
_PRICE = {
    "EC2": 6.0,
    "ComputeEngine": 5.5,
    "VirtualMachines": 6.5,
    "VirtualMachine": 5.0,
    "RDS": 14.0,
    "CloudSQL": 12.0,
    "SQLDatabase": 13.0,
    "S3": 0.8,
    "CloudStorage": 0.7,
    "StorageAccounts": 0.9,
}
_PRODUCTS = {
    "aws": "Amazon {group}",
    "google_cloud": "Google {group}",
    "azure": "Azure {group}",
    "kakaocloud": "KakaoCloud {group}",
}


def _resources(conn: Any, workspace_id: str) -> pa.Table:
    rows = conn.execute(
        select(
            cloud_services.c.provider,
            cloud_services.c.cloud_service_group,
            cloud_services.c.cloud_service_type,
            cloud_services.c.region_code,
            cloud_services.c.account,
            cloud_services.c.resource_id,
            cloud_services.c.tags,
        )
        .where(
            cloud_services.c.workspace_id == workspace_id,
            cloud_services.c.state != "DELETED",
            cloud_services.c.cloud_service_group.in_(sorted(_PRICE)),
        )
        .order_by(cloud_services.c.resource_id)
        .limit(BILLED_RESOURCES)
    ).all()
    out: dict[str, list[Any]] = {
        k: []
        for k in ("provider", "product", "usage_type", "region_code", "account_id", "resource",
                  "team", "env", "price")
    }  # fmt: skip
    for r in rows:
        tags = (r.tags or {}).get(r.provider) or {}
        group = r.cloud_service_group
        out["provider"].append(r.provider)
        out["product"].append(_PRODUCTS.get(r.provider, "{group}").format(group=group))
        out["usage_type"].append(f"{group}.{r.cloud_service_type}")
        out["region_code"].append(r.region_code)
        out["account_id"].append(r.account)
        out["resource"].append(r.resource_id)
        out["team"].append(tags.get("team"))
        out["env"].append(tags.get("env"))
        out["price"].append(_PRICE.get(group, 2.0))
    return pa.table(out)


_ROWS_SQL = """
SELECT
    r.price * (0.5 + (hash(r.resource) % 1000) / 1000.0)
        * (1 + 0.15 * sin(epoch(d.day) / 86400.0 / 7.0)) AS cost,
    24.0 AS usage_quantity,
    'Hrs' AS usage_unit,
    r.provider, r.region_code,
    CASE WHEN r.region_code IS NULL THEN NULL ELSE r.provider || '.' || r.region_code END
        AS region_key,
    r.product, r.usage_type, r.resource, r.account_id,
    strftime(d.day, '%Y-%m-%d') AS billed_date,
    map_from_entries(list_filter([
        struct_pack(k := 'team', v := r.team), struct_pack(k := 'env', v := r.env)
    ], lambda x: x.v IS NOT NULL)) AS tags,
    '{"Currency":"USD"}' AS additional_info,
    CAST(json_object('ListCost', r.price * 1.1) AS VARCHAR) AS data
FROM resources r
CROSS JOIN (SELECT unnest(generate_series(CAST(? AS DATE), CAST(? AS DATE), INTERVAL 1 DAY))
            AS day) d
"""


def load_demo_costs(runtime: Runtime, domain_id: str, today: date | None = None) -> int:
    """Generate and load the demo costs once (skipped when "Demo billing" exists); rows."""
    today = today or utcnow().date()
    with runtime.store.begin(write=True) as conn:
        workspace_id = conn.execute(
            select(workspaces.c.workspace_id).where(
                workspaces.c.domain_id == domain_id, workspaces.c.name == "default"
            )
        ).scalar_one_or_none()
        if workspace_id is None:
            return 0
        if conn.execute(
            select(data_sources.c.data_source_id).where(
                data_sources.c.workspace_id == workspace_id, data_sources.c.name == NAME
            )
        ).first():
            return 0
        resources = _resources(conn, workspace_id)
        now = utcnow()
        data_source_id = new_id("ds")
        conn.execute(
            insert(data_sources).values(
                data_source_id=data_source_id,
                domain_id=domain_id,
                workspace_id=workspace_id,
                resource_group="WORKSPACE",
                name=NAME,
                state="ENABLED",
                data_source_type="LOCAL",
                provider=None,
                secret_type="MANUAL",
                secret_filter={"state": "ENABLED", "secrets": [], "service_accounts": [],
                               "schemas": []},
                plugin_info={},
                schedule={"state": "DISABLED", "hour": None},
                tags={"demo": "true"},
                cost_tag_keys=["env", "team"],
                cost_additional_info_keys=["Currency"],
                cost_data_keys=["ListCost"],
                months=[],
                created_at=now,
                updated_at=now,
            )
        )  # fmt: skip
        ds = conn.execute(
            select(data_sources).where(data_sources.c.data_source_id == data_source_id)
        ).first()
        assignment = assignment_for(conn, ds)
    start = (today.replace(day=1) - timedelta(days=335)).replace(day=1)
    scratch = duckdb.connect()
    scratch.register("resources", resources)
    rows = scratch.sql(_ROWS_SQL, params=[start.isoformat(), today.isoformat()])
    reader = rows.to_arrow_reader(100_000)
    batches = (batch.cast(COST_SCHEMA) for batch in reader)
    result = runtime.costs.replace(assignment, new_id("demo"), batches, None, lambda: False)
    scratch.close()
    with runtime.store.begin(write=True) as conn:
        conn.execute(
            update(data_sources)
            .where(data_sources.c.data_source_id == data_source_id)
            .values(months=list(result.months), last_synchronized_at=utcnow())
        )
    return result.rows
