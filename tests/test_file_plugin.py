"""The built-in `file` collector plugin: what it reads from real files and what it yields."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import tempfile
import threading
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from skyatlas.inventory.verbs.cloud_service import CloudServiceCreate
from skyatlas.plugins import (
    CollectContext,
    CollectError,
    PluginError,
    PluginRegistry,
    RegionRecord,
    ServiceAccountView,
)
from skyatlas.plugins.file import FileOptions, plugin

ACCOUNT = ServiceAccountView(
    service_account_id=None, name=None, provider=None, data={}, project_id=None, workspace_id="w"
)


def ec2(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "name": f"vm-{n}",
        "reference": {"resource_id": f"i-{n}"},
        "data": {"n": n},
        **extra,
    }


def ctx(path: Path | str, cancelled: Callable[[], bool] = lambda: False, **options: Any):
    return CollectContext(
        options={"path": str(path), **options}, secret={}, account=ACCOUNT, cancelled=cancelled
    )


def collect(path: Path | str, **options: Any) -> list[Any]:
    return list(plugin.collect(ctx(path, **options)))


def split(items: Iterable[Any]) -> tuple[list[dict], list[CollectError], list[RegionRecord]]:
    items = list(items)
    records = [i for i in items if isinstance(i, dict)]
    errors = [i for i in items if isinstance(i, CollectError)]
    regions = [i for i in items if isinstance(i, RegionRecord)]
    assert len(records) + len(errors) + len(regions) == len(items)
    return records, errors, regions


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def write_text(path: Path, text: str) -> Path:
    if path.name.lower().endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return write_text(path, buf.getvalue())


def names(records: list[dict]) -> list[str]:
    return [r["name"] for r in records]


# --- the plugin as the core sees it ---------------------------------------------------------


def test_the_entry_point_finds_the_plugin_and_its_metadata():
    found = PluginRegistry().get("file", "collector")
    assert found.metadata.plugin_id == "file"
    meta = found.metadata
    assert (meta.kind, meta.provider, meta.needs_service_account) == ("collector", None, False)
    assert meta.cloud_service_types == ()
    schema = meta.options_schema()
    assert schema["required"] == ["path"]
    assert schema["properties"]["format"]["enum"] == ["auto", "jsonl", "json", "csv"]
    assert schema["additionalProperties"] is False


def test_options_reject_unknown_keys_bad_formats_and_a_missing_path(tmp_path):
    with pytest.raises(ValidationError, match="extra"):
        FileOptions.model_validate({"path": "x", "recursive": True})
    with pytest.raises(ValidationError, match="format"):
        FileOptions.model_validate({"path": "x", "format": "xml"})
    with pytest.raises(ValidationError, match="path"):
        FileOptions.model_validate({"format": "csv"})
    # collect checks them too, and says which option is wrong
    good = write_jsonl(tmp_path / "a.jsonl", [ec2(1)])
    with pytest.raises(PluginError, match=r"options\.recursive") as exc:
        collect(good, recursive=True)
    assert exc.value.code == "ERROR_INVALID_PARAMETER"
    with pytest.raises(PluginError, match=r"options\.format"):
        collect(good, format="xml")


# --- formats --------------------------------------------------------------------------------


def test_jsonl_records_come_through_and_bad_lines_are_reported_by_line(tmp_path):
    path = write_jsonl(
        tmp_path / "export.jsonl",
        [
            ec2(1, region_code="us-east-1"),
            "",  # blank lines are skipped (and still counted)
            '{"provider": "aws", "cloud_service_group": ',  # line 3: cut short
            ec2(2),
            '["not", "an", "object"]',  # line 5
            {"provider": "aws", "cloud_service_group": "S3", "cloud_service_type": 7},  # line 6
            {"cloud_service_group": "S3", "cloud_service_type": "Bucket", "name": "b"},  # line 7
            {**ec2(3), "data": "not an object"},  # line 8
            ec2(4, region_code="us-east-1"),
        ],
    )
    records, errors, regions = split(collect(path))
    assert names(records) == ["vm-1", "vm-2", "vm-4"]
    assert all(CloudServiceCreate.model_validate(r) for r in records)  # the core accepts them
    assert [e.message for e in errors] == [
        f"{path}: line 3: not valid JSON (Expecting value at column 43)",
        f"{path}: line 5: a record must be an object, not an array",
        f"{path}: line 6: cloud_service_type must be a string, not a number",
        f"{path}: line 7: provider is missing (or set options.provider)",
        f"{path}: line 8: data must be an object, not a string",
    ]
    # the kind of resource is named when the record says it: the reconcile spares that kind
    kinds = [(e.cloud_service_group, e.cloud_service_type) for e in errors]
    assert kinds == [
        (None, None),
        (None, None),
        ("S3", None),
        ("S3", "Bucket"),
        ("EC2", "Instance"),
    ]
    assert regions == [RegionRecord("aws", "us-east-1", "us-east-1")]


def test_a_default_provider_fills_only_records_without_one(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"cloud_service_group": "VM", "cloud_service_type": "Host", "name": "h"},
            {**ec2(1), "provider": ""},
            ec2(2),
        ],
    )
    records, errors, _ = split(collect(path, provider="vmware"))
    assert not errors
    assert [r["provider"] for r in records] == ["vmware", "vmware", "aws"]
    # and a record without data gets an empty one, as the core requires
    assert records[0]["data"] == {}


def test_json_array_records_and_a_broken_array_keeps_what_came_before(tmp_path):
    good = write_text(tmp_path / "a.json", json.dumps([ec2(1), ec2(2), 5, ec2(3)], indent=2))
    records, errors, _ = split(collect(good))
    assert names(records) == ["vm-1", "vm-2", "vm-3"]
    assert [e.message for e in errors] == [
        f"{good}: record 3: a record must be an object, not a number"
    ]

    broken = write_text(tmp_path / "b.json", "[" + json.dumps(ec2(1)) + ', {"name": oops}, ]')
    records, errors, _ = split(collect(broken))
    assert names(records) == ["vm-1"]
    assert len(errors) == 1
    assert errors[0].message.startswith(f"{broken}: record 2: ")
    assert "the rest of the file is skipped" in errors[0].message


def test_cloud_service_list_output_reads_back_as_create_bodies(sqlite_env, tmp_path):
    """`{"results": [...]}` as `inventory cloud-service list` answers: the stored-only fields
    (ids, state, timestamps, nulls) are left out, so the core accepts each record."""
    for n in (1, 2):
        sqlite_env.ok(
            "/inventory/cloud-service/create",
            {
                **ec2(n, tags={"Name": f"web-{n}"}, region_code="eu", ip_addresses=["10.0.0.1"]),
                "workspace_id": sqlite_env.workspace_id,
            },
        )
    listed = sqlite_env.ok("/inventory/cloud-service/list", {})
    assert listed["results"][0]["cloud_service_id"]  # really the stored shape
    path = write_text(tmp_path / "list.json", json.dumps(listed))
    records, errors, regions = split(collect(path))
    assert not errors
    bodies = [CloudServiceCreate.model_validate(r) for r in records]
    assert sorted(b.name for b in bodies) == ["vm-1", "vm-2"]
    for body in bodies:
        n = int(body.name.split("-")[1])
        assert body.data == {"n": n}
        assert body.tags == {"aws": {"Name": f"web-{n}"}}
        assert body.reference.resource_id == f"i-{n}"
        assert body.ip_addresses == ["10.0.0.1"]
    assert regions == [RegionRecord("aws", "eu", "eu")]


def test_a_single_object_and_custom_tags_in_a_json_file(tmp_path):
    record = {**ec2(1), "tags": {"aws": {"Name": "web"}, "custom": {"team": "x"}}}
    path = write_text(tmp_path / "one.json", json.dumps(record))
    records, errors, _ = split(collect(path))
    assert not errors
    # custom tags belong to the tags API of the server that exported them
    assert records == [{**ec2(1), "tags": {"aws": {"Name": "web"}}}]
    CloudServiceCreate.model_validate(records[0])

    scalar = write_text(tmp_path / "n.json", "42")
    assert [e.message for e in split(collect(scalar))[1]] == [
        f'{scalar}: must hold an array of records or {{"results": [...]}}'
    ]


def test_csv_columns_build_records_with_nested_objects(tmp_path):
    header = (
        "provider,cloud_service_group,cloud_service_type,name,data.compute.instance_state,"
        "data.cpu,tags.env,reference.resource_id,ip_addresses,instance_size,region_code,"
    )  # the last column has a blank header: it is ignored
    path = write_text(
        tmp_path / "hosts.csv",
        f"{header}\n"
        'aws,EC2,Instance,web,running,4,prod,i-1,"10.0.0.1; 10.0.0.2",2.5,us-east-1,x\n'
        'aws,EC2,Instance,db,,8,  ,i-2,"10.0.0.3,10.0.0.4 10.0.0.5",,,\n',
    )
    records, errors, regions = split(collect(path))
    assert not errors
    assert records == [
        {
            "provider": "aws",
            "cloud_service_group": "EC2",
            "cloud_service_type": "Instance",
            "name": "web",
            "data": {"compute": {"instance_state": "running"}, "cpu": "4"},
            "tags": {"env": "prod"},
            "reference": {"resource_id": "i-1"},
            "ip_addresses": ["10.0.0.1", "10.0.0.2"],
            "instance_size": 2.5,
            "region_code": "us-east-1",
        },
        {  # empty and blank cells are left out, numbers stay strings
            "provider": "aws",
            "cloud_service_group": "EC2",
            "cloud_service_type": "Instance",
            "name": "db",
            "data": {"cpu": "8"},
            "reference": {"resource_id": "i-2"},
            "ip_addresses": ["10.0.0.3", "10.0.0.4", "10.0.0.5"],
        },
    ]
    assert all(CloudServiceCreate.model_validate(r) for r in records)
    assert regions == [RegionRecord("aws", "us-east-1", "us-east-1")]


def test_csv_bad_rows_are_reported_by_line_and_the_rest_comes_through(tmp_path):
    path = write_csv(
        tmp_path / "a.csv",
        [
            ["cloud_service_group", "cloud_service_type", "name", "instance_size", "tags"],
            ["EC2", "Instance", "multi\nline\nname", "1", '{"a.b": "dotted key"}'],  # lines 2-4
            ["EC2", "Instance", "big", "huge", ""],  # line 5
            ["EC2", "Instance", "extra", "", "", "surplus"],  # line 6
            ["EC2", "Instance", "json", "", "[1]"],  # line 7
            ["", "", "", "", ""],  # blank row: skipped
            ["S3", "Bucket", "ok", "", ""],  # line 9
        ],
    )
    records, errors, _ = split(collect(path, provider="aws"))
    assert names(records) == ["multi\nline\nname", "ok"]
    assert records[0]["tags"] == {"a.b": "dotted key"}  # a JSON cell keeps dotted keys
    assert [e.message for e in errors] == [
        f"{path}: line 5: instance_size: 'huge' is not a number",
        f"{path}: line 6: 6 cells, but the header names 5 columns",
        f"{path}: line 7: tags: the cell must hold a JSON object",
    ]
    assert {(e.cloud_service_group, e.cloud_service_type) for e in errors} == {("EC2", "Instance")}


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (["provider", "colour"], "unknown column 'colour' (record fields: account, "),
        (["provider", "name.first"], "column 'name.first': name is not an object"),
        (["provider", "data..x"], "column 'data..x' has an empty part"),
        (["provider", "data.a", "data.a.b"], "columns 'data.a' and 'data.a.b' overlap"),
        (["provider", "tags", "tags.env"], "columns 'tags' and 'tags.env' overlap"),
        (["provider", "name", "name"], "column 'name' appears twice"),
    ],
)
def test_a_bad_csv_header_skips_that_file_only(tmp_path, header, problem):
    bad = write_csv(tmp_path / "a.csv", [header, ["aws"] * len(header)])
    write_jsonl(tmp_path / "b.jsonl", [ec2(1)])
    records, errors, _ = split(collect(tmp_path))
    assert names(records) == ["vm-1"]
    assert len(errors) == 1
    message = errors[0].message
    assert message.startswith(f"{bad}: line 1: {problem}")
    assert message.endswith("; the file is skipped")


@pytest.mark.parametrize("name", ["a.jsonl.gz", "a.json.gz", "a.csv.gz", "A.JSONL.GZ"])
def test_gzipped_files_read_like_plain_ones(tmp_path, name):
    records = [ec2(1, region_code="r1"), ec2(2, region_code="r1")]
    plain_name = name[: -len(".gz")]
    if plain_name.lower().endswith(".csv"):
        rows = [["provider", "cloud_service_group", "cloud_service_type", "name", "data.n"]]
        rows += [
            [r["provider"], "EC2", "Instance", r["name"], str(r["data"]["n"])] for r in records
        ]
        plain, gz = write_csv(tmp_path / plain_name, rows), write_csv(tmp_path / name, rows)
    elif plain_name.lower().endswith(".jsonl"):
        plain, gz = (
            write_jsonl(tmp_path / plain_name, records),
            write_jsonl(tmp_path / name, records),
        )
    else:
        text = json.dumps(records)
        plain, gz = write_text(tmp_path / plain_name, text), write_text(tmp_path / name, text)
    from_gz = collect(gz)
    assert names(split(from_gz)[0]) == ["vm-1", "vm-2"]
    assert from_gz == collect(plain)


def test_a_byte_order_mark_is_accepted(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "a.jsonl").write_bytes(bom + json.dumps(ec2(1)).encode() + b"\n")
    (tmp_path / "b.json").write_bytes(bom + json.dumps([ec2(2)]).encode())
    csv_text = "provider,cloud_service_group,cloud_service_type,name\naws,EC2,Instance,vm-3\n"
    (tmp_path / "c.csv").write_bytes(bom + csv_text.encode())
    records, errors, _ = split(collect(tmp_path))
    assert not errors
    assert names(records) == ["vm-1", "vm-2", "vm-3"]


# --- paths ----------------------------------------------------------------------------------


def test_a_directory_reads_its_data_files_in_name_order_and_nothing_else(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", [ec2(2)])
    write_text(tmp_path / "a.json", json.dumps([ec2(1)]))
    write_jsonl(tmp_path / "c.jsonl.gz", [ec2(3)])
    csv_text = "provider,cloud_service_group,cloud_service_type,name\naws,EC2,Instance,vm-4\n"
    write_text(tmp_path / "d.csv", csv_text)
    write_text(tmp_path / "notes.txt", "not records")
    write_jsonl(tmp_path / "e.jsonl.bak", [ec2(99)])
    (tmp_path / "sub").mkdir()
    write_jsonl(tmp_path / "sub" / "f.jsonl", [ec2(98)])  # not recursive
    records, errors, _ = split(collect(tmp_path))
    assert not errors
    assert names(records) == ["vm-1", "vm-2", "vm-3", "vm-4"]


def test_a_glob_reads_its_matches_in_order(tmp_path):
    for day in ("02", "01", "03"):
        write_jsonl(tmp_path / f"export-{day}.jsonl", [ec2(int(day))])
    write_jsonl(tmp_path / "other.jsonl", [ec2(99)])
    (tmp_path / "sub").mkdir()
    write_jsonl(tmp_path / "sub" / "export-04.jsonl", [ec2(4)])
    assert names(split(collect(tmp_path / "export-*.jsonl"))[0]) == ["vm-1", "vm-2", "vm-3"]
    deep = names(split(collect(tmp_path / "**" / "export-*.jsonl"))[0])
    assert deep == ["vm-1", "vm-2", "vm-3", "vm-4"]


def test_format_option_reads_files_whatever_their_name(tmp_path):
    path = write_jsonl(tmp_path / "dump.txt", [ec2(1)])
    with pytest.raises(
        PluginError, match=r"cannot tell the format of .*dump\.txt.*options\.format"
    ):
        collect(path)
    assert names(split(collect(path, format="jsonl"))[0]) == ["vm-1"]
    with pytest.raises(PluginError, match="cannot tell the format"):
        collect(tmp_path / "*.txt")


def test_paths_that_cannot_be_read_fail_the_run_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(PluginError, match=re.escape(f"{missing} does not exist")):
        collect(missing)
    with pytest.raises(PluginError, match="no file matches"):
        collect(tmp_path / "*.jsonl")
    with pytest.raises(
        PluginError, match=r"no \.jsonl, \.json or \.csv files .* " + re.escape(str(tmp_path))
    ):
        collect(tmp_path)
    (tmp_path / "b.jsonl.gz").write_text(json.dumps(ec2(1)))  # not compressed
    with pytest.raises(PluginError, match=r"cannot read .*b\.jsonl\.gz: Not a gzipped file"):
        collect(tmp_path / "b.jsonl.gz")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("provider,name\naws,caf\xe9\n".encode("latin-1"))
    with pytest.raises(PluginError, match=re.escape(f"cannot read {latin}: it is not UTF-8 text")):
        collect(latin)


def test_a_truncated_gzip_fails_the_run_after_what_it_could_read(tmp_path):
    full = gzip.compress(b"".join(json.dumps(ec2(n)).encode() + b"\n" for n in range(2000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(full[: len(full) // 2])
    items = plugin.collect(ctx(path))
    got = []
    with pytest.raises(PluginError, match=re.escape(f"cannot read {path}: Compressed file ended")):
        for item in items:
            got.append(item)
    assert got and all(isinstance(i, dict) for i in got)


# --- streaming, cancellation ----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize(
    ("name", "head", "tail"),
    [
        ("live.jsonl", json.dumps(ec2(1)) + "\n", json.dumps(ec2(2)) + "\n"),
        (
            "live.csv",
            "provider,cloud_service_group,cloud_service_type,name\naws,EC2,Instance,vm-1\n",
            "aws,EC2,Instance,vm-2\n",
        ),
    ],
)
def test_the_first_record_comes_before_the_file_is_complete(tmp_path, name, head, tail):
    """Read from a pipe whose writer holds back the rest until the first record arrives: a
    reader that loaded the whole file first would only see it after the writer gave up."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    first_seen = threading.Event()
    writer_done = threading.Event()

    def writer() -> None:
        with open(fifo, "w") as fh:
            fh.write(head)
            fh.flush()
            first_seen.wait(timeout=5)
            fh.write(tail)
        writer_done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    items = plugin.collect(ctx(fifo))
    first = next(iter(items))
    assert not writer_done.is_set(), "the plugin waited for the whole file"
    first_seen.set()
    rest = list(items)
    thread.join(timeout=10)
    assert names([first, *split(rest)[0]]) == ["vm-1", "vm-2"]


def test_a_json_array_is_not_loaded_whole(tmp_path):
    path = tmp_path / "big.json"
    filler = "x" * 3000
    with path.open("w") as fh:
        fh.write("[")
        fh.write(",\n".join(json.dumps(ec2(n, name=f"vm-{n}-{filler}")) for n in range(5000)))
        fh.write("]")
    assert path.stat().st_size > 15_000_000
    items = iter(plugin.collect(ctx(path)))
    tracemalloc.start()
    try:
        first = next(items)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first["reference"] == {"resource_id": "i-0"}
    assert peak < 8_000_000, f"{peak} bytes held to read the first record"
    assert sum(1 for _ in items) == 4999


def test_cancellation_stops_reading_soon(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [ec2(n, region_code="r") for n in range(3000)])
    write_jsonl(tmp_path / "b.jsonl", [ec2(n) for n in range(3000, 3010)])
    stop = threading.Event()
    items = []
    for item in plugin.collect(ctx(tmp_path, cancelled=stop.is_set)):
        items.append(item)
        stop.set()  # cancelled once the first record is in
    records, _, regions = split(items)
    assert 1 <= len(records) < 500
    assert not regions
    assert split(plugin.collect(ctx(tmp_path, cancelled=lambda: True)))[0] == []


def test_regions_come_once_each_after_all_records(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [ec2(1, region_code="r1"), ec2(2, region_code="r2")])
    write_jsonl(
        tmp_path / "b.jsonl",
        [ec2(3, region_code="r1"), {**ec2(4, region_code="r1"), "provider": "gcp"}, ec2(5)],
    )
    items = collect(tmp_path)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["dict"] * 5 + ["RegionRecord"] * 3
    assert items[5:] == [
        RegionRecord("aws", "r1", "r1"),
        RegionRecord("aws", "r2", "r2"),
        RegionRecord("gcp", "r1", "r1"),
    ]


# --- CSV dotted columns, as a property ------------------------------------------------------

_keys = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="."),
    min_size=1,
    max_size=6,
).filter(lambda k: k == k.strip() and k != "")
_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=8
).filter(lambda v: v.strip() != "")
_objects = st.dictionaries(
    _keys,
    st.recursive(_values, lambda inner: st.dictionaries(_keys, inner, min_size=1, max_size=3)),
    min_size=1,
    max_size=4,
)


def _flatten(obj: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in pairs:
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_objects, tags=_objects, choice=st.data())
def test_csv_dotted_columns_round_trip_to_nested_objects(data, tags, choice):
    """Any nested object written as dotted columns reads back as itself; a row leaving some
    cells empty reads back as the object without those leaves."""
    columns = _flatten({"data": data, "tags": tags}, "")
    kept = [choice.draw(st.booleans(), label=f"keep {c}") for c, _ in columns]
    fixed = ["provider", "cloud_service_group", "cloud_service_type"]
    rows = [
        fixed + [c for c, _ in columns],
        ["aws", "G", "T"] + [v for _, v in columns],
        ["aws", "G", "T"] + [v if keep else "" for (_, v), keep in zip(columns, kept, strict=True)],
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(Path(tmp) / "p.csv", rows)
        records, errors, _ = split(collect(path))
    assert not errors
    fixed_values = {"provider": "aws", "cloud_service_group": "G", "cloud_service_type": "T"}
    assert records[0] == {**fixed_values, "data": data, "tags": tags}
    partial = _nest(pair for pair, keep in zip(columns, kept, strict=True) if keep)
    assert records[1]["data"] == partial.get("data", {})
    assert records[1].get("tags") == partial.get("tags")


def test_a_server_reads_only_below_its_import_roots(tmp_path):
    """Whoever may create a collector must not read the server's own files through it."""
    inside = tmp_path / "imports"
    inside.mkdir()
    good = write_jsonl(inside / "a.jsonl", [ec2(1)])
    outside = write_jsonl(tmp_path / "b.jsonl", [ec2(2)])
    link = inside / "sneaky.jsonl"
    link.symlink_to(outside)

    def run(path: Path) -> list[Any]:
        context = ctx(path)
        context.import_roots = (inside,)
        return list(plugin.collect(context))

    assert len(split(run(good))[0]) == 1
    for path in (outside, link, tmp_path / "*.jsonl", inside / ".." / "b.jsonl"):
        with pytest.raises(PluginError, match="outside the directories this server imports from"):
            run(path)
