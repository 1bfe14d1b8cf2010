"""The root command group: Typer's static commands, plus one command per server service."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from skyatlas.cli import reflection
from skyatlas.cli.verbs import EPILOG, complete_resource, complete_verb, run_service


def _verb_words(ctx: typer.Context, incomplete: str) -> list[str]:
    return complete_verb(ctx.info_name or "", incomplete)


def _resource_words(ctx: typer.Context, incomplete: str) -> list[str]:
    return complete_resource(ctx.info_name or "", ctx.params.get("verb") or "", incomplete)


def _service_entry(service: str) -> Any:
    """A Typer-side stand-in for `skyatlas <service>`: it lists the service in `--help` and
    completes verbs and resources in the shell, and hands a call to the click command in
    `skyatlas.cli.verbs` (which `skyatlas.cli.entry` runs directly for every real call)."""
    sub = typer.Typer(add_completion=False)

    @sub.command(
        name=service,
        help=f"Call a verb of the {service} service: skyatlas {service} VERB RESOURCE \\\\[flags]."
        f" `skyatlas {service} api-resources` lists its resources and verbs.",
        short_help=f"Verbs of the {service} service (from the server's reflection).",
        epilog=EPILOG,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    def passthrough(
        ctx: typer.Context,
        verb: Annotated[str | None, typer.Argument(autocompletion=_verb_words)] = None,
        resource: Annotated[str | None, typer.Argument(autocompletion=_resource_words)] = None,
    ) -> None:
        words = [w for w in (verb, resource) if w is not None]
        run_service(service, [*words, *ctx.args])

    cmd = typer.main.get_command(sub)
    cmd.name = service
    return cmd


class RootGroup(TyperGroup):
    """Static commands first; any other name is a service the server may have."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name.startswith("-"):
            return command
        return _service_entry(cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        static = super().list_commands(ctx)
        return static + [s for s in reflection.all_cached_services() if s not in static]
