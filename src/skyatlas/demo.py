"""Demo data for `skyatlas serve --demo`: a small, deterministic organisation to explore.

Loaded once (it is skipped when the demo project groups already exist), through plain inserts of
the same records the API would create.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from skyatlas.ids import utcnow
from skyatlas.store.tables import project_groups, projects, regions, service_accounts, workspaces

#: group → (parent group, projects)
_TREE: dict[str, tuple[str | None, list[str]]] = {
    "Platform": (None, ["web-frontend", "payments-api", "identity-gateway"]),
    "Data": (None, ["analytics", "data-lake"]),
    "Machine Learning": ("Data", ["ml-training", "ml-serving"]),
    "Corporate IT": (None, ["office-network"]),
}

#: (name, provider, project, account id)
_ACCOUNTS = [
    ("aws-prod", "aws", "payments-api", "123456789012"),
    ("aws-web", "aws", "web-frontend", "210987654321"),
    ("gcp-data", "google_cloud", "data-lake", "skyatlas-data-prod"),
    ("azure-ml", "azure", "ml-training", "6f1c2a9e-3b7d-4c58-9e21-0d4b8a7c5e13"),
    ("kakao-office", "kakaocloud", "office-network", "kc-project-office"),
]


#: (provider, region_code, name)
_REGIONS = [
    ("aws", "ap-northeast-2", "Asia Pacific (Seoul)"),
    ("aws", "us-east-1", "US East (N. Virginia)"),
    ("aws", "eu-west-1", "Europe (Ireland)"),
    ("google_cloud", "asia-northeast3", "Seoul"),
    ("google_cloud", "us-central1", "Iowa"),
    ("azure", "koreacentral", "Korea Central"),
    ("azure", "westeurope", "West Europe"),
    ("kakaocloud", "kr-central-2", "Korea Central 2"),
]


def _demo_id(prefix: str, name: str) -> str:
    """Stable ids so that demo links and examples in the docs keep working across restarts."""
    import hashlib

    return f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def load_demo(conn: Connection, domain_id: str) -> bool:
    """Load the demo organisation into the `default` workspace; False if already there."""
    workspace_id = conn.execute(
        select(workspaces.c.workspace_id).where(
            workspaces.c.domain_id == domain_id, workspaces.c.name == "default"
        )
    ).scalar_one_or_none()
    if workspace_id is None:
        return False
    if conn.execute(
        select(project_groups.c.project_group_id).where(
            project_groups.c.project_group_id == _demo_id("pg", f"{workspace_id}/Platform")
        )
    ).first():
        return False
    now = utcnow()
    group_ids = {name: _demo_id("pg", f"{workspace_id}/{name}") for name in _TREE}
    project_ids: dict[str, str] = {}
    for name, (parent, members) in _TREE.items():
        conn.execute(
            insert(project_groups).values(
                project_group_id=group_ids[name],
                domain_id=domain_id,
                workspace_id=workspace_id,
                name=name,
                parent_group_id=group_ids[parent] if parent else None,
                tags={"demo": "true"},
                created_at=now,
                updated_at=now,
            )
        )
        for project in members:
            project_ids[project] = _demo_id("project", f"{workspace_id}/{project}")
            conn.execute(
                insert(projects).values(
                    project_id=project_ids[project],
                    domain_id=domain_id,
                    workspace_id=workspace_id,
                    name=project,
                    project_type="PRIVATE",
                    project_group_id=group_ids[name],
                    tags={"demo": "true"},
                    created_at=now,
                    updated_at=now,
                )
            )
    for name, provider, project, account_id in _ACCOUNTS:
        conn.execute(
            insert(service_accounts).values(
                service_account_id=_demo_id("sa", f"{workspace_id}/{name}"),
                domain_id=domain_id,
                workspace_id=workspace_id,
                project_id=project_ids[project],
                name=name,
                provider=provider,
                data={"account_id": account_id},
                secret_id=None,
                secret_encrypted=None,
                tags={"demo": "true"},
                created_at=now,
                updated_at=now,
            )
        )
    for provider, code, name in _REGIONS:
        conn.execute(
            insert(regions).values(
                region_id=_demo_id("region", f"{workspace_id}/{provider}/{code}"),
                domain_id=domain_id,
                workspace_id=workspace_id,
                name=name,
                region_code=code,
                provider=provider,
                tags={},
                created_at=now,
                updated_at=now,
            )
        )
    return True
