"""The web console, served by `skyatlas serve` under `/console`.

Server-rendered pages (Jinja2) made lively with htmx and drawn with ECharts, both vendored in
`static/` so the console works offline and never asks another host for anything. Every page is
a view over the same verbs the APIs serve (see `calls`), called as the signed-in user.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from skyatlas import __version__
from skyatlas.api.registry import Registry
from skyatlas.console.web import PREFIX, Console, endpoint, json_script
from skyatlas.runtime import Runtime

HERE = Path(__file__).parent
#: One module per area of the console; each holds a `pages` collection of routes.
PAGE_MODULES = ("auth", "home", "iam", "inventory", "explorer", "collection", "cost")


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    env.globals["PREFIX"] = PREFIX
    env.filters["json_script"] = json_script
    return env


def mount_console(app: Any, runtime: Runtime, registry: Registry) -> None:
    console = Console(runtime=runtime, registry=registry, templates=templates())
    for name in PAGE_MODULES:
        module = importlib.import_module(f"skyatlas.console.pages.{name}")
        for route in module.pages.routes:
            app.add_route(route.path, endpoint(console, route), methods=list(route.methods))

    async def root(_request: Any) -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)

    async def bare(_request: Any) -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)

    app.add_route("/", root, methods=["GET"])
    app.add_route(PREFIX, bare, methods=["GET"])
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")
