"""Planner statistics: without them both backends pick poor plans on large inventories.

SQLite never gathers statistics by itself, and PostgreSQL only when autovacuum catches up with a
table that grew fast (a bulk import). With them, a tag filter starts from the tag index and a
count is answered from a covering index; without them, the same queries scan.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: Rows SQLite samples per index: approximate statistics in milliseconds instead of a full scan.
SQLITE_ANALYSIS_LIMIT = 2000
TABLES = ("cloud_services", "cloud_service_tags")


def refresh(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")
        return
    for table in TABLES:
        conn.exec_driver_sql(f"ANALYZE {table}")


def missing(conn: Connection) -> bool:
    """True on a SQLite store that was never analysed (PostgreSQL's autovacuum covers it)."""
    if conn.dialect.name != "sqlite":
        return False
    found = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    return found is None
