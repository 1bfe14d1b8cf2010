"""web console sign-in sessions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = skyatlas.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("session_hash", Str(64), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("user_id", Str(128), nullable=False),
        sa.Column("csrf_token", Str(64), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=True),
        sa.Column("admin_mode", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["domain_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_user", table_name="console_sessions")
    op.drop_table("console_sessions")
