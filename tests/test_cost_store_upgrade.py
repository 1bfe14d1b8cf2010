"""The embedded cost store's file format: tags kept as key/value entries (schema 2), and a file
written with tags as a DuckDB MAP (schema 1) brought forward when it is opened."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import func, select

from skyatlas.cost.fields import map_text
from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.cost.store import _DUCK_DDL, TAGS_TYPE, Assignment, CostStoreBusy, DuckCostStore
from skyatlas.cost.tables import cost_monthly, costs
from skyatlas.cost.verbs.cost import cost_record

ASSIGNMENT = Assignment("ds-1", "domain-1", "workspace-1")


def _rows(tags: list[dict[str, str]]) -> pa.Table:
    rows = []
    for i, t in enumerate(tags):
        row = {f.name: None for f in COST_SCHEMA}
        row.update(
            cost=10.0 + i,
            provider="aws",
            product="EC2",
            billed_date="2026-10-0" + str(i + 1),
            tags=list(t.items()),
            additional_info="{}",
            data="{}",
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=COST_SCHEMA)


TAGS = [{"team": "data", "env": "prod"}, {"team": "web"}, {}]


def _by_team(store: DuckCostStore, table=costs) -> dict[str | None, float]:
    team = map_text(table.c.tags, "team")
    rows = store.fetch(
        select(team.label("team"), func.sum(table.c.cost).label("cost")).group_by(team)
    )
    return {r["team"]: r["cost"] for r in rows}


def test_tags_are_stored_as_entries_and_read_back_as_objects(tmp_path: Path):
    store = DuckCostStore(tmp_path / "costs.duckdb")
    try:
        store.insert(ASSIGNMENT, "sync-1", _rows(TAGS))
        records = [cost_record(_Row(r)) for r in store.fetch(select(costs).order_by(costs.c.cost))]
        assert [r["tags"] for r in records] == TAGS
        assert _by_team(store) == {"data": 10.0, "web": 11.0, None: 12.0}
        assert _by_team(store, cost_monthly) == {"data": 10.0, "web": 11.0, None: 12.0}
        column_type = store.fetch(select(func.typeof(costs.c.tags).label("t")).limit(1))[0]["t"]
        assert column_type == 'STRUCT("key" VARCHAR, "value" VARCHAR)[]'
    finally:
        store.close()


def _schema_1_file(path: Path) -> None:
    """A cost store as schema 1 wrote it: tags as MAP(VARCHAR, VARCHAR)."""
    db = duckdb.connect(str(path))
    db.execute(_DUCK_DDL.replace(TAGS_TYPE, "MAP(VARCHAR, VARCHAR)"))
    db.execute("INSERT INTO cost_store_info VALUES ('schema_version', '1')")
    for i, t in enumerate(TAGS):
        db.execute(
            "INSERT INTO costs (cost_id, cost, provider, product, tags, billed_date, billed_month, "
            "billed_year, data_source_id, domain_id, workspace_id) VALUES "
            "(?, ?, 'aws', 'EC2', MAP(?::VARCHAR[], ?::VARCHAR[]), ?, '2026-10', '2026', 'ds-1', "
            "'domain-1', 'workspace-1')",
            [f"cost-old-{i}", 10.0 + i, list(t), list(t.values()), f"2026-10-0{i + 1}"],
        )
    db.execute(
        "INSERT INTO cost_monthly BY NAME SELECT provider, product, data_source_id, domain_id, "
        "workspace_id, tags, billed_month, billed_year, sum(cost) AS cost, count(*) AS row_count "
        "FROM costs GROUP BY ALL"
    )
    db.close()


def test_a_schema_1_store_is_upgraded_in_place_with_its_tags(tmp_path: Path):
    path = tmp_path / "costs.duckdb"
    _schema_1_file(path)
    store = DuckCostStore(path)
    try:
        records = [cost_record(_Row(r)) for r in store.fetch(select(costs).order_by(costs.c.cost))]
        assert [r["tags"] for r in records] == TAGS
        assert _by_team(store) == {"data": 10.0, "web": 11.0, None: 12.0}
        assert _by_team(store, cost_monthly) == {"data": 10.0, "web": 11.0, None: 12.0}
        # New rows land beside the upgraded ones.
        store.insert(ASSIGNMENT, "sync-2", _rows([{"team": "web"}]))
        assert _by_team(store)["web"] == 21.0
    finally:
        store.close()
    db = duckdb.connect(str(path))
    try:
        version = db.execute(
            "SELECT value FROM cost_store_info WHERE name = 'schema_version'"
        ).fetchone()
        assert version == ("2",)
    finally:
        db.close()


def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path: Path):
    path = tmp_path / "costs.duckdb"
    DuckCostStore(path).close()
    db = duckdb.connect(str(path))
    db.execute("UPDATE cost_store_info SET value = '99' WHERE name = 'schema_version'")
    db.close()
    with pytest.raises(CostStoreBusy, match="newer skyatlas"):
        DuckCostStore(path)
    db = duckdb.connect(str(path))
    assert db.execute("SELECT value FROM cost_store_info").fetchall() == [("99",)]
    db.close()


class _Row:
    """What `cost_record` reads: a row with a `_mapping`."""

    def __init__(self, mapping: dict) -> None:
        self._mapping = mapping
