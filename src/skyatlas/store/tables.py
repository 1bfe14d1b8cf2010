"""The schema, written once for both backends. Alembic migrations create exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

from skyatlas.store.types import JSONDoc, Str, UTCDateTime

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
    Column("domain_id", Str(ID), primary_key=True),
    Column("name", Str(255), nullable=False, unique=True),
    Column("state", Str(16), nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

#: The per-domain key that signs client secrets. The private half is encrypted at rest.
domain_keys = Table(
    "domain_keys",
    metadata,
    Column("domain_id", ForeignKey("domains.domain_id"), primary_key=True),
    Column("algorithm", Str(16), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("private_key_encrypted", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("workspace_id", Str(ID), primary_key=True),
    Column("domain_id", ForeignKey("domains.domain_id"), nullable=False, index=True),
    Column("name", Str(255), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("domain_id", "name"),
)

project_groups = Table(
    "project_groups",
    metadata,
    Column("project_group_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False, index=True),
    Column("name", Str(255), nullable=False),
    Column("parent_group_id", Str(ID), nullable=True, index=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "parent_group_id", "name"),
)

projects = Table(
    "projects",
    metadata,
    Column("project_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False, index=True),
    Column("name", Str(255), nullable=False),
    Column("project_type", Str(16), nullable=False),
    Column("project_group_id", Str(ID), nullable=True, index=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "name"),
)

roles = Table(
    "roles",
    metadata,
    Column("role_id", Str(ID), primary_key=True),
    # NULL for the managed roles, which every domain shares.
    Column("domain_id", Str(ID), nullable=True, index=True),
    Column("name", Str(255), nullable=False),
    Column("role_type", Str(24), nullable=False),
    Column("permissions", JSONDoc, nullable=True),
    Column("is_managed", Boolean, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

apps = Table(
    "apps",
    metadata,
    Column("app_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False, index=True),
    Column("workspace_id", Str(ID), nullable=True, index=True),
    Column("name", Str(255), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("role_id", Str(ID), nullable=False),
    Column("role_type", Str(24), nullable=False),
    Column("resource_group", Str(16), nullable=False),
    Column("project_id", Str(ID), nullable=True),
    Column("project_group_id", Str(ID), nullable=True),
    # The jti of the one client secret that is valid now; rotating replaces it.
    Column("client_id", Str(64), nullable=False),
    Column("expired_at", UTCDateTime(), nullable=False),
    Column("last_accessed_at", UTCDateTime(), nullable=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

service_accounts = Table(
    "service_accounts",
    metadata,
    Column("service_account_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False, index=True),
    Column("project_id", Str(ID), nullable=False, index=True),
    Column("name", Str(255), nullable=False),
    Column("provider", Str(64), nullable=False),
    Column("data", JSONDoc, nullable=False),
    Column("secret_id", Str(ID), nullable=True),
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
    Column("region_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False),
    Column("name", Str(255), nullable=False),
    Column("region_code", Str(128), nullable=False),
    Column("provider", Str(64), nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "provider", "region_code"),
)

cloud_service_types = Table(
    "cloud_service_types",
    metadata,
    Column("cloud_service_type_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", ForeignKey("workspaces.workspace_id"), nullable=False),
    Column("name", Str(255), nullable=False),
    Column("group", Str(255), nullable=False),
    Column("provider", Str(64), nullable=False),
    Column("is_primary", Boolean, nullable=False),
    Column("is_major", Boolean, nullable=False),
    Column("resource_type", Str(255), nullable=True),
    # metadata.search: the data.* paths users filter on; each gets an expression index.
    Column("metadata", JSONDoc, nullable=False),
    Column("labels", JSONDoc, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
    UniqueConstraint("workspace_id", "provider", "group", "name"),
)

#: One row per resource. The searchable core is real columns; `data`, `metadata`, `tags` are
#: JSON (JSONB on PostgreSQL). Provider tags are also in `cloud_service_tags` for index lookups.
cloud_services = Table(
    "cloud_services",
    metadata,
    Column("cloud_service_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    Column("project_id", Str(ID), nullable=True),
    Column("provider", Str(64), nullable=False),
    Column("cloud_service_group", Str(255), nullable=False),
    Column("cloud_service_type", Str(255), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("name", Str(512), nullable=True),
    Column("account", Str(255), nullable=True),
    Column("instance_type", Str(255), nullable=True),
    Column("instance_size", Float, nullable=True),
    Column("region_code", Str(128), nullable=True),
    Column("resource_id", Str(1024), nullable=True),
    Column("external_link", Text, nullable=True),
    Column("ip_addresses", JSONDoc, nullable=False),
    Column("data", JSONDoc, nullable=False),
    Column("metadata", JSONDoc, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    Column("collector_id", Str(ID), nullable=True),
    Column("service_account_id", Str(ID), nullable=True),
    Column("secret_id", Str(ID), nullable=True),
    Column("last_collected_at", UTCDateTime(), nullable=True),
    # Successful collections in a row that did not see this resource (reconcile).
    Column("missed_count", Integer, nullable=False, default=0),
    # provider/group/type/account/resource_id joined: the collection upsert key.
    Column("upsert_key", Str(1600), nullable=True),
    # Lower-cased name, ids and IPs: what a keyword token is matched against.
    Column("search_text", Text, nullable=False),
    *_timestamps(),
    Column("deleted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("workspace_id", "upsert_key"),
)
# Index design: the filters people write come first, then state and the scope columns every
# query carries (so counts are answered from the index alone, for domain- and workspace-level
# callers alike), then the id that breaks sort ties.
Index(
    "ix_cloud_services_type",
    cloud_services.c.provider,
    cloud_services.c.cloud_service_group,
    cloud_services.c.cloud_service_type,
    cloud_services.c.state,
    cloud_services.c.workspace_id,
    cloud_services.c.domain_id,
    cloud_services.c.cloud_service_id,
)
Index(
    "ix_cloud_services_region",
    cloud_services.c.region_code,
    cloud_services.c.provider,
    cloud_services.c.state,
    cloud_services.c.workspace_id,
    cloud_services.c.domain_id,
)
Index(
    "ix_cloud_services_project",
    cloud_services.c.project_id,
    cloud_services.c.state,
    cloud_services.c.workspace_id,
)
Index("ix_cloud_services_name", cloud_services.c.name)
Index("ix_cloud_services_resource_id", cloud_services.c.resource_id)
Index("ix_cloud_services_created", cloud_services.c.created_at)


#: Provider tags, one row per (resource, provider, key). The primary key is the lookup order,
#: so a tag filter is one range scan of the table itself (clustered: WITHOUT ROWID on SQLite)
#: yielding resource ids, and an import writes one B-tree per tag instead of two. Rows are
#: removed by their full key, which the resource's own `tags` column always knows.
cloud_service_tags = Table(
    "cloud_service_tags",
    metadata,
    Column("provider", Str(64), primary_key=True),
    Column("key", Str(255), primary_key=True),
    Column("value", Str(1024), primary_key=True),
    Column("cloud_service_id", Str(ID), primary_key=True),
    sqlite_with_rowid=False,
)


#: Tables whose rows belong to one workspace, in an order that is safe to delete in (dependents
#: first). Deleting a workspace with `force` clears each of them.
WORKSPACE_OWNED: list[tuple[str, Table]] = [
    ("cloud services", cloud_services),
    ("cloud service types", cloud_service_types),
    ("regions", regions),
    ("service accounts", service_accounts),
    ("apps", apps),
    ("projects", projects),
    ("project groups", project_groups),
]
