"""collectors, collection jobs and tasks, schedule runs; leases on the job queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Collections run for minutes, outside one transaction, so queue jobs gain a lease
(`heartbeat_at`, `attempts`, `worker`) that lets a restarted worker take over a job a crashed
one left RUNNING.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import skyatlas.store.types
from skyatlas.store.types import Str

revision: str = "0006"
down_revision: str | None = "0005"
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
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("heartbeat_at", TIMESTAMP, nullable=True))
        batch_op.add_column(sa.Column("worker", Str(128), nullable=True))
    op.create_table(
        "collectors",
        sa.Column("collector_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("resource_group", Str(16), nullable=False),
        sa.Column("name", Str(255), nullable=False),
        sa.Column("provider", Str(64), nullable=True),
        sa.Column("plugin_info", JSON, nullable=False),
        sa.Column("schedule", JSON, nullable=False),
        sa.Column("secret_filter", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("last_collected_at", TIMESTAMP, nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("collector_id", name=op.f("pk_collectors")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_collectors_workspace_id_name")),
    )
    op.create_table(
        "collector_jobs",
        sa.Column("job_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("collector_id", Str(40), nullable=False),
        sa.Column("plugin_id", Str(128), nullable=False),
        sa.Column("trigger", Str(16), nullable=False),
        sa.Column("status", Str(16), nullable=False),
        sa.Column("total_tasks", sa.Integer(), nullable=False),
        sa.Column("remained_tasks", sa.Integer(), nullable=False),
        sa.Column("success_tasks", sa.Integer(), nullable=False),
        sa.Column("failure_tasks", sa.Integer(), nullable=False),
        sa.Column("canceled_tasks", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_collector_jobs")),
    )
    op.create_index("ix_collector_jobs_collector", "collector_jobs", ["collector_id", "created_at"])
    op.create_table(
        "collector_job_tasks",
        sa.Column("job_task_id", Str(40), nullable=False),
        sa.Column("job_id", Str(40), nullable=False),
        sa.Column("domain_id", Str(40), nullable=False),
        sa.Column("workspace_id", Str(40), nullable=False),
        sa.Column("project_id", Str(40), nullable=True),
        sa.Column("collector_id", Str(40), nullable=False),
        sa.Column("service_account_id", Str(40), nullable=True),
        sa.Column("secret_id", Str(40), nullable=True),
        sa.Column("status", Str(16), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("deleted_count", sa.Integer(), nullable=False),
        sa.Column("disconnected_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("errors", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("job_task_id", name=op.f("pk_collector_job_tasks")),
    )
    op.create_index("ix_collector_job_tasks_job", "collector_job_tasks", ["job_id"])
    op.create_table(
        "schedule_runs",
        sa.Column("owner_id", Str(40), nullable=False),
        sa.Column("slot", Str(16), nullable=False),
        sa.Column("job_id", Str(40), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "slot", name=op.f("pk_schedule_runs")),
    )
    with op.batch_alter_table("cloud_services") as batch_op:
        batch_op.add_column(sa.Column("content_hash", Str(32), nullable=True))
    op.create_index(
        "ix_cloud_services_collection",
        "cloud_services",
        ["collector_id", "service_account_id", "last_collected_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_cloud_services_collection", table_name="cloud_services")
    with op.batch_alter_table("cloud_services") as batch_op:
        batch_op.drop_column("content_hash")
    op.drop_table("schedule_runs")
    op.drop_index("ix_collector_job_tasks_job", table_name="collector_job_tasks")
    op.drop_table("collector_job_tasks")
    op.drop_index("ix_collector_jobs_collector", table_name="collector_jobs")
    op.drop_table("collector_jobs")
    op.drop_table("collectors")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("worker")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("attempts")
