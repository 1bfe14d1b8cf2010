"""Secrets stay secret: client secrets and service-account credentials never reach the store in
plaintext, the logs, or any API answer except the one create / generate-client-secret answer that
hands a client secret out. The master key is private, and another key opens nothing.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, inspect, text
from starlette.testclient import TestClient

from skyatlas.api.app import create_app
from skyatlas.cli.serve import prepare
from skyatlas.config import Settings
from skyatlas.crypto import KEY_FILE, SecretKeyError
from skyatlas.identity.roles import MANAGED_ROLE_IDS, RoleType
from skyatlas.identity.verbs.service_account import read_secret_data
from skyatlas.runtime import Runtime

LOGGERS = ("skyatlas", "uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy.engine", "alembic")

Call = Callable[..., Any]  # call(path, body, token) -> (status, text, json)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG, from before the store is opened (autouse fixtures run first)."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@dataclass
class Exercised:
    """What a run of the secret-handling verbs produced."""

    #: Every plaintext that must not leak (client secrets and secret_data values).
    plaintexts: list[str]
    #: Every answer that is not an app create / generate-client-secret answer.
    answers: list[tuple[str, int, str]] = field(default_factory=list)
    #: The create / generate-client-secret answers (each may show its own secret only).
    handouts: list[tuple[str, str, str]] = field(default_factory=list)
    service_account_id: str = ""
    app_id: str = ""


def forms(plaintext: str) -> list[str]:
    """The plaintext, and for a JWT also its signature alone (the part that makes it secret)."""
    out = [plaintext]
    if plaintext.count(".") == 2:
        out.append(plaintext.rsplit(".", 1)[1])
    return out


def assert_absent(haystack: str | bytes, plaintexts: Iterable[str], where: str) -> None:
    for plaintext in plaintexts:
        for needle in forms(plaintext):
            if isinstance(haystack, bytes):
                found = needle.encode() in haystack or needle.encode().hex().encode() in haystack
            else:
                found = needle in haystack or needle.encode().hex() in haystack
            assert not found, f"{needle[:24]}... found in {where}"


def exercise(call: Call, admin_token: str, workspace_id: str) -> Exercised:
    """Create an app and rotate its secret, create a service account with credentials and
    replace them, then read everything back every way the API offers."""
    tag = secrets.token_hex(6)
    sa_key = f"AKIA-PLAINTEXT-{tag}"
    sa_secret = f"wJalr-PLAINTEXT-SECRET-{tag}"
    sa_key2 = f"AKIA-ROTATED-PLAINTEXT-{tag}"
    done = Exercised(plaintexts=[admin_token, sa_key, sa_secret, sa_key2])

    def answer(path: str, body: Any, token: str = admin_token, expect: int = 200) -> Any:
        status, body_text, payload = call(path, body, token)
        done.answers.append((path, status, body_text))
        assert status == expect, (path, status, body_text)
        return payload

    def handout(path: str, body: Any) -> dict[str, Any]:
        status, body_text, payload = call(path, body, admin_token)
        assert status == 200, (path, status, body_text)
        secret = payload["client_secret"]
        done.plaintexts.append(secret)
        done.handouts.append((path, secret, body_text))
        return payload

    project = answer(
        "/identity/project/create", {"name": f"secret-project-{tag}", "workspace_id": workspace_id}
    )
    app = handout(
        "/identity/app/create",
        {
            "name": f"ci-{tag}",
            "role_id": MANAGED_ROLE_IDS[RoleType.WORKSPACE_OWNER],
            "workspace_id": workspace_id,
        },
    )
    done.app_id = app_id = app["app_id"]
    first_secret = app["client_secret"]
    rotated = handout("/identity/app/generate-client-secret", {"app_id": app_id})
    owner = rotated["client_secret"]
    assert owner != first_secret
    # The rotated secret works, the first one is revoked (and its refusal does not echo it).
    answer("/identity/workspace/get", {"workspace_id": workspace_id}, token=owner)
    answer("/identity/workspace/list", {}, token=first_secret, expect=401)
    answer("/identity/workspace/list", {}, token=admin_token + "x", expect=401)

    sa = answer(
        "/identity/service-account/create",
        {
            "name": f"aws-{tag}",
            "provider": "aws",
            "project_id": project["project_id"],
            "data": {"account_id": "123456789012"},
            "secret_data": {"aws_access_key_id": sa_key, "aws_secret_access_key": sa_secret},
        },
    )
    done.service_account_id = sa_id = sa["service_account_id"]
    assert sa["secret_id"], sa
    ref = {"service_account_id": sa_id}
    answer("/identity/service-account/get", ref)
    answer("/identity/service-account/get", ref, token=owner)
    answer("/identity/service-account/list", {})
    answer("/identity/service-account/list", {"query": {"keyword": "PLAINTEXT"}})
    answer("/identity/service-account/list", {"query": {"only": ["name", "secret_id", "data"]}})
    answer("/identity/service-account/stat", {"query": {"distinct": "secret_id"}})
    answer("/identity/service-account/stat", {"query": {"distinct": "name"}}, token=owner)
    answer("/identity/service-account/update", {**ref, "name": f"aws-renamed-{tag}"})
    updated = answer(
        "/identity/service-account/update-secret-data",
        {**ref, "secret_data": {"aws_access_key_id": sa_key2, "aws_secret_access_key": sa_secret}},
    )
    assert updated["secret_id"] and updated["secret_id"] != sa["secret_id"]
    # Hidden columns are not reachable through queries either.
    for path, body in (
        ("/identity/service-account/list", {"query": {"only": ["secret_encrypted"]}}),
        ("/identity/service-account/stat", {"query": {"distinct": "secret_encrypted"}}),
        (
            "/identity/service-account/list",
            {"query": {"filter": [{"k": "secret_encrypted", "v": "AKIA", "o": "contain"}]}},
        ),
    ):
        status, body_text, _ = call(path, body, admin_token)
        done.answers.append((path, status, body_text))
        assert status in (200, 400), (path, status, body_text)
    # Rejected requests name the problem, never the offending value.
    for body in (
        {**ref, "secret_data": sa_key},
        {**ref, "secret_data": {"aws_access_key_id": sa_key + "\x00"}},
        {**ref, "secret_data": {"k": "v"}, "bogus": sa_key},
    ):
        answer("/identity/service-account/update-secret-data", body, expect=400)

    app_ref = {"app_id": app_id}
    answer("/identity/app/get", app_ref)
    answer("/identity/app/get", app_ref, token=owner)
    answer("/identity/app/list", {})
    answer("/identity/app/list", {"query": {"keyword": app_id}})
    answer("/identity/app/stat", {"query": {"distinct": "client_id"}})
    answer("/identity/app/update", {**app_ref, "name": f"ci-renamed-{tag}"})
    answer("/identity/app/disable", app_ref)
    answer("/identity/app/enable", app_ref)
    answer("/identity/domain/get", {})
    return done


def check_answers(done: Exercised) -> None:
    for path, status, body_text in done.answers:
        assert_absent(body_text, done.plaintexts, f"the answer of {path} ({status})")
        if status == 200:  # (a 400 may name the field the request asked for)
            assert "secret_encrypted" not in body_text, path
            assert "secret_data" not in body_text, path
    for path, own, body_text in done.handouts:
        others = [p for p in done.plaintexts if p != own]
        assert_absent(body_text, others, f"the answer of {path}")
        assert own in body_text


def env_call(env: Any) -> Call:
    def call(path: str, body: Any, token: str) -> tuple[int, str, Any]:
        response = env.call(path, body, token)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, response.text, payload

    return call


def data_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.name != "bootstrap.json")


def check_files(data_dir: Path, plaintexts: list[str]) -> None:
    for path in data_files(data_dir):
        assert_absent(path.read_bytes(), plaintexts, str(path))


def postgres_dump(database_url: str) -> str:
    """Every row of every table, as PostgreSQL prints it (bytea as \\x hex)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "service_accounts" in tables and "apps" in tables
            lines = []
            for table in tables:
                rows = conn.execute(text(f'SELECT t::text FROM "{table}" AS t')).scalars()
                lines.extend(f"{table}: {row}" for row in rows)
            return "\n".join(lines)
    finally:
        engine.dispose()


# -- in-process, on both backends ---------------------------------------------------------------


def test_secrets_never_reach_the_store_the_logs_or_other_answers(env, debug_logs):
    done = exercise(env_call(env), env.admin_token, env.workspace_id)
    assert len(done.plaintexts) == 6
    check_answers(done)

    # The secret_data really is stored (sealed): the server itself can read it back.
    with env.runtime.store.read() as conn:
        stored = read_secret_data(conn, env.runtime.sealer, done.service_account_id)
    assert stored is not None and stored["aws_access_key_id"] == done.plaintexts[3]

    if env.backend == "postgres":
        dump = postgres_dump(env.settings.database_url)
        assert done.service_account_id in dump  # the dump does hold the rows
        assert_absent(dump, done.plaintexts, "the PostgreSQL tables")
    else:
        files = [p.name for p in data_files(env.data_dir)]
        assert "skyatlas.db" in files
        assert any(name.endswith("-wal") for name in files), files
        check_files(env.data_dir, done.plaintexts)  # while open, with the WAL
        env.runtime.store.dispose()  # the last connection closing checkpoints the WAL
        check_files(env.data_dir, done.plaintexts)
    check_files(env.data_dir, done.plaintexts)  # the key file and anything else there

    records = debug_logs.get_records("setup") + debug_logs.get_records("call")
    assert any(r.name.startswith("sqlalchemy.engine") for r in records), "DEBUG capture is off"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in records)
    assert_absent(logged, done.plaintexts, "the log")


def test_secret_key_file_is_created_private(sqlite_env):
    key_file = sqlite_env.data_dir / KEY_FILE
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 43  # 32 random bytes, base64


def test_secret_key_from_the_environment_writes_no_key_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SKYATLAS_SECRET_KEY", secrets.token_urlsafe(32))
    monkeypatch.delenv("SKYATLAS_DATABASE_URL", raising=False)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    runtime, result = prepare(settings)
    try:
        assert result["bootstrap"].created
        token = json.loads(result["bootstrap"].path.read_text())["client_secret"]
        with TestClient(create_app(runtime)) as client:
            answer = client.post(
                "/identity/workspace/list", json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200
    finally:
        runtime.close()
    assert (tmp_path / "data" / "skyatlas.db").exists()
    assert not (tmp_path / "data" / KEY_FILE).exists()
    assert not [p for p in (tmp_path / "data").iterdir() if KEY_FILE in p.name]


def _other_runtime(env: Any, **overrides: Any) -> Runtime:
    settings = Settings(data_dir=env.data_dir, database_url=env.settings.database_url, **overrides)
    return Runtime.open(settings)


def _service_account_with_secret(env: Any) -> str:
    project = env.ok(
        "/identity/project/create", {"name": "keyed", "workspace_id": env.workspace_id}
    )
    sa = env.ok(
        "/identity/service-account/create",
        {
            "name": "keyed-account",
            "provider": "aws",
            "project_id": project["project_id"],
            "secret_data": {"aws_access_key_id": "AKIA-PLAINTEXT-KEYED"},
        },
    )
    return sa["service_account_id"]


def test_a_different_master_key_opens_nothing(env):
    sa_id = _service_account_with_secret(env)
    same = _other_runtime(env)  # the same key file: a positive control
    other = _other_runtime(env, secret_key=secrets.token_urlsafe(32))
    try:
        with same.store.read() as conn:
            assert read_secret_data(conn, same.sealer, sa_id) == {
                "aws_access_key_id": "AKIA-PLAINTEXT-KEYED"
            }
        with other.store.read() as conn, pytest.raises(SecretKeyError):
            read_secret_data(conn, other.sealer, sa_id)
    finally:
        same.close()
        other.close()


def test_a_replaced_key_file_opens_nothing(sqlite_env):
    sa_id = _service_account_with_secret(sqlite_env)
    key_file = sqlite_env.data_dir / KEY_FILE
    key_file.write_text("bm90LXRoZS1zYW1lLWtleS1ub3QtdGhlLXNhbWUta2V5IQ==\n")
    replaced = _other_runtime(sqlite_env)
    try:
        with replaced.store.read() as conn, pytest.raises(SecretKeyError, match="master key"):
            read_secret_data(conn, replaced.sealer, sa_id)
    finally:
        replaced.close()


def test_a_server_with_the_wrong_master_key_fails_clearly_not_with_internal_errors(env):
    """A second server on the same store with its own key (say, a second data dir against the
    same PostgreSQL) must either refuse to start, naming the key, or refuse the requests that
    need the key with a clear error; never come up and answer 500 "internal error"."""
    other_key = secrets.token_urlsafe(32)
    if env.backend == "postgres":
        settings = Settings(
            data_dir=env.data_dir.parent / "other-data",
            database_url=env.settings.database_url,
            secret_key=other_key,
        )
    else:  # the same SQLite file, opened with another key
        settings = Settings(data_dir=env.data_dir, secret_key=other_key)
    try:
        runtime, _ = prepare(settings)
    except SecretKeyError as exc:
        assert "SKYATLAS_SECRET_KEY" in str(exc) or "secret.key" in str(exc)
        return
    try:
        with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
            response = client.post(
                "/identity/app/generate-client-secret",
                json={"app_id": env.admin_app_id},
                headers={"Authorization": f"Bearer {env.admin_token}"},
            )
    finally:
        runtime.close()
    assert response.status_code != 500, response.text
    assert "key" in response.json()["detail"]["message"]
    # And the admin's secret was not rotated by a half-done request.
    assert env.call("/identity/workspace/list", {}).status_code == 200


# -- the real server process ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`skyatlas serve` with SKYATLAS_SECRET_KEY set, output captured to a file."""
    port = _free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYATLAS_")}
    env["SKYATLAS_SECRET_KEY"] = secrets.token_urlsafe(32)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    exe = Path(sys.executable).with_name("skyatlas")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "skyatlas"]
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
    url = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        session.trust_env = False
        deadline = time.monotonic() + 45
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if session.get(url + "/check", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield {"proc": proc, "url": url, "data_dir": data_dir, "log": log, "session": session}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_secrets_never_reach_the_server_output_or_its_files(server_process):
    url, session = server_process["url"], server_process["session"]
    data_dir = server_process["data_dir"]
    boot = json.loads((data_dir / "bootstrap.json").read_text())

    def call(path: str, body: Any, token: str) -> tuple[int, str, Any]:
        response = session.post(
            url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, response.text, payload

    done = exercise(call, boot["client_secret"], boot["workspace_id"])
    check_answers(done)
    check_files(data_dir, done.plaintexts)
    proc = server_process["proc"]
    proc.send_signal(signal.SIGINT)
    proc.wait(15)
    check_files(data_dir, done.plaintexts)
    output = server_process["log"].read_text(errors="replace")
    assert "POST /identity/service-account/update-secret-data" in output  # the log is complete
    assert_absent(output, done.plaintexts, "the server output")
    assert not (data_dir / KEY_FILE).exists()
