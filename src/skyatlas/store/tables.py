"""The schema, written once for both backends. Alembic migrations create exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from skyatlas.store.types import JSONDoc, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 40  # longest id we mint is well under this; PKs stay short for index size


def _timestamps() -> list[Column]:
    return [
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    ]


domains = Table(
    "domains",
    metadata,
    Column("domain_id", String(ID), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

#: The per-domain key that signs client secrets. The private half is encrypted at rest.
domain_keys = Table(
    "domain_keys",
    metadata,
    Column("domain_id", ForeignKey("domains.domain_id"), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("private_key_encrypted", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("workspace_id", String(ID), primary_key=True),
    Column("domain_id", ForeignKey("domains.domain_id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("domain_id", "name"),
)

project_groups = Table(
    "project_groups",
    metadata,
    Column("project_group_id", String(ID), primary_key=True),
    Column("domain_id", String(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("parent_group_id", String(ID), nullable=True, index=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "parent_group_id", "name"),
)

projects = Table(
    "projects",
    metadata,
    Column("project_id", String(ID), primary_key=True),
    Column("domain_id", String(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("project_type", String(16), nullable=False),
    Column("project_group_id", String(ID), nullable=True, index=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "name"),
)

roles = Table(
    "roles",
    metadata,
    Column("role_id", String(ID), primary_key=True),
    # NULL for the managed roles, which every domain shares.
    Column("domain_id", String(ID), nullable=True, index=True),
    Column("name", String(255), nullable=False),
    Column("role_type", String(24), nullable=False),
    Column("permissions", JSONDoc, nullable=True),
    Column("is_managed", Boolean, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

apps = Table(
    "apps",
    metadata,
    Column("app_id", String(ID), primary_key=True),
    Column("domain_id", String(ID), nullable=False, index=True),
    Column("workspace_id", String(ID), nullable=True, index=True),
    Column("name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("role_id", String(ID), nullable=False),
    Column("role_type", String(24), nullable=False),
    Column("resource_group", String(16), nullable=False),
    Column("project_id", String(ID), nullable=True),
    Column("project_group_id", String(ID), nullable=True),
    # The jti of the one client secret that is valid now; rotating replaces it.
    Column("client_id", String(64), nullable=False),
    Column("expired_at", UTCDateTime(), nullable=False),
    Column("last_accessed_at", UTCDateTime(), nullable=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

service_accounts = Table(
    "service_accounts",
    metadata,
    Column("service_account_id", String(ID), primary_key=True),
    Column("domain_id", String(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False, index=True),
    Column("project_id", String(ID), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("data", JSONDoc, nullable=False),
    Column("secret_id", String(ID), nullable=True),
    # AES-GCM ciphertext of secret_data; never returned, never logged.
    Column("secret_encrypted", LargeBinary, nullable=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "name"),
)

Index("ix_apps_client_id", apps.c.client_id)

regions = Table(
    "regions",
    metadata,
    Column("region_id", String(ID), primary_key=True),
    Column("domain_id", String(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("region_code", String(128), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "provider", "region_code"),
)

#: Tables whose rows belong to one workspace, in an order that is safe to delete in (dependents
#: first). Deleting a workspace with `force` clears each of them.
WORKSPACE_OWNED: list[tuple[str, Table]] = [
    ("regions", regions),
    ("service accounts", service_accounts),
    ("apps", apps),
    ("projects", projects),
    ("project groups", project_groups),
]
