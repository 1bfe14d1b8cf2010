"""Bring a store's schema to the newest revision, safely from several processes at once.

PostgreSQL: a transaction-scoped advisory lock serialises concurrent starters, so two servers
starting together never both run a migration. SQLite: the write lock of BEGIN IMMEDIATE does the
same (the whole upgrade is one transaction on SQLite, whose DDL is transactional).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from skyatlas.store.engine import Store

MIGRATIONS = Path(__file__).with_name("migrations")
#: Arbitrary constant identifying skyatlas's migration lock among other advisory-lock users.
_PG_LOCK_KEY = 0x5C7A71A5


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, *, after: Callable[[Connection], None] | None = None) -> None:
    """Migrate to head, then run `after` (the bootstrap) under the same lock and transaction."""
    with store.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        if current_revision(conn) != head_revision():
            command.upgrade(alembic_config(conn), "head")
        if after is not None:
            after(conn)
