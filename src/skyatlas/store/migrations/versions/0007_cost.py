"""cost data sources and sync jobs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

The cost rows themselves live in the cost store (DuckDB embedded; on PostgreSQL the cost
tables are created by the cost store on first use, partitioned by month).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMP = skyatlas.store.types.UTCDateTime(timezone=True)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "data_sources",
        sa.Column("data_source_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("resource_group", Str(16), nullable=False),
        sa.Column("name", Str(255), nullable=False),
        sa.Column("state", Str(16), nullable=False),
        sa.Column("data_source_type", Str(16), nullable=False),
        sa.Column("provider", Str(64), nullable=True),
        sa.Column("secret_type", Str(32), nullable=False),
        sa.Column("secret_filter", JSON, nullable=False),
        sa.Column("plugin_info", JSON, nullable=False),
        sa.Column("schedule", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("cost_tag_keys", JSON, nullable=False),
        sa.Column("cost_additional_info_keys", JSON, nullable=False),
        sa.Column("cost_data_keys", JSON, nullable=False),
        sa.Column("months", JSON, nullable=False),
        sa.Column("last_synchronized_at", TIMESTAMP, nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("data_source_id", name=op.f("pk_data_sources")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_data_sources_workspace_id_name")),
    )
    op.create_table(
        "cost_jobs",
        sa.Column("job_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("data_source_id", Str(40), nullable=False),
        sa.Column("status", Str(16), nullable=False),
        sa.Column("trigger", Str(16), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("months", JSON, nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_cost_jobs")),
    )
    op.create_index(
        "ix_cost_jobs_data_source", "cost_jobs", ["data_source_id", "created_at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        _pg_cost_tables()


_DIMENSIONS = (
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


def _pg_cost_tables() -> None:
    """On PostgreSQL the cost facts live here, partitioned by month (partitions are created
    by the cost store as months appear)."""
    dims = ", ".join(f'{d} text COLLATE "C"' for d in _DIMENSIONS)
    op.execute(
        f"""CREATE TABLE costs (
            cost_id text COLLATE "C" NOT NULL,
            cost double precision,
            usage_quantity double precision,
            {dims},
            resource text,
            tags jsonb,
            additional_info jsonb,
            data jsonb,
            billed_date text COLLATE "C" NOT NULL,
            billed_month text COLLATE "C" NOT NULL,
            billed_year text COLLATE "C" NOT NULL,
            sync_id text
        ) PARTITION BY LIST (billed_month)"""
    )
    op.execute("CREATE INDEX ix_costs_data_source_date ON costs (data_source_id, billed_date)")
    op.execute("CREATE INDEX ix_costs_cost_id ON costs (cost_id)")
    op.execute("CREATE INDEX ix_costs_sync ON costs (sync_id)")
    op.execute(
        f"""CREATE TABLE cost_monthly (
            {dims},
            tags jsonb,
            billed_month text COLLATE "C" NOT NULL,
            billed_year text COLLATE "C" NOT NULL,
            cost double precision,
            usage_quantity double precision,
            row_count bigint
        )"""
    )
    op.execute(
        "CREATE INDEX ix_cost_monthly_data_source_month ON cost_monthly "
        "(data_source_id, billed_month)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS cost_monthly")
        op.execute("DROP TABLE IF EXISTS costs")
    op.drop_index("ix_cost_jobs_data_source", table_name="cost_jobs")
    op.drop_table("cost_jobs")
    op.drop_table("data_sources")
