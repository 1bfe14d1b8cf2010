"""The FOCUS sample end to end: synced through the `focus` plugin, its totals equal DuckDB's
own sums over the CSV, its tags filter, a corrupt file changes nothing; `import costs`."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import Env, _make_env

SAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "focus"
    / ("focus-1.0-sample.csv")
)


@pytest.fixture
def sample() -> Path:
    if not SAMPLE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the FOCUS sample is missing: {SAMPLE}")
        pytest.skip(f"the FOCUS sample is missing: {SAMPLE}")
    return SAMPLE


@pytest.fixture
def fenv(backend: str, tmp_path: Any, request: pytest.FixtureRequest):
    database_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    e = _make_env(backend, tmp_path, database_url, workers=0)
    with e.client:
        yield e
    e.runtime.close()


def _raw_sums(path: Path, key: str, column: str = "BilledCost") -> dict[str, float]:
    rows = duckdb.sql(
        f"SELECT {key} AS k, sum(TRY_CAST({column} AS DOUBLE)) FROM "
        f"read_csv('{path}', nullstr='NULL', all_varchar=true) GROUP BY 1"
    ).fetchall()
    return {k: v for k, v in rows}


def _sync(env: Env, path: Path, **options: Any) -> tuple[str, dict[str, Any]]:
    imports = env.settings.allowed_import_roots[0]
    imports.mkdir(parents=True, exist_ok=True)
    target = imports / path.name
    shutil.copy(path, target)
    ds = env.ok(
        "/cost-analysis/data-source/register",
        {
            "name": f"focus-{path.name}",
            "plugin_info": {"plugin_id": "focus", "options": {"path": str(target), **options}},
            "workspace_id": env.workspace_id,
        },
    )["data_source_id"]
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})
    env.runtime.workers.drain()
    return ds, env.ok("/cost-analysis/job/get", {"job_id": job["job_id"]})


def _analyze(env: Env, group: str, **query: Any) -> dict[Any, float]:
    answer = env.ok(
        "/cost-analysis/cost/analyze",
        {
            "query": {
                "group_by": [group],
                "fields": {"c": {"key": "cost", "operator": "sum"}},
                **query,
            }
        },
    )
    return {r[group]: r["c"] for r in answer["results"]}


def _close(got: dict[Any, float], want: dict[Any, float]) -> None:
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-15), key


def test_the_focus_sample_syncs_and_matches_duckdbs_own_sums(fenv, sample):
    env = fenv
    ds, job = _sync(env, sample)
    assert job["status"] == "SUCCESS", job
    assert job["total_rows"] == 1000 and job["months"] == ["2024-09"]
    providers = {"AWS": "aws", "Microsoft": "azure", "Oracle": "oracle"}
    raw = _raw_sums(sample, "ProviderName")
    _close(_analyze(env, "provider"), {providers[k]: v for k, v in raw.items()})
    _close(_analyze(env, "product"), _raw_sums(sample, "ServiceName"))
    # the same through the facts (a DAILY question cannot use the monthly rollup)
    daily = env.ok(
        "/cost-analysis/cost/analyze",
        {
            "query": {
                "granularity": "DAILY",
                "group_by": ["provider"],
                "fields": {"c": {"key": "cost", "operator": "sum"}},
                "field_group": ["date"],
            }
        },
    )
    _close(
        {r["provider"]: r["_total_c"] for r in daily["results"]},
        {providers[k]: v for k, v in raw.items()},
    )
    # other FOCUS numbers are kept and can be summed
    effective = env.ok(
        "/cost-analysis/cost/analyze",
        {"query": {"fields": {"e": {"key": "data.EffectiveCost", "operator": "sum"}}}},
    )["results"][0]["e"]
    assert effective == pytest.approx(
        sum(_raw_sums(sample, "1", "EffectiveCost").values()), rel=1e-9
    )
    # tags are filterable, as `tags.<key>`
    tagged = duckdb.sql(
        f"SELECT count(*) FROM read_csv('{sample}', nullstr='NULL', all_varchar=true) "
        "WHERE json_extract_string(Tags, '$.environment') = 'dev'"
    ).fetchall()[0][0]
    assert tagged > 0
    listed = env.ok(
        "/cost-analysis/cost/list",
        {
            "query": {
                "filter": [{"key": "tags.environment", "value": "dev", "operator": "eq"}],
                "count_only": True,
            }
        },
    )
    assert listed["total_count"] == tagged
    info = env.ok("/cost-analysis/data-source/get", {"data_source_id": ds})
    assert "environment" in info["cost_tag_keys"]
    assert {"EffectiveCost", "ListCost"} <= set(info["cost_data_keys"])
    assert "ChargePeriodStart" in info["cost_additional_info_keys"]


def test_the_embedded_store_runs_the_plugins_statements_postgresql_reads_batches(
    fenv, sample, monkeypatch, tmp_path
):
    """DuckDB loads the file with the plugin's statement (the rows never become Arrow
    batches); PostgreSQL cannot run it and reads the batches. Both give the sample's sums."""
    import skyatlas.plugins.focus as focus

    used: list[str] = []
    read_file, select = focus.read_file, focus.FileQuery.select

    def counted_read(*args: Any, **kwargs: Any) -> Any:
        used.append("batches")
        return read_file(*args, **kwargs)

    def counted_select(self: Any, con: Any) -> str:
        used.append("query")
        return select(self, con)

    monkeypatch.setattr(focus, "read_file", counted_read)
    monkeypatch.setattr(focus.FileQuery, "select", counted_select)
    env = fenv
    parquet = tmp_path / "sample.parquet"  # statements are offered for Parquet exports
    duckdb.execute(
        f"COPY (SELECT * FROM read_csv('{sample}', nullstr='NULL', all_varchar=true)) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    _, job = _sync(env, parquet)
    assert job["status"] == "SUCCESS", job
    assert used == (["batches"] if env.runtime.costs.backend == "postgresql" else ["query"])
    _close(_analyze(env, "product"), _raw_sums(sample, "ServiceName"))


def test_a_file_corrupt_halfway_fails_the_sync_and_keeps_the_old_data(fenv, sample, tmp_path):
    env = fenv
    good = tmp_path / "billing.csv.gz"
    with gzip.open(good, "wb") as fh:
        fh.write(sample.read_bytes())
    ds, job = _sync(env, good)
    assert job["status"] == "SUCCESS"
    before = _analyze(env, "product")
    # the next export is cut off in the middle of the gzip stream
    target = env.settings.allowed_import_roots[0] / good.name
    data = good.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})
    env.runtime.workers.drain()
    job = env.ok("/cost-analysis/job/get", {"job_id": job["job_id"]})
    assert job["status"] == "FAILURE"
    assert good.name in job["reason"] and "previous data is unchanged" in job["reason"]
    assert _analyze(env, "product") == before


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SKYATLAS_DATA_DIR": str(data_dir), "NO_COLOR": "1"}
    env.pop("SKYATLAS_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "skyatlas", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_import_costs_loads_files_and_reimporting_replaces_not_adds(sample, tmp_path):
    data_dir = tmp_path / "data"
    first = _cli(data_dir, "import", "costs", str(sample), "--name", "billing")
    assert first.returncode == 0, first.stdout + first.stderr
    said = first.stdout + first.stderr
    assert "1,000 cost rows loaded" in said and "months replaced: 2024-09" in said
    again = _cli(data_dir, "import", "costs", str(sample), "--name", "billing")
    assert again.returncode == 0, again.stdout + again.stderr
    con = duckdb.connect(str(data_dir / "costs.duckdb"), read_only=True)
    count, total = con.execute("SELECT count(*), sum(cost) FROM costs").fetchone()
    con.close()
    assert count == 1000
    assert total == pytest.approx(sum(_raw_sums(sample, "1").values()), rel=1e-9)
    missing = _cli(data_dir, "import", "costs", str(sample), "--data-source-id", "ds-nope")
    assert missing.returncode == 1
    assert "data source not found" in missing.stdout + missing.stderr
    assert "Traceback" not in missing.stdout + missing.stderr
    boot = json.loads((data_dir / "bootstrap.json").read_text())
    assert boot["client_secret"]  # the import bootstrapped the store like `serve` would


@pytest.mark.slow
def test_import_costs_while_serve_runs_hands_the_sync_to_the_server(sample, tmp_path):
    from serverproc import clean_env, running

    data_dir = tmp_path / "data"
    with running(tmp_path, data_dir=data_dir) as server:
        token = json.loads(server.bootstrap_path.read_text())["client_secret"]
        env = clean_env(SKYATLAS_DATA_DIR=str(data_dir))
        done = subprocess.run(
            [sys.executable, "-m", "skyatlas", "import", "costs", str(sample)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        said = done.stdout + done.stderr
        assert done.returncode == 0, said
        assert "1,000 cost rows loaded" in said and "(by the running server)" in said
        answer = server.ok(
            "/cost-analysis/cost/analyze",
            token,
            {"query": {"fields": {"c": {"key": "cost", "operator": "sum"}}}},
        )
        assert answer["results"][0]["c"] == pytest.approx(
            sum(_raw_sums(sample, "1").values()), rel=1e-9
        )


@pytest.fixture
def duck_env(tmp_path: Any):
    """The embedded store (costs in DuckDB), its syncs run when the test drains the queue."""
    e = _make_env("sqlite", tmp_path, None, workers=0)
    with e.client:
        yield e
    e.runtime.close()


def _parquet_copies(sample: Path, dest: Path, times: int, factor: float = 1.0) -> Path:
    """The sample `times` over as Parquet, every cost column multiplied by `factor`."""
    costs = ", ".join(
        f"CAST(TRY_CAST({c} AS DOUBLE) * {factor} AS VARCHAR) AS {c}"
        for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
    )
    duckdb.execute(
        f"COPY (SELECT s.* REPLACE ({costs}) FROM range({times}) r(i), "
        f"read_csv('{sample}', nullstr='NULL', all_varchar=true) s) TO '{dest}' (FORMAT parquet)"
    )
    return dest


def _start_sync(env: Env, path: Path) -> tuple[str, str]:
    """Register a data source on `path` (copied below the import root) and accept a sync."""
    imports = env.settings.allowed_import_roots[0]
    imports.mkdir(parents=True, exist_ok=True)
    target = imports / "export.parquet"
    shutil.copy(path, target)
    ds = env.ok(
        "/cost-analysis/data-source/register",
        {
            "name": "focus-parquet",
            "plugin_info": {"plugin_id": "focus", "options": {"path": str(target)}},
            "workspace_id": env.workspace_id,
        },
    )["data_source_id"]
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})
    return ds, job["job_id"]


def _total(env: Env) -> float:
    return sum(_analyze(env, "provider").values())


def test_a_parquet_resync_shows_readers_the_old_month_or_the_new_one(duck_env, sample, tmp_path):
    """The embedded store loads Parquet as statements: readers during the resync see the old
    total or the new one (twice the old), never a mix."""
    env = duck_env
    ds, job = _start_sync(env, _parquet_copies(sample, tmp_path / "a.parquet", 300))
    env.runtime.workers.drain()
    old = _total(env)
    shutil.copy(
        _parquet_copies(sample, tmp_path / "b.parquet", 300, 2.0),
        env.settings.allowed_import_roots[0] / "export.parquet",
    )
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})["job_id"]
    worker = threading.Thread(target=env.runtime.workers.drain)
    worker.start()
    seen, during = [], 0
    try:
        while True:
            running = env.ok("/cost-analysis/job/get", {"job_id": job})["status"] == "IN_PROGRESS"
            seen.append(_total(env))
            if not running:
                break
            during += 1
    finally:
        worker.join(120)
    assert during > 0  # some reads happened while the sync ran
    for total in seen:
        assert total == pytest.approx(old, rel=1e-9) or total == pytest.approx(2 * old, rel=1e-9)
    assert seen[-1] == pytest.approx(2 * old, rel=1e-9)


def test_cancelling_a_parquet_sync_stops_its_statement_and_keeps_the_old_data(
    duck_env, sample, tmp_path
):
    env = duck_env
    ds, _ = _start_sync(env, _parquet_copies(sample, tmp_path / "a.parquet", 1))
    env.runtime.workers.drain()
    before = _analyze(env, "product")
    shutil.copy(
        _parquet_copies(sample, tmp_path / "big.parquet", 1000),  # 1,000,000 rows
        env.settings.allowed_import_roots[0] / "export.parquet",
    )
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})["job_id"]
    worker = threading.Thread(target=env.runtime.workers.drain)
    started = time.monotonic()
    worker.start()
    try:
        time.sleep(1.0)
        assert env.ok("/cost-analysis/job/cancel", {"job_id": job})["status"] == "CANCELED"
    finally:
        worker.join(120)
    took = time.monotonic() - started
    assert env.ok("/cost-analysis/job/get", {"job_id": job})["status"] == "CANCELED"
    assert _analyze(env, "product") == before
    # the whole file takes several times as long to load as the cancelled sync ran
    env.ok("/cost-analysis/data-source/sync", {"data_source_id": ds})
    began = time.monotonic()
    env.runtime.workers.drain()
    whole = time.monotonic() - began
    assert whole > 1.5 * took, (whole, took)
