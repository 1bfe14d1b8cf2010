"""The built-in `focus` cost plugin: what it reads from real FOCUS exports and what it yields.

Expectations come from DuckDB reading the sample file on its own (its sums, its rows), never
from the plugin, so a mapping mistake shows up as a difference.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import shutil
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skyatlas.cost.schema import COST_SCHEMA, normalise_provider
from skyatlas.plugins import PluginError, PluginRegistry
from skyatlas.plugins.base import CostFeed, CostPlugin, CostSyncContext
from skyatlas.plugins.focus import FocusOptions, plugin
from skyatlas.plugins.focus import s3 as focus_s3
from skyatlas.plugins.focus.files import local_files
from skyatlas.plugins.focus.query import FileQuery

# shared/ sits beside the repository (in development and in CI alike).
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "focus" / "focus-1.0-sample.csv"
if not SAMPLE.exists():  # pragma: no cover - the sample is part of the test environment
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true and the FOCUS sample is missing: {SAMPLE}")
    pytest.skip(f"FOCUS sample not found at {SAMPLE}", allow_module_level=True)

READ_SAMPLE = f"read_csv('{SAMPLE}', nullstr = 'NULL', header = true, all_varchar = true)"
REL = 1e-9
NUMERIC = {
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "ConsumedQuantity",
}
DATETIMES = {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
#: Source columns a mapped field reproduces exactly (so they are not in additional_info).
CONSUMED = {
    "ConsumedUnit": "usage_unit",
    "RegionId": "region_code",
    "ServiceName": "product",
    "ResourceType": "usage_type",
    "ResourceId": "resource",
    "SubAccountId": "account_id",
}
SECRET = {
    "aws_access_key_id": "AKIAFOCUSTESTKEY0001",
    "aws_secret_access_key": "focus-secret-do-not-print-0123456789",
}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def context(
    path: Path | str,
    *,
    roots: tuple[Path, ...] = (),
    secret: dict[str, Any] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    **options: Any,
) -> CostSyncContext:
    return CostSyncContext(
        options={"path": str(path), **options},
        secret=secret or {},
        cancelled=cancelled,
        import_roots=roots,
    )


def batches(path: Path | str, **kwargs: Any) -> list[pa.RecordBatch]:
    feed = plugin.sync(context(path, **kwargs))
    assert isinstance(feed, CostFeed)
    assert feed.months is None
    out = list(feed.batches)
    for batch in out:
        assert batch.schema.equals(COST_SCHEMA, check_metadata=True), batch.schema
    return out


def table(path: Path | str, **kwargs: Any) -> pa.Table:
    """The rows as the batches give them, checked equal to what the queries give."""
    got = pa.Table.from_batches(batches(path, **kwargs), schema=COST_SCHEMA)
    from_queries = query_rows(path, **kwargs)
    if from_queries is not None:
        assert comparable(got.to_pylist()) == comparable(from_queries)
    return got


def query_rows(path: Path | str, **kwargs: Any) -> list[dict[str, Any]] | None:
    """The rows `CostFeed.queries` gives, as a store would load them (each file's `_n`
    numbering its rows 1, 2, ...), run on a connection whose time zone is not UTC. None for
    S3 objects that are not all Parquet (no statements are offered)."""
    feed = plugin.sync(context(path, **kwargs))
    queries = feed.queries
    if queries is None and str(path).startswith("s3://"):
        return None
    if queries is None:  # CSV is offered as batches; its statements must agree all the same
        cost_column = kwargs.get("cost_column", "BilledCost")
        queries = [FileQuery(f, cost_column) for f in local_files(str(path), ())]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Seoul'")
    out: list[dict[str, Any]] = []
    for query in queries:
        try:
            sql = query.select(con)
            try:
                found = con.sql(f"SELECT * FROM ({sql}) ORDER BY _n").to_arrow_table()
            except duckdb.Error as exc:
                raise query.failure(exc) from None
        finally:
            query.close(con)
        numbers = found.column("_n").to_pylist()
        assert numbers == list(range(1, len(numbers) + 1))
        out.extend(found.drop_columns(["_n"]).to_pylist())
    assert con.execute("SHOW TABLES").fetchall() == []  # close() dropped what select() made
    return out


def comparable(rows_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their tags as (key, value) pairs, whether they came as a map or as entries."""
    return [
        {
            **row,
            "tags": [(e["key"], e["value"]) if isinstance(e, dict) else e for e in row["tags"]],
        }
        for row in rows_
    ]


def strict_json(text: str) -> Any:
    """`json.loads`, refusing what is not JSON but Python reads anyway (NaN, Infinity)."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"not JSON: {constant} in {text}")

    return json.loads(text, parse_constant=refuse)


def json_map(text: str, value_type: type) -> dict[str, Any]:
    """The JSON object text of `additional_info` / `data` as a dict without its null entries
    (null means absent); every other value must be of `value_type`."""
    assert isinstance(text, str), text
    parsed = strict_json(text)
    assert isinstance(parsed, dict), text
    out = {k: v for k, v in parsed.items() if v is not None}
    for key, value in out.items():
        assert isinstance(value, value_type), (key, value, text)
    return out


def rows(path: Path | str, **kwargs: Any) -> list[dict[str, Any]]:
    out = table(path, **kwargs).to_pylist()
    for row in out:
        row["tags"] = dict(row["tags"])
        row["additional_info"] = json_map(row["additional_info"], str)
        row["data"] = json_map(row["data"], float)
    return out


def sums(rows_: list[dict[str, Any]], key: str) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for row in rows_:
        total[row[key]] += row["cost"]
    return dict(total)


def duck_sums(group: str, column: str = "BilledCost") -> dict[str, float]:
    """DuckDB's own sums of a cost column over the sample (its own type detection)."""
    typed = f"read_csv('{SAMPLE}', nullstr = 'NULL', header = true)"
    sql = f'SELECT "{group}", sum("{column}") FROM {typed} GROUP BY ALL'
    return dict(duckdb.connect().sql(sql).fetchall())


def assert_close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        assert math.isclose(actual[key], want, rel_tol=REL, abs_tol=1e-12), (key, actual[key], want)


def source_rows() -> list[dict[str, str | None]]:
    """The sample's rows as text; an empty string is NULL (FOCUS forbids empty strings for
    missing values; the sample's Oracle rows have `""` as BillingAccountName)."""
    rel = duckdb.connect().sql(f"SELECT * FROM {READ_SAMPLE}")
    names = rel.columns
    return [
        {k: (v if v != "" else None) for k, v in zip(names, values, strict=True)}
        for values in rel.fetchall()
    ]


def iso(text: str) -> str:
    return text.replace(" ", "T") + "Z"


def copy_sample(sql_select: str, dest: Path, fmt: str = "csv") -> Path:
    """`COPY (<select over the sample>) TO dest` with DuckDB, in UTC."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    options = "FORMAT parquet" if fmt == "parquet" else "HEADER, NULLSTR 'NULL'"
    con.execute(f"COPY ({sql_select.format(sample=READ_SAMPLE)}) TO '{dest}' ({options})")
    return dest


HEADER = ["ChargePeriodStart", "BilledCost", "EffectiveCost", "ProviderName", "RegionId", "Tags"]


def write_csv(path: Path, header: list[str], lines: list[list[str]]) -> Path:
    """A small CSV; cells are written as given (quote them yourself where needed)."""
    path.write_text("\n".join([",".join(header)] + [",".join(line) for line in lines]) + "\n")
    return path


def big_copy(dest: Path, times: int, *, compression: str | None = None) -> Path:
    """The sample repeated `times` times, as CSV (optionally gzipped) or Parquet."""
    con = duckdb.connect()
    select = f"SELECT s.* FROM range({times}) r(i), {READ_SAMPLE} s"
    if dest.suffix == ".parquet":
        options = "FORMAT parquet"
    else:
        options = "HEADER, NULLSTR 'NULL'" + (
            f", COMPRESSION '{compression}'" if compression else ""
        )
    con.execute(f"COPY ({select}) TO '{dest}' ({options})")
    return dest


@contextlib.contextmanager
def raises_plugin_error(*fragments: str) -> Iterator[None]:
    """The block raises PluginError (no other type) whose message contains every fragment."""
    with pytest.raises(PluginError) as info:
        yield
    for fragment in fragments:
        assert fragment in info.value.message, (fragment, info.value.message)


def consume(path: Path | str, **kwargs: Any) -> int:
    """Rows read by the batches; the queries must fail with the same message or give as many
    rows."""
    try:
        from_queries = query_rows(path, **kwargs)
        expected: int | str | None = None if from_queries is None else len(from_queries)
    except PluginError as exc:
        expected = exc.message
    try:
        got = sum(b.num_rows for b in plugin.sync(context(path, **kwargs)).batches)
    except PluginError as exc:
        assert expected is None or exc.message == expected
        raise
    assert expected is None or got == expected
    return got


# ------------------------------------------------------------------------------------------------
# The sample
# ------------------------------------------------------------------------------------------------


def test_the_plugin_is_found_through_its_entry_point() -> None:
    found = PluginRegistry().get("focus", "cost")
    assert found is plugin
    assert isinstance(found, CostPlugin)
    meta = found.metadata
    assert (meta.plugin_id, meta.kind, meta.provider, meta.needs_service_account) == (
        "focus",
        "cost",
        None,
        False,
    )
    assert meta.supported_resource_types == ("cost_analysis.Cost",)
    assert meta.options_model is FocusOptions
    assert set(meta.options_schema()["properties"]) == {
        "path",
        "cost_column",
        "endpoint_url",
        "region_name",
    }


def test_sample_syncs_every_row_in_cost_schema() -> None:
    out = batches(SAMPLE)
    assert sum(b.num_rows for b in out) == 1000
    got = pa.Table.from_batches(out)
    assert got.schema.names == COST_SCHEMA.names
    assert got.column("billed_date").null_count == 0
    assert got.column("cost").null_count == 0


def test_cost_per_provider_and_product_equals_duckdbs_own_sums() -> None:
    out = rows(SAMPLE)
    want = duck_sums("ProviderName")
    assert_close(sums(out, "provider"), {normalise_provider(k): v for k, v in want.items()})
    assert_close(sums(out, "product"), duck_sums("ServiceName"))


def test_cost_column_effective_cost() -> None:
    out = rows(SAMPLE, cost_column="EffectiveCost")
    want = duck_sums("ProviderName", "EffectiveCost")
    assert_close(sums(out, "provider"), {normalise_provider(k): v for k, v in want.items()})
    assert_close(sums(out, "product"), duck_sums("ServiceName", "EffectiveCost"))
    # BilledCost and EffectiveCost differ in the sample, so the option really switched column.
    assert sums(out, "provider") != sums(rows(SAMPLE), "provider")


def test_providers_are_normalised() -> None:
    counts = Counter(r["provider"] for r in rows(SAMPLE))
    assert counts == {"aws": 942, "azure": 51, "oracle": 7}


def test_mapped_fields_follow_the_documented_mapping() -> None:
    by_id = {r["additional_info"]["Id"]: r for r in rows(SAMPLE)}
    for src in source_rows():
        row = by_id[src["Id"]]
        quantity = src["ConsumedQuantity"] or src["PricingQuantity"]
        assert row["cost"] == float(src["BilledCost"])
        assert row["usage_quantity"] == (float(quantity) if quantity else None)
        assert row["usage_unit"] == (src["ConsumedUnit"] or src["PricingUnit"])
        assert row["provider"] == normalise_provider(src["ProviderName"])
        assert row["region_code"] == src["RegionId"]
        want_key = f"{row['provider']}.{src['RegionId']}" if src["RegionId"] else None
        assert row["region_key"] == want_key
        assert row["product"] == src["ServiceName"]
        assert row["usage_type"] == (src["ResourceType"] or src["ChargeCategory"])
        assert row["resource"] == src["ResourceId"]
        assert row["account_id"] == (src["SubAccountId"] or src["BillingAccountId"])
        assert row["billed_date"] == src["ChargePeriodStart"][:10]


def test_tags_are_parsed() -> None:
    out = rows(SAMPLE)
    by_id = {r["additional_info"]["Id"]: r for r in out}
    assert by_id["19384"]["tags"] == {
        "application": "BrightLensMatrix",
        "environment": "dev",
        "business_unit": "ViennaAI",
    }
    assert by_id["11472"]["tags"] == {}  # NULL in the file
    dev = duckdb.connect().sql(
        f'SELECT count(*) FROM {READ_SAMPLE} WHERE Tags LIKE \'%"environment": "dev"%\''
    )
    assert sum(r["tags"].get("environment") == "dev" for r in out) == dev.fetchall()[0][0] > 0
    assert not any("Tags" in r["additional_info"] for r in out)  # every Tags is an object


def test_nothing_in_the_sample_is_lost() -> None:
    """Every non-NULL value of every column is in a mapped field, `tags`, `data` or
    `additional_info`, and those maps hold nothing else."""
    by_id = {r["additional_info"]["Id"]: r for r in rows(SAMPLE)}
    sources = source_rows()
    assert len(by_id) == len(sources) == 1000
    for src in sources:
        row = by_id[src["Id"]]
        info, data = row["additional_info"], row["data"]
        for column, value in src.items():
            if value is None:
                assert column not in info and column not in data
            elif column in NUMERIC:
                assert data[column] == float(value), column
            elif column == "Tags":
                assert row["tags"] == json.loads(value)
            elif column in CONSUMED:
                assert row[CONSUMED[column]] == value, column
            elif column in DATETIMES:
                assert info[column] == iso(value), column
            else:
                assert info[column] == value, column
        present = {c for c, v in src.items() if v is not None}
        assert set(data) == present & NUMERIC
        assert set(info) == present - NUMERIC - CONSUMED.keys() - {"Tags"}


# ------------------------------------------------------------------------------------------------
# Formats and paths
# ------------------------------------------------------------------------------------------------


def test_gzipped_csv(tmp_path: Path) -> None:
    dest = tmp_path / "export.csv.gz"
    dest.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert rows(dest) == rows(SAMPLE)


def test_gzip_without_the_suffix_is_recognised(tmp_path: Path) -> None:
    dest = tmp_path / "export-2024-09"
    dest.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert len(rows(dest)) == 1000


def test_statements_are_offered_when_every_file_is_parquet(tmp_path: Path) -> None:
    only_parquet = tmp_path / "parquet"
    only_parquet.mkdir()
    big_copy(only_parquet / "a.parquet", 1)
    big_copy(only_parquet / "b.parquet", 2)
    assert [q.display for q in plugin.sync(context(only_parquet)).queries or ()] == [
        str(only_parquet / "a.parquet"),
        str(only_parquet / "b.parquet"),
    ]
    assert plugin.sync(context(SAMPLE)).queries is None
    shutil.copy(SAMPLE, only_parquet / "c.csv")
    assert plugin.sync(context(only_parquet)).queries is None


def test_typed_parquet_gives_the_same_rows_as_the_csv(tmp_path: Path) -> None:
    """Numbers as DOUBLE/DECIMAL, time stamps as TIMESTAMP/TIMESTAMPTZ, the tags as a MAP, the
    Id as BIGINT: the rows come out exactly as from the CSV."""
    numbers = ", ".join(f'CAST("{c}" AS DOUBLE) AS "{c}"' for c in sorted(NUMERIC - {"ListCost"}))
    select = (
        "SELECT * REPLACE ("
        f"{numbers}, CAST(ListCost AS DECIMAL(30, 11)) AS ListCost, "
        "CAST(BillingPeriodStart AS TIMESTAMP) AS BillingPeriodStart, "
        "CAST(BillingPeriodEnd AS TIMESTAMP) AS BillingPeriodEnd, "
        "CAST(ChargePeriodStart AS TIMESTAMPTZ) AS ChargePeriodStart, "
        "CAST(ChargePeriodEnd AS TIMESTAMP) AS ChargePeriodEnd, "
        "json_transform(Tags, '\"MAP(VARCHAR, VARCHAR)\"') AS Tags, "
        "CAST(Id AS BIGINT) AS Id) FROM {sample}"
    )
    dest = copy_sample(select, tmp_path / "export.parquet", "parquet")
    key = lambda r: r["additional_info"]["Id"]  # noqa: E731
    assert sorted(rows(dest), key=key) == sorted(rows(SAMPLE), key=key)


def test_directory_is_read_recursively_and_ignores_other_files(tmp_path: Path) -> None:
    base = tmp_path / "exports"
    (base / "2024" / "09").mkdir(parents=True)
    (base / "old").mkdir()
    copy_sample(
        "SELECT * FROM {sample} WHERE ProviderName = 'AWS'", base / "2024" / "09" / "aws.csv"
    )
    copy_sample(
        "SELECT * FROM {sample} WHERE ProviderName = 'Microsoft'",
        base / "old" / "azure.parquet",
        "parquet",
    )
    oracle = copy_sample("SELECT * FROM {sample} WHERE ProviderName = 'Oracle'", tmp_path / "o.csv")
    (base / "oracle.CSV.GZ").write_bytes(gzip.compress(oracle.read_bytes()))
    (base / "README.txt").write_text("not data")
    (base / "manifest.json").write_text("{}")
    out = rows(base)
    assert len(out) == 1000
    want = {normalise_provider(k): v for k, v in duck_sums("ProviderName").items()}
    assert_close(sums(out, "provider"), want)


def test_glob(tmp_path: Path) -> None:
    for provider in ("AWS", "Microsoft", "Oracle"):
        copy_sample(
            f"SELECT * FROM {{sample}} WHERE ProviderName = '{provider}'",
            tmp_path / f"focus-{provider}.csv",
        )
    (tmp_path / "focus-notes.txt").write_text("not data")
    assert Counter(r["provider"] for r in rows(tmp_path / "focus-*")) == {
        "aws": 942,
        "azure": 51,
        "oracle": 7,
    }
    assert {r["provider"] for r in rows(tmp_path / "focus-[AO]*.csv")} == {"aws", "oracle"}


def test_nothing_found(tmp_path: Path) -> None:
    with raises_plugin_error("no FOCUS files found at", str(tmp_path)):
        plugin.sync(context(tmp_path))
    with raises_plugin_error("no FOCUS files found at"):
        plugin.sync(context(tmp_path / "missing.csv"))
    with raises_plugin_error("no FOCUS files found at"):
        plugin.sync(context(tmp_path / "*.parquet"))


def test_import_roots(tmp_path: Path) -> None:
    allowed = tmp_path / "imports"
    allowed.mkdir()
    inside = allowed / "sample.csv"
    shutil.copy(SAMPLE, inside)
    with pytest.raises(PluginError) as info:
        plugin.sync(context(SAMPLE, roots=(allowed,)))
    assert info.value.code == "ERROR_PERMISSION_DENIED"
    assert str(allowed) in info.value.message
    assert len(rows(inside, roots=(allowed,))) == 1000
    assert len(rows(allowed / "*.csv", roots=(allowed,))) == 1000
    # A symlink inside a root must not lead out of it.
    (allowed / "escape.csv").symlink_to(SAMPLE)
    with raises_plugin_error("outside the directories"):
        plugin.sync(context(allowed / "escape.csv", roots=(allowed,)))
    with raises_plugin_error("outside the directories"):
        plugin.sync(context(allowed, roots=(allowed,)))
    # `..` is resolved before the check.
    with raises_plugin_error("outside the directories"):
        plugin.sync(context(allowed / ".." / "elsewhere.csv", roots=(allowed,)))


# ------------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------------


def test_time_stamps_zone_less_utc_z_and_offsets(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        HEADER,
        [
            ["2024-09-30 23:30:00", "1", "1", "AWS", "us-east-1", "NULL"],
            ["2024-09-30T23:30:00Z", "2", "2", "AWS", "us-east-1", "NULL"],
            ["2024-09-30T23:30:00-02:00", "4", "4", "AWS", "us-east-1", "NULL"],
            ["2024-10-01T08:00:00.250+09:00", "8", "8", "AWS", "us-east-1", "NULL"],
        ],
    )
    out = {r["cost"]: r for r in rows(path)}
    assert out[1.0]["billed_date"] == "2024-09-30"
    assert out[2.0]["billed_date"] == "2024-09-30"
    assert out[4.0]["billed_date"] == "2024-10-01"  # 01:30 UTC the next day
    assert out[8.0]["billed_date"] == "2024-09-30"  # 23:00:00.25 UTC the day before
    assert out[4.0]["additional_info"]["ChargePeriodStart"] == "2024-10-01T01:30:00Z"
    assert out[8.0]["additional_info"]["ChargePeriodStart"] == "2024-09-30T23:00:00.25Z"


def test_tags_that_are_not_an_object_are_kept_as_text(tmp_path: Path) -> None:
    cells = {
        1: '"{""env"": ""prod"", ""n"": 3, ""on"": true, ""x"": null, ""o"": {""a"": [1]}}"',
        2: '"{not json"',
        3: '"[1, 2]"',
        4: '"{""a"": ""1"", ""a"": ""2""}"',
        5: '""',
        6: '"{}"',
        7: "NULL",
    }
    lines = [["2024-09-01 00:00:00", str(n), "0", "AWS", "us-east-1", c] for n, c in cells.items()]
    out = {int(r["cost"]): r for r in rows(write_csv(tmp_path / "t.csv", HEADER, lines))}
    assert out[1]["tags"] == {"env": "prod", "n": "3", "on": "true", "x": "null", "o": '{"a":[1]}'}
    assert "Tags" not in out[1]["additional_info"]
    for n, text in ((2, "{not json"), (3, "[1, 2]"), (4, '{"a": "1", "a": "2"}')):
        assert out[n]["tags"] == {}
        assert out[n]["additional_info"]["Tags"] == text
    for n in (5, 6, 7):
        assert out[n]["tags"] == {}
        assert "Tags" not in out[n]["additional_info"]


def test_values_that_are_not_numbers(tmp_path: Path) -> None:
    header = [*HEADER, "ListUnitPrice", "x_BlendedCost", "x_Note"]
    lines = [
        ["2024-09-01 00:00:00", "1.5", "1", "AWS", "", "NULL", "n/a", " 2.25 ", "7"],
        ["2024-09-01 00:00:00", "1e-3", "1", "AWS", "", "NULL", "", "", ""],
    ]
    first, second = rows(write_csv(tmp_path / "t.csv", header, lines))
    assert first["data"] == {"BilledCost": 1.5, "EffectiveCost": 1.0, "x_BlendedCost": 2.25}
    assert first["additional_info"]["ListUnitPrice"] == "n/a"  # kept as text, not lost
    assert first["additional_info"]["x_Note"] == "7"  # an unknown column stays text
    assert first["region_code"] is None and first["region_key"] is None  # empty is NULL
    assert second["cost"] == 0.001
    assert "x_Note" not in second["additional_info"] and "ListUnitPrice" not in second["data"]


EXACT_NUMBERS = (
    "0.0000008",
    "1234.56789012345",
    "0.30000000000000004",
    "123456789012345678",
    "1.7976931348623157e308",
    "5e-324",
    "-0.0",
    "1e21",
    "100",
)


def test_numbers_in_data_keep_every_digit(tmp_path: Path) -> None:
    """A number reads back from the `data` JSON as exactly the double DuckDB read, from text
    (CSV) and from DOUBLE and DECIMAL Parquet columns."""
    header = ["ChargePeriodStart", "BilledCost", "ProviderName", "x_BlendedCost"]
    lines = [["2024-09-01", str(n), "AWS", text] for n, text in enumerate(EXACT_NUMBERS)]
    path = write_csv(tmp_path / "t.csv", header, lines)
    for row in rows(path):
        text = EXACT_NUMBERS[int(row["cost"])]
        assert row["data"]["x_BlendedCost"] == float(text), text
        assert math.copysign(1, row["data"]["x_BlendedCost"]) == math.copysign(1, float(text))
        assert "x_BlendedCost" not in row["additional_info"]
    con = duckdb.connect()
    dest = tmp_path / "t.parquet"
    con.execute(
        f"COPY (SELECT ChargePeriodStart, CAST(BilledCost AS DOUBLE) AS BilledCost, "
        "ProviderName, CAST(x_BlendedCost AS DOUBLE) AS x_BlendedCost, "
        "CAST(BilledCost AS DECIMAL(38, 20)) AS ListCost "
        f"FROM read_csv('{path}', all_varchar = true)) TO '{dest}' (FORMAT parquet)"
    )
    for row in rows(dest):
        n = int(row["cost"])
        assert row["data"]["x_BlendedCost"] == float(EXACT_NUMBERS[n])
        assert row["data"]["ListCost"] == row["data"]["BilledCost"] == n


def test_values_that_are_not_finite_numbers_are_kept_as_text(tmp_path: Path) -> None:
    """JSON has no NaN or infinity: such values stay out of `data` and their text goes to
    `additional_info`, whether the file has them as text or as Parquet doubles."""
    header = ["ChargePeriodStart", "BilledCost", "ProviderName", "x_BlendedCost", "ListCost"]
    cells = ["NaN", "inf", "-Infinity", "n/a", "2.5", "1e308"]  # 1e308 + 1e308 overflows
    lines = [["2024-09-01", str(n), "AWS", cell, cell] for n, cell in enumerate(cells)]
    path = write_csv(tmp_path / "t.csv", header, lines)
    out = {int(r["cost"]): r for r in rows(path)}
    for n, cell in enumerate(cells[:4]):
        assert "x_BlendedCost" not in out[n]["data"] and "ListCost" not in out[n]["data"]
        assert out[n]["additional_info"]["x_BlendedCost"] == cell
        assert out[n]["additional_info"]["ListCost"] == cell
    for n, number in ((4, 2.5), (5, 1e308)):
        assert out[n]["data"]["x_BlendedCost"] == out[n]["data"]["ListCost"] == number
        assert not {"x_BlendedCost", "ListCost"} & out[n]["additional_info"].keys()
    dest = tmp_path / "t.parquet"
    typed_values = [math.nan, math.inf, -math.inf, None, 2.5]
    columns = {
        "ChargePeriodStart": ["2024-09-01 00:00:00"] * 5,
        "BilledCost": [float(n) for n in range(5)],
        "ProviderName": ["AWS"] * 5,
        "x_BlendedCost": pa.array(typed_values, pa.float64()),
        "ListCost": pa.array(typed_values, pa.float32()),
    }
    pq.write_table(pa.table(columns), dest)
    typed = {int(r["cost"]): r for r in rows(dest)}
    for n, text in ((0, "nan"), (1, "inf"), (2, "-inf")):
        for column in ("x_BlendedCost", "ListCost"):
            assert column not in typed[n]["data"]
            assert typed[n]["additional_info"][column] == text
    for column in ("x_BlendedCost", "ListCost"):
        assert column not in typed[3]["data"] | typed[3]["additional_info"]  # NULL
        assert typed[4]["data"][column] == 2.5
        assert column not in typed[4]["additional_info"]


def test_json_text_of_odd_names_and_values(tmp_path: Path) -> None:
    """Quotes, backslashes, line breaks, control characters and non-ASCII text in column
    names, values and tags that are not an object all come back exactly."""
    odd = 'a "quoted" \\ back\\slash\nnew line\ttab \x01 \x7f é 日本 \u2028 end'
    names = ['x_"Quoted"', "x_Back\\slash", "x_Ünïcode", "x_new\nline"]
    columns = {
        "ChargePeriodStart": ["2024-09-01 00:00:00"],
        "BilledCost": [1.5],
        "ProviderName": ["AWS"],
        "Tags": ["{" + odd],
        "x_Note": [odd],
        **{name: [odd] for name in names},
        'x_"Odd" Cost': [2.5],
    }
    dest = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), dest)
    (row,) = rows(dest)
    assert row["tags"] == {}
    assert row["additional_info"]["Tags"] == "{" + odd
    for name in ("x_Note", *names):
        assert row["additional_info"][name] == odd, name
    assert row["data"] == {"BilledCost": 1.5, 'x_"Odd" Cost': 2.5}


def test_additional_info_and_data_are_json_object_text() -> None:
    got = table(SAMPLE)
    for name in ("additional_info", "data"):
        assert got.column(name).type == pa.string()
        assert got.column(name).null_count == 0
        for text in got.column(name).to_pylist():
            assert isinstance(strict_json(text), dict)


def test_a_cost_that_is_not_a_number_fails_the_sync(tmp_path: Path) -> None:
    lines = [["2024-09-01 00:00:00", '"12,50"', "1", "AWS", "us-east-1", "NULL"]]
    path = write_csv(tmp_path / "t.csv", HEADER, lines)
    with raises_plugin_error(str(path), "BilledCost '12,50' is not a number"):
        consume(path)
    assert len(rows(path, cost_column="EffectiveCost")) == 1  # the other column is fine


def test_a_charge_period_that_is_not_a_date_fails_the_sync(tmp_path: Path) -> None:
    for cell, message in (("yesterday", "ChargePeriodStart 'yesterday'"), ("NULL", "no Charge")):
        lines = [["2024-09-01 00:00:00", "1", "1", "AWS", "us-east-1", "NULL"]] * 3
        lines.append([cell, "1", "1", "AWS", "us-east-1", "NULL"])
        path = write_csv(tmp_path / "t.csv", HEADER, lines)
        with raises_plugin_error(str(path), message):
            consume(path)


def test_fallbacks_take_the_first_column_that_is_set(tmp_path: Path) -> None:
    pairs = [
        ("ConsumedQuantity", "PricingQuantity", "usage_quantity"),
        ("ConsumedUnit", "PricingUnit", "usage_unit"),
        ("ResourceType", "ChargeCategory", "usage_type"),
        ("SubAccountId", "BillingAccountId", "account_id"),
        ("ProviderName", "PublisherName", "provider"),
    ]
    header = ["ChargePeriodStart", "BilledCost"] + [
        c for first, then, _ in pairs for c in (first, then)
    ]
    both = [
        "2024-09-01",
        "1",
        "2",
        "3",
        "Hours",
        "GB",
        "VM",
        "Usage",
        "sub",
        "acct",
        "AWS",
        "Oracle",
    ]
    second = [
        "2024-09-01",
        "2",
        "NULL",
        "3",
        "",
        "GB",
        "NULL",
        "Usage",
        "NULL",
        "acct",
        "",
        "Oracle",
    ]
    out = {r["cost"]: r for r in rows(write_csv(tmp_path / "t.csv", header, [both, second]))}
    assert [out[1.0][field] for _, _, field in pairs] == [2.0, "Hours", "VM", "sub", "aws"]
    assert [out[2.0][field] for _, _, field in pairs] == [3.0, "GB", "Usage", "acct", "oracle"]
    # The fallback columns stay in additional_info / data whichever was used.
    assert out[1.0]["additional_info"]["PricingUnit"] == "GB"
    assert out[1.0]["additional_info"]["PublisherName"] == "Oracle"
    assert out[1.0]["data"]["PricingQuantity"] == 3.0


def test_provider_fallbacks_and_unknown_names(tmp_path: Path) -> None:
    header = ["ChargePeriodStart", "BilledCost", "ServiceProviderName", "PublisherName"]
    lines = [
        ["2024-09-01", "1", "Google Cloud", "Someone"],
        ["2024-09-01", "2", "NULL", '"Some Cloud, Inc."'],
        ["2024-09-01", "3", "NULL", "NULL"],
    ]
    out = {r["cost"]: r for r in rows(write_csv(tmp_path / "t.csv", header, lines))}
    assert out[1.0]["provider"] == "google_cloud"
    assert out[2.0]["provider"] == normalise_provider("Some Cloud, Inc.") == "some_cloud_inc"
    assert out[3.0]["provider"] is None


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(
        b"\xef\xbb\xbfChargePeriodStart,BilledCost,ProviderName\r\n"
        b"2024-09-01 00:00:00,1.5,AWS\r\n2024-09-02 00:00:00,2.5,Oracle\r\n"
    )
    out = rows(path)
    assert [(r["billed_date"], r["cost"], r["provider"]) for r in out] == [
        ("2024-09-01", 1.5, "aws"),
        ("2024-09-02", 2.5, "oracle"),
    ]


def test_column_names_are_matched_case_insensitively(tmp_path: Path) -> None:
    header = ["chargeperiodstart", "BILLEDCOST", "providername", "regionid"]
    out = rows(write_csv(tmp_path / "t.csv", header, [["2024-09-01", "5", "AWS", "eu-west-1"]]))
    assert (out[0]["cost"], out[0]["provider"], out[0]["region_key"]) == (
        5.0,
        "aws",
        "aws.eu-west-1",
    )


# ------------------------------------------------------------------------------------------------
# Failures
# ------------------------------------------------------------------------------------------------


def test_missing_required_columns(tmp_path: Path) -> None:
    path = copy_sample("SELECT * EXCLUDE (BilledCost) FROM {sample}", tmp_path / "a.csv")
    with raises_plugin_error(str(path), "BilledCost"):
        consume(path)
    path = copy_sample(
        "SELECT * EXCLUDE (ProviderName, PublisherName, ChargePeriodStart) FROM {sample}",
        tmp_path / "b.parquet",
        "parquet",
    )
    with raises_plugin_error("ChargePeriodStart", "ProviderName or ServiceProviderName"):
        consume(path)
    # Without ListCost the default still works, but asking for it fails.
    path = copy_sample("SELECT * EXCLUDE (ListCost) FROM {sample}", tmp_path / "c.csv")
    assert consume(path) == 1000
    with raises_plugin_error("ListCost"):
        consume(path, cost_column="ListCost")


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"path": ""}, "options.path"),
        ({}, "options.path"),
        ({"path": "/x", "cost_column": "Cost"}, "options.cost_column"),
        ({"path": "/x", "colour": "blue"}, "options.colour"),
        ({"path": "/x", "endpoint_url": "ftp://x"}, "options.endpoint_url"),
        ({"path": "s3:///prefix"}, "options.path"),
    ],
)
def test_invalid_options(options: dict[str, Any], fragment: str) -> None:
    ctx = CostSyncContext(options=options, secret={})
    with pytest.raises(PluginError) as info:
        plugin.sync(ctx)
    assert info.value.code == "ERROR_INVALID_PARAMETER"
    assert fragment in info.value.message


def test_truncated_gzip_fails_while_reading(tmp_path: Path) -> None:
    whole = big_copy(tmp_path / "whole.csv.gz", 60, compression="gzip").read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    feed = plugin.sync(context(cut))  # finding the file is fine; the damage is further in
    with raises_plugin_error(str(cut), "GZIP"):
        for _ in feed.batches:
            pass


def test_a_row_with_the_wrong_number_of_columns_fails_while_reading(tmp_path: Path) -> None:
    lines = big_copy(tmp_path / "big.csv", 40).read_text().splitlines(keepends=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("".join([*lines[:30_001], "1,2,3\n", *lines[30_001:]]))
    feed = plugin.sync(context(bad))
    seen = 0
    with raises_plugin_error(str(bad), "Line: 30002", "Expected Number of Columns: 44 Found: 3"):
        for batch in feed.batches:
            seen += batch.num_rows
    assert seen < 40_000  # the rows after the bad one never count as read


def test_a_row_cut_short_at_the_end_fails(tmp_path: Path) -> None:
    text = big_copy(tmp_path / "big.csv", 30).read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: len(text) - 200])
    with raises_plugin_error(str(cut), "Expected Number of Columns"):
        consume(cut)


def test_a_parquet_file_cut_short_fails(tmp_path: Path) -> None:
    whole = big_copy(tmp_path / "whole.parquet", 20).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2])
    with raises_plugin_error(str(cut)):
        consume(cut)


def test_a_later_file_failing_fails_the_sync(tmp_path: Path) -> None:
    shutil.copy(SAMPLE, tmp_path / "a.csv")
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe not a csv \x00\x01")
    with raises_plugin_error(str(tmp_path / "b.csv")):
        consume(tmp_path)


# ------------------------------------------------------------------------------------------------
# Streaming
# ------------------------------------------------------------------------------------------------


def _reading_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name == "skyatlas-focus-prefetch" and t.is_alive()
    ]


def test_batches_stream_and_cancel_stops_them(tmp_path: Path) -> None:
    path = big_copy(tmp_path / "big.parquet", 100)  # 100,000 rows: several batches
    assert len(batches(path)) > 2
    seen = []
    feed = plugin.sync(context(path, cancelled=lambda: len(seen) >= 1))
    for batch in feed.batches:
        seen.append(batch.num_rows)
    assert len(seen) == 1 and seen[0] < 100_000
    assert not _reading_threads()


def test_leaving_early_stops_the_reading_threads(tmp_path: Path) -> None:
    path = big_copy(tmp_path / "big.parquet", 100)
    feed = plugin.sync(context(path))
    iterator = iter(feed.batches)
    next(iterator)
    assert _reading_threads()
    iterator.close()  # type: ignore[attr-defined]
    assert not _reading_threads()


# ------------------------------------------------------------------------------------------------
# S3 (moto)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import aws_moto

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        with aws_moto.moto_server() as endpoint:
            aws_moto.reset(endpoint)
            client = boto3.client(
                "s3", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
            )
            client.create_bucket(Bucket="costs")
            body = SAMPLE.read_bytes()
            client.put_object(Bucket="costs", Key="focus/2024-09/part-0001.csv", Body=body)
            client.put_object(Bucket="costs", Key="focus/2024-09/manifest.json", Body=b"{}")
            client.put_object(Bucket="costs", Key="other/x.csv", Body=b"a\n1\n")
            with tempfile.TemporaryDirectory() as tmp:
                for provider in ("AWS", "Microsoft", "Oracle"):
                    part = copy_sample(
                        f"SELECT * FROM {{sample}} WHERE ProviderName = '{provider}'",
                        Path(tmp) / f"{provider}.parquet",
                        "parquet",
                    )
                    key = f"split/{provider}.parquet"
                    client.put_object(Bucket="costs", Key=key, Body=part.read_bytes())
            gz = gzip.compress(body)
            client.put_object(Bucket="costs", Key="gz/sample.csv.gz", Body=gz)
            yield endpoint
            aws_moto.reset(endpoint)


s3_group = pytest.mark.xdist_group("moto")


@s3_group
def test_s3_prefix_syncs_with_the_same_totals(s3_endpoint: str) -> None:
    out = rows("s3://costs/focus/", secret=SECRET, endpoint_url=s3_endpoint)
    assert len(out) == 1000
    want = {normalise_provider(k): v for k, v in duck_sums("ProviderName").items()}
    assert_close(sums(out, "provider"), want)
    gz = rows("s3://costs/gz", secret=SECRET, endpoint_url=s3_endpoint)
    assert_close(sums(gz, "provider"), want)


@s3_group
def test_s3_listing_pages_and_cleans_up(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(focus_s3, "PAGE_SIZE", 1)  # one object per page: three pages
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    feed = plugin.sync(context("s3://costs/split/", secret=SECRET, endpoint_url=s3_endpoint))
    out = pa.Table.from_batches(list(feed.batches)).to_pylist()
    assert Counter(r["provider"] for r in out) == {"aws": 942, "azure": 51, "oracle": 7}
    assert list(tmp_path.iterdir()) == []  # the downloads are gone


@s3_group
def test_s3_parquet_objects_are_offered_as_statements_one_download_at_a_time(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = rows("s3://costs/split/", secret=SECRET, endpoint_url=s3_endpoint)  # both ways agree
    assert Counter(r["provider"] for r in out) == {"aws": 942, "azure": 51, "oracle": 7}
    feed = plugin.sync(context("s3://costs/split/", secret=SECRET, endpoint_url=s3_endpoint))
    assert feed.queries is not None
    con = duckdb.connect()
    counts = []
    for query in feed.queries:
        downloads = [p for d in tmp_path.iterdir() for p in d.iterdir()]
        assert len(downloads) == 1  # the object being read, and no other
        sql = query.select(con)
        counts.append(con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0])
        query.close(con)
    assert counts == [942, 51, 7]  # AWS, Microsoft, Oracle: key order
    assert list(tmp_path.iterdir()) == []
    csv_prefix = plugin.sync(context("s3://costs/focus/", secret=SECRET, endpoint_url=s3_endpoint))
    assert csv_prefix.queries is None


@s3_group
def test_s3_errors_name_the_problem_without_the_secret(s3_endpoint: str) -> None:
    import aws_moto

    def check(path: str, *fragments: str, **options: Any) -> PluginError:
        with pytest.raises(PluginError) as info:
            consume(path, secret=SECRET, **options)
        for fragment in fragments:
            assert fragment in info.value.message, info.value.message
        for value in SECRET.values():
            assert value not in info.value.message
        return info.value

    check("s3://no-such-bucket/x", "no-such-bucket", "does not exist", endpoint_url=s3_endpoint)
    check("s3://costs/nothing-here/", "no FOCUS files found at", endpoint_url=s3_endpoint)
    check("s3://costs/x", "unreachable", endpoint_url="http://127.0.0.1:9")
    with aws_moto.iam_auth(s3_endpoint):
        error = check("s3://costs/focus/", "access denied", endpoint_url=s3_endpoint)
    assert error.code == "ERROR_PERMISSION_DENIED"
    with pytest.raises(PluginError) as info:
        consume("s3://costs/focus/", endpoint_url=s3_endpoint)  # no secret at all
    assert "aws_access_key_id" in info.value.message
