"""`skyatlas setting …`: environments (endpoint + token) the other commands talk to."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from skyatlas.cli.exits import USAGE, fail
from skyatlas.cli.settings import (
    Environment,
    Settings,
    SettingsError,
    environment_name,
    validate_endpoint,
)

setting_app = typer.Typer(
    help="Environments (an endpoint and a token) the client commands use, like cfctl's.",
    no_args_is_help=True,
)
init_app = typer.Typer(
    help="Create an environment and make it the current one.", no_args_is_help=True
)
setting_app.add_typer(init_app, name="init")


def _load() -> Settings:
    try:
        return Settings.load()
    except SettingsError as exc:
        fail(str(exc), USAGE)


def _activate(settings: Settings, env: Environment) -> None:
    previous = settings.environments.get(env.name)
    if previous and previous.endpoint == env.endpoint and not env.token:
        env.token = previous.token
    settings.environments[env.name] = env
    settings.current = env.name
    settings.save()


@init_app.command("proxy")
def init_proxy(
    url: Annotated[
        str, typer.Argument(help="The server's address, e.g. https://skyatlas.example.com")
    ],
    app: Annotated[
        bool, typer.Option("--app", help="Authenticate with an app's client secret (the default).")
    ] = True,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Environment name (default: made from the host)."),
    ] = None,
) -> None:
    """Point the CLI at a server. Then set the app's client secret with `skyatlas setting token`.

    Examples:

      skyatlas setting init proxy https://skyatlas.example.com --app

      skyatlas setting init proxy http://127.0.0.1:8000 --app --name dev
    """
    try:
        endpoint = validate_endpoint(url)
    except SettingsError as exc:
        fail(str(exc), USAGE)
    env_name = name or environment_name(endpoint, suffix="app" if app else "")
    settings = _load()
    _activate(settings, Environment(name=env_name, endpoint=endpoint))
    typer.echo(f"environment '{env_name}' now points at {endpoint}")
    if not settings.environments[env_name].token:
        typer.echo("next: skyatlas setting token <client_secret>")


@init_app.command("local")
def init_local(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="The data directory `skyatlas serve` uses.")
    ] = Path("skyatlas-data"),
    name: Annotated[str, typer.Option("--name", "-n", help="Environment name.")] = "local",
) -> None:
    """Use the admin secret a local `skyatlas serve` wrote to DATA_DIR/bootstrap.json.

    Examples:

      skyatlas setting init local

      skyatlas setting init local --data-dir /srv/skyatlas
    """
    path = data_dir / "bootstrap.json"
    try:
        boot = json.loads(path.read_text(encoding="utf-8"))
        endpoint, token = validate_endpoint(boot["endpoint"]), boot["client_secret"]
    except FileNotFoundError:
        fail(f"{path} does not exist: start `skyatlas serve` once to create it", USAGE)
    except (OSError, ValueError, KeyError, TypeError, SettingsError) as exc:
        fail(f"{path} is not a skyatlas bootstrap file ({exc})", USAGE)
    settings = _load()
    _activate(settings, Environment(name=name, endpoint=endpoint, token=token))
    typer.echo(f"environment '{name}' now points at {endpoint} with the bootstrap admin app")


@setting_app.command("token")
def set_token(
    token: Annotated[
        str | None,
        typer.Argument(help="The app's client_secret; read from stdin when omitted."),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option("--environment", "-e", help="Environment to set (default: the current one)."),
    ] = None,
) -> None:
    """Store the client secret of an app for the current environment.

    Examples:

      skyatlas setting token eyJhbGciOiJFZERTQSIs…

      jq -r .client_secret app.json | skyatlas setting token
    """
    if token is None:
        token = (
            typer.prompt("client secret", hide_input=True)
            if sys.stdin.isatty()
            else sys.stdin.read()
        )
    token = token.strip()
    if not token:
        fail("the token is empty", USAGE)
    settings = _load()
    try:
        env = settings.environment(environment)
    except SettingsError as exc:
        fail(str(exc), USAGE)
    env.token = token
    settings.save()
    typer.echo(f"token set for environment '{env.name}'")


@setting_app.command("environment")
def environment_cmd(
    list_: Annotated[bool, typer.Option("--list", "-l", help="List the environments.")] = False,
    switch: Annotated[
        str | None, typer.Option("--switch", "-s", help="Make NAME the current environment.")
    ] = None,
    remove: Annotated[str | None, typer.Option("--remove", "-r", help="Delete NAME.")] = None,
) -> None:
    """List, switch or remove environments. Without options, print the current one.

    Examples:

      skyatlas setting environment -l

      skyatlas setting environment -s prod-app
    """
    settings = _load()
    if switch:
        if switch not in settings.environments:
            fail(f"no environment named '{switch}'", USAGE)
        settings.current = switch
        settings.save()
        typer.echo(f"current environment: {switch}")
    if remove:
        if remove not in settings.environments:
            fail(f"no environment named '{remove}'", USAGE)
        del settings.environments[remove]
        if settings.current == remove:
            settings.current = None
        settings.save()
        typer.echo(f"removed environment '{remove}'")
    if list_:
        for name, env in sorted(settings.environments.items()):
            mark = "*" if name == settings.current else " "
            typer.echo(f"{mark} {name}\t{env.endpoint or '-'}")
    elif not (switch or remove):
        if not settings.current:
            fail("no environment is set up; run `skyatlas setting init proxy <URL> --app`", USAGE)
        typer.echo(settings.current)


def _mask(token: str | None) -> str | None:
    if not token:
        return None
    return token[:8] + "…" + f" ({len(token)} characters)"


@setting_app.command("show")
def show(
    output: Annotated[
        str, typer.Option("--output", "-o", help="yaml or json.", case_sensitive=False)
    ] = "yaml",
    reveal: Annotated[bool, typer.Option("--reveal", help="Print the token in full.")] = False,
) -> None:
    """Show the current environment (the token is shortened unless --reveal).

    Examples:

      skyatlas setting show

      skyatlas setting show -o json
    """
    if output not in ("yaml", "json"):
        fail(f"--output must be yaml or json, not '{output}'", USAGE)
    settings = _load()
    try:
        env = settings.environment()
    except SettingsError as exc:
        fail(str(exc), USAGE)
    shown = {
        "environment": env.name,
        "endpoint": env.endpoint,
        "token": env.token if reveal else _mask(env.token),
        "settings_file": str(settings.path),
    }
    if output == "json":
        typer.echo(json.dumps(shown, indent=2))
    else:
        import yaml

        typer.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).rstrip())
