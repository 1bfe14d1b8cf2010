"""Collections against real processes: a kill -9 in the middle of one, two `skyatlas worker`
processes sharing PostgreSQL, and `skyatlas inventory collect ... --wait`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from serverproc import Server, clean_env, running, start

pytestmark = pytest.mark.slow


def secret(server: Server) -> str:
    return json.loads(server.bootstrap_path.read_text())["client_secret"]


def workspace(server: Server) -> str:
    return json.loads(server.bootstrap_path.read_text())["workspace_id"]


def write_records(path: Path, count: int, *, prefix: str = "vm") -> Path:
    from skyatlas.inventory.generator import generate_cloud_services

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for i, record in enumerate(generate_cloud_services(count, seed=3)):
            record["reference"] = {"resource_id": f"{prefix}-{i}"}
            fh.write(orjson.dumps(record) + b"\n")
    return path


def file_collector(server: Server, name: str, path: Path) -> str:
    return server.ok(
        "/inventory/collector/create",
        secret(server),
        {
            "name": name,
            "plugin_info": {"plugin_id": "file", "options": {"path": str(path)}},
            "workspace_id": workspace(server),
        },
    )["collector_id"]


def wait_job(server: Server, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = server.ok("/inventory/job/get", secret(server), {"job_id": job_id})
        if job["status"] != "IN_PROGRESS":
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} still IN_PROGRESS after {timeout}s:\n{server.output()[-3000:]}")


def tasks_of(server: Server, job_id: str) -> list[dict[str, Any]]:
    return server.ok("/inventory/job-task/list", secret(server), {"job_id": job_id})["results"]


def total(server: Server) -> int:
    return server.ok(
        "/inventory/cloud-service/list", secret(server), {"query": {"count_only": True}}
    )["total_count"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_collection_killed_mid_run_is_resumed_after_restart_and_converges(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    count = 16_000  # eight batches: the kill lands after the first, long before the last
    data_dir = tmp_path / "data"
    source = write_records(data_dir / "imports" / "big.jsonl", count)
    args = (
        ["--database-url", request.getfixturevalue("pg_database")] if backend == "postgres" else []
    )
    env = clean_env(SKYATLAS_JOB_LEASE_SECONDS="3")
    server = start(tmp_path, *args, data_dir=data_dir, env=env, name="first")
    try:
        server.wait_ready()
        collector_id = file_collector(server, "big", source)
        job = server.ok(
            "/inventory/collector/collect", secret(server), {"collector_id": collector_id}
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill once the task has written some, not all
            (task,) = tasks_of(server, job["job_id"])
            if task["created_count"] > 0:
                break
            time.sleep(0.05)
        assert task["status"] == "IN_PROGRESS" and task["created_count"] < count, task
        server.kill()  # SIGKILL: no clean-up of any kind
    finally:
        server.kill()

    with running(tmp_path, *args, data_dir=data_dir, env=env, name="second") as again:
        ended = wait_job(again, job["job_id"])
        (task,) = tasks_of(again, job["job_id"])
        assert ended["status"] == "SUCCESS", (ended, task)
        assert task["attempts"] == 2
        assert task["errors"][0]["error_code"] == "WARNING_RESUMED"
        assert total(again) == count
        # and a new run converges on the same inventory: nothing created, nothing lost
        rerun = again.ok(
            "/inventory/collector/collect", secret(again), {"collector_id": collector_id}
        )
        assert wait_job(again, rerun["job_id"])["status"] == "SUCCESS"
        (task,) = tasks_of(again, rerun["job_id"])
        assert (task["created_count"], task["updated_count"]) == (0, count)
        assert (task["disconnected_count"], task["deleted_count"]) == (0, 0)
        assert total(again) == count


def worker_command(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("skyatlas")
    return (
        [str(exe), "worker", *args]
        if exe.exists()
        else [sys.executable, "-m", "skyatlas", "worker", *args]
    )


def test_two_worker_processes_on_postgres_never_run_a_task_twice(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_database")
    data_dir = tmp_path / "data"
    collectors = 16
    per_file = 300
    with running(
        tmp_path, "--database-url", url, "--workers", "0", data_dir=data_dir, name="api"
    ) as api:
        ids = [
            file_collector(
                api,
                f"c{i}",
                write_records(data_dir / "imports" / f"f{i}.jsonl", per_file, prefix=f"f{i}"),
            )
            for i in range(collectors)
        ]
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        procs = []
        for log in logs:
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        worker_command(
                            "--database-url", url, "--data-dir", str(data_dir), "--threads", "3"
                        ),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=clean_env(),
                        cwd=tmp_path,
                    )
                )
        try:
            # both processes are polling before any work is queued, so neither can drain the
            # queue alone while the other is still starting
            deadline = time.monotonic() + 60
            while not all("worker running" in log.read_text() for log in logs):
                assert time.monotonic() < deadline, [log.read_text() for log in logs]
                time.sleep(0.1)
            jobs = [
                api.ok("/inventory/collector/collect", secret(api), {"collector_id": c})["job_id"]
                for c in ids
            ]
            ended = [wait_job(api, j) for j in jobs]
        finally:
            for p in procs:
                p.kill()
                p.wait(10)
        tasks = [t for j in jobs for t in tasks_of(api, j)]
        assert {j["status"] for j in ended} == {"SUCCESS"}, [t["errors"] for t in tasks]
        assert len(tasks) == collectors
        # each task ran exactly once: one attempt, and everything it wrote it created
        assert {t["attempts"] for t in tasks} == {1}
        assert {(t["created_count"], t["updated_count"]) for t in tasks} == {(per_file, 0)}
        assert total(api) == collectors * per_file
        # and both processes did some of the work
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            workers = conn.execute(
                text("SELECT split_part(worker, ':', 2) AS pid, count(*) FROM jobs GROUP BY 1")
            ).all()
        engine.dispose()
        assert len(workers) == 2, workers


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("skyatlas")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_collect_wait_from_the_cli_follows_the_job_to_its_end(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    source = write_records(data_dir / "imports" / "r.jsonl", 3000)
    with running(tmp_path, data_dir=data_dir) as server:
        collector_id = file_collector(server, "files", source)
        env = clean_env(
            SKYATLAS_ENDPOINT=server.url,
            SKYATLAS_TOKEN=secret(server),
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            XDG_CACHE_HOME=str(tmp_path / "cache"),
        )
        done = cli(
            env,
            "inventory",
            "collect",
            "Collector",
            "-p",
            f"collector_id={collector_id}",
            "--wait",
            "-o",
            "json",
        )
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["status"] == "SUCCESS" and job["remained_tasks"] == 0
        assert "created 3,000" in done.stderr
        assert total(server) == 3000

        # a collector whose run fails: the job ends FAILURE and the command says so (exit 1)
        missing = file_collector(server, "missing", data_dir / "imports" / "nope.jsonl")
        failed = cli(
            env, "inventory", "collect", "Collector", "-p", f"collector_id={missing}", "--wait"
        )
        assert failed.returncode == 1
        assert "ended FAILURE" in failed.stderr
        # outside the import directory: refused with a reason the task shows
        outside = write_records(tmp_path / "elsewhere.jsonl", 5)
        other = file_collector(server, "outside", outside)
        job = server.ok("/inventory/collector/collect", secret(server), {"collector_id": other})
        assert wait_job(server, job["job_id"])["status"] == "FAILURE"
        (task,) = tasks_of(server, job["job_id"])
        assert "outside the directories this server imports from" in task["errors"][-1]["message"]
        # --wait on a verb that starts no job is a usage error
        usage = cli(env, "inventory", "list", "Region", "--wait")
        assert usage.returncode == 2 and "did not start a job" in usage.stderr
