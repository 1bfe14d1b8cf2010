"""Start-up of `skyatlas serve`: migrate, bootstrap, demo data, then uvicorn until a signal."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console

from skyatlas.config import Settings

# soft_wrap: paths and URLs are printed whole even when the output is a log, not a terminal.
console = Console(stderr=True, highlight=False, soft_wrap=True)


def prepare(settings: Settings, *, demo: bool = False):  # type: ignore[no-untyped-def]
    """Open the store, migrate it, bootstrap it; returns the runtime and the bootstrap result."""
    from skyatlas.demo import load_demo
    from skyatlas.identity.bootstrap import bootstrap
    from skyatlas.runtime import Runtime
    from skyatlas.store import statistics
    from skyatlas.store.migrate import upgrade

    runtime = Runtime.open(settings)
    result = {}

    def after(conn):  # type: ignore[no-untyped-def]
        result["bootstrap"] = boot = bootstrap(conn, runtime)
        if demo:
            result["demo"] = load_demo(conn, boot.domain_id)
        if result.get("demo") or statistics.missing(conn):
            statistics.refresh(conn)

    upgrade(runtime.store, after=after)
    if demo:
        from skyatlas.cost.demo import load_demo_costs

        result["demo_costs"] = load_demo_costs(runtime, result["bootstrap"].domain_id)
    return runtime, result


def _server_class():  # type: ignore[no-untyped-def]
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that a SIGTERM/SIGINT that it handled gracefully ends the
        process with exit code 0 instead of being re-raised after shutdown."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    self._captured_signals.clear()

    return Server


def _own_cost_store(runtime: Any) -> None:
    """Open the cost store now: the embedded one has one owner process, and a server that
    owns it from the start is where `skyatlas import costs` sends its work."""
    from skyatlas.cost.store import CostStoreBusy

    try:
        runtime.costs  # noqa: B018
    except CostStoreBusy as exc:
        console.print(f"skyatlas: {exc.message}; cost requests will retry it")


def run_server(settings: Settings, *, demo: bool = False) -> None:
    import uvicorn

    from skyatlas.api.app import create_app
    from skyatlas.crypto import SecretKeyError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        runtime, result = prepare(settings, demo=demo)
    except SecretKeyError as exc:
        console.print(f"skyatlas: cannot start: {exc}")
        sys.exit(2)
    boot = result["bootstrap"]
    store = "PostgreSQL" if settings.is_postgres else f"SQLite in {settings.data_dir.resolve()}"
    console.print(f"skyatlas: store is {store}")
    if boot.created:
        console.print(f"skyatlas: created the admin app; its client secret is in {boot.path}")
        console.print(
            "skyatlas: to use it from the CLI: "
            f"skyatlas setting init local --data-dir {settings.data_dir}"
        )
    elif boot.path.exists():
        console.print(f"skyatlas: admin client secret in {boot.path}")
    if result.get("demo"):
        console.print("skyatlas: loaded the demo organisation")
    if result.get("demo_costs"):
        console.print(f"skyatlas: loaded {result['demo_costs']:,} demo cost rows")
    _own_cost_store(runtime)
    console.print(f"skyatlas: serving on {settings.endpoint}  (API docs: {settings.endpoint}/docs)")
    console.print(
        f"skyatlas: web console on {settings.endpoint}/console  (user admin; its first password "
        f"is admin_password in {boot.path})"
    )
    app = create_app(runtime)
    try:
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info")
        _server_class()(config).run()
    finally:
        runtime.close()
