"""`skyatlas explorer …`: the Resource Explorer dialect from the command line.

Same environments, output formats and exit codes as the generic verbs. Tag changes are
asynchronous on the server; the commands wait for the operation to apply (`--no-wait` to
return the operation id at once).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from skyatlas.cli.exits import USAGE, fail, fail_client_error
from skyatlas.cli.output import FORMATS, ListWriter, write_document
from skyatlas.cli.settings import SettingsError, resolve_target

explorer_app = typer.Typer(
    help="Search resources by KCRN and filter_string; create, attach and delete custom tags.",
    no_args_is_help=True,
)
tags_app = typer.Typer(help="Custom and system tags.", no_args_is_help=True)
explorer_app.add_typer(tags_app, name="tags")

Output = Annotated[
    str, typer.Option("--output", "-o", help="table, json, yaml or csv.", case_sensitive=False)
]
Environment = Annotated[
    str | None, typer.Option("--environment", "-e", help="Use this environment.")
]
TABLE_COLUMNS = ["service", "resource_type", "region", "resource_name", "resource_id", "tags"]
CSV_COLUMNS = [
    "kcrn",
    "project_id",
    "region",
    "service",
    "resource_type",
    "resource_id",
    "resource_name",
    "user_name",
    "provider",
    "tags",
]
TAG_COLUMNS = ["tag_id", "key", "value", "type", "resource_count"]


def _client(environment: str | None) -> Any:
    try:
        target = resolve_target(environment)
    except SettingsError as exc:
        fail(str(exc), USAGE)
    from skyatlas.client import Client

    return Client(target.endpoint, target.token)


def _format(output: str) -> str:
    fmt = output.lower()
    if fmt not in FORMATS:
        fail(f"-o must be one of {', '.join(FORMATS)}, not '{output}'", USAGE)
    return fmt


def _flat_tags(resource: dict[str, Any]) -> dict[str, Any]:
    """For table and csv: tags as `key=value` text, custom ones first."""
    tags = ", ".join(f"{t['key']}={t['value']}" for t in resource.get("tags", []))
    return {**resource, "tags": tags}


def _run(call: Any) -> Any:
    from skyatlas.client import ClientError

    try:
        return call()
    except ClientError as exc:
        fail_client_error(exc)
    except TimeoutError as exc:
        fail(str(exc), 1)


def _wait(client: Any, answer: dict[str, Any], wait: bool) -> dict[str, Any]:
    if not wait:
        return answer
    op = _run(lambda: client.explorer.wait(answer["operation_id"], timeout=120))
    if op["state"] == "FAILED":
        fail(f"operation {op['operation_id']} failed: {op['error']}", 1)
    return {**answer, "operation": op}


@explorer_app.command("search")
def search(
    filter_string: Annotated[
        str | None,
        typer.Argument(help="e.g. 'service=EC2&tag.key=env&tag.value=prod' (quote it)."),
    ] = None,
    kcrn: Annotated[
        str | None, typer.Option("--kcrn", help="A KCRN pattern, e.g. 'kcrn:*:*:EC2:Instance:*'.")
    ] = None,
    sort: Annotated[
        str | None, typer.Option("--sort", "-s", help="+/- resource_name, resource_id, …")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-r", min=1, max=500, help="Page size.")] = 100,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Every match, a page at a time (streamed).")
    ] = False,
    output: Output = "table",
    environment: Environment = None,
) -> None:
    """Search resources. Without --all, prints one page and says how many match in all.

    Examples:

      skyatlas explorer search 'service=EC2&resource_type=Instance&region=us-east-1'

      skyatlas explorer search --kcrn 'kcrn:*:*:EC2:SecurityGroup:*' --all -o csv

      skyatlas explorer search 'tag.key=env&tag.value=prod' -s -resource_name -o json
    """
    fmt = _format(output)
    client = _client(environment)
    columns = {"table": TABLE_COLUMNS, "csv": CSV_COLUMNS}.get(fmt)
    writer = ListWriter(sys.stdout, fmt, columns=columns, key="resources")
    flatten = fmt in ("table", "csv")
    with client:
        if all_pages:
            items = client.explorer.iter_resources(
                filter_string, kcrn=kcrn, sort=sort, page_size=limit
            )
            _stream(writer, items, flatten)
            writer.close()  # total_count = what was streamed: every match
            return
        page = _run(
            lambda: client.explorer.search(filter_string, kcrn=kcrn, sort=sort, limit=limit)
        )
        rows = [_flat_tags(r) if flatten else r for r in page["resources"]]
        writer.page(rows, page["total_count"])
        writer.close()
        if fmt == "table" and page["total_count"] > len(rows):
            sys.stderr.write(
                f"({len(rows):,} of {page['total_count']:,} shown: --all for every match)\n"
            )


def _stream(writer: ListWriter, items: Any, flatten: bool) -> None:
    """Write resources as they arrive, a few hundred at a time (constant memory)."""
    from skyatlas.client import ClientError

    try:
        batch: list[dict[str, Any]] = []
        for resource in items:
            batch.append(_flat_tags(resource) if flatten else resource)
            if len(batch) >= 500:
                writer.page(batch)
                batch = []
        writer.page(batch)
    except ClientError as exc:
        fail_client_error(exc)


@tags_app.command("search")
def tags_search(
    filter_string: Annotated[
        str | None, typer.Argument(help="e.g. 'tag.type=custom&tag:in_use'.")
    ] = None,
    sort: Annotated[
        str | None, typer.Option("--sort", "-s", help="+/- tag.key, tag.value, tag.type, …")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-r", min=1, max=500, help="Page size.")] = 100,
    output: Output = "table",
    environment: Environment = None,
) -> None:
    """Search tags (custom ones, and system tags grouped by key and value) with resource counts.

    Examples:

      skyatlas explorer tags search 'tag.type=custom'

      skyatlas explorer tags search 'tag.type=system&tag.value=Kubernetes Engine' -o json
    """
    fmt = _format(output)
    with _client(environment) as client:
        page = _run(lambda: client.explorer.search_tags(filter_string, sort=sort, limit=limit))
    columns = TAG_COLUMNS if fmt in ("table", "csv") else None
    writer = ListWriter(sys.stdout, fmt, columns=columns, key="tags")
    writer.page(page["tags"], page["total_count"])
    writer.close()


@tags_app.command("get")
def tags_get(
    tag_id: Annotated[str, typer.Argument(help="A custom tag's id.")],
    output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
    environment: Environment = None,
) -> None:
    """Show one custom tag.

    Examples:

      skyatlas explorer tags get tag-3f9a0c1d2e4b
    """
    fmt = _format(output)
    with _client(environment) as client:
        tag = _run(lambda: client.explorer.get_tag(tag_id))
    write_document(sys.stdout, tag, fmt)


def _pairs(items: list[str]) -> list[dict[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"bad tag '{item}': expected key=value", USAGE)
        out.append({"key": key, "value": value})
    return out


@tags_app.command("create")
def tags_create(
    tags: Annotated[list[str], typer.Argument(help="key=value pairs (1..100).")],
    project_id: Annotated[
        str | None, typer.Option("--project-id", "-p", help="The tags' project.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until the tags exist.")] = True,
    output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
    environment: Environment = None,
) -> None:
    """Create custom tags in a project (prints their ids).

    Examples:

      skyatlas explorer tags create env=prod team=payments --project-id project-3f9a0c1d2e4b
    """
    fmt = _format(output)
    with _client(environment) as client:
        answer = _run(lambda: client.explorer.create_tags(_pairs(tags), project_id=project_id))
        answer = _wait(client, answer, wait)
    write_document(sys.stdout, answer, fmt)


@tags_app.command("delete")
def tags_delete(
    tag_ids: Annotated[list[str], typer.Argument(help="Custom tag ids (1..100).")],
    wait: Annotated[bool, typer.Option(help="Wait until they are gone.")] = True,
    output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
    environment: Environment = None,
) -> None:
    """Delete custom tags (detaching them from every resource).

    Examples:

      skyatlas explorer tags delete tag-3f9a0c1d2e4b tag-0a1b2c3d4e5f
    """
    fmt = _format(output)
    with _client(environment) as client:
        answer = _wait(client, _run(lambda: client.explorer.delete_tags(tag_ids)), wait)
    write_document(sys.stdout, answer, fmt)


@tags_app.command("attach")
def tags_attach(
    kcrns: Annotated[list[str], typer.Argument(help="Resources' KCRNs (1..100).")],
    connect: Annotated[
        list[str] | None, typer.Option("--connect", "-c", help="Tag id to attach (repeatable).")
    ] = None,
    disconnect: Annotated[
        list[str] | None,
        typer.Option("--disconnect", "-d", help="Tag id to detach (repeatable)."),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until applied.")] = True,
    output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
    environment: Environment = None,
) -> None:
    """Attach and/or detach custom tags on resources.

    Examples:

      skyatlas explorer tags attach 'kcrn:us-east-1:project-3f9a0c1d2e4b:EC2:Instance:i-0abc' \\
          --connect tag-3f9a0c1d2e4b
    """
    fmt = _format(output)
    with _client(environment) as client:
        answer = _run(
            lambda: client.explorer.attach_tags(
                kcrns, connect=connect or [], disconnect=disconnect or []
            )
        )
        answer = _wait(client, answer, wait)
    write_document(sys.stdout, answer, fmt)
