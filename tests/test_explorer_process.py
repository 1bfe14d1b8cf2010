"""The Resource Explorer dialect against a real `skyatlas serve`: accepted tag operations
survive a kill -9, and the `skyatlas explorer` commands a user types."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from serverproc import Server, clean_env, http, running

pytestmark = pytest.mark.slow


def secret(server: Server) -> str:
    return json.loads(server.bootstrap_path.read_text())["client_secret"]


def explorer(server: Server, method: str, path: str, body: Any = None) -> Any:
    with http() as s:
        r = s.request(
            method,
            server.url + path,
            json=body,
            headers={"X-Auth-Token": secret(server)},
            timeout=30,
        )
    return r


def first_project(server: Server) -> str:
    answer = server.ok("/identity/project/list", secret(server), {"query": {"page": {"limit": 1}}})
    return answer["results"][0]["project_id"]


def kcrns_of(server: Server, project_id: str, n: int) -> list[str]:
    body = {"filter": {"filter_kcrn": f"kcrn:*:{project_id}:*:*:*"}, "limit": n}
    r = explorer(server, "POST", "/api/v1/resources/search", body)
    assert r.status_code == 200, r.text
    return [x["kcrn"] for x in r.json()["resources"]]


def operation(server: Server, op: str) -> dict[str, Any]:
    r = explorer(server, "GET", f"/api/v1/operations/{op}")
    assert r.status_code == 200, r.text
    return r.json()["operation"]


def wait_applied(server: Server, op: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = operation(server, op)
        if state["state"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_accepted_operations_survive_kill_9_and_apply_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    args: list[str] = ["--demo"]
    env = clean_env()
    if backend == "postgres":
        args += ["--database-url", request.getfixturevalue("pg_database")]
    data_dir = tmp_path / "data"
    # An API-only process: it accepts work and applies none of it.
    with running(tmp_path, *args, "--workers", "0", data_dir=data_dir, env=env) as server:
        project = first_project(server)
        created = explorer(
            server,
            "POST",
            "/api/v1/tags",
            {"tags": [{"key": "owner", "value": "sre"}], "project_id": project},
        )
        assert created.status_code == 202, created.text
        tag_id = created.json()["tags"][0]["tag_id"]
        targets = kcrns_of(server, project, 3)
        attached = explorer(
            server,
            "PATCH",
            "/api/v1/tags",
            {"kcrns": targets, "connect_tag_ids": [tag_id], "disconnect_tag_ids": []},
        )
        assert attached.status_code == 202, attached.text
        ops = [created.json()["operation_id"], attached.json()["operation_id"]]
        time.sleep(0.5)
        assert [operation(server, op)["state"] for op in ops] == ["PENDING", "PENDING"]
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)

    restart_args = [a for a in args if a != "--demo"]
    with running(tmp_path, *restart_args, data_dir=data_dir, env=env, name="again") as server:
        states = [wait_applied(server, op) for op in ops]
        assert [s["state"] for s in states] == ["SUCCEEDED", "SUCCEEDED"], states
        found = explorer(
            server,
            "POST",
            "/api/v1/resources/search",
            {"filter": {"filter_string": "tag.key=owner&tag.value=sre"}},
        ).json()
        assert sorted(r["kcrn"] for r in found["resources"]) == sorted(targets)
        tags = explorer(
            server, "POST", "/api/v1/tags/search", {"filter": {"filter_string": "tag.key=owner"}}
        ).json()
        # Exactly once: one tag, attached to the three resources, not twice.
        assert [(t["tag_id"], t["resource_count"]) for t in tags["tags"]] == [(tag_id, 3)]


# -- the CLI ---------------------------------------------------------------------------------


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("skyatlas")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "skyatlas"]
    env = clean_env(
        XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"), COLUMNS="80"
    )
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, cwd=home, timeout=120
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running(tmp_path_factory.mktemp("explorer-cli"), "--demo") as server:
        yield server


@pytest.fixture
def home(demo: Server, tmp_path: Path) -> Path:
    done = cli(tmp_path, "setting", "init", "local", "--data-dir", str(demo.data_dir))
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_explorer_search_outputs(demo: Server, home: Path) -> None:
    query = "service=EC2&resource_type=Instance&tag.key=env&tag.value=prod"
    as_json = cli(home, "explorer", "search", query, "-r", "7", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    direct = explorer(
        demo, "POST", "/api/v1/resources/search", {"filter": {"filter_string": query}, "limit": 7}
    ).json()
    assert answer["resources"] == direct["resources"]
    assert answer["total_count"] == direct["total_count"] > 7

    table = cli(home, "explorer", "search", query, "-r", "7")
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["SERVICE", "RESOURCE_TYPE", "REGION"]
    assert len(lines) == 8 and all(len(line) <= 80 for line in lines)
    assert f"7 of {direct['total_count']:,}" in table.stderr

    every = cli(home, "explorer", "search", query, "--all", "-r", "50", "-o", "csv")
    rows = every.stdout.splitlines()
    assert rows[0].startswith("kcrn,project_id,region,service,resource_type")
    assert len(rows) - 1 == direct["total_count"]
    assert len(set(rows[1:])) == direct["total_count"]

    ordered = cli(
        home, "explorer", "search", query, "--sort", "-resource_name", "--limit", "5", "-o", "yaml"
    )
    assert ordered.returncode == 0, ordered.stderr
    page = yaml.safe_load(ordered.stdout)
    sorted_direct = explorer(
        demo,
        "POST",
        "/api/v1/resources/search",
        {"filter": {"filter_string": query}, "limit": 5, "sort": "-resource_name"},
    ).json()
    assert page["resources"] == sorted_direct["resources"]
    names = [r["resource_name"] for r in page["resources"]]
    assert len(names) == 5 and names == sorted(names, reverse=True)


def test_explorer_kcrn_filter_from_the_cli(home: Path) -> None:
    done = cli(home, "explorer", "search", "--kcrn", "kcrn:*:*:EC2:SecurityGroup:*", "-o", "json")
    assert done.returncode == 0, done.stderr
    resources = json.loads(done.stdout)["resources"]
    assert resources and {(r["service"], r["resource_type"]) for r in resources} == {
        ("EC2", "SecurityGroup")
    }


def test_explorer_tags_create_attach_delete(demo: Server, home: Path) -> None:
    project = first_project(demo)
    made = cli(home, "explorer", "tags", "create", "cli=yes", "--project-id", project, "-o", "json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["operation"]["state"] == "SUCCEEDED"
    tag_id = created["tags"][0]["tag_id"]
    shown = cli(home, "explorer", "tags", "get", tag_id, "-o", "json")
    assert json.loads(shown.stdout)["key"] == "cli"

    targets = kcrns_of(demo, project, 2)
    attached = cli(home, "explorer", "tags", "attach", *targets, "--connect", tag_id)
    assert attached.returncode == 0, attached.stderr
    listed = cli(home, "explorer", "tags", "search", "tag.key=cli", "-o", "json")
    assert json.loads(listed.stdout)["tags"][0]["resource_count"] == 2
    detached = cli(home, "explorer", "tags", "attach", targets[0], "--disconnect", tag_id)
    assert detached.returncode == 0, detached.stderr
    listed = cli(home, "explorer", "tags", "search", "tag.key=cli", "-o", "json")
    assert json.loads(listed.stdout)["tags"][0]["resource_count"] == 1
    by_key = cli(home, "explorer", "tags", "search", "tag.type=system", "-s", "-tag.key", "-ojson")
    keys = [t["key"] for t in json.loads(by_key.stdout)["tags"]]
    assert len(set(keys)) > 1 and keys == sorted(keys, reverse=True)

    deleted = cli(home, "explorer", "tags", "delete", tag_id)
    assert deleted.returncode == 0, deleted.stderr
    gone = cli(home, "explorer", "tags", "get", tag_id)
    assert gone.returncode == 1
    assert gone.stderr.strip().startswith("skyatlas: ERROR_NOT_FOUND (404)")


def test_explorer_cli_errors_are_one_line(home: Path) -> None:
    bad = cli(home, "explorer", "search", "regoin=x")
    assert bad.returncode == 1
    assert bad.stdout == ""
    line = bad.stderr.strip()
    assert "\n" not in line and 'unknown key "regoin"' in line and "Traceback" not in line
    pair = cli(home, "explorer", "tags", "create", "novalue")
    assert pair.returncode == 2 and "expected key=value" in pair.stderr
