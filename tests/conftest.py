"""Shared fixtures: a fresh store per test on SQLite and on PostgreSQL, an in-process client.

PostgreSQL: each test gets its own database, copied from a template migrated once per session.
When PostgreSQL is unreachable the PostgreSQL half is skipped locally, but under CI=true it fails:
CI must never pass by quietly not testing the scale-out backend.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from skyatlas.api.app import create_app
from skyatlas.cli.serve import prepare
from skyatlas.config import Settings
from skyatlas.runtime import Runtime

PG_ADMIN_URL = os.environ.get("SKYATLAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
_TEMPLATE = f"skyatlas_tpl_{os.getpid()}_{secrets.token_hex(3)}"


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"{type(exc).__name__}: {exc}"


def require_postgres() -> None:
    problem = _pg_reachable()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and PostgreSQL is unreachable at {PG_ADMIN_URL}: {problem}")
    pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")


def pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"


def _admin_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated once; each test copies it (CREATE DATABASE ... TEMPLATE)."""
    require_postgres()
    _admin_exec(f'CREATE DATABASE "{_TEMPLATE}"')
    from skyatlas.store.engine import open_store
    from skyatlas.store.migrate import upgrade

    store = open_store(Settings(database_url=pg_url(_TEMPLATE)))
    upgrade(store)
    store.dispose()
    yield _TEMPLATE
    _admin_exec(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A fresh, migrated, empty PostgreSQL database; its SQLAlchemy URL."""
    name = f"skyatlas_t_{uuid.uuid4().hex[:12]}"
    _admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield pg_url(name)
    _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Env:
    """One running in-process server on a fresh store, with its bootstrap admin secret."""

    backend: str
    settings: Settings
    runtime: Runtime
    client: TestClient
    admin_token: str
    domain_id: str
    workspace_id: str
    admin_app_id: str
    data_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def call(
        self,
        path: str,
        body: Any = None,
        token: str | None = "admin",
        *,
        header: str = "bearer",
    ) -> Any:
        """POST a verb. `token="admin"` means the bootstrap admin; None sends no token."""
        if token == "admin":
            token = self.admin_token
        headers = {}
        if token is not None:
            if header == "bearer":
                headers["Authorization"] = f"Bearer {token}"
            else:
                headers["X-Auth-Token"] = token
        return self.client.post(path, json=body if body is not None else {}, headers=headers)

    def ok(self, path: str, body: Any = None, token: str | None = "admin") -> Any:
        """POST a verb that must succeed; returns the JSON answer."""
        response = self.call(path, body, token)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()


def _make_env(backend: str, tmp_path: Path, database_url: str | None, **overrides: Any) -> Env:
    import json

    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, **overrides)
    runtime, result = prepare(settings)
    boot = json.loads(result["bootstrap"].path.read_text())
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    return Env(
        backend=backend,
        settings=settings,
        runtime=runtime,
        client=client,
        admin_token=boot["client_secret"],
        domain_id=boot["domain_id"],
        workspace_id=boot["workspace_id"],
        admin_app_id=boot["app_id"],
        data_dir=settings.data_dir,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Env]:
    """A fresh server on the parametrised backend (every test using it runs on both)."""
    database_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    e = _make_env(backend, tmp_path, database_url)
    with e.client:
        yield e
    e.runtime.close()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Env]:
    """A fresh server on SQLite only, for tests about transport rather than storage."""
    e = _make_env("sqlite", tmp_path, None)
    with e.client:
        yield e
    e.runtime.close()


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Any]:
    """Build an env with custom settings: `make_env(max_body_bytes=1024)` (SQLite)."""
    made: list[Env] = []

    def factory(**overrides: Any) -> Env:
        e = _make_env("sqlite", tmp_path / f"e{len(made)}", None, **overrides)
        made.append(e)
        return e

    yield factory
    for e in made:
        e.client.close()
        e.runtime.close()


def raw_engine(url: str) -> Any:
    return create_engine(url)
