"""Planner statistics: without them both backends pick poor plans on large inventories.

SQLite never gathers statistics by itself, and PostgreSQL only when autovacuum catches up with a
table that grew fast (a bulk import). With them, a tag filter starts from the tag index and a
count is answered from a covering index; without them, the same queries scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from skyatlas.store.engine import Store

#: 0 = SQLite reads every index entry. A sampling limit reads only the first entries of each
#: index, which on a store dominated by one workspace and one provider all share their leading
#: values: the estimates came out 500x off at a million resources, and counts then walked the
#: table (6 s) instead of a covering index (0.14 s). A full ANALYZE costs ~3 s per million
#: resources, and runs only after an import, the demo load, or on a store never analysed.
SQLITE_ANALYSIS_LIMIT = 0
TABLES = ("cloud_services", "cloud_service_tags")


def refresh(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        conn.exec_driver_sql("ANALYZE")
        return
    for table in TABLES:
        conn.exec_driver_sql(f"ANALYZE {table}")


def settle(store: Store) -> None:
    """After a bulk write: fresh statistics, and on PostgreSQL the visibility map too.

    A count there is an index-only scan only for pages the map marks all-visible, and pages
    written since the last vacuum are not: right after importing a million resources, the
    explorer's count of a tag held by 449,100 of them fetched heap pages for every entry (81 ms
    against 42 ms once vacuumed). Autovacuum gets there eventually; `VACUUM` of the two tables
    takes about 4 s per million resources. It cannot run inside a transaction."""
    if store.dialect != "postgresql":
        with store.begin() as conn:
            refresh(conn)
        return
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def missing(conn: Connection) -> bool:
    """True on a SQLite store that was never analysed (PostgreSQL's autovacuum covers it)."""
    if conn.dialect.name != "sqlite":
        return False
    found = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    return found is None
