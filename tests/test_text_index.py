"""Substring search through the trigram index (keyword, `resource_name=*web*`) answers exactly
what a substring test over every resource would, follows renames at once, and is what SQLite
actually uses for such queries."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from skyatlas.inventory.fields import FIELDS
from skyatlas.query.compile import compile_keyword
from skyatlas.store.tables import cloud_services
from skyatlas.store.textindex import FTS_TABLE, contains_all

NAMES = [
    "checkout-worker-prod-01",
    "checkout-web-dev-02",
    'quote"d-Name',
    "percent%_under_score",
    "Ünïcode-Straße-ВЕБ",
    "ab",
    "web",
    "WEB-Upper",
    "back\\slash-web",
    "ΟΔΟΣΑ",  # lower-cases to "οδοσα", while "ΔΟΣ" alone lower-cases to "δος" (final sigma)
]


def _create(env, name: str, ip: str) -> str:
    body = {
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "name": name,
        "ip_addresses": [ip],
        "data": {},
        "tags": {},
        "workspace_id": env.workspace_id,
    }
    return env.ok("/inventory/cloud-service/create", body)["cloud_service_id"]


def _keyword(env, keyword: str) -> set[str]:
    body = {"query": {"keyword": keyword, "page": {"start": 1, "limit": 100}}}
    answer = env.ok("/inventory/cloud-service/list", body)
    assert answer["total_count"] == len(answer["results"])
    return {r["cloud_service_id"] for r in answer["results"]}


def _name_contains(env, text: str) -> set[str]:
    escaped = "".join("\\" + ch if ch in "\\*&=!" else ch for ch in text)
    body = {"filter": {"filter_string": f"resource_name=*{escaped}*"}, "limit": 100}
    answer = env.ok("/api/v1/resources/search", body)
    assert answer["total_count"] == len(answer["resources"])
    return {r["kcrn"].rsplit(":", 1)[1] for r in answer["resources"]}


@pytest.fixture
def world(env):
    ids = {name: _create(env, name, f"10.1.{i}.{i + 10}") for i, name in enumerate(NAMES)}
    return env, ids


def test_keyword_and_name_patterns_find_exact_substrings(world) -> None:
    env, ids = world
    assert _keyword(env, "checkout") == {ids[NAMES[0]], ids[NAMES[1]]}
    assert _keyword(env, "CHECKOUT worker") == {ids[NAMES[0]]}  # tokens AND together
    assert _keyword(env, 'quote"d') == {ids['quote"d-Name']}
    assert _keyword(env, "%_under") == {ids["percent%_under_score"]}
    assert _keyword(env, "straße-веб") == {ids["Ünïcode-Straße-ВЕБ"]}
    assert _keyword(env, "10.1.2.12") == {ids['quote"d-Name']}
    assert _keyword(env, "wo") == {ids["checkout-worker-prod-01"]}  # too short for trigrams
    # Resource Explorer names match case-sensitively.
    assert _name_contains(env, "web") == {ids[n] for n in NAMES if "web" in n}
    assert _name_contains(env, "WEB") == {ids["WEB-Upper"]}
    assert _name_contains(env, "d-Na") == {ids['quote"d-Name']}
    assert _name_contains(env, "ВЕБ") == {ids["Ünïcode-Straße-ВЕБ"]}
    assert _name_contains(env, "ΔΟΣ") == {ids["ΟΔΟΣΑ"]}


def test_renames_are_searchable_at_once(world) -> None:
    env, ids = world
    target = ids["checkout-worker-prod-01"]
    env.ok("/inventory/cloud-service/update", {"cloud_service_id": target, "name": "ledger-batch"})
    assert target not in _keyword(env, "checkout-worker")
    assert _keyword(env, "ledger-bat") == {target}
    assert _name_contains(env, "dger-ba") == {target}
    if env.backend == "sqlite":
        with env.runtime.store.engine.begin() as conn:
            # FTS5's own check that the index holds exactly what the table does.
            conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    needle=st.one_of(
        st.sampled_from(NAMES).flatmap(
            lambda n: st.tuples(st.integers(0, len(n)), st.integers(0, len(n))).map(
                lambda ij: n[min(ij) : max(ij)]
            )
        ),
        st.text(alphabet='abcdeßÜ"%_\\-webWEB', min_size=1, max_size=6),
    )
)
def test_keyword_matches_a_substring_scan(world, needle: str) -> None:
    env, ids = world
    tokens = needle.split()
    want = {
        ids[n]
        for i, n in enumerate(NAMES)
        if all(
            t.lower() in "\n".join([ids[n], n, f"10.1.{i}.{i + 10}", "ec2", "instance"]).lower()
            for t in tokens
        )
    }
    got = _keyword(env, needle)
    if tokens:
        assert got == want
    else:
        assert got == set(ids.values())


def test_sqlite_reads_the_trigram_index_for_substrings(sqlite_env) -> None:
    _create(sqlite_env, "checkout-worker-prod-01", "10.0.0.1")
    where = compile_keyword("worker", FIELDS)
    assert where is not None
    stmt = select(cloud_services.c.cloud_service_id).where(where)
    with sqlite_env.runtime.store.engine.connect() as conn:
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    steps = [str(step[-1]) for step in plan]
    assert any(FTS_TABLE in step for step in steps), steps
    # Driven by the index's row ids, never a scan of every resource.
    assert not any(step.split()[:2] == ["SCAN", "cloud_services"] for step in steps), steps
    # Quotes are doubled inside a phrase; a needle shorter than a trigram is refused, never
    # silently dropped from an exact test.
    clause = contains_all(cloud_services.c.search_text, ['q"x"'])
    sql = str(clause.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert 'MATCH \'"q""x"""\'' in sql
    with pytest.raises(ValueError):
        contains_all(cloud_services.c.search_text, ["abc", "ab"])


@pytest.mark.parametrize("limit", [1, 3])
def test_walked_and_sorted_keyword_pages_agree(env, monkeypatch, limit) -> None:
    """A keyword page read along the id index (many matches) is the page sorting every match
    would give, page after page."""
    from skyatlas.query import execute

    for i in range(24):
        _create(env, f"{['web', 'api', 'webapp'][i % 3]}-node-{i:02d}", f"10.2.0.{i}")

    def pages(keyword: str) -> list[tuple[int, list[str]]]:
        out = []
        for start in range(1, 26, limit):
            body = {"query": {"keyword": keyword, "page": {"start": start, "limit": limit}}}
            answer = env.ok("/inventory/cloud-service/list", body)
            out.append((answer["total_count"], [r["cloud_service_id"] for r in answer["results"]]))
        return out

    for keyword in ("web", "node 10.2", "webapp-node"):
        monkeypatch.setattr(execute, "WALK_THRESHOLD", 10**9)
        sorted_pages = pages(keyword)
        monkeypatch.setattr(execute, "WALK_THRESHOLD", 0)
        assert pages(keyword) == sorted_pages, keyword
        assert sorted_pages[0][0] > 0
