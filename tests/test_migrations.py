"""The Alembic migrations build exactly the schema `skyatlas.store.tables` describes, on both
backends: a table, column, type, key or index added to one and not the other fails here."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from skyatlas.store.tables import metadata

#: Indexes on expressions: autogenerate cannot compare them (SQLite cannot reflect them,
#: PostgreSQL reflects them as text), so their presence is checked by name instead.
EXPRESSION_INDEXES = {"ix_cloud_services_kcrn"}
#: PostgreSQL-only index made by a migration on purpose (GIN over `data`, for JSONB paths).
PG_ONLY_INDEXES = {"ix_cloud_services_data_path"}
#: On PostgreSQL the cost facts and rollup live in the main database, described by
#: `skyatlas.cost.tables` (partitioned by month: DDL SQLAlchemy metadata cannot express).
PG_COST_TABLES = {"costs", "cost_monthly"}
#: SQLite's FTS5 trigram index (a virtual table and its shadow tables, made by a migration):
#: not something SQLAlchemy metadata describes.
SQLITE_TEXT_INDEX = "cloud_services_text"
#: SQLite's kept resource and tag counts (`skyatlas.store.counts`) and the narrow copy of the rows
#: (`skyatlas.store.text_counts`), described outside the shared metadata.
SQLITE_COUNTS = {"cloud_service_counts", "cloud_service_tag_counts", "cloud_service_names"}
#: PostgreSQL's trigram GIN indexes, the same index's other form.
PG_TRGM_INDEXES = {"ix_cloud_services_search_trgm", "ix_cloud_services_name_trgm"}


def _cost_table(diff: tuple) -> bool:
    kind, item = diff[0], diff[1]
    name = (
        getattr(item, "name", "")
        if kind == "remove_table"
        else getattr(getattr(item, "table", None), "name", "")
    )
    return name in PG_COST_TABLES


def _text_index(diff: tuple) -> bool:
    return diff[0] == "remove_table" and (
        diff[1].name.startswith(SQLITE_TEXT_INDEX) or diff[1].name in SQLITE_COUNTS
    )


def _index_name(diff: tuple) -> str | None:
    return diff[1].name if diff[0] in ("add_index", "remove_index") else None


def test_migrations_match_the_table_definitions(env) -> None:
    with env.runtime.store.engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot reflect expression-based index"
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        if env.backend == "postgres":
            indexes = {
                ix["name"] for table in metadata.tables for ix in inspect(conn).get_indexes(table)
            }
        else:  # SQLite's inspector leaves expression indexes out
            indexes = set(
                conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
                .scalars()
                .all()
            )
    ignored = EXPRESSION_INDEXES | PG_ONLY_INDEXES | PG_TRGM_INDEXES
    unexpected = [
        d
        for d in diffs
        if _index_name(d) not in ignored
        and not (env.backend == "postgres" and _cost_table(d))
        and not _text_index(d)
    ]
    assert unexpected == []
    if env.backend == "postgres":
        assert {d[1].name for d in diffs if d[0] == "remove_table"} == PG_COST_TABLES
    expected = EXPRESSION_INDEXES | (
        PG_ONLY_INDEXES | PG_TRGM_INDEXES if env.backend == "postgres" else set()
    )
    assert indexes >= expected
    if env.backend != "postgres":
        with env.runtime.store.engine.connect() as conn:
            made = conn.exec_driver_sql(
                "SELECT type, name FROM sqlite_master WHERE name LIKE 'cloud_services_text%'"
            ).all()
        assert ("table", SQLITE_TEXT_INDEX) in made
        assert {n for t, n in made if t == "trigger"} == {
            f"{SQLITE_TEXT_INDEX}_{event}" for event in ("insert", "delete", "update")
        }
