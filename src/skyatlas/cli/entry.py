"""The `skyatlas` entry point.

A server call (`skyatlas inventory list Region`) goes straight to the click command of
`skyatlas.cli.verbs` without importing Typer or the server's modules: start-up to first
request stays well under 0.3 s. Everything else (`serve`, `setting`, `--help`, completion)
goes through the Typer application in `skyatlas.cli.main`.
"""

from __future__ import annotations

import os
import sys

from skyatlas.cli.root_names import STATIC_COMMANDS


def main(argv: list[str] | None = None) -> None:
    """An unexpected error prints one line (exit code 70), never a traceback, unless
    SKYATLAS_DEBUG=1 asks for it."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if (
            args
            and not args[0].startswith("-")
            and args[0] not in STATIC_COMMANDS
            and not any(k.endswith("_COMPLETE") and k.startswith("_SKYATLAS") for k in os.environ)
        ):
            from skyatlas.cli.verbs import run_service

            run_service(args[0], args[1:])
        else:
            from skyatlas.cli.main import app

            app(args=args, prog_name="skyatlas")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SKYATLAS_DEBUG"):
            raise
        sys.stderr.write(f"skyatlas: internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(70)
