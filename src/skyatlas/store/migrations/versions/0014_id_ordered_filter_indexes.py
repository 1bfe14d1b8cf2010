"""filter indexes yield resources in id order

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23

A list's default order is the cloud service id. `ix_cloud_services_type` (provider, group,
type, ...) and `ix_cloud_services_region` (region, provider, ...) put `state` and the scope
columns before the id, so a page of `provider + group + type` sorted every match (139,918 at a
million resources) and `region + provider` also read every matching row (the region index did
not hold the id). With the id right after the columns people filter on, an equality on those
columns reads the index in id order: the page stops after its hundred rows, testing state and
scope from the index entry. Counts no longer need those columns first (SQLite reads kept
counts; PostgreSQL tests them inside the index either way).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = {
    "ix_cloud_services_type": [
        "provider",
        "cloud_service_group",
        "cloud_service_type",
        "cloud_service_id",
        "state",
        "workspace_id",
        "domain_id",
    ],
    "ix_cloud_services_region": [
        "region_code",
        "provider",
        "cloud_service_id",
        "state",
        "workspace_id",
        "domain_id",
    ],
}
OLD = {
    "ix_cloud_services_type": [
        "provider",
        "cloud_service_group",
        "cloud_service_type",
        "state",
        "workspace_id",
        "domain_id",
        "cloud_service_id",
    ],
    "ix_cloud_services_region": ["region_code", "provider", "state", "workspace_id", "domain_id"],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    for name, columns in indexes.items():
        op.drop_index(name, table_name="cloud_services")
        op.create_index(name, "cloud_services", columns)
    bind = op.get_bind()
    analysed = bind.dialect.name == "postgresql" or (
        bind.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        is not None
    )
    if analysed:  # the new indexes need statistics where the store keeps any
        op.execute("ANALYZE cloud_services")


def upgrade() -> None:
    _replace(NEW)


def downgrade() -> None:
    _replace(OLD)
