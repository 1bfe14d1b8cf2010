"""Start-up of `skyatlas serve`: migrate, bootstrap, demo data, then uvicorn until a signal."""

from __future__ import annotations

import logging

from rich.console import Console

from skyatlas.config import Settings

console = Console(stderr=True, highlight=False)


def prepare(settings: Settings, *, demo: bool = False):  # type: ignore[no-untyped-def]
    """Open the store, migrate it, bootstrap it; returns the runtime and the bootstrap result."""
    from skyatlas.demo import load_demo
    from skyatlas.identity.bootstrap import bootstrap
    from skyatlas.runtime import Runtime
    from skyatlas.store.migrate import upgrade

    runtime = Runtime.open(settings)
    result = {}

    def after(conn):  # type: ignore[no-untyped-def]
        result["bootstrap"] = boot = bootstrap(conn, runtime)
        if demo:
            result["demo"] = load_demo(conn, boot.domain_id)

    upgrade(runtime.store, after=after)
    return runtime, result


def run_server(settings: Settings, *, demo: bool = False) -> None:
    import uvicorn

    from skyatlas.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    runtime, result = prepare(settings, demo=demo)
    boot = result["bootstrap"]
    store = "PostgreSQL" if settings.is_postgres else f"SQLite in {settings.data_dir.resolve()}"
    console.print(f"skyatlas: store is {store}")
    if boot.created:
        console.print(f"skyatlas: created the admin app; its client secret is in {boot.path}")
    elif boot.path.exists():
        console.print(f"skyatlas: admin client secret in {boot.path}")
    if result.get("demo"):
        console.print("skyatlas: loaded the demo organisation")
    console.print(f"skyatlas: serving on {settings.endpoint}  (API docs: {settings.endpoint}/docs)")
    app = create_app(runtime)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        runtime.close()
