"""custom tags and the job queue

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Custom tags of the Resource Explorer dialect (a project's tags, and their attachments to
resources), `jobs`, the queue asynchronous work goes through, and the KCRN expression index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMP = skyatlas.store.types.UTCDateTime(timezone=True)


KCRN = (
    "'kcrn:' || coalesce(nullif(region_code, ''), 'global') || ':' || coalesce(project_id, '')"
    " || ':' || cloud_service_group || ':' || cloud_service_type || ':'"
    " || coalesce(nullif(resource_id, ''), cloud_service_id)"
)


def upgrade() -> None:
    # The KCRN as an expression index (the explorer's order and prefix ranges), spelled exactly
    # as skyatlas.store.tables.KCRN compiles.
    op.create_index(
        "ix_cloud_services_kcrn",
        "cloud_services",
        [
            sa.text(f"({KCRN})"),
            "cloud_service_id",
            "state",
            "domain_id",
            "workspace_id",
            "cloud_service_group",
            "cloud_service_type",
            "region_code",
        ],
    )
    op.create_table(
        "custom_tags",
        sa.Column("tag_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("project_id", Str(40), nullable=False),
        sa.Column("key", Str(128), nullable=False),
        sa.Column("value", Str(256), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tag_id", name=op.f("pk_custom_tags")),
        sa.UniqueConstraint(
            "project_id", "key", "value", name=op.f("uq_custom_tags_project_id_key_value")
        ),
    )
    op.create_index("ix_custom_tags_key", "custom_tags", ["key", "value"])
    op.create_table(
        "custom_tag_links",
        sa.Column("tag_id", Str(40), nullable=False),
        sa.Column("cloud_service_id", Str(40), nullable=False),
        sa.PrimaryKeyConstraint("tag_id", "cloud_service_id", name=op.f("pk_custom_tag_links")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_custom_tag_links_resource", "custom_tag_links", ["cloud_service_id", "tag_id"]
    )
    op.create_table(
        "jobs",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", Str(40), nullable=False),
        sa.Column("kind", Str(64), nullable=False),
        sa.Column("queue", Str(128), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=True),
        sa.Column("project_id", Str(40), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", Str(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_jobs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_jobs_job_id")),
    )
    op.create_index("ix_jobs_pending", "jobs", ["state", "queue", "seq"])


def downgrade() -> None:
    op.drop_index("ix_cloud_services_kcrn", table_name="cloud_services")
    op.drop_table("jobs")
    op.drop_table("custom_tag_links")
    op.drop_table("custom_tags")
