"""Opening the store: one SQLAlchemy engine per process, tuned per backend."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from skyatlas.config import Settings


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _regexp_search(pattern: str, value: Any) -> bool:
    """SQLite has no regular expressions; the same case-insensitive search PostgreSQL's ~*
    does, with Python's `re` (patterns are validated before they get here)."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    return _compiled(pattern).search(value) is not None


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run while one writer commits; busy_timeout makes writers queue instead of
    # failing with "database is locked" when the server and an import run side by side.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    # A 2 MB default page cache thrashes on a million resources; 32 MB per connection keeps
    # the hot index pages in memory. Checkpoint every ~40 MB of WAL instead of every 4 MB.
    cur.execute("PRAGMA cache_size=-32768")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()
    dbapi_conn.create_function("skyatlas_lower", 1, _unicode_lower, deterministic=True)
    dbapi_conn.create_function("skyatlas_regexp", 2, _regexp_search, deterministic=True)
    # pysqlite's own transaction handling would defer BEGIN; we emit it ourselves (see below).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # A writing transaction takes the write lock up front (BEGIN IMMEDIATE): a deferred one that
    # reads first and writes later fails at once with "database is locked" if another writer
    # committed in between, and busy_timeout cannot help it. Readers stay deferred so they never
    # wait for each other.
    if conn.get_execution_options().get("skyatlas_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> Engine:
    # orjson for every JSON column: several times faster than the standard library, which
    # matters when a bulk import serialises four JSON documents per resource.
    json_options = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            **json_options,
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **json_options)


@dataclass
class Store:
    """The process's handle on the database. Services take a `Connection` from it per request."""

    engine: Engine
    settings: Settings

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self, *, write: bool = True) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        `write=False` marks a read-only transaction, which on SQLite does not take the write lock.
        """
        with self.engine.connect() as conn:
            conn.execution_options(skyatlas_write=write)
            with conn.begin():
                yield conn

    def read(self) -> AbstractContextManager[Connection]:
        return self.begin(write=False)

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings) -> Store:
    if not settings.database_url:
        # The store holds sealed secrets and everyone's inventory: private to its owner.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Store(engine=make_engine(settings.store_url), settings=settings)
