"""Cost analysis: data sources, syncs that replace whole months atomically, cost verbs,
project scoping, and the rollup answering what it can — on both backends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from conftest import Env, _make_env

from skyatlas.cost.analyze import rollup_fits
from skyatlas.cost.schedule import queue_due_syncs
from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.plugins.base import CostFeed, CostSyncContext, PluginError, PluginMetadata
from skyatlas.query.analyze import parse_analyze_query


class FakeCostPlugin:
    """Rows from `self.rows`, in batches of `batch_size`; can fail or wait midway."""

    metadata = PluginMetadata(
        plugin_id="fakecost",
        kind="cost",
        name="Fake costs",
        description="rows from a list",
        provider=None,
        needs_service_account=False,
    )

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.batch_size = 2
        self.months: frozenset[str] | None = None
        self.fail_after: int | None = None
        self.between: threading.Event | None = None
        self.reached: threading.Event = threading.Event()
        self.contexts: list[CostSyncContext] = []

    def sync(self, ctx: CostSyncContext) -> CostFeed:
        self.contexts.append(ctx)
        return CostFeed(batches=self._batches(ctx), months=self.months)

    def _batches(self, ctx: CostSyncContext) -> Iterator[pa.RecordBatch]:
        for i in range(0, len(self.rows), self.batch_size):
            if i and self.fail_after is not None and i >= self.fail_after:
                raise PluginError("line 3 of costs.csv is cut short")
            if i and self.between is not None:
                self.reached.set()
                assert self.between.wait(30)
            if ctx.cancelled():
                return
            chunk = [_full(r) for r in self.rows[i : i + self.batch_size]]
            yield pa.RecordBatch.from_pylist(chunk, schema=COST_SCHEMA)


def _full(row: dict[str, Any]) -> dict[str, Any]:
    out = {f.name: None for f in COST_SCHEMA}
    out.update(row)
    out["tags"] = list((out["tags"] or {}).items())
    for key in ("additional_info", "data"):
        out[key] = json.dumps(out[key] or {})
    return out


def row(day: str, cost: float, product: str = "EC2", **extra: Any) -> dict[str, Any]:
    return {"billed_date": day, "cost": cost, "product": product, "provider": "aws", **extra}


@pytest.fixture
def fake() -> FakeCostPlugin:
    return FakeCostPlugin()


@pytest.fixture
def cenv(backend: str, tmp_path: Any, request: pytest.FixtureRequest, fake: FakeCostPlugin):
    """A server whose sync jobs run when the test drains the queue."""
    database_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    e = _make_env(backend, tmp_path, database_url, workers=0)
    e.runtime.plugins.register(fake)
    with e.client:
        yield e
    e.runtime.close()


def register(env: Env, **extra: Any) -> str:
    body = {
        "name": extra.pop("name", "fake"),
        "plugin_info": {"plugin_id": "fakecost", "options": extra.pop("options", {})},
        "workspace_id": env.workspace_id,
        **extra,
    }
    return env.ok("/cost-analysis/data-source/register", body)["data_source_id"]


def sync(env: Env, data_source_id: str) -> dict[str, Any]:
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": data_source_id})
    assert job["status"] == "IN_PROGRESS"
    env.runtime.workers.drain()
    return env.ok("/cost-analysis/job/get", {"job_id": job["job_id"]})


def totals(env: Env, token: str = "admin", **extra: Any) -> dict[str, float]:
    answer = env.ok(
        "/cost-analysis/cost/analyze",
        {
            "query": {
                "granularity": "MONTHLY",
                "fields": {"cost": {"key": "cost", "operator": "sum"}},
                **extra,
            }
        },
        token=token,
    )
    return {r["date"]: round(r["cost"], 9) for r in answer["results"]}


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    return response.json()["detail"]["message"]


def test_the_seeds_requests_verbatim_give_the_documented_shapes(cenv):
    env = cenv
    ds = env.ok(
        "/cost-analysis/data-source/register",
        {
            "name": "manual",
            "data_source_type": "LOCAL",
            "provider": "aws",
            "workspace_id": env.workspace_id,
        },
    )
    for day, cost in (("2024-12-16", 1.25), ("2024-12-16", 2.5), ("2024-12-17", 4.0)):
        env.ok(
            "/cost-analysis/cost/create",
            {
                "data_source_id": ds["data_source_id"],
                "cost": cost,
                "billed_date": day,
                "product": "AmazonEC2",
                "region_code": "us-east-1",
                "tags": {"team": "web"},
            },
        )
    listed = env.ok("/cost-analysis/data-source/list", {"query": {}})
    assert listed["total_count"] == 1
    seed_keys = {
        "data_source_id", "name", "state", "data_source_type", "permissions", "provider",
        "secret_type", "secret_filter", "data_source_account_count",
        "connected_workspace_count", "resource_group", "domain_id", "workspace_id",
        "created_at", "updated_at", "last_synchronized_at",
    }  # fmt: skip
    assert seed_keys <= set(listed["results"][0])
    assert set(listed["results"][0]["secret_filter"]) == {
        "state",
        "secrets",
        "service_accounts",
        "schemas",
    }
    costs = env.ok(
        "/cost-analysis/cost/list",
        {
            "query": {
                "filter": [
                    {"key": "data_source_id", "value": ds["data_source_id"], "operator": "eq"},
                    {"key": "billed_date", "value": "2024-12-16", "operator": "eq"},
                ]
            }
        },
    )
    assert costs["total_count"] == 2
    record = costs["results"][0]
    assert list(record) == [
        "cost_id", "cost", "usage_quantity", "usage_unit", "provider", "region_code",
        "region_key", "product", "usage_type", "resource", "tags", "additional_info", "data",
        "domain_id", "workspace_id", "project_id", "service_account_id", "data_source_id",
        "account_id", "billed_year", "billed_month", "billed_date",
    ]  # fmt: skip
    assert sorted(r["cost"] for r in costs["results"]) == [1.25, 2.5]
    assert record["billed_year"] == "2024" and record["billed_month"] == "2024-12"
    assert record["region_key"] == "aws.us-east-1" and record["tags"] == {"team": "web"}
    got = env.ok("/cost-analysis/cost/get", {"cost_id": record["cost_id"]})
    assert got == record
    env.ok("/cost-analysis/cost/delete", {"cost_id": record["cost_id"]})
    assert env.call("/cost-analysis/cost/get", {"cost_id": record["cost_id"]}).status_code == 404
    assert totals(env) == {"2024-12": 1.25 + 2.5 + 4.0 - record["cost"]}


def test_a_sync_replaces_exactly_the_months_it_covers(cenv, fake):
    env = cenv
    ds = register(env)
    fake.rows = [
        row("2024-01-03", 1.0),
        row("2024-01-20", 2.0, "S3"),
        row("2024-02-01", 4.0),
        row("2024-03-09", 8.0),
    ]
    job = sync(env, ds)
    assert job["status"] == "SUCCESS", job
    assert job["months"] == ["2024-01", "2024-02", "2024-03"] and job["total_rows"] == 4
    assert totals(env) == {"2024-01": 3.0, "2024-02": 4.0, "2024-03": 8.0}
    # Syncing the same data again changes nothing (no duplicates).
    assert sync(env, ds)["status"] == "SUCCESS"
    assert totals(env) == {"2024-01": 3.0, "2024-02": 4.0, "2024-03": 8.0}
    # The source now reports February only (and a month with no rows left: March).
    fake.rows = [row("2024-02-01", 5.0), row("2024-02-02", 0.5)]
    fake.months = frozenset({"2024-02", "2024-03"})
    job = sync(env, ds)
    assert job["months"] == ["2024-02", "2024-03"]
    assert totals(env) == {"2024-01": 3.0, "2024-02": 5.5}
    info = env.ok("/cost-analysis/data-source/get", {"data_source_id": ds})
    assert info["last_synchronized_at"] is not None
    assert info["months"] == ["2024-01", "2024-02", "2024-03"]


def test_readers_during_a_resync_see_the_old_month_or_the_new_one(cenv, fake):
    env = cenv
    ds = register(env)
    fake.rows = [row(f"2024-05-{d:02d}", 1.0) for d in range(1, 11)]
    sync(env, ds)
    assert totals(env) == {"2024-05": 10.0}
    fake.rows = [row(f"2024-05-{d:02d}", 3.0) for d in range(1, 11)]
    fake.between = threading.Event()
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})
    worker = threading.Thread(target=env.runtime.workers.drain)
    worker.start()
    try:
        assert fake.reached.wait(30)
        seen = set()
        for _ in range(5):  # the sync has loaded part of the new month by now
            seen.add(totals(env)["2024-05"])
            listed = env.ok("/cost-analysis/cost/list", {"query": {"count_only": True}})
            seen.add(listed["total_count"] * 1.0 if listed["total_count"] != 10 else 10.0)
            time.sleep(0.05)
        assert seen == {10.0}
    finally:
        fake.between.set()
        worker.join(60)
    assert env.ok("/cost-analysis/job/get", {"job_id": job["job_id"]})["status"] == "SUCCESS"
    assert totals(env) == {"2024-05": 30.0}


def test_a_source_failing_halfway_leaves_the_previous_data_and_says_why(cenv, fake):
    env = cenv
    ds = register(env)
    fake.rows = [row("2024-05-01", 1.0), row("2024-06-01", 2.0)]
    sync(env, ds)
    fake.rows = [row("2024-05-01", 100.0)] * 6
    fake.fail_after = 4
    job = sync(env, ds)
    assert job["status"] == "FAILURE"
    assert "line 3 of costs.csv is cut short" in job["reason"]
    assert "previous data is unchanged" in job["reason"]
    assert totals(env) == {"2024-05": 1.0, "2024-06": 2.0}


def test_a_cancelled_sync_changes_nothing(cenv, fake):
    env = cenv
    ds = register(env)
    fake.rows = [row("2024-05-01", 1.0)]
    sync(env, ds)
    fake.rows = [row("2024-05-01", 7.0)] * 6
    fake.between = threading.Event()
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})
    worker = threading.Thread(target=env.runtime.workers.drain)
    worker.start()
    try:
        assert fake.reached.wait(30)
        cancelled = env.ok("/cost-analysis/job/cancel", {"job_id": job["job_id"]})
        assert cancelled["status"] == "CANCELED"
        time.sleep(1.1)  # the plugin's cancel check reads the job at most once a second
    finally:
        fake.between.set()
        worker.join(60)
    assert env.ok("/cost-analysis/job/get", {"job_id": job["job_id"]})["status"] == "CANCELED"
    assert totals(env) == {"2024-05": 1.0}
    again = env.call("/cost-analysis/job/cancel", {"job_id": job["job_id"]})
    assert "only IN_PROGRESS jobs can be cancelled" in error_of(again, 400)


def test_costs_map_to_projects_and_members_see_only_theirs(cenv, fake):
    env = cenv
    ops = env.ok("/identity/project/create", {"name": "ops", "workspace_id": env.workspace_id})
    dev = env.ok("/identity/project/create", {"name": "dev", "workspace_id": env.workspace_id})
    account = env.ok(
        "/identity/service-account/create",
        {
            "name": "billing-123",
            "provider": "aws",
            "project_id": ops["project_id"],
            "data": {"account_id": "123456789012"},
        },
    )
    ds = register(env, options={"project_tag_key": "project"})
    fake.rows = [
        row("2024-07-01", 1.0, account_id="123456789012"),  # → ops, through the account
        row("2024-07-02", 2.0, tags={"project": "dev"}),  # → dev, through the tag (a name)
        row("2024-07-03", 4.0, tags={"project": dev["project_id"]}),  # → dev (an id)
        row("2024-07-04", 8.0, account_id="999"),  # unassigned
    ]
    assert sync(env, ds)["status"] == "SUCCESS"
    assert fake.contexts[-1].options == {}  # core options never reach the plugin
    rows = env.ok("/cost-analysis/cost/list", {"data_source_id": ds})["results"]
    by_cost = {r["cost"]: r for r in rows}
    assert by_cost[1.0]["project_id"] == ops["project_id"]
    assert by_cost[1.0]["service_account_id"] == account["service_account_id"]
    assert by_cost[2.0]["project_id"] == by_cost[4.0]["project_id"] == dev["project_id"]
    assert by_cost[8.0]["project_id"] is None
    assert totals(env) == {"2024-07": 15.0}
    member = env.ok(
        "/identity/app/create",
        {
            "name": "dev-member",
            "role_id": "managed-workspace-member",
            "workspace_id": env.workspace_id,
            "project_id": dev["project_id"],
        },
    )["client_secret"]
    listed = env.ok("/cost-analysis/cost/list", {}, token=member)
    assert sorted(r["cost"] for r in listed["results"]) == [2.0, 4.0]
    assert totals(env, token=member) == {"2024-07": 6.0}
    daily = env.ok(
        "/cost-analysis/cost/analyze",
        {
            "query": {
                "granularity": "DAILY",
                "group_by": ["project_id"],
                "fields": {"c": {"key": "cost", "operator": "sum"}},
            }
        },
        token=member,
    )
    assert {r["project_id"] for r in daily["results"]} == {dev["project_id"]}
    stat = env.ok("/cost-analysis/cost/stat", {"query": {"distinct": "cost"}}, token=member)
    assert stat["results"] == [2.0, 4.0]
    hidden = env.call("/cost-analysis/cost/get", {"cost_id": by_cost[8.0]["cost_id"]}, member)
    assert hidden.status_code == 404
    assert (
        env.call("/cost-analysis/data-source/sync", {"data_source_id": ds}, member).status_code
        == 403
    )


def test_the_rollup_answers_monthly_sums_and_counts_exactly_like_the_facts(cenv, fake):
    env = cenv
    ds = register(env)
    fake.batch_size = 50
    fake.rows = [
        row(
            f"2024-{m:02d}-{d:02d}",
            round(0.1 * m + 0.01 * d, 2),
            ("EC2", "S3", "RDS")[(m + d) % 3],
            tags={"team": ("web", "data")[d % 2]},
            data={"ListCost": 2.0 * d},
            resource=f"i-{d}",
        )
        for m in (1, 2, 3)
        for d in range(1, 29)
    ]
    sync(env, ds)
    query = {
        "granularity": "MONTHLY",
        "group_by": ["product", "tags.team"],
        "fields": {"c": {"key": "cost", "operator": "sum"}, "n": {"operator": "count"}},
        "start": "2024-02",
        "end": "2024-03",
    }
    assert rollup_fits(parse_analyze_query(query))
    rollup = env.ok("/cost-analysis/cost/analyze", {"query": query})
    # the same question with a field only the facts hold: answered from the facts
    facts_query = {
        **query,
        "fields": {**query["fields"], "r": {"key": "resource", "operator": "max"}},
    }
    assert not rollup_fits(parse_analyze_query(facts_query))
    facts = env.ok("/cost-analysis/cost/analyze", {"query": facts_query})
    assert rollup["total_count"] == facts["total_count"] == 2 * 3 * 2
    for a, b in zip(rollup["results"], facts["results"], strict=True):
        assert a["product"] == b["product"] and a["date"] == b["date"]
        assert a["c"] == pytest.approx(b["c"], rel=1e-12) and a["n"] == b["n"]
        assert isinstance(a["n"], int)
    expected = sum(r["cost"] for r in fake.rows if r["billed_date"][:7] in ("2024-02", "2024-03"))
    assert sum(r["c"] for r in rollup["results"]) == pytest.approx(expected, rel=1e-12)
    # data.* numbers sum; additional keys are learned
    summed = env.ok(
        "/cost-analysis/cost/analyze",
        {"query": {"fields": {"list": {"key": "data.ListCost", "operator": "sum"}}}},
    )
    assert summed["results"] == [{"list": pytest.approx(3 * 2.0 * sum(range(1, 29)))}]
    info = env.ok("/cost-analysis/data-source/get", {"data_source_id": ds})
    assert info["cost_tag_keys"] == ["team"] and info["cost_data_keys"] == ["ListCost"]
    # paging, sort and field_group
    paged = env.ok(
        "/cost-analysis/cost/analyze",
        {
            "query": {
                **query,
                "field_group": ["date"],
                "sort": [{"key": "_total_c", "desc": True}],
                "page": {"start": 1, "limit": 2},
            }
        },
    )
    assert paged["more"] is True and paged["total_count"] == 6 and len(paged["results"]) == 2
    assert paged["results"][0]["_total_c"] >= paged["results"][1]["_total_c"]
    assert [e["date"] for e in paged["results"][0]["c"]] == ["2024-02", "2024-03"]


def test_bad_requests_are_clear_400s(cenv, fake):
    env = cenv
    bad_plugin = env.call(
        "/cost-analysis/data-source/register",
        {"name": "x", "plugin_info": {"plugin_id": "nope"}, "workspace_id": env.workspace_id},
    )
    assert "no cost plugin 'nope' is installed" in error_of(bad_plugin, 400)
    local = env.ok(
        "/cost-analysis/data-source/register",
        {"name": "local", "data_source_type": "LOCAL", "workspace_id": env.workspace_id},
    )["data_source_id"]
    assert "is LOCAL" in error_of(
        env.call("/cost-analysis/data-source/sync", {"data_source_id": local}), 400
    )
    bad_day = env.call(
        "/cost-analysis/cost/create",
        {"data_source_id": local, "cost": 1, "billed_date": "2024-13"},
    )
    assert "billed_date" in error_of(bad_day, 400)
    unknown = env.call(
        "/cost-analysis/cost/analyze",
        {"query": {"group_by": ["colour"], "fields": {"c": {"key": "cost", "operator": "sum"}}}},
    )
    assert "unknown field 'colour'" in error_of(unknown, 400)
    wrong_type = env.call(
        "/cost-analysis/cost/list",
        {"query": {"filter": [{"key": "cost", "value": "cheap", "operator": "gt"}]}},
    )
    assert "numbers" in error_of(wrong_type, 400)
    ds = register(env)
    fake.rows = [row("2024-1-5", 1.0)]
    job = sync(env, ds)
    assert job["status"] == "FAILURE" and "is not a date" in job["reason"]
    assert env.ok("/cost-analysis/cost/list", {})["total_count"] == 0
    dup = env.call(
        "/cost-analysis/data-source/register",
        {
            "name": "fake",
            "plugin_info": {"plugin_id": "fakecost"},
            "workspace_id": env.workspace_id,
        },
    )
    assert "already exists" in error_of(dup, 409)


def test_deregister_removes_the_costs_and_schedules_sync_once_per_hour(cenv, fake):
    env = cenv
    ds = register(env, schedule={"state": "ENABLED", "hour": 6})
    fake.rows = [row("2024-05-01", 1.0)]
    from datetime import UTC, datetime

    at_six = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
    first = queue_due_syncs(env.runtime, at_six)
    assert len(first) == 1
    assert queue_due_syncs(env.runtime, at_six.replace(minute=40)) == []
    assert queue_due_syncs(env.runtime, at_six.replace(hour=7)) == []
    env.runtime.workers.drain()
    job = env.ok("/cost-analysis/job/get", {"job_id": first[0]})
    assert job["status"] == "SUCCESS" and job["trigger"] == "SCHEDULED"
    assert totals(env) == {"2024-05": 1.0}
    env.ok("/cost-analysis/data-source/deregister", {"data_source_id": ds})
    assert totals(env) == {}
    assert env.ok("/cost-analysis/cost/list", {})["total_count"] == 0


def test_cost_list_pages_in_order_without_repeats_or_gaps(cenv, fake):
    env = cenv
    ds = register(env)
    fake.rows = [
        row(f"2024-05-{d:02d}", float(c), product=p)
        for d in range(1, 5)
        for c, p in ((d * 10 + 1, "EC2"), (d * 10 + 2, "S3"), (d, "RDS"))
    ]
    assert sync(env, ds)["status"] == "SUCCESS"
    everything = sorted(r["cost"] for r in fake.rows)

    def pages(sort: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        for start in range(1, 13, 5):
            answer = env.ok(
                "/cost-analysis/cost/list",
                {"query": {"sort": sort, "page": {"start": start, "limit": 5}}},
            )
            assert answer["total_count"] == 12
            seen += answer["results"]
        return seen

    by_cost = pages([{"key": "cost", "desc": True}])
    assert [r["cost"] for r in by_cost] == everything[::-1]
    by_product = pages([{"key": "product"}])
    assert [r["product"] for r in by_product] == ["EC2"] * 4 + ["RDS"] * 4 + ["S3"] * 4
    assert len({r["cost_id"] for r in by_product}) == 12
    by_id = pages([])
    assert [r["cost_id"] for r in by_id] == sorted(r["cost_id"] for r in by_id)

    only = env.ok(
        "/cost-analysis/cost/list",
        {
            "query": {
                "filter": [{"key": "product", "value": "S3", "operator": "eq"}],
                "only": ["cost", "billed_date"],
                "sort": [{"key": "billed_date"}],
            }
        },
    )
    assert only["results"] == [
        {"cost": float(d * 10 + 2), "billed_date": f"2024-05-{d:02d}"} for d in range(1, 5)
    ]
