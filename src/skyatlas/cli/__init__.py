"""The `skyatlas` command."""
