"""The embedded cost store loading a plugin's DuckDB statements (`CostFeed.queries`) instead of
its Arrow batches: the same rows and ids, a cancel that stops a statement midway, progress per
file, and a failure that leaves the previous data."""

from __future__ import annotations

import gzip
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_focus_plugin import READ_SAMPLE, SAMPLE, big_copy, context

import skyatlas.cost.store as store_module
from skyatlas.cost.store import Assignment, DuckCostStore, ReplaceResult, SyncCancelled
from skyatlas.plugins import PluginError
from skyatlas.plugins.focus import plugin
from skyatlas.plugins.focus.files import local_files
from skyatlas.plugins.focus.query import FileQuery

ASSIGNMENT = Assignment(
    data_source_id="ds-1",
    domain_id="domain-1",
    workspace_id="workspace-1",
    accounts={"11353890204": ("sa-1", "project-1", "workspace-1")},  # 225 of the sample's rows
)


def _store(path: Path) -> DuckCostStore:
    return DuckCostStore(path / "costs.duckdb")


def _replace(
    store: DuckCostStore,
    source: Path,
    sync_id: str,
    *,
    use_queries: bool,
    cancelled: Any = lambda: False,
    progress: Any = None,
) -> ReplaceResult:
    feed = plugin.sync(context(source))
    queries = None
    if use_queries:  # CSV files too: the plugin offers statements for Parquet alone
        queries = feed.queries or [FileQuery(f, "BilledCost") for f in local_files(str(source), ())]
    return store.replace(
        ASSIGNMENT,
        sync_id,
        feed.batches,
        None,
        cancelled,
        queries=queries,
        progress=progress,
    )


def _rows(store: DuckCostStore) -> list[tuple[Any, ...]]:
    cur = store._db.cursor()
    try:
        return cur.execute("SELECT * FROM costs ORDER BY cost_id").fetchall()
    finally:
        cur.close()


def _rollup(store: DuckCostStore) -> list[tuple[Any, ...]]:
    """The rollup's rows, keys first, then cost, usage_quantity and row_count."""
    keys = ", ".join(
        f"CAST({k} AS VARCHAR)" if k == "tags" else k for k in store_module._ROLLUP_KEYS.split(", ")
    )
    cur = store._db.cursor()
    try:
        return cur.execute(
            f"SELECT {keys}, cost, usage_quantity, row_count FROM cost_monthly ORDER BY ALL"
        ).fetchall()
    finally:
        cur.close()


def _exports(tmp_path: Path) -> Path:
    """Four files of different formats in one directory: the sample as CSV, as gzipped CSV,
    twice over as Parquet, and as Parquet spread over three months."""
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a.csv")
    with gzip.open(folder / "b.csv.gz", "wb") as fh:
        fh.write(SAMPLE.read_bytes())
    big_copy(folder / "c.parquet", 2)
    months = duckdb.connect()  # the sample moved 0, 1 and 2 months on: three months' rollups
    months.execute(
        f"COPY (SELECT s.* REPLACE (strftime(CAST(s.ChargePeriodStart AS TIMESTAMP) + "
        f"to_months(r.i), '%Y-%m-%d %H:%M:%S') AS ChargePeriodStart) FROM range(3) r(i), "
        f"{READ_SAMPLE} s) TO '{folder / 'd.parquet'}' (FORMAT parquet)"
    )
    return folder


def test_queries_and_batches_store_the_same_rows_and_ids(tmp_path: Path) -> None:
    folder = _exports(tmp_path)
    by_batches, by_queries = _store(tmp_path / "b"), _store(tmp_path / "q")
    got_b = _replace(by_batches, folder, "job-0a1b2c", use_queries=False)
    got_q = _replace(by_queries, folder, "job-0a1b2c", use_queries=True)
    assert got_q == got_b
    assert got_q.rows == 7_000
    assert got_q.months == ("2024-09", "2024-10", "2024-11")
    rows_b, rows_q = _rows(by_batches), _rows(by_queries)
    assert len(rows_q) == 7_000
    assert rows_q == rows_b  # every column, ids included: the rows are numbered alike
    # the monthly rollup, built from the queries' totals, holds the sums of the rows
    roll_b, roll_q = _rollup(by_batches), _rollup(by_queries)
    assert [r[:-3] for r in roll_q] == [r[:-3] for r in roll_b]
    for got, want in zip(roll_q, roll_b, strict=True):
        assert got[-3:-1] == pytest.approx(want[-3:-1], rel=1e-12)
        assert got[-1] == want[-1]
    assert sum(r[-1] for r in roll_q) == 7_000
    cur = by_queries._db.cursor()
    mapped = cur.execute(
        "SELECT count(*) FROM costs WHERE account_id = '11353890204' AND project_id = "
        "'project-1' AND service_account_id = 'sa-1'"
    ).fetchone()
    assert mapped == (225 * 7,)  # the sub-account maps to its service account in every file


def test_progress_is_reported_after_each_file(tmp_path: Path) -> None:
    folder = _exports(tmp_path)
    seen: list[int] = []
    _replace(_store(tmp_path / "s"), folder, "job-1", use_queries=True, progress=seen.append)
    assert seen == [1_000, 2_000, 4_000, 7_000]


def test_a_cancel_stops_a_running_statement_and_keeps_the_old_data(tmp_path: Path) -> None:
    store = _store(tmp_path / "s")
    _replace(store, SAMPLE, "job-old", use_queries=True)
    before = _rows(store)
    big = big_copy(tmp_path / "big.parquet", 1_500)  # 1.5 million rows: one long statement
    start: list[float] = []

    def cancelled() -> bool:
        # False when asked before the statement starts, True 0.3 s into it: only the
        # watcher's interrupt can stop the statement then.
        if not start:
            start.append(time.monotonic())
            return False
        return time.monotonic() - start[0] > 0.3

    began = time.monotonic()
    with pytest.raises(SyncCancelled):
        _replace(store, big, "job-new", use_queries=True, cancelled=cancelled)
    stopped_after = time.monotonic() - began
    assert _rows(store) == before
    assert not [t for t in threading.enumerate() if t.name == "skyatlas-cost-watch"]
    # the whole load takes several times as long as the cancel did
    began = time.monotonic()
    _replace(store, big, "job-whole", use_queries=True)
    assert time.monotonic() - began > 2 * stopped_after


def test_a_file_failing_midway_changes_nothing_and_names_the_file(tmp_path: Path) -> None:
    store = _store(tmp_path / "s")
    _replace(store, SAMPLE, "job-old", use_queries=True)
    before = _rows(store)
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a.csv")  # loads, then the next file fails
    whole = big_copy(tmp_path / "whole.csv.gz", 60, compression="gzip").read_bytes()
    (folder / "b.csv.gz").write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(PluginError) as info:
        _replace(store, folder, "job-new", use_queries=True)
    assert str(folder / "b.csv.gz") in info.value.message
    assert _rows(store) == before


def test_a_small_sync_in_a_large_store_learns_all_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync of up to KEY_SAMPLE rows is read whole, however large the store around it (a
    share of the store's rows would hold next to none of the sync's)."""
    monkeypatch.setattr(store_module, "KEY_SAMPLE", 100)
    store = _store(tmp_path / "s")
    _replace(store, big_copy(tmp_path / "big.parquet", 100), "job-big", use_queries=True)
    small = tmp_path / "small.csv"
    small.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:11]))  # 10 rows
    alone = _replace(_store(tmp_path / "alone"), small, "job-alone", use_queries=True)
    assert alone.data_keys and alone.additional_info_keys
    got = _replace(store, small, "job-small", use_queries=True)
    assert got.rows == 10
    assert (got.data_keys, got.additional_info_keys, got.tag_keys) == (
        alone.data_keys,
        alone.additional_info_keys,
        alone.tag_keys,
    )


def test_a_large_sync_learns_its_keys_from_a_sample(tmp_path: Path) -> None:
    exact = _replace(_store(tmp_path / "exact"), SAMPLE, "job-exact", use_queries=True)
    big = big_copy(tmp_path / "big.parquet", 250)  # 250,000 rows: more than KEY_SAMPLE
    assert store_module.KEY_SAMPLE < 250_000
    got = _replace(_store(tmp_path / "s"), big, "job-big", use_queries=True)
    assert got.data_keys == exact.data_keys
    assert got.tag_keys == exact.tag_keys
    assert "ChargePeriodStart" in got.additional_info_keys
    assert set(got.additional_info_keys) <= set(exact.additional_info_keys)


def test_the_rollup_of_a_sync_with_many_totals_holds_them_all(tmp_path: Path) -> None:
    """More sums than one DuckDB row group (122,880) holds: the sample spread over 240
    months. (Rows inserted into a table created in the same transaction went missing past
    one row group; the totals are gathered with CREATE TABLE ... AS instead.)"""
    path = tmp_path / "months.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT s.* REPLACE (strftime(CAST(s.ChargePeriodStart AS TIMESTAMP) + "
        f"to_months(r.i), '%Y-%m-%d %H:%M:%S') AS ChargePeriodStart) FROM range(240) r(i), "
        f"{READ_SAMPLE} s) TO '{path}' (FORMAT parquet)"
    )
    by_batches, by_queries = _store(tmp_path / "b"), _store(tmp_path / "q")
    _replace(by_batches, path, "job-1", use_queries=False)
    _replace(by_queries, path, "job-1", use_queries=True)
    roll_b, roll_q = _rollup(by_batches), _rollup(by_queries)
    assert len(roll_b) > 122_880
    assert len(roll_q) == len(roll_b)
    assert sum(r[-1] for r in roll_q) == 240_000
    assert [r[:-3] for r in roll_q] == [r[:-3] for r in roll_b]
