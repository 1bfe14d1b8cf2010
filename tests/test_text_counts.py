"""Substring counts from the trigram index and the narrow copy of the rows (migration 0017,
SQLite): whatever writes `cloud_services`, `cloud_service_names` must hold each row's name,
state and scope under its row id, and a count answered from it must equal counting the rows,
or `*web*` and keyword searches would report a total_count other than what they list."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, and_, func, inspect, or_, select, update
from test_resource_counts import _seed, apply, operations
from test_tag_scope import callers

from skyatlas.explorer.search import SearchFilter, SearchRequest, conditions
from skyatlas.inventory import service
from skyatlas.inventory.fields import keyword_search
from skyatlas.query.jsonpath import JsonExists, Pred
from skyatlas.store import counts as counts_module
from skyatlas.store.migrate import alembic_config
from skyatlas.store.tables import cloud_services
from skyatlas.store.text_counts import NAME_COLUMNS, cloud_service_names, text_counted

cs = cloud_services.c


def kept(conn: Connection) -> list[tuple[Any, ...]]:
    n = cloud_service_names.c
    return [tuple(r) for r in conn.execute(select(n.id, *(n[c] for c in NAME_COLUMNS)))]


def projected(conn: Connection) -> list[tuple[Any, ...]]:
    """What the narrow table should hold: each row's id and kept columns, by row id."""
    cols = ", ".join(NAME_COLUMNS)
    return [tuple(r) for r in conn.exec_driver_sql(f"SELECT rowid, {cols} FROM cloud_services")]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=14))
def test_the_narrow_copy_follows_every_write(sqlite_env, ops) -> None:
    with sqlite_env.runtime.store.begin() as conn:
        for op in ops:
            apply(conn, sqlite_env.domain_id, op)
            assert kept(conn) == projected(conn), op


def _explorer(filter_string: str) -> list[Any]:
    req = SearchRequest(filter=SearchFilter(filter_string=filter_string))
    return conditions(req, "sqlite", counting=True)


def questions(conn: Connection) -> list[Any]:
    """Substring searches as the explorer and the keyword search build them, per caller."""
    out = []
    for caller in callers("domain-x"):
        visible = [*service.scope(conn, caller), cs.state.in_(service.VISIBLE_STATES)]
        out += [
            and_(*visible, *_explorer("resource_name=*es-1*")),
            and_(*visible, *_explorer("resource_name=*s-2")),
            and_(*visible, *_explorer("resource_name=*es-1*&-resource_name=*11*")),
            and_(*visible, *_explorer("resource_name=*es-1*&resource_name=*-1*")),
            and_(*visible, keyword_search(["RES-1"])),
            and_(*visible, keyword_search(["res-2", "es-"])),
            and_(*visible, keyword_search(["res"]), cs.state == "ACTIVE"),
            and_(*visible, *_explorer("resource_name=*es-3*"), keyword_search(["r-00"])),
            # a lookup under OR stays a condition of its own, on the narrow table's row id
            and_(
                *visible,
                keyword_search(["es-"]),
                or_(and_(*_explorer("resource_name=*es-3*")), cs.name == "RES-17"),
            ),
            and_(*service.scope(conn, caller), keyword_search(["es-3"])),  # DELETED too
        ]
    return out


def _plain(conn: Connection, where: Any) -> int:
    return conn.execute(select(func.count()).select_from(cloud_services).where(where)).scalar_one()


def test_counts_from_the_narrow_copy_equal_counting_the_rows(sqlite_env) -> None:
    with sqlite_env.runtime.store.begin() as conn:
        _seed(conn, "domain-x")
        conn.execute(update(cloud_services).where(cs.name == "res-17").values(name="RES-17"))
        answers = []
        for where in questions(conn):
            joined = text_counted(conn, where)
            assert joined is not None, str(where)
            answers.append(conn.execute(joined).scalar_one())
            assert answers[-1] == _plain(conn, where), str(where)
        assert min(answers) == 0 < max(answers)  # both an empty and a broad answer were asked


def test_counts_beyond_the_kept_columns_are_left_to_the_rows(sqlite_env) -> None:
    """A tag, a provider, a data path or no substring at all: no narrow count."""
    with sqlite_env.runtime.store.engine.connect() as conn:
        refused = [
            and_(*_explorer("resource_name=*web*&tag.key=env")),
            and_(*_explorer("resource_name=*web*&provider=aws")),
            and_(keyword_search(["web"]), func.json_extract(cs.data, "$.os") == "linux"),
            # a data path as the query compiler builds it (its document is no traversed column)
            and_(keyword_search(["web"]), JsonExists(cs.data, ("state",), Pred("eq", "STOPPED"))),
            and_(*_explorer("resource_name=web*")),
            and_(*_explorer("resource_name=*we*")),  # shorter than a trigram: no lookup
            cs.name == "web",
        ]
        for i, where in enumerate(refused):
            assert text_counted(conn, where) is None, i


def test_a_name_count_reads_the_narrow_copy_not_the_rows(sqlite_env) -> None:
    with sqlite_env.runtime.store.engine.connect() as conn:
        for caller in callers(sqlite_env.domain_id):
            where = and_(
                *service.scope(conn, caller),
                cs.state.in_(service.VISIBLE_STATES),
                *_explorer("resource_name=*web*"),
            )
            stmt = text_counted(conn, where)
            assert stmt is not None
            sql = stmt.compile(conn, compile_kwargs={"literal_binds": True})
            plan = [r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            # driven by the trigram index, each match found by its row id
            assert "VIRTUAL TABLE" in plan[0], plan
            assert any("cloud_service_names USING INTEGER PRIMARY KEY" in p for p in plan), plan
            assert not any("cloud_services " in p + " " for p in plan), plan


@pytest.fixture
def rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every count taken from the rows, as before the narrow copy."""
    monkeypatch.setattr(counts_module, "text_counted", lambda conn, where: None)


def _api_answers(env) -> list[Any]:
    search = "/api/v1/resources/search"
    return [
        env.ok(search, {"filter": {"filter_string": "resource_name=*es-3*"}, "limit": 2}),
        env.ok(search, {"filter": {"filter_string": "resource_name=*s-2&service=EC2"}}),
        env.ok("/inventory/cloud-service/list", {"query": {"keyword": "res-3"}})["total_count"],
        env.ok("/inventory/cloud-service/list", {"query": {"keyword": "es-2", "count_only": True}})[
            "total_count"
        ],
    ]


def test_the_api_answers_as_if_it_counted_rows(env, request) -> None:
    with env.runtime.store.begin() as conn:
        _seed(conn, env.domain_id)
        conn.execute(update(cloud_services).values(workspace_id=env.workspace_id))
    fast = _api_answers(env)
    request.getfixturevalue("rows_only")
    assert _api_answers(env) == fast
    assert fast[0]["total_count"] > 2 and fast[2] > 0


def test_the_migration_copies_existing_resources(sqlite_env) -> None:
    with sqlite_env.runtime.store.begin() as conn:
        _seed(conn, sqlite_env.domain_id)
        command.downgrade(alembic_config(conn), "0016")
        assert "cloud_service_names" not in inspect(conn).get_table_names()
        conn.execute(update(cloud_services).where(cs.provider == "aws").values(state="DELETED"))
        command.upgrade(alembic_config(conn), "head")
        assert kept(conn) == projected(conn)
        assert len(projected(conn)) > 0


def test_the_narrow_table_has_the_columns_the_count_reads(sqlite_env) -> None:
    """The migration spells the columns out (a migration never changes with later code): this
    pins `skyatlas.store.text_counts` to what it made."""
    with sqlite_env.runtime.store.engine.connect() as conn:
        columns = [c["name"] for c in inspect(conn).get_columns("cloud_service_names")]
    assert columns == ["id", *NAME_COLUMNS]
    assert [c.name for c in cloud_service_names.columns] == columns
