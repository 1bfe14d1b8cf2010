"""The CLI's building blocks without a server: `-f/-j/-p` bodies and query flags, the streaming
output formats, the settings file and the cached reflection."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyatlas.cli import output, reflection
from skyatlas.cli.output import ListWriter, width, write_document, write_rows
from skyatlas.cli.params import ParamError, apply_query_flags, build_body, parse_assignment
from skyatlas.cli.settings import (
    Environment,
    Settings,
    SettingsError,
    environment_name,
    resolve_target,
    validate_endpoint,
)

# -- params: -p ------------------------------------------------------------------------------


def test_dotted_keys_nest_and_numbers_are_numbers():
    assert build_body(None, None, ["a.b.c=5"]) == {"a": {"b": {"c": 5}}}
    assert parse_assignment("query.page.limit=5") == (["query", "page", "limit"], 5)


@pytest.mark.parametrize(
    ("item", "value"),
    [
        ("name=ci", "ci"),
        ("x=true", True),
        ("x=false", False),
        ("x=null", None),
        ("x=[1,2]", [1, 2]),
        ('x={"k":1}', {"k": 1}),
        ('x="5"', "5"),
        ("x=1.5", 1.5),
        ("x=", ""),
        ("x=a=b", "a=b"),
        ("x=web server", "web server"),
        ("x=[1,", "[1,"),
    ],
)
def test_values_are_json_when_they_parse_else_text(item, value):
    body = build_body(None, None, [item])
    assert body == {item.partition("=")[0]: value}
    assert type(body[item.partition("=")[0]]) is type(value)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_words_stay_text(text):
    assert build_body(None, None, [f"name={text}"]) == {"name": text}


@pytest.mark.parametrize("item", ["bad", "=v", " =v", "a..b=1", ".a=1", "a.=1"])
def test_malformed_assignments_are_refused_quoting_the_input(item):
    with pytest.raises(ParamError) as info:
        build_body(None, None, [item])
    assert f"'{item}'" in str(info.value)


def test_a_scalar_cannot_become_an_object():
    with pytest.raises(ParamError) as info:
        build_body(None, None, ["a=1", "a.b=2"])
    message = str(info.value)
    assert "'a.b=2'" in message
    assert "a is already set" in message


def test_a_deeper_scalar_conflict_names_the_path():
    with pytest.raises(ParamError, match=r"a\.b is already set"):
        build_body(None, None, ["a.b=1", "a.b.c=2"])


def test_later_assignments_win():
    assert build_body(None, None, ["a=1", "a=2"]) == {"a": 2}
    assert build_body(None, None, ["a.b=1", "a.c=2", "a.b=3"]) == {"a": {"b": 3, "c": 2}}


# -- params: -f and -j ------------------------------------------------------------------------


def test_merge_order_is_file_then_json_then_assignments(tmp_path):
    file = tmp_path / "body.yaml"
    file.write_text("a:\n  x: 1\n  y: 1\nb: 1\nkeep: file\n")
    body = build_body(file, '{"a": {"y": 2, "z": 2}, "b": 2, "c": 2}', ["a.z=3", "b=3"])
    assert body == {"a": {"x": 1, "y": 2, "z": 3}, "b": 3, "c": 2, "keep": "file"}


def test_json_replaces_non_objects_and_deep_merges_objects(tmp_path):
    file = tmp_path / "body.json"
    file.write_text('{"query": {"filter": [{"k": "a"}], "page": {"start": 1}}}')
    body = build_body(file, '{"query": {"filter": [{"k": "b"}], "page": {"limit": 5}}}', [])
    assert body == {"query": {"filter": [{"k": "b"}], "page": {"start": 1, "limit": 5}}}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("q.yaml", "query:\n  filter:\n    - k: provider\n      v: aws\nname: 서울\n"),
        ("q.json", '{"query": {"filter": [{"k": "provider", "v": "aws"}]}, "name": "서울"}'),
    ],
)
def test_file_may_be_yaml_or_json(tmp_path, name, text):
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    expected = {"query": {"filter": [{"k": "provider", "v": "aws"}]}, "name": "서울"}
    assert build_body(file, None, []) == expected


def test_an_empty_file_is_an_empty_body(tmp_path):
    file = tmp_path / "empty.yaml"
    file.write_text("")
    assert build_body(file, None, ["a=1"]) == {"a": 1}


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("42\n", "int")])
def test_a_file_must_hold_an_object(tmp_path, text, kind):
    file = tmp_path / "body.yaml"
    file.write_text(text)
    with pytest.raises(ParamError, match=f"must hold an object.*{kind}"):
        build_body(file, None, [])


def test_an_unreadable_or_broken_file_is_a_param_error(tmp_path):
    with pytest.raises(ParamError, match="cannot read"):
        build_body(tmp_path / "missing.yaml", None, [])
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\nb: {\n")
    with pytest.raises(ParamError, match="neither YAML nor JSON"):
        build_body(broken, None, [])


@pytest.mark.parametrize(("text", "needle"), [("{nope", "not valid JSON"), ("[1]", "object")])
def test_json_must_be_an_object(text, needle):
    with pytest.raises(ParamError, match=needle):
        build_body(None, text, [])


# -- params: query flags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "key", "desc"),
    [("-created_at", "created_at", True), ("+name", "name", False), ("name", "name", False)],
)
def test_sort_flag(flag, key, desc):
    body = apply_query_flags({}, sort=flag, rows=None, minimal=False)
    assert body == {"query": {"sort": [{"key": key, "desc": desc}]}}


def test_rows_and_minimal_flags_keep_the_rest_of_the_query():
    original = {"query": {"filter": [{"k": "a", "v": 1, "o": "eq"}]}, "x": 1}
    body = apply_query_flags(original, sort="-name", rows=5, minimal=True)
    assert body == {
        "query": {
            "filter": [{"k": "a", "v": 1, "o": "eq"}],
            "sort": [{"key": "name", "desc": True}],
            "page": {"start": 1, "limit": 5},
            "minimal": True,
        },
        "x": 1,
    }
    assert original == {"query": {"filter": [{"k": "a", "v": 1, "o": "eq"}]}, "x": 1}


def test_no_flags_leave_the_body_alone():
    assert apply_query_flags({"a": 1}, sort=None, rows=None, minimal=False) == {"a": 1}


@pytest.mark.parametrize("flag", ["-", "+"])
def test_a_sort_flag_without_a_key_is_refused(flag):
    with pytest.raises(ParamError, match=re.escape(f"'{flag}'")):
        apply_query_flags({}, sort=flag, rows=None, minimal=False)


def test_query_flags_need_an_object_query():
    with pytest.raises(ParamError):
        apply_query_flags({"query": [1]}, sort=None, rows=3, minimal=False)


# -- params: properties --------------------------------------------------------------------------

_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-", min_size=1, max_size=8)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_trees = st.recursive(
    _scalars,
    lambda children: st.dictionaries(_keys, children, min_size=1, max_size=4),
    max_leaves=12,
).filter(lambda t: isinstance(t, dict))


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in tree.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


@given(tree=_trees, data=st.data())
def test_dotted_assignments_build_the_nested_dict(tree, data):
    items = data.draw(st.permutations(_flatten(tree)))
    assignments = [f"{key}={json.dumps(value)}" for key, value in items]
    assert build_body(None, None, assignments) == tree


@given(item=st.text(max_size=30).filter(lambda s: "=" not in s))
def test_anything_without_an_equals_sign_is_refused(item):
    with pytest.raises(ParamError) as info:
        build_body(None, None, [item])
    assert f"'{item}'" in str(info.value)


@given(value=st.text(max_size=30))
def test_a_json_quoted_string_always_stays_that_string(value):
    assert build_body(None, None, [f"name={json.dumps(value)}"]) == {"name": value}


# -- output: json and yaml -----------------------------------------------------------------------

RECORDS = [
    {"id": "r-1", "name": "web", "data": {"disks": [{"size": 10}, {"size": 20}]}, "n": 1},
    {"id": "r-2", "name": "서울 리전", "data": {"disks": []}, "n": None, "ok": True},
    {"id": "r-3", "name": 'emoji 🚀 and "quotes", commas', "data": {}, "n": 2.5},
    {"id": "r-4", "name": "multi\nline", "data": {"nested": {"deep": ["x", {"y": None}]}}},
    {"id": "r-5", "name": "", "tags": {"env": "prod"}},
]


def stream(fmt: str, pages: list[list[dict[str, Any]]], total: int | None = None, **kw) -> str:
    out = io.StringIO()
    writer = ListWriter(out, fmt, **kw)
    for page in pages:
        writer.page(page, total)
    writer.close()
    return out.getvalue()


PAGES = [RECORDS[:2], RECORDS[2:3], RECORDS[3:]]


def test_json_streams_pages_into_one_document():
    text = stream("json", PAGES, total=42)
    assert json.loads(text) == {"results": RECORDS, "total_count": 42}


def test_json_without_a_total_counts_the_records():
    assert json.loads(stream("json", PAGES)) == {"results": RECORDS, "total_count": 5}


def test_yaml_streams_pages_into_one_document():
    assert yaml.safe_load(stream("yaml", PAGES, total=42)) == {
        "results": RECORDS,
        "total_count": 42,
    }


@pytest.mark.parametrize("load", [json.loads, yaml.safe_load])
def test_an_empty_list_is_an_empty_results_list(load):
    fmt = "json" if load is json.loads else "yaml"
    assert load(stream(fmt, [], total=0)) == {"results": [], "total_count": 0}
    assert load(stream(fmt, [[]], total=0)) == {"results": [], "total_count": 0}


def test_yaml_keeps_unicode_readable():
    text = stream("yaml", [RECORDS[1:2]])
    assert "서울 리전" in text


def test_json_and_yaml_with_columns_keep_only_those():
    expected = [
        {"id": r["id"], "data.disks.size": output.pick(r, "data.disks.size")} for r in RECORDS
    ]
    assert expected[0]["data.disks.size"] == [10, 20]
    columns = ["id", "data.disks.size"]
    assert json.loads(stream("json", PAGES, columns=columns))["results"] == expected
    assert yaml.safe_load(stream("yaml", PAGES, columns=columns))["results"] == expected


# U+0085 (NEL) is left out: PyYAML writes it raw inside a quoted scalar and reads it back as a
# space (a PyYAML round-trip quirk, reported separately), whatever skyatlas does.
_text = st.text(st.characters(codec="utf-8", exclude_characters="\x85"), max_size=15)
_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        _text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_text, children, max_size=3)
    ),
    max_leaves=8,
)
_json_records = st.lists(st.dictionaries(_text, _json_values, max_size=5), max_size=6)


@settings(max_examples=60, deadline=None)
@given(records=_json_records, cut=st.integers(min_value=0, max_value=6))
def test_json_and_yaml_round_trip_any_records(records, cut):
    pages = [records[:cut], records[cut:]]
    expected = {"results": records, "total_count": len(records)}
    assert json.loads(stream("json", pages)) == expected
    assert yaml.safe_load(stream("yaml", pages)) == expected


# -- output: csv -------------------------------------------------------------------------------


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_a_header_and_one_row_per_record():
    columns = ["id", "name", "data", "data.disks.size", "data.disks.0.size", "tags.env", "n"]
    rows = read_csv(stream("csv", PAGES, columns=columns))
    assert rows[0] == columns
    assert len(rows) == 1 + len(RECORDS)
    first, second, third = rows[1], rows[2], rows[3]
    assert first == ["r-1", "web", '{"disks":[{"size":10},{"size":20}]}', "[10,20]", "10", "", "1"]
    assert second[:2] == ["r-2", "서울 리전"]
    assert second[3:5] == ["[]", ""]
    assert third[1] == 'emoji 🚀 and "quotes", commas'
    assert rows[5][5] == "prod"
    assert [json.loads(r[2]) if r[2] else None for r in rows[1:]] == [
        r.get("data") for r in RECORDS
    ]


def test_csv_default_columns_are_the_scalars_id_first():
    records = [{"name": "a", "cloud_service_id": "cs-1", "data": {"x": 1}, "size": 3}]
    rows = read_csv(stream("csv", [records], resource="cloud-service", term_width=200))
    assert rows == [["cloud_service_id", "name", "size"], ["cs-1", "a", "3"]]


def test_csv_columns_do_not_depend_on_the_terminal_width():
    record = {f"field_{i:02d}": "v" * 15 for i in range(15)}
    narrow = read_csv(stream("csv", [[record]], term_width=80))
    wide = read_csv(stream("csv", [[record]], term_width=1000))
    assert narrow == wide
    assert narrow[0] == list(record)


# -- output: table -------------------------------------------------------------------------------


def table_lines(records: list[dict[str, Any]], term_width: int = 80, **kw) -> list[str]:
    text = stream("table", [records], term_width=term_width, **kw)
    assert text.endswith("\n")
    return text[:-1].split("\n")


def assert_fits(lines: list[str], limit: int) -> None:
    assert lines
    for line in lines:
        assert width(line) <= limit, (width(line), line)


def test_width_counts_wide_characters_twice():
    assert width("abc") == 3
    assert width("서울") == 4
    assert width("日本語x") == 7
    assert width("e\u0301") == 1  # combining accent takes no cell


def test_table_header_is_the_upper_case_column_names():
    lines = table_lines(RECORDS, columns=["id", "name", "data.disks.size"])
    assert lines[0].split() == ["ID", "NAME", "DATA.DISKS.SIZE"]
    assert len(lines) == 1 + len(RECORDS)
    assert lines[1].startswith("r-1  ")


def test_table_default_columns_put_the_resource_id_first():
    records = [{"size": 3, "name": "a", "region_id": "region-1", "domain_id": "d"}]
    lines = table_lines(records, resource="region")
    assert lines[0].split() == ["REGION_ID", "NAME", "SIZE"]


def test_long_values_are_cut_with_an_ellipsis_and_fit():
    records = [{"id": f"r-{i}", "name": "n" * 200, "description": "d" * 200} for i in range(3)]
    lines = table_lines(records)
    assert_fits(lines, 80)
    assert lines[0].split() == ["NAME", "ID"]  # name first; description no longer fits
    assert "n" * 200 not in "".join(lines)
    for i, line in enumerate(lines[1:]):
        name, ident = line.split()
        assert name.startswith("nnnn") and name.endswith("…")
        assert ident == f"r-{i}"


def test_many_columns_fit():
    records = [{f"column_{i:02d}": f"value-{i}-{j}" for i in range(30)} for j in range(5)]
    lines = table_lines(records)
    assert_fits(lines, 80)
    assert lines[0].startswith("COLUMN_00")


def test_wide_characters_fit():
    records = [
        {
            "id": f"r-{i}",
            "name": "서울 리전 " * 20,
            "region": "東京リージョン" * 10,
            "x": "\uff46" * 9,
        }
        for i in range(4)
    ]
    lines = table_lines(records)
    assert_fits(lines, 80)
    assert lines[0].split()[0] == "NAME"
    assert all(line.startswith("서울 리전") and "…" in line for line in lines[1:])


def test_newlines_and_tabs_in_values_stay_on_one_line():
    lines = table_lines([{"id": "a", "name": "line one\nline two\ttabbed"}])
    assert len(lines) == 2
    assert lines[1].split() == ["line", "one", "line", "two", "tabbed", "a"]


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c"])
def test_other_line_breaking_whitespace_stays_on_one_line(char):
    lines = table_lines([{"id": "a", "name": f"first{char}second"}])
    assert not any(c in line for line in lines for c in "\r\x0b\x0c")


def test_wider_records_after_the_fiftieth_still_fit():
    narrow = [{f"k{i:02d}": "" for i in range(16)} for _ in range(50)]
    wide = [{f"k{i:02d}": "x" * 10 for i in range(16)} for _ in range(50)]
    assert_fits(table_lines(narrow + wide), 80)


def test_later_pages_keep_the_first_pages_columns_and_fit():
    first = [{"id": "a", "name": "short"}]
    later = [{"id": "b" * 300, "name": "서울" * 100, "other": "ignored"}]
    lines = stream("table", [first, later], term_width=60).splitlines()
    assert len(lines) == 3
    assert_fits(lines, 60)
    assert "ignored" not in lines[2]


_cell_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from("서울東京リージョン\uff46가나다🚀é\u0301"),
    ),
    max_size=60,
)
_cell_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    _cell_text,
    st.dictionaries(st.text(max_size=4), _cell_text, max_size=3),
    st.lists(_cell_text, max_size=3),
)
_column_names = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_서울", min_size=1, max_size=50),
    min_size=1,
    max_size=25,
    unique=True,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), limit=st.integers(min_value=40, max_value=160))
def test_tables_never_exceed_the_width(data, limit):
    names = data.draw(_column_names)
    records = data.draw(
        st.lists(st.fixed_dictionaries({n: _cell_values for n in names}), min_size=1, max_size=30)
    )
    lines = table_lines(records, term_width=limit)
    assert_fits(lines, limit)
    assert len(lines) == 1 + len(records)


# -- output: single documents --------------------------------------------------------------------

DOCUMENT = {"id": "r-1", "name": "서울", "data": {"disks": [{"size": 10}]}, "none": None}


def test_write_document_json_and_yaml():
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        out = io.StringIO()
        write_document(out, DOCUMENT, fmt)
        assert load(out.getvalue()) == DOCUMENT
    out = io.StringIO()
    write_document(out, DOCUMENT, "json", columns=["id", "data.disks.size"])
    assert json.loads(out.getvalue()) == {"id": "r-1", "data.disks.size": [10]}


def test_write_document_csv_is_field_value_rows():
    out = io.StringIO()
    write_document(out, DOCUMENT, "csv")
    assert read_csv(out.getvalue()) == [
        ["field", "value"],
        ["id", "r-1"],
        ["name", "서울"],
        ["data", '{"disks":[{"size":10}]}'],
        ["none", ""],
    ]


def test_write_document_table_fits_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    out = io.StringIO()
    write_document(out, {**DOCUMENT, "long": "서울 " * 100}, "table")
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["FIELD", "VALUE"]
    assert lines[1].split() == ["id", "r-1"]
    assert_fits(lines, 50)
    assert lines[-1].startswith("long") and lines[-1].endswith("…")


def test_write_rows_counts_what_it_wrote():
    out = io.StringIO()
    assert write_rows(out, iter(RECORDS), "json") == len(RECORDS)
    assert json.loads(out.getvalue())["total_count"] == len(RECORDS)


# -- settings ------------------------------------------------------------------------------------


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("SKYATLAS_ENDPOINT", raising=False)
    monkeypatch.delenv("SKYATLAS_TOKEN", raising=False)
    return home


def saved(config_home: Path, current: str | None = "prod") -> Settings:
    s = Settings.load()
    s.current = current
    s.environments = {
        "prod": Environment("prod", "https://prod.example.com", "prod-token"),
        "dev": Environment("dev", "http://127.0.0.1:8000", "dev-token"),
    }
    s.save()
    return s


def test_settings_live_under_xdg_config_home(config_home):
    s = saved(config_home)
    assert s.path == config_home / "skyatlas" / "settings.yaml"
    assert s.path.exists()
    assert os.listdir(s.path.parent) == ["settings.yaml"]  # no temporary file left behind


def test_settings_round_trip(config_home):
    saved(config_home)
    loaded = Settings.load()
    assert loaded.current == "prod"
    assert loaded.environments == {
        "prod": Environment("prod", "https://prod.example.com", "prod-token"),
        "dev": Environment("dev", "http://127.0.0.1:8000", "dev-token"),
    }
    assert loaded.environment().endpoint == "https://prod.example.com"
    assert loaded.environment("dev").token == "dev-token"


def test_settings_file_is_private(config_home):
    s = saved(config_home)
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600
    s.path.chmod(0o644)
    s.save()
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600


def test_no_settings_file_means_no_environments(config_home):
    s = Settings.load()
    assert (s.current, s.environments) == (None, {})
    with pytest.raises(SettingsError, match="no environment"):
        s.environment()


def test_an_unknown_environment_is_a_settings_error(config_home):
    saved(config_home)
    with pytest.raises(SettingsError, match="'staging'"):
        Settings.load().environment("staging")


@pytest.mark.parametrize("text", ["- a\n- b\n", "environment: [\n"])
def test_a_broken_settings_file_is_a_settings_error(tmp_path, text):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=str(path)):
        Settings.load(path)


def test_environments_that_are_not_a_mapping_are_a_settings_error(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("environment: a\nenvironments:\n  - a\n  - b\n")
    with pytest.raises(SettingsError):
        Settings.load(path)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://console.example.com", "console-app"),
        ("http://127.0.0.1:8000", "127-0-0-1-8000-app"),
        ("http://localhost:8000", "localhost-8000-app"),
        ("https://skyatlas.example.com:8443/", "skyatlas-app"),
        ("http://10.0.0.5", "10-0-0-5-app"),
    ],
)
def test_environment_name(url, name):
    assert environment_name(url) == name


def test_environment_name_suffix():
    assert environment_name("https://console.example.com", suffix="user") == "console-user"
    assert environment_name("https://console.example.com", suffix="") == "console"


def test_resolve_target_from_the_current_environment(config_home):
    saved(config_home)
    target = resolve_target()
    assert (target.endpoint, target.token, target.environment) == (
        "https://prod.example.com",
        "prod-token",
        "prod",
    )
    assert resolve_target("dev").endpoint == "http://127.0.0.1:8000"


def test_environment_variables_override_the_file(config_home, monkeypatch):
    saved(config_home)
    monkeypatch.setenv("SKYATLAS_ENDPOINT", "http://ci.example.com:9000/")
    monkeypatch.setenv("SKYATLAS_TOKEN", "ci-token")
    target = resolve_target()
    assert (target.endpoint, target.token) == ("http://ci.example.com:9000", "ci-token")


def test_one_environment_variable_overrides_only_its_field(config_home, monkeypatch):
    saved(config_home)
    monkeypatch.setenv("SKYATLAS_TOKEN", "other-token")
    target = resolve_target()
    assert (target.endpoint, target.token) == ("https://prod.example.com", "other-token")


def test_the_files_token_never_goes_to_another_endpoint(config_home, monkeypatch):
    saved(config_home)
    monkeypatch.setenv("SKYATLAS_ENDPOINT", "http://other.example.com")
    target = resolve_target()
    assert (target.endpoint, target.token) == ("http://other.example.com", None)
    monkeypatch.setenv("SKYATLAS_ENDPOINT", "https://prod.example.com/")
    assert resolve_target().token == "prod-token"


def test_environment_variables_need_no_file(config_home, monkeypatch):
    path = config_home / "skyatlas" / "settings.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("- not a settings file\n")
    monkeypatch.setenv("SKYATLAS_ENDPOINT", "https://ci.example.com")
    monkeypatch.setenv("SKYATLAS_TOKEN", "ci-token")
    target = resolve_target()
    assert (target.endpoint, target.token, target.environment) == (
        "https://ci.example.com",
        "ci-token",
        None,
    )


def test_no_endpoint_anywhere_is_a_settings_error(config_home, monkeypatch):
    with pytest.raises(SettingsError, match="no endpoint"):
        resolve_target()
    monkeypatch.setenv("SKYATLAS_TOKEN", "ci-token")
    with pytest.raises(SettingsError, match="SKYATLAS_ENDPOINT"):
        resolve_target()
    saved(config_home, current=None)
    with pytest.raises(SettingsError, match="no endpoint"):
        resolve_target()


def test_a_bad_endpoint_in_the_environment_is_refused(config_home, monkeypatch):
    monkeypatch.setenv("SKYATLAS_ENDPOINT", "ftp://files.example.com")
    monkeypatch.setenv("SKYATLAS_TOKEN", "t")
    with pytest.raises(SettingsError, match="not an http"):
        resolve_target()


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "http://", "", "example.com:80"])
def test_validate_endpoint_refuses_non_http_urls(url):
    with pytest.raises(SettingsError, match="not an http"):
        validate_endpoint(url)


@pytest.mark.parametrize(
    ("url", "clean"),
    [("https://a.example.com/", "https://a.example.com"), ("http://[::1]:80", "http://[::1]:80")],
)
def test_validate_endpoint_accepts_http_urls(url, clean):
    assert validate_endpoint(url) == clean


# -- reflection ----------------------------------------------------------------------------------

PAYLOAD = {
    "services": [
        {
            "name": "inventory",
            "resources": [
                {"name": "cloud-service", "verbs": ["create", "list", "get"]},
                {"name": "region", "verbs": ["list"]},
            ],
        },
        {"name": "identity", "resources": [{"name": "app", "verbs": ["generate-client-secret"]}]},
    ]
}


@pytest.mark.parametrize(
    "written", ["CloudService", "cloud-service", "cloudservice", "cloud_service", "CLOUD-SERVICE"]
)
def test_catalog_finds_a_resource_however_it_is_written(written):
    catalog = reflection.Catalog.from_reflection(PAYLOAD)
    assert catalog.resource("inventory", written) == "cloud-service"


def test_catalog_misses():
    catalog = reflection.Catalog.from_reflection(PAYLOAD)
    assert catalog.resource("inventory", "cloud") is None
    assert catalog.resource("identity", "CloudService") is None
    assert catalog.resource("nosuch", "region") is None
    assert catalog.verb("inventory", "region", "get") is None


def test_catalog_finds_a_verb_however_it_is_written():
    catalog = reflection.Catalog.from_reflection(PAYLOAD)
    for written in ("GenerateClientSecret", "generate_client_secret", "generate-client-secret"):
        assert catalog.verb("identity", "app", written) == "generate-client-secret"


def test_pascal():
    assert reflection.pascal("generate-client-secret") == "GenerateClientSecret"
    assert reflection.pascal("cloud-service") == "CloudService"
    assert reflection.pascal("region") == "Region"


def test_catalog_round_trips_through_its_reflection_form():
    catalog = reflection.Catalog.from_reflection(PAYLOAD)
    assert catalog.to_reflection() == PAYLOAD
    assert reflection.Catalog.from_reflection(catalog.to_reflection()) == catalog


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def test_cache_store_and_load(cache_home):
    catalog = reflection.Catalog.from_reflection(PAYLOAD)
    assert reflection.cached("http://a:8000") is None
    reflection.store("http://a:8000", catalog)
    assert reflection.cached("http://a:8000") == catalog
    assert reflection.cached("http://b:8000") is None
    files = list(cache_home.rglob("reflection-*.json"))
    assert len(files) == 1
    assert files[0].parent == cache_home / "skyatlas"
    assert reflection.all_cached_services() == ["identity", "inventory"]


def test_all_cached_services_unions_every_endpoint(cache_home):
    reflection.store("http://a", reflection.Catalog({"identity": {}}))
    reflection.store("http://b", reflection.Catalog({"cost-analysis": {}, "identity": {}}))
    assert reflection.all_cached_services() == ["cost-analysis", "identity"]


def test_fetch_asks_the_client_and_stores(cache_home):
    class FakeClient:
        def reflection(self):
            return PAYLOAD

    catalog = reflection.fetch(FakeClient(), "http://a")
    assert catalog.resource("inventory", "Region") == "region"
    assert reflection.cached("http://a") == catalog


def _cache_file(endpoint: str) -> Path:
    reflection.store(endpoint, reflection.Catalog.from_reflection(PAYLOAD))
    (path,) = reflection.cache_dir().glob("reflection-*.json")
    return path


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b'{"services": [{"name": "x", "resources": ', b"\xff\xfe\x00"],
)
def test_a_corrupt_cache_is_ignored(cache_home, content):
    _cache_file("http://a").write_bytes(content)
    assert reflection.cached("http://a") is None
    assert reflection.all_cached_services() == []


@pytest.mark.parametrize(
    "content", ['{"services": null}', '{"services": [{"resources": []}]}', '{"services": [1]}']
)
def test_a_cache_of_the_wrong_shape_is_ignored(cache_home, content):
    _cache_file("http://a").write_text(content)
    assert reflection.cached("http://a") is None


@pytest.mark.parametrize("content", ["[]", "null", '"x"'])
def test_a_cache_that_is_not_an_object_is_ignored(cache_home, content):
    _cache_file("http://a").write_text(content)
    assert reflection.cached("http://a") is None
