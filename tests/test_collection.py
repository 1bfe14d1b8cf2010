"""Collectors, jobs, tasks, reconcile and schedules, driven through the API with a plugin that
yields what each test tells it to (the AWS and file plugins have their own tests)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from conftest import Env, _make_env
from pydantic import BaseModel, ConfigDict
from sqlalchemy import inspect, select, text, update

from skyatlas.collection import runner
from skyatlas.collection.schedule import queue_due_collections
from skyatlas.ids import utcnow
from skyatlas.inventory import service
from skyatlas.inventory.verbs.cloud_service import CloudServiceCreate
from skyatlas.jobs import queue
from skyatlas.plugins import (
    CloudServiceTypeSpec,
    CollectContext,
    CollectError,
    PluginError,
    PluginMetadata,
    RegionRecord,
)
from skyatlas.store.migrate import alembic_config
from skyatlas.store.tables import cloud_service_collections, jobs


class FakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = "x"


class FakePlugin:
    """Yields `world[service_account_id]`: records, regions, errors; an exception is raised."""

    metadata = PluginMetadata(
        plugin_id="fake",
        kind="collector",
        name="Fake cloud",
        description="test double",
        provider="fakecloud",
        cloud_service_types=(
            CloudServiceTypeSpec(
                provider="fakecloud",
                group="Compute",
                name="Server",
                is_primary=True,
                search=({"key": "data.power", "name": "Power"},),
            ),
        ),
        options_model=FakeOptions,
    )

    def __init__(self) -> None:
        self.world: dict[str, list[Any]] = {}
        self.seen_secrets: list[dict[str, Any]] = []

    def collect(self, ctx: CollectContext) -> Iterator[Any]:
        self.seen_secrets.append(dict(ctx.secret))
        for item in self.world.get(ctx.account.service_account_id or "-", []):
            if isinstance(item, Exception):
                raise item
            yield item


def server(i: int, *, group: str = "Compute", type_: str = "Server", **extra: Any) -> dict:
    return {
        "provider": "fakecloud",
        "cloud_service_group": group,
        "cloud_service_type": type_,
        "name": f"srv-{i}",
        "account": "acct-1",
        "region_code": "fc-east-1",
        "reference": {"resource_id": f"{group}-{type_}-{i}"},
        "data": {"power": "on", "n": i},
        "tags": {"env": "prod" if i % 2 else "dev"},
        **extra,
    }


@pytest.fixture
def fake() -> FakePlugin:
    return FakePlugin()


def _env(backend: str, tmp_path: Any, request: pytest.FixtureRequest, fake: FakePlugin) -> Env:
    database_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    e = _make_env(backend, tmp_path, database_url, workers=0)
    e.runtime.plugins.register(fake)
    return e


@pytest.fixture
def cenv(backend: str, tmp_path: Any, request: pytest.FixtureRequest, fake: FakePlugin):
    """A server whose jobs run only when the test drains the queue (deterministic)."""
    e = _env(backend, tmp_path, request, fake)
    with e.client:
        yield e
    e.runtime.close()


def drain(env: Env) -> int:
    return env.runtime.workers.drain()


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    return response.json()["detail"]["message"]


class World:
    def __init__(self, env: Env, fake: FakePlugin) -> None:
        self.env, self.fake = env, fake
        self.project = env.ok(
            "/identity/project/create", {"name": "ops", "workspace_id": env.workspace_id}
        )["project_id"]
        self.other_project = env.ok(
            "/identity/project/create", {"name": "dev", "workspace_id": env.workspace_id}
        )["project_id"]

    def account(self, name: str, project_id: str | None = None, secret: bool = True) -> str:
        body: dict[str, Any] = {
            "name": name,
            "provider": "fakecloud",
            "project_id": project_id or self.project,
            "data": {"account_id": name},
        }
        if secret:
            body["secret_data"] = {"token": f"secret-of-{name}"}
        return self.env.ok("/identity/service-account/create", body)["service_account_id"]

    def collector(self, **extra: Any) -> str:
        body = {
            "name": extra.pop("name", "fake"),
            "plugin_info": {"plugin_id": "fake", "options": {"label": "a"}},
            "workspace_id": self.env.workspace_id,
            **extra,
        }
        return self.env.ok("/inventory/collector/create", body)["collector_id"]

    def collect(self, collector_id: str, **extra: Any) -> dict[str, Any]:
        return self.env.ok("/inventory/collector/collect", {"collector_id": collector_id, **extra})

    def run(self, collector_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        job = self.collect(collector_id)
        drain(self.env)
        return self.job(job["job_id"])

    def job(self, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        job = self.env.ok("/inventory/job/get", {"job_id": job_id})
        tasks = self.env.ok("/inventory/job-task/list", {"job_id": job_id})["results"]
        return job, tasks

    def resources(self, **filters: Any) -> dict[str, dict[str, Any]]:
        query = {"filter": [{"k": "state", "v": ["ACTIVE", "DISCONNECTED", "DELETED"], "o": "in"}]}
        rows = self.env.ok(
            "/inventory/cloud-service/list", {"provider": "fakecloud", "query": query, **filters}
        )["results"]
        return {r["reference"]["resource_id"]: r for r in rows}


def test_collector_create_validates_plugin_options_and_provider(cenv, fake):
    env = cenv
    w = World(env, fake)
    bad_plugin = env.call(
        "/inventory/collector/create",
        {"name": "c", "plugin_info": {"plugin_id": "nope"}, "workspace_id": env.workspace_id},
    )
    message = error_of(bad_plugin, 400)
    assert "nope" in message and "fake" in message and "aws" in message
    bad_option = env.call(
        "/inventory/collector/create",
        {
            "name": "c",
            "plugin_info": {"plugin_id": "fake", "options": {"colour": "red"}},
            "workspace_id": env.workspace_id,
        },
    )
    assert "plugin_info.options.colour" in error_of(bad_option, 400)
    bad_provider = env.call(
        "/inventory/collector/create",
        {
            "name": "c",
            "provider": "aws",
            "plugin_info": {"plugin_id": "fake"},
            "workspace_id": env.workspace_id,
        },
    )
    assert "fakecloud" in error_of(bad_provider, 400)
    bad_hour = env.call(
        "/inventory/collector/create",
        {
            "name": "c",
            "plugin_info": {"plugin_id": "fake"},
            "schedule": {"state": "ENABLED", "hours": [25]},
            "workspace_id": env.workspace_id,
        },
    )
    assert "schedule.hours" in error_of(bad_hour, 400)

    collector_id = w.collector(schedule={"state": "ENABLED", "hours": [12, 3, 3]})
    got = env.ok("/inventory/collector/get", {"collector_id": collector_id})
    assert got["provider"] == "fakecloud"
    assert got["schedule"] == {"state": "ENABLED", "hours": [3, 12]}
    assert got["plugin_info"]["options"] == {"label": "a"}
    schema = got["plugin_info"]["metadata"]["options_schema"]
    assert "label" in schema["properties"]
    assert got["plugin_info"]["metadata"]["cloud_service_types"] == ["fakecloud/Compute/Server"]
    assert error_of(
        env.call(
            "/inventory/collector/create",
            {
                "name": "fake",
                "plugin_info": {"plugin_id": "fake"},
                "workspace_id": env.workspace_id,
            },
        ),
        409,
    )
    listed = env.ok("/inventory/collector/list", {"provider": "fakecloud"})
    assert [c["collector_id"] for c in listed["results"]] == [collector_id]


def test_collect_returns_a_job_at_once_and_tasks_write_resources(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1, a2 = w.account("a1"), w.account("a2", w.other_project)
    w.account("no-secret", secret=False)
    fake.world[a1] = [server(i) for i in range(1, 6)] + [
        RegionRecord("fakecloud", "fc-east-1", "East")
    ]
    fake.world[a2] = [server(i, account="acct-2") for i in range(1, 4)]
    collector_id = w.collector()

    job = w.collect(collector_id)
    assert job["status"] == "IN_PROGRESS"
    assert (job["total_tasks"], job["remained_tasks"]) == (2, 2)
    assert drain(env) == 2
    job, tasks = w.job(job["job_id"])
    assert job["status"] == "SUCCESS", (job, tasks)
    assert (job["remained_tasks"], job["success_tasks"], job["failure_tasks"]) == (0, 2, 0)
    assert job["finished_at"] is not None
    by_account = {t["service_account_id"]: t for t in tasks}
    assert by_account[a1]["created_count"] == 5 and by_account[a2]["created_count"] == 3
    assert by_account[a1]["project_id"] == w.project

    # the secrets reached the plugin, and only the plugin
    assert {s["token"] for s in fake.seen_secrets} == {"secret-of-a1", "secret-of-a2"}
    assert "secret-of" not in str(env.ok("/inventory/job-task/list", {}))

    rows = env.ok("/inventory/cloud-service/list", {"provider": "fakecloud"})["results"]
    assert len(rows) == 8
    one = next(r for r in rows if r["account"] == "acct-2")
    assert one["project_id"] == w.other_project
    assert one["collection_info"]["collector_id"] == collector_id
    assert one["collection_info"]["service_account_id"] == a2
    assert one["tags"]["fakecloud"]["env"] in ("prod", "dev")
    # the plugin's type is declared with its searchable field; the region registered
    types = env.ok("/inventory/cloud-service-type/list", {"provider": "fakecloud"})["results"]
    assert [(t["group"], t["name"]) for t in types] == [("Compute", "Server")]
    assert types[0]["metadata"]["search"] == [{"key": "data.power", "name": "Power"}]
    regions = env.ok("/inventory/region/list", {"provider": "fakecloud"})["results"]
    assert [(r["region_code"], r["name"]) for r in regions] == [("fc-east-1", "East")]

    # running again creates nothing new
    job, tasks = w.run(collector_id)
    assert job["status"] == "SUCCESS"
    assert sum(t["created_count"] for t in tasks) == 0
    assert sum(t["updated_count"] for t in tasks) == 8
    assert env.ok("/inventory/cloud-service/list", {"provider": "fakecloud"})["total_count"] == 8


def test_missed_resources_disconnect_then_delete_and_come_back_with_their_id(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    fake.world[a1] = [server(i) for i in range(10)]
    collector_id = w.collector()
    w.run(collector_id)
    ids = {k: r["cloud_service_id"] for k, r in w.resources().items()}

    fake.world[a1] = [server(i) for i in range(7)]  # 7, 8 and 9 are gone
    gone = {"Compute-Server-7", "Compute-Server-8", "Compute-Server-9"}
    states = []
    for _run in range(3):
        _job, (task,) = w.run(collector_id)
        rows = w.resources()
        states.append({rows[k]["state"] for k in gone})
        assert {rows[k]["state"] for k in rows if k not in gone} == {"ACTIVE"}
        counts = (task["disconnected_count"], task["deleted_count"])
        assert counts == ((3, 0) if _run < 2 else (0, 3)), task
    assert states == [{"DISCONNECTED"}, {"DISCONNECTED"}, {"DELETED"}]
    assert w.resources()["Compute-Server-8"]["deleted_at"] is not None
    # hidden from default lists once deleted
    assert env.ok("/inventory/cloud-service/list", {"provider": "fakecloud"})["total_count"] == 7

    fake.world[a1] = [server(i) for i in range(9)]  # 7 and 8 come back
    w.run(collector_id)
    rows = w.resources()
    assert rows["Compute-Server-8"]["state"] == "ACTIVE"
    assert rows["Compute-Server-8"]["cloud_service_id"] == ids["Compute-Server-8"]
    assert rows["Compute-Server-9"]["state"] == "DELETED"


def test_a_resource_seen_again_unchanged_starts_its_count_of_misses_over(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    fake.world[a1] = [server(i) for i in range(3)]
    collector_id = w.collector()
    w.run(collector_id)
    first_seen = w.resources()["Compute-Server-2"]["collection_info"]["last_collected_at"]

    fake.world[a1] = [server(i) for i in range(2)]  # missed twice
    for _run in range(2):
        w.run(collector_id)
        assert w.resources()["Compute-Server-2"]["state"] == "DISCONNECTED"
    fake.world[a1] = [server(i) for i in range(3)]  # back, exactly as it was
    w.run(collector_id)
    back = w.resources()["Compute-Server-2"]
    assert back["state"] == "ACTIVE" and back["deleted_at"] is None
    assert back["collection_info"]["last_collected_at"] > first_seen
    w.run(collector_id)  # seen again, unchanged, while ACTIVE
    assert w.resources()["Compute-Server-2"]["state"] == "ACTIVE"

    # Missed again: the count of misses started over, so the third miss deletes it, not the
    # first.
    fake.world[a1] = [server(i) for i in range(2)]
    states = []
    for _run in range(3):
        w.run(collector_id)
        states.append(w.resources()["Compute-Server-2"]["state"])
    assert states == ["DISCONNECTED", "DISCONNECTED", "DELETED"]


def test_a_failed_task_fails_the_job_but_not_the_others_and_disconnects_nothing(cenv, fake):
    env = cenv
    w = World(env, fake)
    good, bad = w.account("good"), w.account("bad")
    fake.world[good] = [server(i, account="g") for i in range(3)]
    fake.world[bad] = [server(i, account="b") for i in range(4)]
    collector_id = w.collector()
    w.run(collector_id)

    fake.world[bad] = [PluginError("the cloud rejected the credentials of this account")]
    job, tasks = w.run(collector_id)
    assert job["status"] == "FAILURE"
    assert (job["success_tasks"], job["failure_tasks"], job["remained_tasks"]) == (1, 1, 0)
    failed = next(t for t in tasks if t["service_account_id"] == bad)
    assert failed["status"] == "FAILURE"
    assert failed["errors"][-1]["message"] == "the cloud rejected the credentials of this account"
    assert failed["failure_count"] == 1
    assert {r["state"] for r in w.resources().values()} == {"ACTIVE"}

    # a crash inside the plugin is a failed task with a readable reason, not a stuck job
    fake.world[bad] = [server(0, account="b"), ZeroDivisionError("boom")]
    job, tasks = w.run(collector_id)
    failed = next(t for t in tasks if t["service_account_id"] == bad)
    assert job["status"] == "FAILURE" and failed["status"] == "FAILURE"
    assert "ZeroDivisionError" in failed["errors"][-1]["message"]
    assert {r["state"] for r in w.resources().values()} == {"ACTIVE"}


def test_per_resource_errors_are_counted_and_spare_what_could_not_be_read(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    fake.world[a1] = [server(i) for i in range(3)] + [
        server(i, group="Storage", type_="Disk") for i in range(3)
    ]
    collector_id = w.collector()
    w.run(collector_id)

    fake.world[a1] = [
        server(0),  # servers 1 and 2 are really gone
        CollectError(
            "AccessDenied on disks in fc-east-1",
            cloud_service_group="Storage",
            cloud_service_type="Disk",
            additional={"region_code": "fc-east-1"},
        ),
        {"provider": "fakecloud", "cloud_service_group": "Compute", "name": "no type"},
    ]
    _job, (task,) = w.run(collector_id)
    assert task["status"] == "SUCCESS"
    assert task["failure_count"] == 2
    messages = [e["message"] for e in task["errors"]]
    assert "AccessDenied on disks in fc-east-1" in messages
    assert any("cloud_service_type" in m for m in messages)
    rows = w.resources()
    assert {rows[f"Storage-Disk-{i}"]["state"] for i in range(3)} == {"ACTIVE"}
    # the invalid record names group Compute without a type: the whole group is spared
    assert {rows[f"Compute-Server-{i}"]["state"] for i in range(3)} == {"ACTIVE"}

    # an error that names no kind at all: nothing is reconciled
    fake.world[a1] = [server(0), CollectError("the region list could not be read")]
    _job, (task,) = w.run(collector_id)
    assert (task["disconnected_count"], task["deleted_count"]) == (0, 0)
    assert {r["state"] for r in w.resources().values()} == {"ACTIVE"}

    # a clean run finally disconnects what is gone (servers 1, 2 and the three disks)
    fake.world[a1] = [server(0)]
    _job, (task,) = w.run(collector_id)
    assert task["disconnected_count"] == 5


def test_cancel_stops_pending_tasks_and_delete_needs_a_finished_job(cenv, fake):
    env = cenv
    w = World(env, fake)
    for name in ("a1", "a2", "a3"):
        fake.world[w.account(name)] = [server(1, account=name)]
    collector_id = w.collector()
    job = w.collect(collector_id)
    assert "cancel it first" in error_of(
        env.call("/inventory/job/delete", {"job_id": job["job_id"]}), 400
    )
    assert "in progress" in error_of(
        env.call("/inventory/collector/delete", {"collector_id": collector_id}), 409
    )
    cancelled = env.ok("/inventory/job/cancel", {"job_id": job["job_id"]})
    assert cancelled["status"] == "CANCELED"
    assert (cancelled["canceled_tasks"], cancelled["remained_tasks"]) == (3, 0)
    drain(env)
    job, tasks = w.job(job["job_id"])
    assert job["status"] == "CANCELED" and {t["status"] for t in tasks} == {"CANCELED"}
    assert w.resources() == {}
    assert "only IN_PROGRESS" in error_of(
        env.call("/inventory/job/cancel", {"job_id": job["job_id"]}), 400
    )
    env.ok("/inventory/job/delete", {"job_id": job["job_id"]})
    assert env.ok("/inventory/job-task/list", {"job_id": job["job_id"]})["total_count"] == 0
    env.ok("/inventory/collector/delete", {"collector_id": collector_id})


def test_collect_without_accounts_or_for_one_account(cenv, fake):
    env = cenv
    w = World(env, fake)
    collector_id = w.collector()
    assert "no service account" in error_of(
        env.call("/inventory/collector/collect", {"collector_id": collector_id}), 400
    )
    a1, a2 = w.account("a1"), w.account("a2")
    fake.world[a1] = [server(1)]
    job = w.collect(collector_id, service_account_id=a2)
    assert job["total_tasks"] == 1
    assert error_of(
        env.call(
            "/inventory/collector/collect",
            {"collector_id": collector_id, "service_account_id": "sa-nope"},
        ),
        404,
    )
    filtered = w.collector(name="only-a1", secret_filter={"service_accounts": [a1]})
    job, tasks = w.run(filtered)
    assert [t["service_account_id"] for t in tasks] == [a1]


def test_a_member_sees_only_its_projects_tasks_and_cannot_collect(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1, a2 = w.account("a1"), w.account("a2", w.other_project)
    fake.world[a1] = [server(1)]
    fake.world[a2] = [server(2)]
    collector_id = w.collector()
    job, _ = w.run(collector_id)
    member = env.ok(
        "/identity/app/create",
        {
            "name": "m",
            "role_id": "managed-workspace-member",
            "workspace_id": env.workspace_id,
            "project_id": w.project,
        },
    )["client_secret"]
    tasks = env.ok("/inventory/job-task/list", {"job_id": job["job_id"]}, token=member)
    assert [t["service_account_id"] for t in tasks["results"]] == [a1]
    assert (
        env.call(
            "/inventory/collector/collect", {"collector_id": collector_id}, token=member
        ).status_code
        == 403
    )


def _stale(env: Env, job_row: Any, attempts: int) -> None:
    with env.runtime.store.begin() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.seq == job_row.seq)
            .values(
                state="RUNNING",
                attempts=attempts,
                worker="dead-host:1:1",
                heartbeat_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )


def _queued(env: Env) -> Any:
    with env.runtime.store.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.kind == "collect")).first()


def test_a_task_left_running_by_a_dead_worker_is_resumed(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    fake.world[a1] = [server(i) for i in range(4)]
    job = w.collect(w.collector())
    _stale(env, _queued(env), attempts=1)  # as if a worker claimed it, then died
    drain(env)
    job, (task,) = w.job(job["job_id"])
    assert job["status"] == "SUCCESS"
    assert task["attempts"] == 2
    assert task["errors"][0]["error_code"] == "WARNING_RESUMED"
    assert len(w.resources()) == 4


def test_a_task_whose_worker_keeps_dying_is_given_up_with_a_reason(cenv, fake):
    env = cenv
    w = World(env, fake)
    fake.world[w.account("a1")] = [server(1)]
    job = w.collect(w.collector())
    _stale(env, _queued(env), attempts=queue.MAX_ATTEMPTS)
    drain(env)
    job, (task,) = w.job(job["job_id"])
    assert job["status"] == "FAILURE" and task["status"] == "FAILURE"
    assert "given up after 3 attempts" in task["errors"][-1]["message"]
    assert _queued(env).state == "FAILED"


def test_a_live_lease_is_not_taken_over(cenv, fake):
    env = cenv
    w = World(env, fake)
    fake.world[w.account("a1")] = [server(1)]
    job = w.collect(w.collector())
    row = _queued(env)
    with env.runtime.store.begin() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.seq == row.seq)
            .values(state="RUNNING", attempts=1, worker="w", heartbeat_at=datetime.now(UTC))
        )
    assert drain(env) == 0
    assert w.job(job["job_id"])[0]["status"] == "IN_PROGRESS"


def test_schedules_queue_one_run_per_hour_per_collector(cenv, fake):
    env = cenv
    w = World(env, fake)
    fake.world[w.account("a1")] = [server(1)]
    # Hours the real clock is not in while the test runs: the server's own scheduler must not
    # queue a run of its own beside the ones this test asks for.
    first = (datetime.now(UTC).hour + 6) % 24
    hours = sorted({first, (first + 12) % 24})
    hourly = w.collector(name="twice-a-day", schedule={"state": "ENABLED", "hours": hours})
    w.collector(name="off", schedule={"state": "DISABLED", "hours": [first]})
    at_first = datetime(2026, 11, 22, hours[0], 5, tzinfo=UTC)
    started = queue_due_collections(env.runtime, at_first)
    assert len(started) == 1
    assert queue_due_collections(env.runtime, at_first + timedelta(minutes=50)) == []
    assert queue_due_collections(env.runtime, at_first + timedelta(hours=1)) == []
    assert len(queue_due_collections(env.runtime, at_first + timedelta(hours=12))) == 1
    drain(env)
    jobs_ = env.ok("/inventory/job/list", {"collector_id": hourly})["results"]
    assert len(jobs_) == 2
    assert {j["trigger"] for j in jobs_} == {"SCHEDULED"}
    assert {j["status"] for j in jobs_} == {"SUCCESS"}


@pytest.mark.parametrize("backend", ["postgres"])
def test_two_processes_looking_at_the_clock_queue_one_run(backend, tmp_path, request, fake):
    """Two runtimes on one PostgreSQL database stand for two worker processes."""
    from skyatlas.runtime import Runtime

    env = _env(backend, tmp_path, request, fake)
    with env.client:
        w = World(env, fake)
        fake.world[w.account("a1")] = [server(1)]
        w.collector(schedule={"state": "ENABLED", "hours": [7]})
        other = Runtime.open(env.settings)
        other.plugins.register(fake)
        at_7 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
        import threading

        results: list[list[str]] = []
        barrier = threading.Barrier(2)

        def look(runtime: Runtime) -> None:
            barrier.wait()
            results.append(queue_due_collections(runtime, at_7))

        threads = [threading.Thread(target=look, args=(rt,)) for rt in (env.runtime, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        other.close()
        assert sorted(len(r) for r in results) == [0, 1]
        assert env.ok("/inventory/job/list", {})["total_count"] == 1
    env.runtime.close()


def test_an_error_in_one_region_spares_that_region_only(cenv, fake):
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    east = [server(i) for i in range(2)]
    west = [server(i, region_code="fc-west-1", name=f"w{i}") for i in range(2, 4)]
    fake.world[a1] = east + west
    collector_id = w.collector()
    w.run(collector_id)

    fake.world[a1] = [  # everything is gone, but the west could not be read
        CollectError(
            "throttled",
            cloud_service_group="Compute",
            cloud_service_type="Server",
            region_code="fc-west-1",
        )
    ]
    _job, (task,) = w.run(collector_id)
    assert task["disconnected_count"] == 2
    assert task["errors"][0]["additional"]["region_code"] == "fc-west-1"
    states = {k: r["state"] for k, r in w.resources().items()}
    assert states == {
        "Compute-Server-0": "DISCONNECTED",
        "Compute-Server-1": "DISCONNECTED",
        "Compute-Server-2": "ACTIVE",
        "Compute-Server-3": "ACTIVE",
    }


# A resource's `collection_info` lives in its own table (`cloud_service_collections`): it must
# still read, filter, sort and group like a field of the resource, follow the resource through
# imports and collections, and survive the upgrade that moved it there.


def _list(env: Env, *conditions: dict[str, Any], **query: Any) -> list[dict[str, Any]]:
    return env.ok(
        "/inventory/cloud-service/list",
        {"query": {"filter": list(conditions), **query}},
    )["results"]


def test_collection_info_reads_filters_sorts_and_groups(cenv, fake) -> None:
    env = cenv
    w = World(env, fake)
    a1, a2 = w.account("a1"), w.account("a2")
    fake.world[a1] = [server(i) for i in range(3)]
    fake.world[a2] = [server(i, account="acct-2") for i in range(2)]
    collector_id = w.collector()
    w.run(collector_id)
    by_hand = env.ok(
        "/inventory/cloud-service/create",
        {
            "provider": "fakecloud",
            "cloud_service_group": "Compute",
            "cloud_service_type": "Server",
            "name": "by-hand",
            "data": {},
            "workspace_id": env.workspace_id,
            "project_id": w.project,
        },
    )
    assert by_hand["collection_info"] == {
        "service_account_id": None,
        "secret_id": None,
        "collector_id": None,
        "last_collected_at": None,
    }

    of_a2 = _list(env, {"k": "collection_info.service_account_id", "v": a2, "o": "eq"})
    assert sorted(r["account"] for r in of_a2) == ["acct-2", "acct-2"]
    info = of_a2[0]["collection_info"]
    assert info["collector_id"] == collector_id and info["service_account_id"] == a2
    assert info["secret_id"] and info["last_collected_at"]
    assert (
        env.ok("/inventory/cloud-service/get", {"cloud_service_id": of_a2[0]["cloud_service_id"]})[
            "collection_info"
        ]
        == info
    )

    uncollected = _list(env, {"k": "collection_info.collector_id", "v": False, "o": "exists"})
    assert [r["name"] for r in uncollected] == ["by-hand"]

    ordered = _list(
        env,
        {"k": "provider", "v": "fakecloud", "o": "eq"},
        sort=[{"key": "collection_info.service_account_id", "desc": True}],
    )
    expected = sorted([a1] * 3 + [a2] * 2, reverse=True)
    assert [r["collection_info"]["service_account_id"] for r in ordered[:5]] == expected

    stat = env.ok(
        "/inventory/cloud-service/stat",
        {
            "query": {
                "aggregate": [
                    {
                        "group": {
                            "keys": [{"key": "collection_info.service_account_id", "name": "sa"}],
                            "fields": [{"operator": "count", "name": "n"}],
                        }
                    }
                ]
            }
        },
    )["results"]
    assert {r["sa"]: r["n"] for r in stat} == {a1: 3, a2: 2, None: 1}

    only = _list(
        env,
        {"k": "collection_info.service_account_id", "v": a1, "o": "eq"},
        only=["name", "collection_info.last_collected_at"],
    )
    assert len(only) == 3
    assert all(set(r) == {"name", "collection_info"} for r in only)
    assert all(r["collection_info"]["last_collected_at"] for r in only)


def test_an_import_takes_a_resource_out_of_its_collectors_reconcile(cenv, fake) -> None:
    """An import (or an API create) writes a resource as nobody's collection: it is no longer
    the collector's to disconnect when the collector stops seeing it."""
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    fake.world[a1] = [server(i) for i in range(3)]
    collector_id = w.collector()
    w.run(collector_id)

    imported = CloudServiceCreate.model_validate({**server(2), "project_id": w.project}).body()
    with env.runtime.store.begin() as conn:
        result = service.write_batch(
            conn,
            domain_id=env.domain_id,
            workspace_id=env.workspace_id,
            bodies=[imported],
            upsert=True,
            created_by="import",
        )
    assert (result.created, result.updated) == (0, 1)
    assert w.resources()["Compute-Server-2"]["collection_info"]["collector_id"] is None

    fake.world[a1] = [server(i) for i in range(2)]
    _job, (task,) = w.run(collector_id)
    assert task["disconnected_count"] == 0
    states = {k: r["state"] for k, r in w.resources().items()}
    assert states == dict.fromkeys(
        ("Compute-Server-0", "Compute-Server-1", "Compute-Server-2"), "ACTIVE"
    )

    # Collected again, it is the collector's again (and missed, disconnected by it).
    fake.world[a1] = [server(i) for i in range(3)]
    w.run(collector_id)
    assert w.resources()["Compute-Server-2"]["collection_info"]["collector_id"] == collector_id
    fake.world[a1] = [server(i) for i in range(2)]
    w.run(collector_id)
    assert w.resources()["Compute-Server-2"]["state"] == "DISCONNECTED"


def test_a_resource_collected_under_another_account_is_marked_with_it(cenv, fake) -> None:
    env = cenv
    w = World(env, fake)
    a1, a2 = w.account("a1"), w.account("a2")
    fake.world[a1] = [server(0)]
    collector_id = w.collector()
    w.run(collector_id)
    before = w.resources()["Compute-Server-0"]["collection_info"]
    assert before["service_account_id"] == a1

    fake.world[a1], fake.world[a2] = [], [server(0)]  # the same resource, now seen through a2
    w.run(collector_id)
    after = w.resources()["Compute-Server-0"]
    assert after["state"] == "ACTIVE"
    assert after["collection_info"]["service_account_id"] == a2
    assert after["collection_info"]["secret_id"] != before["secret_id"]
    assert after["collection_info"]["last_collected_at"] > before["last_collected_at"]


def test_the_upgrade_moves_collection_info_out_of_the_resource_row(env) -> None:
    """A store written before 0015 (downgraded to 0014 here, which puts the columns back with
    their values) keeps every resource's collection info through the upgrade."""
    collected_at = utcnow()
    with env.runtime.store.begin() as conn:
        service.write_batch(
            conn,
            domain_id=env.domain_id,
            workspace_id=env.workspace_id,
            bodies=[CloudServiceCreate.model_validate(server(i)).body() for i in range(4)],
            upsert=True,
            collection=service.Collection("collector-1", "sa-1", "secret-1", collected_at),
        )
        service.write_batch(
            conn,
            domain_id=env.domain_id,
            workspace_id=env.workspace_id,
            bodies=[CloudServiceCreate.model_validate(server(9)).body()],
            upsert=True,
        )
        before = sorted(conn.execute(select(cloud_service_collections)).all())
        assert len(before) == 4
        command.downgrade(alembic_config(conn), "0014")
        assert "cloud_service_collections" not in inspect(conn).get_table_names()
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM cloud_services WHERE collector_id = 'collector-1' "
                    "AND service_account_id = 'sa-1' AND secret_id = 'secret-1'"
                )
            ).scalar_one()
            == 4
        )
        command.upgrade(alembic_config(conn), "head")
        assert sorted(conn.execute(select(cloud_service_collections)).all()) == before
        columns = {c["name"] for c in inspect(conn).get_columns("cloud_services")}
        assert not columns & {
            "collector_id",
            "service_account_id",
            "secret_id",
            "last_collected_at",
        }
    assert before[0].last_collected_at == collected_at


@pytest.mark.parametrize("pending_marks", [1, runner.PENDING_MARKS])
def test_a_run_writes_the_time_of_everything_it_saw_unchanged(
    cenv, fake, monkeypatch, pending_marks
):
    """Marks of resources seen again unchanged are written in one pass at the end of the run,
    or along the way when a run holds too many of them: either way none is lost, so the
    reconcile never takes a resource the run saw for a missed one."""
    monkeypatch.setattr(runner, "PENDING_MARKS", pending_marks)
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)  # several batches, several flushes
    env = cenv
    w = World(env, fake)
    a1 = w.account("a1")
    fake.world[a1] = [server(i) for i in range(5)]
    collector_id = w.collector()
    w.run(collector_id)
    first = {k: r["collection_info"]["last_collected_at"] for k, r in w.resources().items()}

    fake.world[a1] = [server(i) for i in range(4)]  # 4 unchanged, 1 missed
    _job, (task,) = w.run(collector_id)
    assert (task["updated_count"], task["disconnected_count"]) == (4, 1)
    rows = w.resources()
    assert rows["Compute-Server-4"]["state"] == "DISCONNECTED"
    for i in range(4):
        row = rows[f"Compute-Server-{i}"]
        assert row["state"] == "ACTIVE"
        assert row["collection_info"]["last_collected_at"] > first[f"Compute-Server-{i}"]


def test_deleting_a_workspace_takes_its_collection_marks(env) -> None:
    doomed = env.ok("/identity/workspace/create", {"name": "doomed"})["workspace_id"]
    with env.runtime.store.begin() as conn:
        for workspace_id in (doomed, env.workspace_id):
            service.write_batch(
                conn,
                domain_id=env.domain_id,
                workspace_id=workspace_id,
                bodies=[CloudServiceCreate.model_validate(server(i)).body() for i in range(3)],
                upsert=True,
                collection=service.Collection("collector-1", "sa-1", "secret-1", utcnow()),
            )
    env.ok("/identity/workspace/delete", {"workspace_id": doomed, "force": True})
    with env.runtime.store.read() as conn:
        left = conn.execute(select(cloud_service_collections.c.cloud_service_id)).scalars().all()
    kept = env.ok("/inventory/cloud-service/list", {"provider": "fakecloud"})["results"]
    assert sorted(left) == sorted(r["cloud_service_id"] for r in kept)
    assert len(left) == 3
