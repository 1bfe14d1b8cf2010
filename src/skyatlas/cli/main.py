"""`skyatlas`: serve the API, and (as it grows) talk to a running server.

Heavy modules (FastAPI, SQLAlchemy, uvicorn) are imported inside the commands that need them, so
`skyatlas --help` and client commands start quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyatlas import __version__

app = typer.Typer(
    name="skyatlas",
    help="Inventory, search, tagging and cost analysis of cloud resources.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
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
) -> None:
    """Start the API server. The first start of an empty store creates the admin app and
    writes its secret to DATA_DIR/bootstrap.json.

    Examples:

      skyatlas serve --demo

      skyatlas serve --database-url postgresql+psycopg://postgres@127.0.0.1/skyatlas
    """
    from skyatlas.cli.serve import run_server
    from skyatlas.config import Settings

    settings = Settings.from_env(host=host, port=port, data_dir=data_dir, database_url=database_url)
    run_server(settings, demo=demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
