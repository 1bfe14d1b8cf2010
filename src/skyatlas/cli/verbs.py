"""`skyatlas <service> <verb> <Resource> [flags]`: every server verb, discovered at run time.

Nothing here knows a verb by name. The service, resource and verb are looked up in the server's
`/api/reflection` (cached), so a verb the server gains tomorrow works with today's CLI.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from skyatlas.cli import reflection
from skyatlas.cli.exits import USAGE, fail, fail_client_error
from skyatlas.cli.output import FORMATS, ListWriter, write_document
from skyatlas.cli.params import ParamError, apply_query_flags, build_body
from skyatlas.cli.settings import SettingsError, resolve_target

LIST_LIKE = ("list", "stat", "analyze")
SORTABLE = ("list", "analyze")

EPILOG = """\
Examples:

  skyatlas inventory list CloudService -p provider=aws -s -created_at -r 5

  skyatlas identity create App -p name=ci -p role_id=managed-workspace-owner

  skyatlas cost-analysis analyze Cost -f query.yaml -o json

  skyatlas inventory list CloudService --all -o csv > resources.csv

  skyatlas inventory collect Collector -p collector_id=collector-1a2b --wait

  skyatlas inventory api-resources
"""


def complete_verb(service: str, incomplete: str) -> list[str]:
    """Verb names of a service for shell completion, from the cached reflection (no request)."""
    catalog = _completion_catalog()
    verbs = {v for verbs in catalog.get(service, {}).values() for v in verbs}
    return sorted(v for v in verbs | {"api-resources"} if v.startswith(incomplete))


def complete_resource(service: str, verb: str, incomplete: str) -> list[str]:
    """Resources (as CloudService) that have `verb`, for shell completion."""
    catalog = _completion_catalog()
    names = [reflection.pascal(r) for r, verbs in catalog.get(service, {}).items() if verb in verbs]
    return sorted(n for n in names if n.lower().startswith(incomplete.lower()))


def _complete_verb(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return complete_verb(ctx.info_name or "", incomplete)


def _complete_resource(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return complete_resource(ctx.info_name or "", ctx.params.get("verb") or "", incomplete)


def _completion_catalog() -> dict[str, dict[str, list[str]]]:
    try:
        target = resolve_target()
    except SettingsError:
        return {}
    catalog = reflection.cached(target.endpoint)
    return catalog.services if catalog else {}


def service_command(service: str) -> click.Command:
    """The command for one service: `skyatlas <service> VERB RESOURCE [flags]`.

    Plain click rather than Typer: this is the path of every server call, and Typer's
    per-parameter validation machinery would add ~140 ms to each start.
    """
    params: list[click.Parameter] = [
        click.Argument(["verb"], required=False, shell_complete=_complete_verb),
        click.Argument(["resource"], required=False, shell_complete=_complete_resource),
        click.Option(
            ["-p", "--parameter"],
            multiple=True,
            metavar="KEY=VALUE",
            help="A request field; repeatable. Values are JSON when they parse (5, true, "
            '["a"]); dotted keys nest (query.page.limit=5).',
        ),
        click.Option(["-j", "--json-parameter"], metavar="JSON", help="The request as JSON."),
        click.Option(
            ["-f", "--file-parameter"],
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help="The request from a YAML or JSON file (merged first, then -j, then -p).",
        ),
        click.Option(
            ["-o", "--output"],
            metavar="yaml|json|table|csv",
            help="Output format [default: table for list/stat/analyze, else yaml].",
        ),
        click.Option(
            ["-c", "--columns"],
            metavar="COL,…",
            help="Columns (dotted paths, e.g. name,data.compute.instance_state).",
        ),
        click.Option(
            ["-s", "--sort"], metavar="[-]KEY", help="Sort on the server by KEY (- for descending)."
        ),
        click.Option(
            ["-r", "--rows"],
            type=click.IntRange(1, 10000),
            metavar="N",
            help="Return the first N rows (server-side page).",
        ),
        click.Option(["-m", "--minimal"], is_flag=True, help="Ask the server for minimal fields."),
        click.Option(
            ["--all", "all_pages"],
            is_flag=True,
            help="Page through every record, streaming (list only).",
        ),
        click.Option(["-w", "--watch"], is_flag=True, help="Repeat every --interval seconds."),
        click.Option(
            ["--wait"],
            is_flag=True,
            help="When the verb starts a job (collect, sync), follow it with a progress bar "
            "until it ends; exit 1 unless it ends SUCCESS.",
        ),
        click.Option(
            ["--interval"],
            type=click.FloatRange(0.5, 3600),
            default=2.0,
            show_default=True,
            help="Seconds between runs with --watch.",
        ),
        click.Option(
            ["-e", "--environment"],
            metavar="NAME",
            help="Use this environment, not the current one.",
        ),
    ]
    return click.Command(
        name=service,
        params=params,
        callback=lambda **kw: run_verb(service, **kw),
        help=f"Call a verb of the {service} service: skyatlas {service} VERB RESOURCE [flags]. "
        f"`skyatlas {service} api-resources` lists its resources and verbs.",
        short_help=f"Verbs of the {service} service (from the server's reflection).",
        epilog=EPILOG,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )


def run_service(service: str, args: list[str]) -> None:
    """Run `skyatlas <service> …` (exits)."""
    service_command(service).main(args=args, prog_name=f"skyatlas {service}")


# -- running a verb ------------------------------------------------------------------------


def run_verb(
    service: str,
    *,
    verb: str | None,
    resource: str | None,
    parameter: tuple[str, ...],
    json_parameter: str | None,
    file_parameter: Path | None,
    output: str | None,
    columns: str | None,
    sort: str | None,
    rows: int | None,
    minimal: bool,
    all_pages: bool,
    watch: bool,
    wait: bool,
    interval: float,
    environment: str | None,
) -> None:
    fmt_ok = output is None or output.lower() in FORMATS
    if not fmt_ok:
        fail(f"-o must be one of {', '.join(FORMATS)}, not '{output}'", USAGE)
    if not verb:
        fail(
            f"usage: skyatlas {service} VERB RESOURCE [flags] (or: {service} api-resources)", USAGE
        )
    try:
        target = resolve_target(environment)
    except SettingsError as exc:
        fail(str(exc), USAGE)

    from skyatlas.client import Client, ClientError

    client = Client(target.endpoint, target.token)
    try:
        if verb == "api-resources":
            _api_resources(client, target.endpoint, service, output)
            return
        kebab_resource, kebab_verb = _resolve(client, target.endpoint, service, verb, resource)
        body = _body(kebab_verb, parameter, json_parameter, file_parameter, sort, rows, minimal)
        if all_pages and kebab_verb != "list":
            fail("--all pages through list verbs only", USAGE)
        if wait and watch:
            fail("--wait and --watch do not go together", USAGE)
        fmt = (output or ("table" if kebab_verb in LIST_LIKE else "yaml")).lower()
        cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        while True:
            if watch and sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")
            if watch:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                sys.stdout.write(f"# {service} {verb} {resource or ''}  ({stamp})\n")
            if wait:
                _call_and_wait(client, service, kebab_resource, kebab_verb, body, fmt, cols)
                return
            _call(client, service, kebab_resource, kebab_verb, body, fmt, cols, all_pages)
            if not watch:
                return
            time.sleep(interval)
    except ClientError as exc:
        fail_client_error(exc)
    except KeyboardInterrupt:
        sys.exit(130 if not watch else 0)
    except BrokenPipeError:
        # `skyatlas … | head`: the reader left; stop quietly like other Unix tools.
        sys.stderr.close()
        sys.exit(0)
    finally:
        client.close()


def _body(
    verb: str,
    parameter: tuple[str, ...],
    json_parameter: str | None,
    file_parameter: Path | None,
    sort: str | None,
    rows: int | None,
    minimal: bool,
) -> dict[str, Any]:
    if (sort or rows) and verb not in SORTABLE:
        fail(f"-s and -r apply to list and analyze, not {verb}", USAGE)
    if minimal and verb != "list":
        fail(f"-m applies to list, not {verb}", USAGE)
    try:
        body = build_body(file_parameter, json_parameter, parameter)
        return apply_query_flags(body, sort=sort, rows=rows, minimal=minimal)
    except ParamError as exc:
        fail(str(exc), USAGE)


def _catalog(client: Any, endpoint: str, *, refresh: bool) -> reflection.Catalog:
    catalog = None if refresh else reflection.cached(endpoint)
    return catalog or reflection.fetch(client, endpoint)


def _resolve(
    client: Any, endpoint: str, service: str, verb: str, resource: str | None
) -> tuple[str, str]:
    """Kebab resource and verb names; refresh the cached reflection once on a miss."""
    if not resource:
        fail(f"usage: skyatlas {service} {verb} RESOURCE [flags]", USAGE)
    refreshed = False
    catalog = reflection.cached(endpoint)
    while True:
        if catalog is None:
            catalog, refreshed = reflection.fetch(client, endpoint), True
        kebab = catalog.resource(service, resource)
        found = kebab and catalog.verb(service, kebab, verb)
        if kebab and found:
            return kebab, found
        if refreshed:
            break
        catalog = None
    if service not in catalog.services:
        known = ", ".join(sorted(catalog.services)) or "none"
        fail(f"unknown command or service '{service}' (services: {known})", USAGE)
    if not kebab:
        names = ", ".join(reflection.pascal(r) for r in sorted(catalog.services[service]))
        fail(f"{service} has no resource '{resource}' (resources: {names})", USAGE)
    verbs = ", ".join(sorted(catalog.services[service][kebab]))
    fail(f"{reflection.pascal(kebab)} has no verb '{verb}' (verbs: {verbs})", USAGE)


def _api_resources(client: Any, endpoint: str, service: str, output: str | None) -> None:
    catalog = _catalog(client, endpoint, refresh=True)
    if service not in catalog.services:
        known = ", ".join(sorted(catalog.services)) or "none"
        fail(f"unknown command or service '{service}' (services: {known})", USAGE)
    records = [
        {"resource": reflection.pascal(r), "name": r, "verbs": ", ".join(sorted(v))}
        for r, v in sorted(catalog.services[service].items())
    ]
    writer = ListWriter(
        sys.stdout, (output or "table").lower(), columns=["resource", "name", "verbs"]
    )
    writer.page(records, len(records))
    writer.close()


def _call_and_wait(
    client: Any,
    service: str,
    resource: str,
    verb: str,
    body: dict[str, Any],
    fmt: str,
    columns: list[str] | None,
) -> None:
    answer = client.call(service, resource, verb, body)
    if not (isinstance(answer, dict) and answer.get("job_id")):
        fail(f"--wait: {service} {verb} {resource} did not start a job", USAGE)
    from skyatlas.cli.wait import wait_for_job

    job = wait_for_job(client, service, answer)
    write_document(sys.stdout, job, fmt, columns=columns)
    if job.get("status") != "SUCCESS":
        sys.stderr.write(f"skyatlas: job {job['job_id']} ended {job.get('status')}\n")
        sys.exit(1)


def _call(
    client: Any,
    service: str,
    resource: str,
    verb: str,
    body: dict[str, Any],
    fmt: str,
    columns: list[str] | None,
    all_pages: bool,
) -> None:
    out = sys.stdout
    if all_pages:
        writer = ListWriter(out, fmt, columns=columns, resource=resource)
        query = body.get("query") or {}
        size = (query.get("page") or {}).get("limit") or 1000
        for page in client.iter_pages(service, resource, verb, body, page_size=size):
            writer.page(page["results"], page.get("total_count"))
            del page  # let it go before the next page downloads
        writer.close()
        return
    answer = client.call(service, resource, verb, body)
    results = answer.get("results") if isinstance(answer, dict) else None
    if isinstance(results, list) and set(answer) <= {"results", "total_count"}:
        writer = ListWriter(out, fmt, columns=columns, resource=resource)
        writer.page(results, answer.get("total_count"))
        writer.close()
        total = answer.get("total_count")
        if verb == "list" and isinstance(total, int) and total > len(results) and fmt == "table":
            sys.stderr.write(
                f"({len(results):,} of {total:,} shown: --all for every record, -r N for more)\n"
            )
        return
    write_document(out, answer, fmt, columns=columns)
