"""`skyatlas`: serve the API, and (as it grows) talk to a running server.

Heavy modules (FastAPI, SQLAlchemy, uvicorn) are imported inside the commands that need them, so
`skyatlas --help` and client commands start quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyatlas import __version__
from skyatlas.cli.explorer_cmd import explorer_app
from skyatlas.cli.root import RootGroup
from skyatlas.cli.setting_cmd import setting_app

#: Where a command finds the store (serve documents its own, longer, variants).
StoreDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The embedded store's directory [default: ./skyatlas-data]."),
]
StoreUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL [env: SKYATLAS_DATABASE_URL]."),
]

app = typer.Typer(
    name="skyatlas",
    cls=RootGroup,
    help="Inventory, search, tagging and cost analysis of cloud resources.\n\n"
    "Server verbs: skyatlas SERVICE VERB RESOURCE \\[flags], e.g. "
    "`skyatlas inventory list CloudService -p provider=aws`; "
    "`skyatlas SERVICE api-resources` lists them. Exit codes: 0 ok, 1 the server refused, "
    "2 bad command line or settings, 3 server unreachable, 4 authentication or permission.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"skyatlas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """skyatlas keeps a live inventory of cloud resources and speaks the SpaceONE and Resource
    Explorer APIs."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the embedded store, the key file and bootstrap.json live "
            "[default: ./skyatlas-data or SKYATLAS_DATA_DIR].",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="PostgreSQL URL (postgresql+psycopg://user@host/db) instead of the embedded "
            "store [env: SKYATLAS_DATABASE_URL].",
        ),
    ] = None,
    demo: Annotated[bool, typer.Option(help="Load the demo organisation on start.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Threads applying queued work (tag operations); 0 only accepts it, for API-only "
            "processes beside `skyatlas worker` [default: 1 or SKYATLAS_WORKERS].",
        ),
    ] = None,
) -> None:
    """Start the API server. The first start of an empty store creates the admin app and
    writes its secret to DATA_DIR/bootstrap.json.

    Examples:

      skyatlas serve --demo

      skyatlas serve --database-url postgresql+psycopg://postgres@127.0.0.1/skyatlas
    """
    from skyatlas.cli.serve import run_server
    from skyatlas.config import Settings

    settings = Settings.from_env(
        host=host, port=port, data_dir=data_dir, database_url=database_url, workers=workers
    )
    run_server(settings, demo=demo)


@app.command()
def worker(
    data_dir: StoreDir = None,
    database_url: StoreUrl = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")] = 2,
    once: Annotated[
        bool, typer.Option("--once", help="Apply everything queued now, then exit.")
    ] = False,
) -> None:
    """Apply queued work (tag operations, collections, scheduled runs) without serving HTTP:
    run as many as you like beside `skyatlas serve --workers 0` on one PostgreSQL database.
    Stops on Ctrl-C or SIGTERM.

    Examples:

      skyatlas worker --database-url postgresql+psycopg://postgres@db/skyatlas --threads 4

      skyatlas worker --once
    """
    import signal
    import threading

    from skyatlas.cli.serve import console, prepare
    from skyatlas.config import Settings
    from skyatlas.jobs.wiring import build_workers

    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    runtime, _ = prepare(settings)
    workers = build_workers(runtime, threads)
    try:
        if once:
            console.print(f"skyatlas: applied {workers.drain()} queued job(s)")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        workers.start()
        console.print(f"skyatlas: worker running with {threads} thread(s)")
        stop.wait()
        workers.stop()
    finally:
        runtime.close()


app.add_typer(setting_app, name="setting")
app.add_typer(explorer_app, name="explorer")

import_app = typer.Typer(
    help="Load resources or costs into the store from files.", no_args_is_help=True
)
DEFAULT_COST_IMPORT = "focus-import"
app.add_typer(import_app, name="import")


@import_app.command("cloud-services")
def import_cloud_services(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="JSON Lines or JSON array of cloud-service create bodies.",
        ),
    ],
    data_dir: StoreDir = None,
    database_url: StoreUrl = None,
    workspace_id: Annotated[
        str | None,
        typer.Option("--workspace-id", help="Target workspace [default: the 'default' workspace]."),
    ] = None,
    project_id: Annotated[
        str | None, typer.Option("--project-id", help="Project for records that name none.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=50000, help="Records per transaction.")
    ] = 5000,
) -> None:
    """Import cloud services, upserted by their collection key (provider, group, type,
    account, reference.resource_id): importing the same file again creates nothing new.
    Works while `skyatlas serve` runs on the same store.

    Examples:

      skyatlas import cloud-services resources.jsonl

      skyatlas import cloud-services export.json --project-id project-3f9a0c1d2e4b
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skyatlas.cli.serve import console, prepare
    from skyatlas.config import Settings
    from skyatlas.errors import SkyatlasError
    from skyatlas.inventory.importer import import_cloud_services as run_import

    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    runtime, _ = prepare(settings)
    size = file.stat().st_size or 1
    try:
        with Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%  {task.fields[records]:,} records"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("import", total=size, records=0)

            def progress(records: int, position: int) -> None:
                bar.update(task, completed=min(position, size), records=records)

            result = run_import(
                runtime.store,
                file,
                workspace_id=workspace_id,
                project_id=project_id,
                batch_size=batch_size,
                progress=progress,
            )
    except SkyatlasError as exc:
        console.print(f"skyatlas: import failed: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    console.print(
        f"skyatlas: {result.read:,} records read, {result.created:,} created, "
        f"{result.updated:,} updated"
    )


@import_app.command("costs")
def import_costs_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            help="FOCUS files: CSV (plain or .gz) or Parquet, or directories of them.",
        ),
    ],
    data_source_id: Annotated[
        str | None, typer.Option("--data-source-id", help="A focus data source to load into.")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help=f"Data source name in the default workspace, created if missing "
            f"(default: {DEFAULT_COST_IMPORT}).",
        ),
    ] = None,
    data_dir: StoreDir = None,
    database_url: StoreUrl = None,
) -> None:
    """Import FOCUS cost files into a data source through the same sync a scheduled sync
    runs: the months the files cover are replaced atomically; nothing changes if a file is
    unreadable. Runs the sync here, or, while `skyatlas serve` owns the embedded cost store,
    hands it to the server and waits.

    Examples:

      skyatlas import costs focus-2024-09.csv.gz

      skyatlas import costs exports/ --name aws-billing
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from skyatlas.cli.serve import console, prepare
    from skyatlas.config import Settings
    from skyatlas.cost.importer import import_costs
    from skyatlas.errors import SkyatlasError

    if data_source_id and name:
        console.print("skyatlas: give --data-source-id or --name, not both")
        raise typer.Exit(2)
    base = Settings.from_env(data_dir=data_dir, database_url=database_url)
    # Files named on the command line may be read wherever they are.
    roots = tuple(
        dict.fromkeys(
            [
                *base.allowed_import_roots,
                *(f.resolve().parent for f in files),
                *(f.resolve() for f in files if f.is_dir()),
            ]
        )
    )
    settings = Settings.from_env(data_dir=data_dir, database_url=database_url, import_roots=roots)
    runtime, _ = prepare(settings)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]importing costs"),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("import", total=None, rows=0)
            result = import_costs(
                runtime,
                files,
                data_source_id=data_source_id,
                name=name,
                progress=lambda rows: bar.update(task, rows=rows),
            )
            bar.update(task, rows=result.rows)
    except SkyatlasError as exc:
        console.print(f"skyatlas: import failed: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    where = "" if result.ran_here else " (by the running server)"
    if result.status != "SUCCESS":
        console.print(f"skyatlas: import {result.status}{where}: {result.reason}")
        raise typer.Exit(1)
    months = ", ".join(result.months) or "none"
    console.print(
        f"skyatlas: {result.rows:,} cost rows loaded into {result.data_source_id}{where}; "
        f"months replaced: {months} (job {result.job_id})"
    )


def main() -> None:
    from skyatlas.cli.entry import main as entry

    entry()
