"""Cost budgets: validation, CRUD, usage against the cost store, scope, and threshold webhooks
sent once per crossing with retries — on both backends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
import pytest
from conftest import Env, _make_env
from sqlalchemy import select
from starlette.testclient import TestClient

from skyatlas.api.app import build_registry, create_app
from skyatlas.cost.budget import NOTIFY_KIND, check_budgets
from skyatlas.cost.budget_notify import BudgetNotifyTask
from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.jobs.queue import run_next
from skyatlas.plugins.base import CostFeed, CostSyncContext, PluginMetadata
from skyatlas.store.tables import budget_notices, data_sources, jobs


# -- a cost plugin and a webhook receiver ----------------------------------------------------
class FakeCostPlugin:
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

    def sync(self, ctx: CostSyncContext) -> CostFeed:
        return CostFeed(batches=self._batches(), months=None)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        if self.rows:
            yield pa.RecordBatch.from_pylist([_full(r) for r in self.rows], schema=COST_SCHEMA)


def _full(row: dict[str, Any]) -> dict[str, Any]:
    out = {f.name: None for f in COST_SCHEMA}
    out.update(row)
    out["tags"] = list((out["tags"] or {}).items())
    for key in ("additional_info", "data"):  # JSON object text
        out[key] = json.dumps(out[key] or {})
    return out


def row(day: str, cost: float, **extra: Any) -> dict[str, Any]:
    return {"billed_date": day, "cost": cost, "product": "EC2", "provider": "aws", **extra}


class Hook:
    """A local webhook receiver: records every POST, answers the statuses of `script` first,
    then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                hook.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = hook.script.pop(0) if hook.script else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/budget-hook"

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def fake() -> FakeCostPlugin:
    return FakeCostPlugin()


FAST = BudgetNotifyTask(base_delay=0.01, timeout=5.0)


@pytest.fixture
def benv(backend: str, tmp_path: Any, request: pytest.FixtureRequest, fake: FakeCostPlugin):
    """A server with the budget verbs, whose jobs run when the test drains the queue, and
    whose webhook retries wait milliseconds."""
    database_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    e = _make_env(backend, tmp_path, database_url, workers=0)
    registry = build_registry()
    if registry.get("cost-analysis", "budget", "create") is None:  # not wired in yet
        from skyatlas.cost.verbs import budget

        budget.register(registry)
    e.client = TestClient(create_app(e.runtime, registry), raise_server_exceptions=False)
    e.runtime.workers.long_handlers[NOTIFY_KIND] = FAST
    e.runtime.plugins.register(fake)
    with e.client:
        yield e
    e.runtime.close()


# -- helpers ---------------------------------------------------------------------------------
def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    return response.json()["detail"]["message"]


def local_source(env: Env, name: str = "manual") -> str:
    body = {"name": name, "data_source_type": "LOCAL", "workspace_id": env.workspace_id}
    return env.ok("/cost-analysis/data-source/register", body)["data_source_id"]


def add_cost(env: Env, ds: str, day: str, cost: float, project_id: str | None = None) -> None:
    body: dict[str, Any] = {"data_source_id": ds, "cost": cost, "billed_date": day}
    if project_id:
        body["project_id"] = project_id
    env.ok("/cost-analysis/cost/create", body)


def project(env: Env, name: str) -> str:
    body = {"name": name, "workspace_id": env.workspace_id}
    return env.ok("/identity/project/create", body)["project_id"]


def create_budget(env: Env, token: str = "admin", **extra: Any) -> dict[str, Any]:
    body = {
        "name": "b",
        "time_unit": "TOTAL",
        "limit": 100,
        "start": "2024-01",
        "end": "2024-03",
        "workspace_id": env.workspace_id,
        **extra,
    }
    return env.ok("/cost-analysis/budget/create", body, token)


def notifying(url: str, *plans: tuple[float, str]) -> dict[str, Any]:
    return {
        "state": "ENABLED",
        "recipients": {"webhook_url": url},
        "plans": [{"threshold": t, "unit": u} for t, u in plans],
    }


def usage(env: Env, token: str = "admin", **body: Any) -> list[dict[str, Any]]:
    return env.ok("/cost-analysis/budget-usage/list", body, token)["results"]


def sync_and_check(env: Env, ds_id: str) -> dict[str, Any]:
    """Sync, then what the sync does at its end (the check is idempotent, so this holds
    whether or not the sync itself calls it), then send what was queued."""
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds_id})
    env.runtime.workers.drain()
    job = env.ok("/cost-analysis/job/get", {"job_id": job["job_id"]})
    assert job["status"] == "SUCCESS", job
    check(env, ds_id, job["months"])
    env.runtime.workers.drain()
    return job


def check(env: Env, ds_id: str, months: list[str]) -> list[str]:
    with env.runtime.store.begin() as conn:
        ds = conn.execute(
            select(data_sources).where(data_sources.c.data_source_id == ds_id)
        ).first()
        return check_budgets(conn, env.runtime, ds, months)


def notify_jobs(env: Env) -> list[Any]:
    with env.runtime.store.read() as conn:
        return conn.execute(
            select(jobs).where(jobs.c.kind == NOTIFY_KIND).order_by(jobs.c.seq)
        ).all()


def notices(env: Env) -> list[Any]:
    with env.runtime.store.read() as conn:
        return conn.execute(select(budget_notices).order_by(budget_notices.c.notified_at)).all()


# -- tests -----------------------------------------------------------------------------------
def test_invalid_budgets_are_clear_400s(benv):
    env = benv
    base = {"name": "b", "workspace_id": env.workspace_id, "start": "2024-01", "end": "2024-03"}

    def refused(**body: Any) -> str:
        return error_of(env.call("/cost-analysis/budget/create", {**base, **body}), 400)

    assert "must not be after end" in refused(time_unit="TOTAL", limit=10, start="2024-04")
    assert "start" in refused(time_unit="TOTAL", limit=10, start="2024-13")
    assert "limit is required" in refused(time_unit="TOTAL")
    assert "limit must be greater than 0" in refused(time_unit="TOTAL", limit=0)
    assert "planned_limits are for MONTHLY" in refused(
        time_unit="TOTAL", limit=5, planned_limits=[{"date": "2024-01", "limit": 1}]
    )
    assert "planned_limits is required" in refused(time_unit="MONTHLY")
    two = [{"date": "2024-01", "limit": 1}, {"date": "2024-02", "limit": 1}]
    assert "no limit for 2024-03" in refused(time_unit="MONTHLY", planned_limits=two)
    twice = [*two, {"date": "2024-03", "limit": 1}, {"date": "2024-02", "limit": 2}]
    assert "2024-02 is planned twice" in refused(time_unit="MONTHLY", planned_limits=twice)
    outside = [*two, {"date": "2024-03", "limit": 1}, {"date": "2024-04", "limit": 1}]
    assert "outside the budget" in refused(time_unit="MONTHLY", planned_limits=outside)
    assert "limit is for TOTAL" in refused(
        time_unit="MONTHLY", limit=3, planned_limits=[*two, {"date": "2024-03", "limit": 1}]
    )
    total = {"time_unit": "TOTAL", "limit": 10}
    assert "threshold must be greater than 0" in refused(
        **total, notification=notifying("https://example.com/h", (0, "PERCENT"))
    )
    assert "http:// or https://" in refused(
        **total, notification=notifying("ftp://example.com/h", (50, "PERCENT"))
    )
    assert "http:// or https://" in refused(
        **total, notification=notifying("example.com/h", (50, "PERCENT"))
    )
    assert "webhook_url is required" in refused(
        **total, notification={"state": "ENABLED", "plans": [{"threshold": 50}]}
    )
    assert "listed twice" in refused(
        **total,
        notification=notifying("https://e.com", (50, "PERCENT"), (50.0, "PERCENT")),
    )
    assert "time_unit" in refused(limit=10)
    assert "time_unit" in refused(time_unit="WEEKLY", limit=10)
    assert "project not found" in error_of(
        env.call("/cost-analysis/budget/create", {**base, **total, "project_id": "project-x"}),
        404,
    )
    # an update is validated as a whole
    created = create_budget(env)
    bad = env.call(
        "/cost-analysis/budget/update", {"budget_id": created["budget_id"], "end": "2023-12"}
    )
    assert "must not be after end" in error_of(bad, 400)
    bad = env.call(
        "/cost-analysis/budget/update", {"budget_id": created["budget_id"], "time_unit": "MONTHLY"}
    )
    assert "time_unit" in error_of(bad, 400)
    assert env.ok("/cost-analysis/budget/get", {"budget_id": created["budget_id"]})["end"] == (
        "2024-03"
    )


def test_create_get_list_update_delete(benv, hook):
    env = benv
    ds = local_source(env)
    total = create_budget(
        env,
        name="all",
        tags={"team": "web"},
        notification=notifying(hook.url, (80, "PERCENT"), (50, "ACTUAL_COST")),
    )
    assert total["budget_id"].startswith("budget-")
    assert total["resource_group"] == "WORKSPACE" and total["project_id"] is None
    assert total["limit"] == 100 and total["planned_limits"] == []
    assert total["currency"] == "USD" and total["tags"] == {"team": "web"}
    assert total["notification"]["plans"] == [
        {"threshold": 80, "unit": "PERCENT"},
        {"threshold": 50, "unit": "ACTUAL_COST"},
    ]
    ops = project(env, "ops")
    planned = [{"date": f"2024-0{m}", "limit": 10.0 * m} for m in (1, 2, 3)]
    monthly = create_budget(
        env,
        name="ops-monthly",
        time_unit="MONTHLY",
        limit=None,
        planned_limits=planned,
        project_id=ops,
        data_source_id=ds,
        currency="EUR",
    )
    assert monthly["resource_group"] == "PROJECT" and monthly["planned_limits"] == planned
    assert monthly["limit"] is None and monthly["notification"]["state"] == "DISABLED"
    got = env.ok("/cost-analysis/budget/get", {"budget_id": monthly["budget_id"]})
    assert got == monthly
    listed = env.ok("/cost-analysis/budget/list", {"query": {}})
    assert listed["total_count"] == 2
    assert env.ok("/cost-analysis/budget/list", {"time_unit": "MONTHLY"})["results"] == [monthly]
    by_tag = {"query": {"filter": [{"k": "tags.team", "v": "web", "o": "eq"}]}}
    assert [b["name"] for b in env.ok("/cost-analysis/budget/list", by_tag)["results"]] == ["all"]
    big = {"query": {"filter": [{"k": "limit", "v": 50, "o": "gte"}], "sort": [{"key": "end"}]}}
    assert [b["name"] for b in env.ok("/cost-analysis/budget/list", big)["results"]] == ["all"]
    updated = env.ok(
        "/cost-analysis/budget/update",
        {"budget_id": total["budget_id"], "name": "everything", "limit": 250, "end": "2024-06"},
    )
    assert updated["name"] == "everything" and updated["limit"] == 250
    assert updated["end"] == "2024-06" and updated["tags"] == {"team": "web"}
    assert updated["notification"] == total["notification"]
    env.ok("/cost-analysis/budget/delete", {"budget_id": total["budget_id"]})
    gone = env.call("/cost-analysis/budget/get", {"budget_id": total["budget_id"]})
    assert "budget not found" in error_of(gone, 404)
    assert env.ok("/cost-analysis/budget/list", {})["total_count"] == 1


def test_usage_follows_the_costs_of_the_budget_scope(benv):
    env = benv
    ops, dev = project(env, "ops"), project(env, "dev")
    manual, other = local_source(env, "manual"), local_source(env, "other")
    add_cost(env, manual, "2024-01-05", 10.0, ops)
    add_cost(env, manual, "2024-01-20", 5.0, dev)
    add_cost(env, manual, "2024-02-01", 20.0, ops)
    add_cost(env, manual, "2024-03-31", 1.5)  # no project
    add_cost(env, other, "2024-02-10", 100.0, ops)
    add_cost(env, manual, "2024-04-01", 1000.0, ops)  # after every budget
    add_cost(env, manual, "2023-12-31", 1000.0, ops)  # before every budget
    whole = create_budget(env, name="a-whole", limit=200)
    ops_monthly = create_budget(
        env,
        name="b-ops",
        time_unit="MONTHLY",
        limit=None,
        planned_limits=[
            {"date": "2024-01", "limit": 20},
            {"date": "2024-02", "limit": 240},
            {"date": "2024-03", "limit": 10},
        ],
        project_id=ops,
    )
    manual_only = create_budget(env, name="c-manual", limit=50, data_source_id=manual)

    rows = usage(env)
    assert len(rows) == 9
    by = {(r["budget_id"], r["date"]): r for r in rows}
    w = [by[(whole["budget_id"], m)] for m in ("2024-01", "2024-02", "2024-03")]
    assert [r["cost"] for r in w] == pytest.approx([15.0, 120.0, 1.5])
    assert [r["limit"] for r in w] == [200, 200, 200]
    # TOTAL: the utilization is cumulative
    assert [r["utilization_rate"] for r in w] == pytest.approx([7.5, 67.5, 68.25])
    o = [by[(ops_monthly["budget_id"], m)] for m in ("2024-01", "2024-02", "2024-03")]
    assert [r["cost"] for r in o] == pytest.approx([10.0, 120.0, 0.0])
    assert [r["limit"] for r in o] == [20, 240, 10]
    assert [r["utilization_rate"] for r in o] == pytest.approx([50.0, 50.0, 0.0])
    assert o[0]["project_id"] == ops and o[0]["workspace_id"] == env.workspace_id
    m = [by[(manual_only["budget_id"], m)] for m in ("2024-01", "2024-02", "2024-03")]
    assert [r["cost"] for r in m] == pytest.approx([15.0, 20.0, 1.5])
    assert set(rows[0]) >= {
        "budget_id", "name", "date", "cost", "limit", "utilization_rate", "currency",
        "workspace_id", "project_id",
    }  # fmt: skip
    assert usage(env, budget_id=ops_monthly["budget_id"]) == o

    analyzed = env.ok(
        "/cost-analysis/budget-usage/analyze",
        {
            "query": {
                "group_by": ["budget_id", "name"],
                "fields": {
                    "cost": {"key": "cost", "operator": "sum"},
                    "limit": {"key": "limit", "operator": "max"},
                    "months": {"operator": "count"},
                },
                "sort": [{"key": "name"}],
            }
        },
    )
    assert analyzed["total_count"] == 3 and analyzed["more"] is False
    assert [r["name"] for r in analyzed["results"]] == ["a-whole", "b-ops", "c-manual"]
    assert [r["cost"] for r in analyzed["results"]] == pytest.approx([136.5, 130.0, 36.5])
    assert [r["limit"] for r in analyzed["results"]] == [200, 240, 50]
    assert [r["months"] for r in analyzed["results"]] == [3, 3, 3]
    by_month = env.ok(
        "/cost-analysis/budget-usage/analyze",
        {
            "query": {
                "group_by": [{"key": "date", "name": "month"}],
                "fields": {"cost": {"key": "cost", "operator": "sum"}},
                "filter": [{"k": "time_unit", "v": "TOTAL", "o": "eq"}],
                "start": "2024-02",
                "sort": [{"key": "cost", "desc": True}],
                "page": {"limit": 1},
            }
        },
    )
    assert by_month["results"] == [{"month": "2024-02", "cost": pytest.approx(140.0)}]
    assert by_month["total_count"] == 2 and by_month["more"] is True
    unknown = env.call(
        "/cost-analysis/budget-usage/analyze",
        {"query": {"group_by": ["colour"], "fields": {"c": {"key": "cost", "operator": "sum"}}}},
    )
    assert "unknown key 'colour'" in error_of(unknown, 400)
    no_fields = env.call("/cost-analysis/budget-usage/analyze", {"query": {"group_by": ["date"]}})
    assert "query.fields is required" in error_of(no_fields, 400)


def test_members_see_only_their_projects_budgets(benv, hook):
    env = benv
    a, b = project(env, "A"), project(env, "B")
    ds = local_source(env)
    add_cost(env, ds, "2024-01-02", 7.0, a)
    add_cost(env, ds, "2024-01-03", 9.0, b)
    on_a = create_budget(
        env, name="A", project_id=a, notification=notifying(hook.url, (50, "PERCENT"))
    )
    on_b = create_budget(env, name="B", project_id=b)
    whole = create_budget(env, name="W")
    member = env.ok(
        "/identity/app/create",
        {
            "name": "a-member",
            "role_id": "managed-workspace-member",
            "workspace_id": env.workspace_id,
            "project_id": a,
        },
    )["client_secret"]
    listed = env.ok("/cost-analysis/budget/list", {}, member)["results"]
    assert [x["budget_id"] for x in listed] == [on_a["budget_id"]]
    seen = env.ok("/cost-analysis/budget/get", {"budget_id": on_a["budget_id"]}, member)
    assert seen["notification"]["recipients"] == {}  # the webhook URL is the owners' business
    assert seen["notification"]["plans"] == on_a["notification"]["plans"]
    for hidden in (on_b, whole):
        answer = env.call("/cost-analysis/budget/get", {"budget_id": hidden["budget_id"]}, member)
        assert answer.status_code == 404
    rows = usage(env, member)
    assert {r["budget_id"] for r in rows} == {on_a["budget_id"]}
    assert rows[0]["cost"] == 7.0
    assert usage(env, member, budget_id=on_b["budget_id"]) == []
    analyzed = env.ok(
        "/cost-analysis/budget-usage/analyze",
        {"query": {"group_by": ["budget_id"], "fields": {"c": {"key": "cost", "operator": "sum"}}}},
        member,
    )
    assert analyzed["results"] == [{"budget_id": on_a["budget_id"], "c": 7.0}]
    # members read; they never write
    for path, body in (
        ("/cost-analysis/budget/create", {"name": "x", "time_unit": "TOTAL", "limit": 1,
                                          "start": "2024-01", "end": "2024-01"}),
        ("/cost-analysis/budget/update", {"budget_id": on_a["budget_id"], "name": "y"}),
        ("/cost-analysis/budget/delete", {"budget_id": on_a["budget_id"]}),
    ):  # fmt: skip
        assert env.call(path, body, member).status_code == 403
    # another workspace's owner sees none of them
    ws_b = env.ok("/identity/workspace/create", {"name": "other"})["workspace_id"]
    owner_b = env.ok(
        "/identity/app/create",
        {"name": "owner-b", "role_id": "managed-workspace-owner", "workspace_id": ws_b},
    )["client_secret"]
    assert env.ok("/cost-analysis/budget/list", {}, owner_b)["total_count"] == 0
    assert usage(env, owner_b) == []
    answer = env.call("/cost-analysis/budget/get", {"budget_id": on_a["budget_id"]}, owner_b)
    assert answer.status_code == 404
    mine = create_budget(env, owner_b, name="mine", workspace_id=None)
    assert mine["workspace_id"] == ws_b
    assert [r["budget_id"] for r in usage(env, owner_b)] == [mine["budget_id"]] * 3


def test_each_threshold_crossed_by_a_sync_sends_one_webhook(benv, fake, hook):
    env = benv
    ds = env.ok(
        "/cost-analysis/data-source/register",
        {
            "name": "feed",
            "plugin_info": {"plugin_id": "fakecost"},
            "workspace_id": env.workspace_id,
        },
    )["data_source_id"]
    total = create_budget(
        env,
        name="total",
        notification=notifying(
            hook.url, (50, "PERCENT"), (80, "PERCENT"), (100, "PERCENT"), (60, "ACTUAL_COST")
        ),
    )
    monthly = create_budget(
        env,
        name="monthly",
        time_unit="MONTHLY",
        limit=None,
        planned_limits=[{"date": m, "limit": 40} for m in ("2024-01", "2024-02", "2024-03")],
        notification=notifying(hook.url, (100, "PERCENT")),
    )
    create_budget(env, name="quiet", limit=1)  # notification DISABLED: never sends
    fake.rows = [row("2024-01-10", 30.0), row("2024-02-10", 25.0), row("2025-01-01", 999.0)]
    sync_and_check(env, ds)
    sent = sorted((b["name"], b["period"], b["unit"], b["threshold"]) for b in hook.bodies())
    assert sent == [("total", "TOTAL", "PERCENT", 50)]  # 55 of 100; no month reached 40
    first = hook.requests[0]
    body = first["body"]
    assert body["budget_id"] == total["budget_id"] and body["cost"] == pytest.approx(55.0)
    assert body["limit"] == 100 and body["utilization_rate"] == pytest.approx(55.0)
    assert body["currency"] == "USD" and body["workspace_id"] == env.workspace_id
    assert body["project_id"] is None and body["notice_id"].startswith("notice-")
    assert first["headers"]["Idempotency-Key"] == body["notice_id"]
    assert first["path"] == "/budget-hook"

    # the same data again: nothing new
    sync_and_check(env, ds)
    assert len(hook.requests) == 1
    assert check(env, ds, ["2024-01", "2024-02"]) == []

    # higher costs: only what is newly crossed
    fake.rows = [row("2024-01-10", 30.0), row("2024-02-10", 45.0), row("2024-03-01", 8.0)]
    sync_and_check(env, ds)
    sent = sorted((b["name"], b["period"], b["unit"], b["threshold"]) for b in hook.bodies()[1:])
    assert sent == [
        ("monthly", "2024-02", "PERCENT", 100),  # 45 of 40
        ("total", "TOTAL", "ACTUAL_COST", 60),  # 83
        ("total", "TOTAL", "PERCENT", 80),
    ]
    assert monthly["budget_id"] in {b["budget_id"] for b in hook.bodies()}
    assert len({b["notice_id"] for b in hook.bodies()}) == 4
    assert {n.status for n in notices(env)} == {"DELIVERED"}
    assert {j.state for j in notify_jobs(env)} == {"SUCCEEDED"}
    assert all(
        j.queue == f"{NOTIFY_KIND}:{j.payload['body']['budget_id']}" for j in notify_jobs(env)
    )

    # raising the limit re-arms the thresholds no longer reached: 83 of 200
    env.ok("/cost-analysis/budget/update", {"budget_id": total["budget_id"], "limit": 200})
    left = {(n.period, n.threshold_key) for n in notices(env) if n.budget_id == total["budget_id"]}
    assert left == {("TOTAL", "ACTUAL_COST:60")}
    fake.rows.append(row("2024-03-02", 90.0))  # 173 of 200
    sync_and_check(env, ds)
    sent = sorted((b["period"], b["unit"], b["threshold"]) for b in hook.bodies()[4:])
    assert sent == [("2024-03", "PERCENT", 100), ("TOTAL", "PERCENT", 50), ("TOTAL", "PERCENT", 80)]


def test_concurrent_checks_notify_once(benv, hook):
    env = benv
    ds = local_source(env)
    add_cost(env, ds, "2024-02-02", 90.0)
    create_budget(env, notification=notifying(hook.url, (50, "PERCENT"), (75, "PERCENT")))
    results: list[list[str]] = []
    with env.runtime.store.begin() as conn:
        row_ = conn.execute(select(data_sources).where(data_sources.c.data_source_id == ds)).first()
        first = check_budgets(conn, env.runtime, row_, ["2024-02"])
        # a second check starts before the first commits; it must not notify again
        second = threading.Thread(target=lambda: results.append(check(env, ds, ["2024-02"])))
        second.start()
        second.join(0.5)
    second.join(30)
    assert len(first) == 2 and results == [[]]
    assert [j.job_id for j in notify_jobs(env)] == first
    env.runtime.workers.drain()
    assert len(hook.requests) == 2
    assert check(env, ds, ["2024-02"]) == []
    assert check(env, ds, ["2023-01"]) == []  # months outside the budget


def notice_of(env: Env, budget_id: str) -> Any:
    (found,) = [n for n in notices(env) if n.budget_id == budget_id]
    return found


def job_of(env: Env, job_id: str) -> Any:
    (found,) = [j for j in notify_jobs(env) if j.job_id == job_id]
    return found


def test_5xx_429_and_unreachable_webhooks_are_retried_with_backoff(benv, hook):
    env = benv
    ds = local_source(env)
    add_cost(env, ds, "2024-01-02", 100.0)
    flaky = create_budget(env, notification=notifying(hook.url, (90, "PERCENT")))
    hook.script = [500, 429]  # a 429 asks to come back later: retried like a 5xx
    (job_id,) = check(env, ds, ["2024-01"])
    assert run_next(env.runtime.store, {}, {NOTIFY_KIND: FAST})
    assert len(hook.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in hook.requests}
    assert keys == {hook.requests[0]["body"]["notice_id"]}
    assert len({json.dumps(r["body"], sort_keys=True) for r in hook.requests}) == 1
    job = job_of(env, job_id)
    assert job.state == "SUCCEEDED" and job.error is None
    notice = notice_of(env, flaky["budget_id"])
    assert notice.status == "DELIVERED" and notice.delivered_at is not None
    assert notice.job_id == job_id and notice.threshold_key == "PERCENT:90"
    # a re-run of a delivered notice (its worker died before finishing the job) sends nothing
    FAST.run(env.runtime.store, job)
    assert len(hook.requests) == 3

    # nothing listens at this address: five tries, pauses doubling from the base, then FAILED
    url = hook.url
    hook.close()
    dead = create_budget(env, notification=notifying(url, (90, "PERCENT")))
    (job_id,) = check(env, ds, ["2024-01"])
    pauses: list[float] = []
    task = BudgetNotifyTask(base_delay=0.5, timeout=2.0, sleep=pauses.append)
    assert run_next(env.runtime.store, {}, {NOTIFY_KIND: task})
    assert pauses == [0.5, 1.0, 2.0, 4.0]
    job = job_of(env, job_id)
    assert job.state == "FAILED"
    assert "could not be reached" in job.error and "after 5 tries" in job.error
    assert notice_of(env, dead["budget_id"]).status == "FAILED"


def test_a_4xx_is_not_retried_and_fails_the_job_with_the_reason(benv, hook):
    env = benv
    ds = local_source(env)
    add_cost(env, ds, "2024-01-02", 100.0)
    refused = create_budget(env, notification=notifying(hook.url, (90, "PERCENT")))
    hook.script = [404]
    (job_id,) = check(env, ds, ["2024-01"])
    assert run_next(env.runtime.store, {}, {NOTIFY_KIND: FAST})
    assert len(hook.requests) == 1
    job = job_of(env, job_id)
    assert job.state == "FAILED" and "404 Not Found; not retried" in job.error
    notice = notice_of(env, refused["budget_id"])
    assert notice.status == "FAILED" and "404" in notice.error
    # the crossing stays recorded: a later check does not notify it again
    assert check(env, ds, ["2024-01"]) == []

    # a job the queue gives up on (its workers kept dying) marks its notice FAILED too
    abandoned = create_budget(env, notification=notifying(hook.url, (90, "PERCENT")))
    (job_id,) = check(env, ds, ["2024-01"])
    with env.runtime.store.begin() as conn:
        job = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        FAST.abandon(conn, job, "given up after 3 attempts")
    notice = notice_of(env, abandoned["budget_id"])
    assert notice.status == "FAILED" and notice.error == "given up after 3 attempts"
