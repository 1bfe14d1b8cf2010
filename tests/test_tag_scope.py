"""Tag rows carry their resource's scope and visibility (migration 0012), and the explorer counts
a lone `tag.key=K&tag.value=V` from them. Whatever writes a resource — an import, an update, a
soft delete, a reconcile's bulk UPDATE, a project move — its tag rows must agree with it, or the
count a user sees would drift from the resources listed. Checked on both backends, and the fast
count against the general one for every kind of caller."""

from __future__ import annotations

import random
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, inspect, select, update

from skyatlas.explorer import filter_string
from skyatlas.explorer.search import SearchFilter, SearchRequest, conditions
from skyatlas.explorer.tags import (
    count_with_pair,
    exact_pair,
    row_has_tag,
    system_pair_count,
    tag_ids_matching,
)
from skyatlas.identity.caller import Caller
from skyatlas.identity.roles import RoleType
from skyatlas.ids import new_id, utcnow
from skyatlas.inventory import service
from skyatlas.inventory.records import TagScope
from skyatlas.store.counts import TAG_DIMENSIONS, cloud_service_tag_counts
from skyatlas.store.migrate import alembic_config
from skyatlas.store.tables import cloud_service_tags, cloud_services, custom_tag_links, custom_tags

PROVIDERS = ("aws", "google_cloud")
KEYS = ("env", "team")
VALUES = ("prod", "dev")
WORKSPACES = ("ws-a", "ws-b")
PROJECTS = ("project-1", "project-2", None)
PAIRS = [(k, v) for k in KEYS for v in VALUES]


def drift(conn: Connection) -> list[Any]:
    """Tag rows whose copy of their resource's scope, visibility or first-provider mark is wrong
    (empty when the store is consistent)."""
    cs, t = cloud_services.c, cloud_service_tags.c
    wrong = []
    rows = conn.execute(
        select(
            t.key,
            t.value,
            t.provider,
            t.cloud_service_id,
            t.domain_id,
            t.workspace_id,
            t.project_id,
            t.visible,
            t.first_provider,
            cs.domain_id,
            cs.workspace_id,
            cs.project_id,
            cs.state,
            cs.tags,
        ).join(cloud_services, cs.cloud_service_id == t.cloud_service_id, isouter=True)
    ).all()
    for r in rows:
        key, value, provider, cid, dom, ws, proj, visible, first, cdom, cws, cproj, state, tags = r
        if cdom is None or (tags or {}).get(provider, {}).get(key) != value:
            wrong.append(("orphan", r))
            continue
        firsts = sorted(p for p, kv in tags.items() if kv.get(key) == value)
        expected = (cdom, cws, cproj, state in service.VISIBLE_STATES, firsts[0] == provider)
        if (dom, ws, proj, bool(visible), bool(first)) != expected:
            wrong.append((expected, r))
    indexed = {(r[0], r[1], r[2], r[3]) for r in rows}
    for cid, tags in conn.execute(select(cs.cloud_service_id, cs.tags)):
        for provider, kv in (tags or {}).items():
            for key, value in kv.items():
                if (key, value, provider, cid) not in indexed:
                    wrong.append(("missing", cid, provider, key, value))
    return wrong


def callers(domain_id: str) -> list[Caller]:
    return [
        Caller(domain_id, RoleType.DOMAIN_ADMIN, "r-admin", None, "app-admin"),
        Caller(domain_id, RoleType.WORKSPACE_OWNER, "r-owner", None, "app-owner", "ws-a"),
        Caller(
            domain_id,
            RoleType.WORKSPACE_MEMBER,
            "r-member",
            None,
            "app-member",
            "ws-a",
            project_id="project-1",
            _projects=frozenset({"project-1"}),
        ),
    ]


def general_count(conn: Connection, caller: Caller, key: str, value: str) -> int:
    """The count the explorer makes for any filter: every match looked up in cloud_services."""
    req = SearchRequest(filter=SearchFilter(filter_string=f"tag.key={key}&tag.value={value}"))
    where = [
        *service.scope(conn, caller),
        cloud_services.c.state.in_(service.VISIBLE_STATES),
        *conditions(req, conn.dialect.name),
    ]
    return conn.execute(select(func.count()).select_from(cloud_services).where(*where)).scalar_one()


def _tags(draw_pairs: list[tuple[str, str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for provider, key, value in draw_pairs:
        out.setdefault(provider, {})[key] = value
    return out


def _body(n: int, tags: dict[str, dict[str, str]], project: str | None) -> dict[str, Any]:
    return {
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "name": f"vm-{n}",
        "account": "123456789012",
        "reference": {"resource_id": f"i-{n:04d}"},
        "ip_addresses": [],
        "data": {},
        "metadata": {},
        "tags": tags,
        "project_id": project,
    }


tag_sets = st.lists(
    st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    max_size=4,
).map(_tags)

operations = st.one_of(
    # (re-)import a resource of the workspace: creates, updates or only touches it
    st.tuples(
        st.just("write"),
        st.integers(0, 7),
        st.sampled_from(WORKSPACES),
        tag_sets,
        st.sampled_from(PROJECTS),
    ),
    st.tuples(st.just("state"), st.integers(0, 7), st.sampled_from(service.VISIBLE_STATES)),
    st.tuples(st.just("state"), st.integers(0, 7), st.just("DELETED")),
    # a reconcile-like bulk UPDATE over a whole workspace
    st.tuples(
        st.just("bulk"),
        st.sampled_from(WORKSPACES),
        st.sampled_from(("DISCONNECTED", "DELETED", "ACTIVE")),
    ),
    st.tuples(st.just("move"), st.integers(0, 7), st.sampled_from(PROJECTS)),
    st.tuples(st.just("retag"), st.integers(0, 7), tag_sets),
    st.tuples(st.just("custom"), st.integers(0, 7), st.sampled_from(PAIRS)),
)


def _ids(conn: Connection) -> list[tuple[str, Any, Any]]:
    c = cloud_services.c
    return conn.execute(
        select(
            c.cloud_service_id, c.tags, c.state, c.domain_id, c.workspace_id, c.project_id
        ).order_by(c.cloud_service_id)
    ).all()


def apply(conn: Connection, domain_id: str, op: tuple[Any, ...]) -> None:
    c = cloud_services.c
    kind = op[0]
    if kind == "write":
        _, n, workspace, tags, project = op
        service.write_batch(
            conn,
            domain_id=domain_id,
            workspace_id=workspace,
            bodies=[_body(n, tags, project)],
            upsert=True,
        )
        return
    if kind == "bulk":
        _, workspace, state = op
        conn.execute(update(cloud_services).where(c.workspace_id == workspace).values(state=state))
        return
    rows = _ids(conn)
    if not rows:
        return
    cid, tags, state, dom, ws, project = rows[op[1] % len(rows)]
    if kind == "state":
        conn.execute(update(cloud_services).where(c.cloud_service_id == cid).values(state=op[2]))
    elif kind == "move":
        conn.execute(
            update(cloud_services).where(c.cloud_service_id == cid).values(project_id=op[2])
        )
    elif kind == "retag":
        scope = TagScope(dom, ws, project, state in service.VISIBLE_STATES)
        service.replace_tags(conn, cid, tags or {}, op[2], scope)
        conn.execute(update(cloud_services).where(c.cloud_service_id == cid).values(tags=op[2]))
    elif kind == "custom" and project is not None:
        key, value = op[2]
        tag_id = conn.execute(
            select(custom_tags.c.tag_id).where(
                custom_tags.c.project_id == project,
                custom_tags.c.key == key,
                custom_tags.c.value == value,
            )
        ).scalar()
        if tag_id is None:
            tag_id = new_id("tag")
            conn.execute(
                custom_tags.insert().values(
                    tag_id=tag_id,
                    domain_id=dom,
                    workspace_id=ws,
                    project_id=project,
                    key=key,
                    value=value,
                    created_at=utcnow(),
                )
            )
        linked = conn.execute(
            select(func.count())
            .select_from(custom_tag_links)
            .where(custom_tag_links.c.tag_id == tag_id, custom_tag_links.c.cloud_service_id == cid)
        ).scalar_one()
        if not linked:
            conn.execute(custom_tag_links.insert().values(tag_id=tag_id, cloud_service_id=cid))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_tag_rows_follow_every_write_and_the_fast_count_is_exact(env, ops) -> None:
    with env.runtime.store.begin() as conn:
        for op in ops:
            apply(conn, env.domain_id, op)
        assert drift(conn) == []
        if env.backend == "sqlite":  # kept per pair and scope, pairs no longer held dropped
            assert kept_tag_counts(conn) == counted_tag_rows(conn)
        for caller in callers(env.domain_id):
            for key, value in PAIRS:
                assert count_with_pair(conn, caller, key, value) == general_count(
                    conn, caller, key, value
                ), (caller.role_type, key, value)
        # walked pages test each row's own tags
        for key, value in [*PAIRS, ("env", "*"), ("*", "prod")]:
            assert ids_per_row(conn, key, value) == ids_from_tag_set(conn, key, value)


def _patterns(key: str, value: str) -> tuple[list[Any], list[Any]]:
    parsed = filter_string.parse(f"tag.key={key}&tag.value={value}")
    return [t.pattern for t in parsed.terms if t.key == "tag.key"], [
        t.pattern for t in parsed.terms if t.key == "tag.value"
    ]


def ids_per_row(conn: Connection, key: str, value: str) -> set[str]:
    keys, values = _patterns(key, value)
    test = row_has_tag(keys, values, conn.dialect.name)
    rows = select(cloud_services.c.cloud_service_id).where(test)
    return set(conn.execute(rows).scalars())


def ids_from_tag_set(conn: Connection, key: str, value: str) -> set[str]:
    keys, values = _patterns(key, value)
    rows = select(cloud_services.c.cloud_service_id).where(
        cloud_services.c.cloud_service_id.in_(tag_ids_matching(keys, values, conn.dialect.name))
    )
    return set(conn.execute(rows).scalars())


def _explorer_total(env, filter_text: str) -> int:
    body = {"filter": {"filter_string": filter_text}, "limit": 5}
    return env.ok("/api/v1/resources/search", body)["total_count"]


def test_the_api_counts_a_lone_pair_like_any_other_filter(env) -> None:
    """Through the API, with the verbs doing the writing: creates, an update moving a resource
    and changing its tags, a soft delete. `resource_name=*` keeps the general count."""
    rng = random.Random(7)
    ids = []
    for n in range(40):
        tags = {"env": rng.choice(VALUES), "team": rng.choice(("a", "b"))}
        body = {**_body(n, tags, None), "workspace_id": env.workspace_id}
        del body["project_id"]
        ids.append(env.ok("/inventory/cloud-service/create", body)["cloud_service_id"])
    env.ok("/inventory/cloud-service/delete", {"cloud_service_id": ids[0]})
    env.ok("/inventory/cloud-service/update", {"cloud_service_id": ids[1], "tags": {"env": "x"}})
    for value in (*VALUES, "x"):
        fast = _explorer_total(env, f"tag.key=env&tag.value={value}")
        general = _explorer_total(env, f"tag.key=env&tag.value={value}&resource_name=*")
        assert fast == general
    with env.runtime.store.engine.connect() as conn:
        assert drift(conn) == []
        visible_prod = sum(
            1
            for (tags,) in conn.execute(
                select(cloud_services.c.tags).where(cloud_services.c.state == "ACTIVE")
            )
            if tags["aws"]["env"] == "prod"
        )
    assert _explorer_total(env, "tag.key=env&tag.value=prod") == visible_prod


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("tag.key=env&tag.value=prod", ("env", "prod")),
        ("tag.value=prod&tag.key=env", ("env", "prod")),
        ("tag.key=a\\&b&tag.value=c\\=d", ("a&b", "c=d")),
        ("tag.key=env", None),
        ("tag.key=env&tag.value=*", None),
        ("tag.key=*&tag.value=prod", None),
        ("tag.key=env&-tag.value=prod", None),
        ("tag.key=env&tag.value=prod&service=EC2", None),
        ("tag.key=env&tag.value=prod&tag:all", None),
        ("tag.key=env&tag.key=team", None),
    ],
)
def test_only_a_lone_exact_pair_takes_the_fast_count(text: str, pair) -> None:
    assert exact_pair(filter_string.parse(text)) == pair


def test_the_migration_fills_existing_tag_rows(env) -> None:
    """A store written before 0012 (downgraded to 0011 here) gets every tag row's scope,
    visibility and first-provider mark from its resource."""
    c = cloud_services.c
    with env.runtime.store.begin() as conn:
        bodies = [
            _body(n, {"aws": {"env": "prod"}, "google_cloud": {"env": "prod", "team": "a"}}, p)
            for n, p in enumerate(["project-1", None, "project-2"])
        ]
        service.write_batch(
            conn, domain_id=env.domain_id, workspace_id="ws-a", bodies=bodies, upsert=True
        )
        conn.execute(update(cloud_services).where(c.name == "vm-1").values(state="DELETED"))
        command.downgrade(alembic_config(conn), "0011")
        columns = {col["name"] for col in inspect(conn).get_columns("cloud_service_tags")}
        assert "visible" not in columns
        command.upgrade(alembic_config(conn), "head")
        assert drift(conn) == []
        if env.backend == "sqlite":
            assert kept_tag_counts(conn) == counted_tag_rows(conn)
        admin = callers(env.domain_id)[0]
        assert count_with_pair(conn, admin, "env", "prod") == 2
        assert general_count(conn, admin, "env", "prod") == 2


def test_sqlite_counts_a_pair_from_its_kept_counts(sqlite_env) -> None:
    """Every kind of caller's count is a search of the kept counts (a row per scope holding the
    pair), not of the tag rows (an entry per resource)."""
    with sqlite_env.runtime.store.engine.connect() as conn:
        for caller in callers(sqlite_env.domain_id):
            stmt = system_pair_count(conn, caller, "env", "prod").compile(
                conn, compile_kwargs={"literal_binds": True}
            )
            plan = " ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {stmt}"))
            assert "SEARCH cloud_service_tag_counts" in plan, plan
            assert "SCAN" not in plan, plan


def kept_tag_counts(conn: Connection) -> dict[tuple[Any, ...], int]:
    k = cloud_service_tag_counts.c
    rows = conn.execute(select(*(k[d] for d in TAG_DIMENSIONS), k.n))
    return {tuple(r[:-1]): r[-1] for r in rows}


def counted_tag_rows(conn: Connection) -> dict[tuple[Any, ...], int]:
    t = cloud_service_tags.c
    dims = [t[d] for d in TAG_DIMENSIONS]
    rows = conn.execute(
        select(*dims, func.count()).where(t.visible, t.first_provider).group_by(*dims)
    )
    return {tuple(r[:-1]): r[-1] for r in rows}
