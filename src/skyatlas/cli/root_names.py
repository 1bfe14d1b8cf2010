"""Names of the commands the CLI itself defines; any other first word is a server service.

Kept apart from the Typer application so the entry point can route without importing it
(a test checks this set against the application's commands).
"""

STATIC_COMMANDS = frozenset({"serve", "worker", "setting", "import", "explorer"})
