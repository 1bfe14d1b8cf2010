"""local users and their role bindings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Stores bootstrapped before this revision get no admin user: their first credential stays the
bootstrap admin app, which can create users.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMP = skyatlas.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("user_id", Str(128), nullable=False),
        sa.Column("name", Str(255), nullable=True),
        sa.Column("email", Str(255), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("state", Str(16), nullable=False),
        sa.Column("required_actions", JSON, nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", TIMESTAMP, nullable=True),
        sa.Column("tokens_valid_after", TIMESTAMP, nullable=False),
        sa.Column("last_accessed_at", TIMESTAMP, nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("domain_id", "user_id", name=op.f("pk_users")),
    )
    op.create_table(
        "role_bindings",
        sa.Column("role_binding_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("user_id", Str(128), nullable=False),
        sa.Column("role_id", Str(40), nullable=False),
        sa.Column("role_type", Str(24), nullable=False),
        sa.Column("resource_group", Str(16), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=True),
        sa.Column("project_id", Str(40), nullable=True),
        sa.Column("project_group_id", Str(40), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("role_binding_id", name=op.f("pk_role_bindings")),
        sa.UniqueConstraint(
            "domain_id",
            "user_id",
            "workspace_id",
            name=op.f("uq_role_bindings_domain_id_user_id_workspace_id"),
        ),
    )
    op.create_index(op.f("ix_role_bindings_role_id"), "role_bindings", ["role_id"])
    op.create_index(op.f("ix_role_bindings_workspace_id"), "role_bindings", ["workspace_id"])
    # At most one DOMAIN binding (workspace_id NULL) per user: NULLs never collide above.
    op.create_index(
        "uq_role_bindings_domain_binding",
        "role_bindings",
        ["domain_id", "user_id"],
        unique=True,
        sqlite_where=sa.text("workspace_id IS NULL"),
        postgresql_where=sa.text("workspace_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_role_bindings_domain_binding", table_name="role_bindings")
    op.drop_index(op.f("ix_role_bindings_workspace_id"), table_name="role_bindings")
    op.drop_index(op.f("ix_role_bindings_role_id"), table_name="role_bindings")
    op.drop_table("role_bindings")
    op.drop_table("users")
