"""Resource counts kept per scope, provider, group, type, region and state (migration 0013,
SQLite): whatever writes `cloud_services`, the kept counts must equal a count of the rows, and a
count or group count answered from them must equal the same question asked of the rows — or
the overview, the inventory total and the counts panel would drift from the resources listed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, func, inspect, select, update
from test_tag_scope import callers

from skyatlas.explorer.search import SearchFilter, SearchRequest, conditions
from skyatlas.inventory import service
from skyatlas.query import analyze as analyze_module
from skyatlas.query import execute as execute_module
from skyatlas.store import counts as counts_module
from skyatlas.store.counts import DIMENSIONS, cloud_service_counts, counted
from skyatlas.store.migrate import alembic_config
from skyatlas.store.tables import cloud_service_tags, cloud_services
from skyatlas.store.textindex import contains_all

PROVIDERS = ("aws", "google_cloud")
TYPES = (("EC2", "Instance"), ("EC2", "Volume"), ("S3", "Bucket"))
REGIONS = ("eu-central-1", "us-east-1", "", None)
WORKSPACES = ("ws-a", "ws-b")
PROJECTS = ("project-1", "project-2", None)
STATES = ("ACTIVE", "DISCONNECTED", "DELETED")

cs = cloud_services.c


def kept(conn: Connection) -> Counter[tuple[Any, ...]]:
    k = cloud_service_counts.c
    rows = conn.execute(
        select(*(k[d] for d in DIMENSIONS), func.sum(k.n))
        .group_by(*(k[d] for d in DIMENSIONS))
        .having(func.sum(k.n) != 0)
    )
    return Counter({tuple(r[:-1]): r[-1] for r in rows})


def counted_rows(conn: Connection) -> Counter[tuple[Any, ...]]:
    rows = conn.execute(
        select(*(cs[d] for d in DIMENSIONS), func.count()).group_by(*(cs[d] for d in DIMENSIONS))
    )
    return Counter({tuple(r[:-1]): r[-1] for r in rows})


def _body(n: int, provider: str, kind: tuple[str, str], region: str | None, project: str | None):
    return {
        "provider": provider,
        "cloud_service_group": kind[0],
        "cloud_service_type": kind[1],
        "name": f"res-{n}",
        "account": "123456789012",
        "region_code": region,
        "reference": {"resource_id": f"r-{n:04d}"},
        "ip_addresses": [],
        "data": {},
        "metadata": {},
        "tags": {provider: {"env": "prod" if n % 2 else "dev"}},
        "project_id": project,
    }


operations = st.one_of(
    # (re-)import: creates a resource, or moves an existing one (same key) to a new combination
    st.tuples(
        st.just("write"),
        st.integers(0, 7),
        st.sampled_from(WORKSPACES),
        st.sampled_from(PROVIDERS),
        st.sampled_from(TYPES),
        st.sampled_from(REGIONS),
        st.sampled_from(PROJECTS),
    ),
    st.tuples(st.just("state"), st.integers(0, 7), st.sampled_from(STATES)),
    st.tuples(st.just("bulk"), st.sampled_from(WORKSPACES), st.sampled_from(STATES)),
    st.tuples(st.just("move"), st.integers(0, 7), st.sampled_from(PROJECTS)),
    st.tuples(st.just("region"), st.integers(0, 7), st.sampled_from(REGIONS)),
    st.tuples(st.just("name"), st.integers(0, 7)),
    st.tuples(st.just("purge"), st.integers(0, 7)),
)


def apply(conn: Connection, domain_id: str, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "write":
        _, n, workspace, provider, type_, region, project = op
        service.write_batch(
            conn,
            domain_id=domain_id,
            workspace_id=workspace,
            bodies=[_body(n, provider, type_, region, project)],
            upsert=True,
        )
        return
    if kind == "bulk":  # a reconcile-like UPDATE of many rows in one statement
        conn.execute(update(cloud_services).where(cs.workspace_id == op[1]).values(state=op[2]))
        return
    ids = conn.execute(select(cs.cloud_service_id).order_by(cs.cloud_service_id)).scalars().all()
    if not ids:
        return
    target = cs.cloud_service_id == ids[op[1] % len(ids)]
    if kind == "state":
        conn.execute(update(cloud_services).where(target).values(state=op[2]))
    elif kind == "move":
        conn.execute(update(cloud_services).where(target).values(project_id=op[2]))
    elif kind == "region":
        conn.execute(update(cloud_services).where(target).values(region_code=op[2]))
    elif kind == "name":  # a change outside the kept columns moves nothing
        conn.execute(update(cloud_services).where(target).values(name="renamed"))
    elif kind == "purge":
        conn.execute(
            delete(cloud_service_tags).where(
                cloud_service_tags.c.cloud_service_id.in_(select(cs.cloud_service_id).where(target))
            )
        )
        conn.execute(delete(cloud_services).where(target))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=14))
def test_kept_counts_follow_every_write(sqlite_env, ops) -> None:
    with sqlite_env.runtime.store.begin() as conn:
        for op in ops:
            apply(conn, sqlite_env.domain_id, op)
            assert kept(conn) == counted_rows(conn), op


def _seed(conn: Connection, domain_id: str) -> None:
    n = 0
    for workspace in WORKSPACES:
        for provider in PROVIDERS:
            for type_ in TYPES:
                for region in REGIONS:
                    for project in PROJECTS:
                        n += 1
                        body = _body(n, provider, type_, region, project)
                        twin = {**body, "reference": {"resource_id": f"x{n}"}}
                        service.write_batch(
                            conn,
                            domain_id=domain_id,
                            workspace_id=workspace,
                            bodies=[body, twin] if n % 3 == 0 else [body],
                            upsert=True,
                        )
    conn.execute(update(cloud_services).where(cs.name.like("res-1%")).values(state="DELETED"))
    conn.execute(update(cloud_services).where(cs.name.like("res-2%")).values(state="DISCONNECTED"))
    # every visible resource of a group gone: the group must not show with a count of 0
    gone = (cs.provider == "google_cloud", cs.cloud_service_group == "S3")
    conn.execute(update(cloud_services).where(*gone).values(state="DELETED"))


def _count(*where: Any) -> Any:
    return select(func.count()).select_from(cloud_services).where(*where)


def _grouped(*keys: Any, where: tuple[Any, ...] = ()) -> Any:
    return select(*keys, func.count().label("count")).where(*where).group_by(*keys)


def answerable(conn: Connection) -> list[Any]:
    """Questions people ask of the inventory that involve only the kept columns."""
    out = []
    for caller in callers("domain-x"):
        scope = [*service.scope(conn, caller), cs.state.in_(service.VISIBLE_STATES)]
        out += [
            _count(*scope),
            _count(*scope, cs.provider == "aws"),
            _count(*scope, cs.provider != "aws", cs.region_code.is_(None)),
            _count(*scope, cs.region_code == ""),
            _count(*scope, cs.project_id.is_(None)),
            _count(*scope, cs.cloud_service_group.in_(["EC2", "S3"]), cs.state == "ACTIVE"),
            _count(*scope, cs.region_code.like("eu-%")),
            _grouped(cs.provider, where=tuple(scope)),
            _grouped(
                cs.provider, cs.cloud_service_group, cs.cloud_service_type, where=tuple(scope)
            ),
            _grouped(cs.region_code, cs.project_id, where=tuple(scope)),
        ]
    return out


def _rows(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in conn.execute(stmt)), key=repr)


def test_answers_from_the_kept_counts_equal_counting_the_rows(sqlite_env) -> None:
    with sqlite_env.runtime.store.begin() as conn:
        _seed(conn, "domain-x")
        for stmt in answerable(conn):
            fast = counted(conn, stmt)
            assert fast is not stmt, stmt
            assert _rows(conn, fast) == _rows(conn, stmt), str(stmt)


def test_questions_beyond_the_kept_columns_are_counted_from_the_rows(sqlite_env) -> None:
    """A keyword, a tag, a name, a data path, a custom tag, a sum or a distinct count cannot be
    read off per-combination counts: those statements are left as they are."""
    with sqlite_env.runtime.store.engine.connect() as conn:
        explorer_tag = SearchRequest(filter=SearchFilter(filter_string="tag.key=env"))
        explorer_kcrn = SearchRequest(filter=SearchFilter(filter_kcrn="kcrn:eu-*:*:EC2:*:i-0*"))
        refused = [
            _count(cs.name == "web"),
            _count(contains_all(cs.search_text, ["web"])),
            _count(func.json_extract(cs.data, "$.compute.instance_state") == "STOPPED"),
            _count(*conditions(explorer_tag, "sqlite")),
            _count(*conditions(explorer_kcrn, "sqlite")),
            select(cs.provider, func.sum(cs.instance_size)).group_by(cs.provider),
            select(cs.provider, func.max(cs.region_code)).group_by(cs.provider),
            select(func.count(cs.region_code.distinct())),
            select(cs.provider, func.count()).group_by(cs.provider).order_by(cs.provider),
            select(cs.name, func.count()).group_by(cs.name),
            select(func.count()).select_from(cloud_service_tags),
        ]
        for stmt in refused:
            assert counted(conn, stmt) is stmt, str(stmt)


def test_a_count_reads_the_kept_counts_only(sqlite_env) -> None:
    with sqlite_env.runtime.store.engine.connect() as conn:
        for caller in callers(sqlite_env.domain_id):
            stmt = counted(
                conn,
                _count(*service.scope(conn, caller), cs.state.in_(service.VISIBLE_STATES)),
            ).compile(conn, compile_kwargs={"literal_binds": True})
            plan = " ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {stmt}"))
            assert "cloud_service_counts" in plan, plan
            assert "cloud_services " not in plan + " ", plan


@pytest.fixture
def rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every count taken from the rows, as before the kept counts."""
    for module in (counts_module, execute_module, analyze_module):
        monkeypatch.setattr(module, "counted", lambda conn, stmt: stmt)


def _api_answers(env) -> list[Any]:
    p = "/inventory/cloud-service"
    return [
        env.ok(f"{p}/list", {"query": {"count_only": True}})["total_count"],
        env.ok(f"{p}/list", {"provider": "aws", "query": {"page": {"limit": 3}}}),
        env.ok(
            f"{p}/list",
            {"query": {"filter": [{"k": "state", "v": "DELETED", "o": "eq"}], "count_only": True}},
        )["total_count"],
        env.ok(
            f"{p}/list",
            {"query": {"filter": [{"k": "region_code", "v": "eu", "o": "contain"}]}},
        )["total_count"],
        env.ok(
            f"{p}/stat",
            {
                "query": {
                    "aggregate": [
                        {
                            "group": {
                                "keys": [{"key": "provider", "name": "p"}],
                                "fields": [{"operator": "count", "name": "n"}],
                            }
                        }
                    ]
                }
            },
        ),
        env.ok(f"{p}/stat", {"query": {"aggregate": [{"count": {"name": "n"}}]}}),
        env.ok(
            f"{p}/analyze",
            {
                "query": {
                    "group_by": ["provider", "cloud_service_group", "cloud_service_type"],
                    "fields": {"count": {"operator": "count"}},
                    "sort": [{"key": "count", "desc": True}],
                }
            },
        ),
        env.ok(
            "/api/v1/resources/search",
            {"filter": {"filter_string": "service=EC2&region=eu-central-1"}, "limit": 2},
        ),
    ]


def test_the_api_answers_as_if_it_counted_rows(env, request) -> None:
    with env.runtime.store.begin() as conn:
        _seed(conn, env.domain_id)
        conn.execute(update(cloud_services).values(workspace_id=env.workspace_id))
    fast = _api_answers(env)
    request.getfixturevalue("rows_only")
    assert _api_answers(env) == fast
    assert fast[0] > 0


def test_the_migration_counts_existing_resources(sqlite_env) -> None:
    with sqlite_env.runtime.store.begin() as conn:
        _seed(conn, sqlite_env.domain_id)
        command.downgrade(alembic_config(conn), "0012")
        assert "cloud_service_counts" not in inspect(conn).get_table_names()
        conn.execute(update(cloud_services).where(cs.provider == "aws").values(state="DELETED"))
        command.upgrade(alembic_config(conn), "head")
        assert kept(conn) == counted_rows(conn)
        assert sum(counted_rows(conn).values()) > 0


def test_the_kept_table_has_the_columns_the_rewrite_reads(sqlite_env) -> None:
    """The migration spells the kept columns out (a migration never changes with later code):
    this pins `skyatlas.store.counts` to what it made."""
    with sqlite_env.runtime.store.engine.connect() as conn:
        columns = [c["name"] for c in inspect(conn).get_columns("cloud_service_counts")]
    assert columns == ["k", *DIMENSIONS, "n"]
    assert [c.name for c in cloud_service_counts.columns] == columns
