"""The store: one schema on SQLite (embedded) or PostgreSQL (scale-out), migrated with Alembic."""

from skyatlas.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
