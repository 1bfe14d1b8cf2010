"""cost budgets and the threshold notices already sent

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMP = skyatlas.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("budget_id", Str(40), nullable=False),
        sa.Column("name", Str(255), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("project_id", Str(40), nullable=True),
        sa.Column("data_source_id", Str(40), nullable=True),
        sa.Column("time_unit", Str(16), nullable=False),
        sa.Column("limit", sa.Float(), nullable=True),
        sa.Column("planned_limits", JSON, nullable=False),
        sa.Column("start", Str(7), nullable=False),
        sa.Column("end", Str(7), nullable=False),
        sa.Column("currency", Str(8), nullable=False),
        sa.Column("notification", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("budget_id", name=op.f("pk_budgets")),
    )
    op.create_index("ix_budgets_workspace", "budgets", ["domain_id", "workspace_id"])
    op.create_table(
        "budget_notices",
        sa.Column("budget_id", Str(40), nullable=False),
        sa.Column("period", Str(16), nullable=False),
        sa.Column("threshold_key", Str(64), nullable=False),
        sa.Column("notice_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("job_id", Str(40), nullable=True),
        sa.Column("status", Str(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notified_at", TIMESTAMP, nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint(
            "budget_id", "period", "threshold_key", name=op.f("pk_budget_notices")
        ),
        sa.UniqueConstraint("notice_id", name=op.f("uq_budget_notices_notice_id")),
    )


def downgrade() -> None:
    op.drop_table("budget_notices")
    op.drop_index("ix_budgets_workspace", table_name="budgets")
    op.drop_table("budgets")
