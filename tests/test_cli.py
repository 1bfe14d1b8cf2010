"""The `skyatlas` command against a live `skyatlas serve`, the way a user runs both.

Each test runs the CLI as a subprocess with its own config and cache directories (XDG_*), so
settings written by one test never leak into another, and checks what a user would see:
stdout, stderr and the exit code.
"""

from __future__ import annotations

import csv
import io
import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from serverproc import Server, clean_env, running

from skyatlas.cli.output import width

pytestmark = pytest.mark.slow

CLI_TIMEOUT = 120


# -- helpers ---------------------------------------------------------------------------------


def cli_command(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("skyatlas")
    if exe.exists():
        return [str(exe), *args]
    return [sys.executable, "-m", "skyatlas", *args]


class Cli:
    """Runs `skyatlas …` with a private home: its own settings file and reflection cache."""

    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.env = clean_env(
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            COLUMNS="80",
            **env,
        )

    @property
    def settings_file(self) -> Path:
        return self.home / "config" / "skyatlas" / "settings.yaml"

    def run(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli_command(*args),
            input=input,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            cwd=self.home,
            timeout=CLI_TIMEOUT,
        )

    def ok(self, *args: str, **env: str) -> str:
        result = self.run(*args, **env)
        assert result.returncode == 0, (args, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout


def secret_of(server: Server) -> str:
    return json.loads(server.bootstrap_path.read_text())["client_secret"]


def configured(server: Server, home: Path) -> Cli:
    cli = Cli(home)
    cli.ok("setting", "init", "proxy", server.url, "--app")
    cli.ok("setting", "token", secret_of(server))
    return cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("demo"), "--demo") as server:
        yield server


@pytest.fixture
def cli(demo: Server, tmp_path: Path) -> Cli:
    return configured(demo, tmp_path)


def api(server: Server, path: str, body: Any = None) -> Any:
    return server.ok(path, secret_of(server), body)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skyatlas: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# -- the seed's CLI lines --------------------------------------------------------------------


def test_seed_cli_lines_work_as_written(demo: Server, tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    # $ cfctl setting init proxy {your_domain_url} --app
    cli.ok("setting", "init", "proxy", demo.url, "--app")
    # $ cfctl setting token {client_secret}
    cli.ok("setting", "token", secret_of(demo))
    # $ cfctl inventory list Region
    out = cli.ok("inventory", "list", "Region")

    regions = api(demo, "/inventory/region/list")["results"]
    assert len(regions) > 5
    for region in regions:
        assert region["region_id"] in out
    assert out.splitlines()[0].split()[:2] == ["REGION_ID", "NAME"]
    # The tokens live in one YAML file, readable by its owner only.
    assert stat.S_IMODE(cli.settings_file.stat().st_mode) == 0o600
    saved = yaml.safe_load(cli.settings_file.read_text())
    assert saved["environments"][saved["environment"]]["token"] == secret_of(demo)


def test_serve_offers_its_bootstrap_secret_to_the_cli(demo: Server, tmp_path: Path) -> None:
    assert "skyatlas setting init local" in demo.output().replace("\n", "")
    cli = Cli(tmp_path)
    cli.ok("setting", "init", "local", "--data-dir", str(demo.data_dir))
    assert cli.ok("setting", "environment").strip() == "local"
    assert "region-" in cli.ok("inventory", "list", "Region")


def test_token_from_stdin(demo: Server, tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.ok("setting", "init", "proxy", demo.url, "--app", "--name", "piped")
    result = cli.run("setting", "token", input=secret_of(demo) + "\n")
    assert result.returncode == 0, result.stderr
    assert "region-" in cli.ok("inventory", "list", "Region")


# -- output formats --------------------------------------------------------------------------


def test_json_output_is_the_servers_answer(cli: Cli, demo: Server) -> None:
    out = cli.ok("inventory", "list", "Region", "-o", "json")
    assert json.loads(out) == api(demo, "/inventory/region/list")


def test_yaml_output_round_trips(cli: Cli, demo: Server) -> None:
    body = {"query": {"page": {"start": 1, "limit": 20}}}
    out = cli.ok("inventory", "list", "CloudService", "-r", "20", "-o", "yaml")
    assert yaml.safe_load(out) == api(demo, "/inventory/cloud-service/list", body)


def test_csv_output_has_a_header_and_one_row_per_record(cli: Cli, demo: Server) -> None:
    out = cli.ok("inventory", "list", "Region", "-o", "csv", "-c", "region_id,name,provider")
    rows = list(csv.reader(io.StringIO(out)))
    expected = api(demo, "/inventory/region/list")["results"]
    assert rows[0] == ["region_id", "name", "provider"]
    assert rows[1:] == [[r["region_id"], r["name"], r["provider"]] for r in expected]


def test_table_fits_80_columns_and_cuts_wide_values(cli: Cli) -> None:
    out = cli.ok(
        "inventory",
        "list",
        "CloudService",
        "-r",
        "30",
        "-c",
        "cloud_service_id,name,data,tags,reference.external_link",
    )
    lines = out.splitlines()
    assert len(lines) == 31
    assert all(width(line) <= 80 for line in lines), max(lines, key=width)
    assert any("…" in line for line in lines[1:])
    header = lines[0].split()
    assert header[:2] == ["CLOUD_SERVICE_ID", "NAME"]
    assert header[2:4] in (["DATA", "TAGS"], ["DATA", "TAGS", "REFERENCE.EXTERNAL_LINK"][:2])


def test_list_table_says_when_it_shows_one_page(cli: Cli) -> None:
    result = cli.run("inventory", "list", "CloudService", "-r", "3")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 4
    assert "3 of " in result.stderr and "--all" in result.stderr


def test_get_prints_yaml_and_columns_pick_dotted_paths(cli: Cli, demo: Server) -> None:
    first = api(demo, "/inventory/cloud-service/list", {"query": {"page": {"limit": 1}}})
    record = first["results"][0]
    out = cli.ok(
        "inventory", "get", "CloudService", "-p", f"cloud_service_id={record['cloud_service_id']}"
    )
    assert yaml.safe_load(out) == record
    picked = cli.ok(
        "inventory",
        "get",
        "CloudService",
        "-p",
        f"cloud_service_id={record['cloud_service_id']}",
        "-o",
        "json",
        "-c",
        "name,provider",
    )
    assert json.loads(picked) == {"name": record["name"], "provider": record["provider"]}


def test_stat_prints_a_table(cli: Cli, demo: Server) -> None:
    query = {
        "query": {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "provider", "name": "provider"}],
                        "fields": [{"operator": "count", "name": "n"}],
                    }
                },
                {"sort": {"key": "provider"}},
            ]
        }
    }
    out = cli.ok("inventory", "stat", "CloudService", "-j", json.dumps(query))
    expected = api(demo, "/inventory/cloud-service/stat", query)["results"]
    lines = out.splitlines()
    assert lines[0].split() == ["PROVIDER", "N"]
    assert [line.split() for line in lines[1:]] == [[r["provider"], str(r["n"])] for r in expected]


# -- request building ------------------------------------------------------------------------


def test_parameters_from_a_file_json_and_p(cli: Cli, demo: Server, tmp_path: Path) -> None:
    query = tmp_path / "q.yaml"
    query.write_text(
        "query:\n  filter:\n    - {k: provider, v: aws, o: eq}\n  page: {start: 1, limit: 500}\n"
    )
    out = cli.ok(
        "inventory",
        "list",
        "CloudService",
        "-f",
        str(query),
        "-j",
        '{"query": {"filter": [{"k": "provider", "v": "azure"}]}}',
        "-p",
        "query.page.limit=7",
        "-o",
        "json",
    )
    answer = json.loads(out)
    expected = api(
        demo,
        "/inventory/cloud-service/list",
        {"query": {"filter": [{"k": "provider", "v": "azure"}], "page": {"start": 1, "limit": 7}}},
    )
    assert answer == expected
    assert len(answer["results"]) == 7
    assert {r["provider"] for r in answer["results"]} == {"azure"}


def test_top_level_p_becomes_a_filter(cli: Cli, demo: Server) -> None:
    out = cli.ok("inventory", "list", "CloudService", "-p", "provider=kakaocloud", "-o", "json")
    answer = json.loads(out)
    assert answer["total_count"] > 0
    assert {r["provider"] for r in answer["results"]} == {"kakaocloud"}


def test_sort_and_rows_are_applied_by_the_server(cli: Cli, demo: Server) -> None:
    workspace_id = json.loads(demo.bootstrap_path.read_text())["workspace_id"]
    made = []
    for i in range(6):
        out = cli.ok(
            "inventory",
            "create",
            "CloudService",
            "-p",
            "provider=aws",
            "-p",
            "cloud_service_group=EC2",
            "-p",
            "cloud_service_type=Instance",
            "-p",
            f"name=cli-sort-{i}",
            "-p",
            "data={}",
            "-p",
            f"workspace_id={workspace_id}",
            "-o",
            "json",
        )
        made.append(json.loads(out)["cloud_service_id"])
        time.sleep(0.01)
    out = cli.ok("inventory", "list", "CloudService", "-s", "-created_at", "-r", "5", "-o", "json")
    answer = json.loads(out)
    ids = [r["cloud_service_id"] for r in answer["results"]]
    assert ids == list(reversed(made))[:5]
    # The whole set was sorted on the server: the total still counts every resource.
    assert answer["total_count"] == api(demo, "/inventory/cloud-service/list")["total_count"]
    ascending = json.loads(
        cli.ok("inventory", "list", "CloudService", "-s", "name", "-r", "5", "-o", "json")
    )
    expected = api(
        demo,
        "/inventory/cloud-service/list",
        {"query": {"sort": [{"key": "name"}], "page": {"start": 1, "limit": 5}}},
    )
    assert ascending == expected


def test_minimal_asks_the_server_for_fewer_fields(cli: Cli) -> None:
    full = json.loads(cli.ok("inventory", "list", "CloudService", "-r", "1", "-o", "json"))
    small = json.loads(cli.ok("inventory", "list", "CloudService", "-r", "1", "-m", "-o", "json"))
    assert set(small["results"][0]) < set(full["results"][0])


def test_api_resources_lists_the_services_resources(cli: Cli) -> None:
    out = cli.ok("inventory", "api-resources")
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["CloudService", "CloudServiceType", "Collector", "Job", "JobTask", "Region"]
    identity = cli.ok("identity", "api-resources", "-o", "json")
    apps = [r for r in json.loads(identity)["results"] if r["resource"] == "App"]
    assert "generate-client-secret" in apps[0]["verbs"]


def test_kebab_verb_and_resource_names_are_accepted(cli: Cli, demo: Server) -> None:
    created = json.loads(
        cli.ok(
            "identity",
            "create",
            "App",
            "-p",
            "name=ci",
            "-p",
            "role_id=managed-workspace-owner",
            "-p",
            f"workspace_id={json.loads(demo.bootstrap_path.read_text())['workspace_id']}",
            "-o",
            "json",
        )
    )
    assert created["client_secret"]
    rotated = json.loads(
        cli.ok(
            "identity",
            "generate-client-secret",
            "app",
            "-p",
            f"app_id={created['app_id']}",
            "-o",
            "json",
        )
    )
    assert rotated["client_secret"] != created["client_secret"]


# -- --all -------------------------------------------------------------------------------------


def max_rss_kb(cli: Cli, *args: str) -> tuple[int, str]:
    """Run the CLI under a parent that reports its child's peak resident memory (KiB)."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(r.stderr)\n"
        "sys.stdout.write(r.stdout)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(r.returncode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *cli_command(*args)],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=CLI_TIMEOUT * 3,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stderr.strip().splitlines()[-1]), result.stdout


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server holding 25,000 generated resources, imported the way a user would."""
    from skyatlas.inventory.generator import generate_cloud_services

    home = tmp_path_factory.mktemp("big")
    source = home / "resources.jsonl"
    with source.open("wb") as fh:
        for record in generate_cloud_services(25_000, seed=7):
            fh.write(orjson.dumps(record) + b"\n")
    data_dir = home / "data"
    imported = subprocess.run(
        cli_command("import", "cloud-services", str(source), "--data-dir", str(data_dir)),
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=home,
        timeout=600,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    with running(home, data_dir=data_dir) as server:
        yield server


def test_all_pages_through_25000_resources_in_constant_memory(big: Server, tmp_path: Path) -> None:
    cli = configured(big, tmp_path)
    page_rss, page = max_rss_kb(cli, "inventory", "list", "CloudService", "-r", "1000", "-o", "csv")
    few_rss, few = max_rss_kb(
        cli, "inventory", "list", "CloudService", "-p", "provider=azure", "--all", "-o", "csv"
    )
    all_rss, everything = max_rss_kb(cli, "inventory", "list", "CloudService", "--all", "-o", "csv")

    rows = list(csv.reader(io.StringIO(everything)))
    assert rows[0][0] == "cloud_service_id"
    assert len(rows) == 25_001
    assert len({r[0] for r in rows[1:]}) == 25_000
    assert len(list(csv.reader(io.StringIO(page)))) == 1_001
    few_rows = len(list(csv.reader(io.StringIO(few)))) - 1
    assert 2_000 < few_rows < 10_000
    # --all holds one page at a time. A parsed record costs over 6 KB, so keeping the 20,000
    # records that the full run has beyond the azure run would add more than 120 MB; allocator
    # noise between runs stays within a few MB (8.4 MB seen at worst), hence the 32 MB bound.
    assert all_rss - few_rss < 32 * 1024, (few_rss, all_rss)
    assert all_rss - page_rss < 40 * 1024, (page_rss, all_rss)


def test_all_streams_json_and_yaml_in_the_servers_shape(big: Server, tmp_path: Path) -> None:
    cli = configured(big, tmp_path)
    flt = ["-p", "provider=kakaocloud", "-r", "400"]  # pages of 400
    expected = api(big, "/inventory/cloud-service/list", {"provider": "kakaocloud"})
    assert expected["total_count"] > 800
    as_json = json.loads(cli.ok("inventory", "list", "CloudService", *flt, "--all", "-o", "json"))
    assert as_json == expected
    as_yaml = yaml.load(  # libyaml's loader: the same documents, 3x faster to read
        cli.ok("inventory", "list", "CloudService", *flt, "--all", "-o", "yaml"),
        Loader=yaml.CSafeLoader,
    )
    assert as_yaml == expected


# -- errors ----------------------------------------------------------------------------------


def test_bad_token_is_one_line_and_exit_4(cli: Cli) -> None:
    line = assert_one_line_error(
        cli.run("inventory", "list", "Region", SKYATLAS_TOKEN="not-a-token"), 4
    )
    assert "ERROR_AUTHENTICATE_FAILURE" in line and "401" in line


def test_unreachable_endpoint_is_one_line_and_exit_3(tmp_path: Path) -> None:
    from serverproc import free_port

    cli = Cli(tmp_path, SKYATLAS_ENDPOINT=f"http://127.0.0.1:{free_port()}", SKYATLAS_TOKEN="x")
    line = assert_one_line_error(cli.run("inventory", "list", "Region"), 3)
    assert "cannot reach" in line


def test_unknown_verb_resource_or_service_is_exit_2(cli: Cli) -> None:
    line = assert_one_line_error(cli.run("inventory", "lst", "Region"), 2)
    assert "no verb 'lst'" in line and "list" in line
    line = assert_one_line_error(cli.run("inventory", "list", "Regoin"), 2)
    assert "no resource 'Regoin'" in line and "Region" in line
    line = assert_one_line_error(cli.run("invntory", "list", "Region"), 2)
    assert "'invntory'" in line and "inventory" in line


def test_bad_p_syntax_is_exit_2(cli: Cli) -> None:
    line = assert_one_line_error(cli.run("inventory", "list", "Region", "-p", "provider"), 2)
    assert "bad -p 'provider'" in line
    line = assert_one_line_error(cli.run("inventory", "list", "Region", "-j", "{nope"), 2)
    assert "-j" in line


def test_server_refusal_prints_its_code_and_message(cli: Cli) -> None:
    line = assert_one_line_error(
        cli.run(
            "inventory", "get", "CloudService", "-p", "cloud_service_id=cloud-svc-000000000000"
        ),
        1,
    )
    assert "ERROR_NOT_FOUND (404)" in line
    line = assert_one_line_error(
        cli.run("inventory", "list", "CloudService", "-p", 'query.filter=[{"k":"x y"}]'), 1
    )
    assert "(400)" in line


def test_no_settings_at_all_is_exit_2(tmp_path: Path) -> None:
    line = assert_one_line_error(Cli(tmp_path).run("inventory", "list", "Region"), 2)
    assert "setting init proxy" in line


# -- reflection cache ------------------------------------------------------------------------


def test_a_stale_reflection_cache_is_refreshed_on_a_miss(cli: Cli, demo: Server) -> None:
    cli.ok("inventory", "list", "Region", "-r", "1")
    caches = list((cli.home / "cache" / "skyatlas").glob("reflection-*.json"))
    assert len(caches) == 1
    # An old cache that knew nothing of regions: the CLI asks the server again.
    caches[0].write_text(json.dumps({"services": [{"name": "inventory", "resources": []}]}))
    assert "region-" in cli.ok("inventory", "list", "Region")
    services = json.loads(caches[0].read_text())["services"]
    inventory = next(s for s in services if s["name"] == "inventory")
    assert "region" in {r["name"] for r in inventory["resources"]}


def test_help_lists_services_from_the_cache(cli: Cli) -> None:
    cli.ok("inventory", "list", "Region", "-r", "1")
    out = cli.ok("--help")
    assert "inventory" in out and "identity" in out and "setting" in out


# -- settings --------------------------------------------------------------------------------


def test_environments_list_switch_remove(demo: Server, tmp_path: Path) -> None:
    cli = configured(demo, tmp_path)
    cli.ok("setting", "init", "proxy", "https://skyatlas.example.com", "--app")
    listing = cli.ok("setting", "environment", "-l")
    assert "* skyatlas-app" in listing and "127-0-0-1-" in listing
    local = next(line.split()[0] for line in listing.splitlines() if "127-0-0-1" in line)
    cli.ok("setting", "environment", "-s", local)
    assert cli.ok("setting", "environment").strip() == local
    cli.ok("setting", "environment", "-r", "skyatlas-app")
    assert "skyatlas-app" not in cli.ok("setting", "environment", "-l")
    result = cli.run("setting", "environment", "-s", "nope")
    assert_one_line_error(result, 2)


def test_show_never_prints_the_whole_token(cli: Cli, demo: Server) -> None:
    shown = json.loads(cli.ok("setting", "show", "-o", "json"))
    assert shown["endpoint"] == demo.url
    assert secret_of(demo) not in json.dumps(shown)
    assert yaml.safe_load(cli.ok("setting", "show"))["endpoint"] == demo.url
    revealed = yaml.safe_load(cli.ok("setting", "show", "--reveal"))
    assert revealed["token"] == secret_of(demo)


def test_environment_variables_override_the_file(cli: Cli, tmp_path: Path) -> None:
    from serverproc import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    assert_one_line_error(cli.run("inventory", "list", "Region", SKYATLAS_ENDPOINT=dead), 3)
    assert_one_line_error(cli.run("inventory", "list", "Region", SKYATLAS_TOKEN="x.y.z"), 4)


# -- watch, help, version, completion ------------------------------------------------------------


def test_watch_repeats_until_interrupted(cli: Cli) -> None:
    proc = subprocess.Popen(
        cli_command("inventory", "list", "Region", "-r", "1", "-w", "--interval", "0.5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli.env,
    )
    # Each run is flushed as it lands, so the test waits for two runs rather than a fixed time
    # (a loaded machine may take seconds to start the command).
    assert proc.stdout is not None
    shown = b""
    deadline = time.monotonic() + 60
    while shown.count(b"# inventory list Region") < 2:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            proc.kill()
            raise AssertionError(f"fewer than two runs shown within 60 s: {shown!r}")
        chunk = os.read(proc.stdout.fileno(), 65536)
        assert chunk, f"watch stopped early: {proc.communicate(timeout=60)[1]!r}"
        shown += chunk
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


def test_every_command_has_help_with_examples(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    commands = [
        ["serve"],
        ["import", "cloud-services"],
        ["setting", "init", "proxy"],
        ["setting", "init", "local"],
        ["setting", "token"],
        ["setting", "environment"],
        ["setting", "show"],
        ["inventory"],
    ]
    for words in commands:
        out = cli.ok(*words, "--help")
        assert "Examples" in out, words


def test_static_command_names_match_the_application() -> None:
    from typer.main import get_command

    from skyatlas.cli.main import app
    from skyatlas.cli.root_names import STATIC_COMMANDS

    group = get_command(app)
    assert set(group.commands) == STATIC_COMMANDS  # type: ignore[attr-defined]


def test_version(tmp_path: Path) -> None:
    from skyatlas import __version__

    assert Cli(tmp_path).ok("--version").strip() == f"skyatlas {__version__}"


def test_shell_completion_offers_verbs_and_resources(cli: Cli) -> None:
    cli.ok("inventory", "list", "Region", "-r", "1")  # fills the reflection cache

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        result = cli.run(
            _SKYATLAS_COMPLETE="complete_bash",
            COMP_WORDS=line,
            COMP_CWORD=str(len(words) - 1),
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert {"serve", "setting"} <= set(complete("skyatlas se"))
    assert "list" in complete("skyatlas inventory li")
    assert complete("skyatlas inventory list Clo") == ["CloudService", "CloudServiceType"]


def test_a_server_call_imports_neither_the_server_nor_typer() -> None:
    """The fast path of `skyatlas <service> …` (start-up to first request well under 0.3 s)."""
    code = (
        "import sys\n"
        "import skyatlas.cli.verbs\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'typer') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
