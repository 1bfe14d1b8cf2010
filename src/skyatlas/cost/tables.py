"""The cost facts and their monthly rollup, as SQLAlchemy tables for building queries.

They live in the cost store (DuckDB on the embedded store, PostgreSQL at scale), not in the
main metadata: Alembic never creates them on SQLite. The column types here only steer query
building; the real DDL is the backend's (`MAP` columns on DuckDB, `jsonb` on PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table

cost_metadata = MetaData()

#: Dimensions both tables share (the rollup groups the facts by these, per month).
DIMENSIONS = (
    "data_source_id",
    "domain_id",
    "workspace_id",
    "project_id",
    "service_account_id",
    "account_id",
    "provider",
    "region_code",
    "region_key",
    "product",
    "usage_type",
    "usage_unit",
)


def _dimensions() -> list[Column]:
    return [Column(name, String) for name in DIMENSIONS]


costs = Table(
    "costs",
    cost_metadata,
    Column("cost_id", String, primary_key=True),
    Column("cost", Float),
    Column("usage_quantity", Float),
    *_dimensions(),
    Column("resource", String),
    Column("tags", String),
    Column("additional_info", String),
    Column("data", String),
    Column("billed_date", String),
    Column("billed_month", String),
    Column("billed_year", String),
    Column("sync_id", String),
)

#: One row per month and dimension combination (tags included): what MONTHLY and YEARLY
#: analyses over the usual keys read instead of the facts.
cost_monthly = Table(
    "cost_monthly",
    cost_metadata,
    *_dimensions(),
    Column("tags", String),
    Column("billed_month", String),
    Column("billed_year", String),
    Column("cost", Float),
    Column("usage_quantity", Float),
    Column("row_count", Integer),
)

#: Columns of a Cost record as the API returns it, in order.
RECORD_COLUMNS = (
    "cost_id",
    "cost",
    "usage_quantity",
    "usage_unit",
    "provider",
    "region_code",
    "region_key",
    "product",
    "usage_type",
    "resource",
    "tags",
    "additional_info",
    "data",
    "domain_id",
    "workspace_id",
    "project_id",
    "service_account_id",
    "data_source_id",
    "account_id",
    "billed_year",
    "billed_month",
    "billed_date",
)
