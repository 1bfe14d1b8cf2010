"""`skyatlas serve` as a user runs it: a real process, a real port, real signals.

Every test starts the installed `skyatlas` command (or `python -m skyatlas`) in a subprocess with
its data dir under tmp_path and a free port, talks to it over HTTP, and kills it in a finally.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from serverproc import STOP_TIMEOUT, Server, clean_env, http, running, start
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.slow

BOOTSTRAP_KEYS = {
    "endpoint",
    "domain_id",
    "workspace_id",
    "app_id",
    "client_secret",
    "admin_user_id",
    "admin_password",
}
# shared/ sits beside the repository (in development and in CI alike).
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_8ec30d0a9dae03e0.txt"
PG_ADMIN_URL = os.environ.get("SKYATLAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

#: The Python example of the SpaceONE API guide (the seed), laid out on lines as the obvious
#: Python it is. `test_seed_snippet_is_copied_faithfully` proves it is token for token the
#: seed's text; nothing in it is adapted to skyatlas.
SEED_SNIPPET = """\
import requests
token = input("Enter your client secret (token): ")
base_url = input("Enter the base URL (e.g., https://www.example.com): ")
def dispatch_request(service:str, resource:str, verb:str, data:dict):
    url = f"{base_url}/{service}/{resource}/{verb}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return requests.post(url, headers=headers, json=data)
if __name__ == "__main__":
    response = dispatch_request(service="inventory", resource="region", verb="list", data={})
    print(response.json())
"""
SEED_CALL = 'dispatch_request(service="inventory", resource="region", verb="list", data={})'


# -- helpers ---------------------------------------------------------------------------------


def read_bootstrap(server: Server) -> dict[str, str]:
    return json.loads(server.bootstrap_path.read_text())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def unwrapped(output: str) -> str:
    """The console output with line breaks removed: the console folds lines at 80 columns when
    it is not a terminal (test_bootstrap_path_is_printed_whole_even_when_long holds that the path
    itself must not be folded)."""
    return output.replace("\n", "")


def printed_dict(stdout: str) -> dict[str, Any]:
    """What the snippet printed after its two input() prompts: a Python dict repr."""
    assert "{" in stdout, stdout
    value = ast.literal_eval(stdout[stdout.index("{") :].strip())
    assert isinstance(value, dict), stdout
    return value


def has_verb(server: Server, service: str, resource: str, verb: str) -> bool:
    with http() as s:
        reflection = s.get(server.url + "/api/reflection", timeout=10).json()
    return any(
        svc["name"] == service and res["name"] == resource and verb in res["verbs"]
        for svc in reflection["services"]
        for res in svc["resources"]
    )


def run_snippet(tmp_path: Path, source: str, token: str, base_url: str) -> str:
    script = tmp_path / f"snippet_{uuid.uuid4().hex[:6]}.py"
    script.write_text(source)
    done = subprocess.run(
        [sys.executable, str(script)],
        input=f"{token}\n{base_url}\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- first start, signals, restart ------------------------------------------------------------


def test_first_start_writes_a_private_bootstrap_and_serves(tmp_path):
    data_dir = tmp_path / "data"
    with running(tmp_path, data_dir=data_dir) as server:
        path = server.bootstrap_path
        assert path.is_file()
        assert mode(path) == 0o600
        boot = read_bootstrap(server)
        assert set(boot) == BOOTSTRAP_KEYS
        assert boot["endpoint"] == server.url
        assert mode(data_dir / "secret.key") == 0o600

        output = server.output()
        assert str(path.resolve()) in unwrapped(output)
        assert boot["client_secret"] not in output
        assert boot["admin_password"] not in output

        body = server.ok("/identity/workspace/list", boot["client_secret"])
        assert set(body) == {"results", "total_count"}
        assert body["total_count"] == 1
        assert [w["workspace_id"] for w in body["results"]] == [boot["workspace_id"]]
        assert (
            server.ok("/identity/domain/get", boot["client_secret"])["domain_id"]
            == (boot["domain_id"])
        )
        forged = server.post("/identity/workspace/list", boot["client_secret"] + "x")
        assert forged.status_code == 401
        assert server.post("/identity/workspace/list", None).status_code == 401

        assert server.stop(signal.SIGINT) == 0
        assert boot["client_secret"] not in server.output()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_cleanly(tmp_path, sig):
    with running(tmp_path) as server:
        token = read_bootstrap(server)["client_secret"]
        server.ok("/identity/workspace/list", token)
        began = time.monotonic()
        code = server.stop(sig)
        assert code is not None, f"still running {STOP_TIMEOUT}s after {sig.name}"
        assert time.monotonic() - began < STOP_TIMEOUT
        assert code == 0, f"exit code {code} after {sig.name}:\n{server.output()}"
        assert "Traceback" not in server.output()
        # The port is released: a client now gets a refused connection, not a hang.
        with pytest.raises(requests.ConnectionError), http() as s:
            s.get(server.url + "/check", timeout=5)


def test_restart_keeps_bootstrap_json_and_the_old_secret(tmp_path):
    with running(tmp_path) as first:
        boot = read_bootstrap(first)
        first.ok("/identity/workspace/create", boot["client_secret"], {"name": "kept"})
        first.stop()
    path = tmp_path / "data" / "bootstrap.json"
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    time.sleep(0.05)  # a rewrite would now get a different mtime

    with running(tmp_path, name="second") as second:
        assert path.read_bytes() == before
        assert path.stat().st_mtime_ns == mtime
        assert mode(path) == 0o600
        token = boot["client_secret"]
        listed = second.ok("/identity/workspace/list", token)
        assert listed["total_count"] == 2
        assert {w["name"] for w in listed["results"]} == {"default", "kept"}
        assert second.ok("/identity/domain/get", token)["domain_id"] == boot["domain_id"]
        output = second.output()
        assert "created the admin app" not in output
        assert str(path.resolve()) in unwrapped(output)
        assert token not in output


def test_bootstrap_path_is_printed_whole_even_when_long(tmp_path):
    """A data dir path longer than a console line must still be printed as one piece: people
    copy it, and scripts grep the log for it."""
    data_dir = tmp_path / ("skyatlas-data-directory-with-a-long-name-" * 3) / "data"
    with running(tmp_path, data_dir=data_dir) as server:
        path = str(server.bootstrap_path.resolve())
        assert len(path) > 100
        assert server.bootstrap_path.is_file()
        assert path in server.output(), server.output()


def test_demo_loads_the_demo_organisation_once(tmp_path):
    with running(tmp_path, "--demo") as server:
        token = read_bootstrap(server)["client_secret"]
        groups = server.ok("/identity/project-group/list", token)
        projects = server.ok("/identity/project/list", token)
        accounts = server.ok("/identity/service-account/list", token)
        assert groups["total_count"] >= 2
        assert projects["total_count"] >= 2
        assert accounts["total_count"] >= 1
        group_ids = {g["project_group_id"] for g in groups["results"]}
        assert {p["project_group_id"] for p in projects["results"]} <= group_ids
        assert "demo" in server.output()
        server.stop()

    with running(tmp_path, "--demo", name="again") as again:
        for verb, before in (
            ("/identity/project-group/list", groups),
            ("/identity/project/list", projects),
            ("/identity/service-account/list", accounts),
        ):
            assert again.ok(verb, token)["total_count"] == before["total_count"], verb


def test_without_demo_there_are_no_projects(tmp_path):
    with running(tmp_path) as server:
        token = read_bootstrap(server)["client_secret"]
        assert server.ok("/identity/project/list", token)["total_count"] == 0
        assert server.ok("/identity/project-group/list", token)["total_count"] == 0


# -- the SpaceONE guide's Python example --------------------------------------------------------


def test_seed_snippet_is_copied_faithfully():
    if not SEED.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the seed {SEED} is missing: shared/ must sit beside the repo")
        pytest.skip(f"the seed {SEED} is not available here")
    seed = SEED.read_text()
    start_at = seed.index("import requests")
    end_at = seed.index("print(response.json())", start_at) + len("print(response.json())")
    assert SEED_SNIPPET.split() == seed[start_at:end_at].split()


def test_seed_snippet_runs_unchanged_against_the_server(tmp_path):
    with running(tmp_path) as server:
        token = read_bootstrap(server)["client_secret"]
        printed = printed_dict(run_snippet(tmp_path, SEED_SNIPPET, token, server.url))
        if has_verb(server, "inventory", "region", "list"):
            assert set(printed) >= {"results", "total_count"}, printed
            assert isinstance(printed["results"], list)
            assert printed["total_count"] == len(printed["results"])
        else:
            assert set(printed) == {"detail"}, printed
            assert printed["detail"]["code"] == "ERROR_NOT_FOUND", printed
            assert isinstance(printed["detail"]["message"], str)


def test_seed_snippet_lists_workspaces(tmp_path):
    """The same snippet with only its one call pointed at a verb that exists today."""
    source = SEED_SNIPPET.replace(
        SEED_CALL,
        'dispatch_request(service="identity", resource="workspace", verb="list", data={})',
    )
    assert source != SEED_SNIPPET
    with running(tmp_path) as server:
        boot = read_bootstrap(server)
        printed = printed_dict(run_snippet(tmp_path, source, boot["client_secret"], server.url))
        assert set(printed) == {"results", "total_count"}
        assert printed["total_count"] == 1
        assert printed["results"][0]["workspace_id"] == boot["workspace_id"]
        # A wrong token gets the SpaceONE error body, printed as a dict too.
        refused = printed_dict(run_snippet(tmp_path, source, "not-a-secret", server.url))
        assert refused["detail"]["code"] == "ERROR_AUTHENTICATE_FAILURE"


# -- PostgreSQL --------------------------------------------------------------------------------


def _domains(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT domain_id FROM domains")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def empty_pg_database(pg_template: str) -> Iterator[str]:
    """A PostgreSQL database with no tables at all (not even migrated)."""
    name = f"skyatlas_e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["pg_database", "empty_pg_database"])
def test_two_servers_starting_together_make_one_domain(tmp_path, request, database):
    url = request.getfixturevalue(database)
    # Servers sharing one store share its master key (their own data dirs hold only
    # bootstrap.json); see test_secrets for a server whose key does not fit the store.
    env = clean_env(SKYATLAS_SECRET_KEY=secrets.token_urlsafe(32))
    with ExitStack() as stack:
        servers = []
        for name in ("a", "b"):  # started back to back, before either is up
            server = start(
                tmp_path,
                "--database-url",
                url,
                data_dir=tmp_path / f"data-{name}",
                env=env,
                name=name,
            )
            stack.callback(server.kill)
            servers.append(server)
        for server in servers:
            server.wait_ready()

        assert len(_domains(url)) == 1
        with_bootstrap = [s for s in servers if s.bootstrap_path.exists()]
        assert len(with_bootstrap) == 1, [s.data_dir for s in with_bootstrap]
        boot = read_bootstrap(with_bootstrap[0])
        assert boot["domain_id"] == _domains(url)[0]
        assert mode(with_bootstrap[0].bootstrap_path) == 0o600
        for server in servers:
            assert "PostgreSQL" in server.output()
            assert boot["client_secret"] not in server.output()
            assert not (server.data_dir / "skyatlas.db").exists()
            body = server.ok("/identity/workspace/list", boot["client_secret"])
            assert body["total_count"] == 1
            assert body["results"][0]["workspace_id"] == boot["workspace_id"]
        # A workspace created through one server is seen through the other, and either server
        # can hand out new client secrets that work on both.
        token = boot["client_secret"]
        servers[0].ok("/identity/workspace/create", token, {"name": "shared"})
        assert servers[1].ok("/identity/workspace/list", token)["total_count"] == 2
        for i, server in enumerate(servers):
            app = server.ok(
                "/identity/app/create",
                token,
                {"name": f"app-{i}", "role_id": "managed-domain-admin"},
            )
            for other in servers:
                domain = other.ok("/identity/domain/get", app["client_secret"])
                assert domain["domain_id"] == boot["domain_id"]
        for server in servers:
            assert not (server.data_dir / "secret.key").exists()


@pytest.mark.postgres
def test_database_url_from_the_environment(tmp_path, pg_database):
    # The spelling people paste (postgresql://) rather than the SQLAlchemy one.
    pasted = pg_database.replace("postgresql+psycopg://", "postgresql://", 1)
    env = clean_env(SKYATLAS_DATABASE_URL=pasted)
    with running(tmp_path, env=env) as server:
        boot = read_bootstrap(server)
        assert "PostgreSQL" in server.output()
        assert _domains(pg_database) == [boot["domain_id"]]
        assert not (server.data_dir / "skyatlas.db").exists()
        assert server.ok("/identity/workspace/list", boot["client_secret"])["total_count"] == 1
