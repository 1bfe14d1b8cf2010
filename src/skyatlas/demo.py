"""Demo data for `skyatlas serve --demo`: a small, deterministic organisation to explore.

Loaded once (it is skipped when the demo project groups already exist): project groups,
projects, service accounts, regions, cloud service types and a few thousand resources from the
same generator the benchmark uses, written through the same upsert path as imports.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from skyatlas.ids import utcnow
from skyatlas.inventory import generator
from skyatlas.inventory.searchable import ensure_indexes, search_keys
from skyatlas.inventory.service import write_batch
from skyatlas.store.tables import (
    cloud_service_types,
    project_groups,
    projects,
    regions,
    service_accounts,
    workspaces,
)

#: How many resources the demo inventory holds: enough to page, filter and chart.
DEMO_RESOURCES = 3000

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
    _load_inventory(conn, domain_id, workspace_id, list(project_ids.values()))
    return True


def _load_inventory(
    conn: Connection, domain_id: str, workspace_id: str, project_ids: list[str]
) -> None:
    """Regions, cloud service types (with their searchable fields) and resources, all from the
    same generator the benchmark uses at a million resources."""
    now = utcnow()
    for provider in generator.PROVIDERS:
        for code, name in generator.regions(provider):
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
    keys: list[str] = []
    type_fields = (
        "name",
        "group",
        "provider",
        "is_primary",
        "is_major",
        "resource_type",
        "metadata",
        "labels",
        "tags",
    )
    for body in generator.cloud_service_types():
        conn.execute(
            insert(cloud_service_types).values(
                cloud_service_type_id=_demo_id(
                    "cst", f"{workspace_id}/{body['provider']}/{body['group']}/{body['name']}"
                ),
                domain_id=domain_id,
                workspace_id=workspace_id,
                created_at=now,
                updated_at=now,
                **{k: body[k] for k in type_fields},
            )
        )
        keys.extend(search_keys(body["metadata"]))
    ensure_indexes(conn, sorted(set(keys)))
    bodies = list(generator.generate_cloud_services(DEMO_RESOURCES, project_ids=project_ids))
    for start in range(0, len(bodies), 500):
        write_batch(
            conn,
            domain_id=domain_id,
            workspace_id=workspace_id,
            bodies=bodies[start : start + 500],
            upsert=True,
            created_by="demo",
        )
