"""The schema, written once for both backends. Alembic migrations create exactly these tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
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

#: Local users: people who sign in with a password (apps are for programs). `user_id` is chosen
#: by the admin and unique per domain. The password is kept only as an argon2 hash.
users = Table(
    "users",
    metadata,
    Column("domain_id", Str(ID), primary_key=True),
    Column("user_id", Str(128), primary_key=True),
    Column("name", Str(255), nullable=True),
    Column("email", Str(255), nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("state", Str(16), nullable=False),
    # e.g. ["UPDATE_PASSWORD"]: what the user must do before the console lets them work.
    Column("required_actions", JSONDoc, nullable=False),
    # Wrong passwords in a row; the 10th locks the user until `locked_until`.
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
    # Tokens issued before this instant are refused (moved forward by a password change).
    Column("tokens_valid_after", UTCDateTime(), nullable=False),
    Column("last_accessed_at", UTCDateTime(), nullable=True),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)

#: What a user may do where: a role in the domain (DOMAIN, `workspace_id` NULL) or in one
#: workspace (WORKSPACE; member roles also name one project or project group, as member apps
#: do). One binding per user and workspace, and at most one DOMAIN binding per user.
role_bindings = Table(
    "role_bindings",
    metadata,
    Column("role_binding_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("user_id", Str(128), nullable=False),
    Column("role_id", Str(ID), nullable=False, index=True),
    Column("role_type", Str(24), nullable=False),
    Column("resource_group", Str(16), nullable=False),
    Column("workspace_id", Str(ID), nullable=True, index=True),
    Column("project_id", Str(ID), nullable=True),
    Column("project_group_id", Str(ID), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("domain_id", "user_id", "workspace_id"),
)
# NULLs never collide in a unique constraint, so the DOMAIN binding gets its own partial index.
Index(
    "uq_role_bindings_domain_binding",
    role_bindings.c.domain_id,
    role_bindings.c.user_id,
    unique=True,
    sqlite_where=role_bindings.c.workspace_id.is_(None),
    postgresql_where=role_bindings.c.workspace_id.is_(None),
)

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
    # Who collected it last: `cloud_service_collections` (written by every collection, so it
    # is kept out of this wide row).
    # Who first wrote it: an app's name, `import`, a collector's name (Resource Explorer's
    # `user_name`).
    Column("created_by", Str(255), nullable=True),
    # Successful collections in a row that did not see this resource (reconcile).
    Column("missed_count", Integer, nullable=False, default=0),
    # provider/group/type/account/resource_id joined: the collection upsert key.
    Column("upsert_key", Str(1600), nullable=True),
    # Lower-cased name, ids and IPs: what a keyword token is matched against.
    Column("search_text", Text, nullable=False),
    # A digest of what a write sets (fields, data, tags, project): a re-collected resource
    # whose digest is unchanged is only marked as seen, not rewritten with its tag rows.
    Column("content_hash", Str(32), nullable=True),
    *_timestamps(),
    Column("deleted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("workspace_id", "upsert_key"),
)
# Index design: the filters people write come first, then the id (the default order of a list:
# equality on the leading columns reads matches in id order, so a page stops after its rows),
# then state and the scope columns every query carries (tested from the index entry, and
# counted from it on PostgreSQL; SQLite counts from `cloud_service_counts`).
Index(
    "ix_cloud_services_type",
    cloud_services.c.provider,
    cloud_services.c.cloud_service_group,
    cloud_services.c.cloud_service_type,
    cloud_services.c.cloud_service_id,
    cloud_services.c.state,
    cloud_services.c.workspace_id,
    cloud_services.c.domain_id,
)
Index(
    "ix_cloud_services_region",
    cloud_services.c.region_code,
    cloud_services.c.provider,
    cloud_services.c.cloud_service_id,
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


def _text(value: str) -> Any:
    """A constant spelled into the SQL (not a bound parameter): expression indexes match only
    expressions written identically, constants included."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


#: The Resource Explorer dialect's derived fields. A region, project or provider id that is
#: missing (or empty) reads as `global`, `` and the cloud service id.
KCRN_REGION = func.coalesce(func.nullif(cloud_services.c.region_code, _text("")), _text("global"))
KCRN_PROJECT = func.coalesce(cloud_services.c.project_id, _text(""))
KCRN_RESOURCE_ID = func.coalesce(
    func.nullif(cloud_services.c.resource_id, _text("")), cloud_services.c.cloud_service_id
)
#: `kcrn:{region}:{project_id}:{service}:{resource_type}:{resource_id}` as SQL: the explorer's
#: default order, and (through its index) a range scan for any filter that fixes its start.
KCRN = (
    _text("kcrn:")
    + KCRN_REGION
    + _text(":")
    + KCRN_PROJECT
    + _text(":")
    + cloud_services.c.cloud_service_group
    + _text(":")
    + cloud_services.c.cloud_service_type
    + _text(":")
    + KCRN_RESOURCE_ID
)
# Then the scope columns every search carries and the fields searches test most (service,
# resource type, region), so counts are answered from the index without reading rows.
Index(
    "ix_cloud_services_kcrn",
    KCRN,
    cloud_services.c.cloud_service_id,
    cloud_services.c.state,
    cloud_services.c.domain_id,
    cloud_services.c.workspace_id,
    cloud_services.c.cloud_service_group,
    cloud_services.c.cloud_service_type,
    cloud_services.c.region_code,
)
Index("ix_cloud_services_resource_id", cloud_services.c.resource_id)
Index("ix_cloud_services_created", cloud_services.c.created_at)


#: A resource's `collection_info`: which collector, service account and secret last collected
#: it, and when. One narrow row per collected resource (none for one only ever created through
#: the API or an import), apart from the wide `cloud_services` row: every collection run marks
#: every resource it sees, and rewriting a 2.6 kB resource row (and every index entry it moves)
#: to change one timestamp made that mark cost about 100 us a resource on SQLite, against about
#: 7 us here with a run's marks written in id order. Removed with its resource (workspace
#: deletion clears it through the workspace's resources).
cloud_service_collections = Table(
    "cloud_service_collections",
    metadata,
    Column("cloud_service_id", Str(ID), primary_key=True),
    Column("collector_id", Str(ID), nullable=False),
    Column("service_account_id", Str(ID), nullable=True),
    Column("secret_id", Str(ID), nullable=True),
    Column("last_collected_at", UTCDateTime(), nullable=True),
    sqlite_with_rowid=False,
)
# The reconcile reads what one collector and service account did not see since a time: a range.
# A run moves each entry it marks, but all of them to the same place (the run's time).
Index(
    "ix_cloud_service_collections_collector",
    cloud_service_collections.c.collector_id,
    cloud_service_collections.c.service_account_id,
    cloud_service_collections.c.last_collected_at,
)


#: Provider tags, one row per (resource, provider, key). The primary key is the lookup order,
#: so a tag filter is one range scan of the table itself (clustered: WITHOUT ROWID on SQLite)
#: yielding resource ids, without a second B-tree mapping row ids to keys. Key and value
#: come first because both dialects always name the key: the SpaceONE dialect with a provider
#: (`tags.aws.env`), the Resource Explorer dialect without (`tag.key=env&tag.value=prod`). Rows
#: are removed by their full key, which the resource's own `tags` column always knows.
#:
#: Each row also carries its resource's scope and visibility, so "how many resources I may see
#: have env=prod" is one range count of `ix_cloud_service_tags_count` instead of a lookup of
#: every match in `cloud_services` (a broad tag holds a third of a million resources). The
#: writer of a tag row sets them (`skyatlas.inventory.records.tag_rows`); the trigger
#: `cloud_service_tags_scope` (migration 0012) carries later changes of the resource's state,
#: project or workspace over, whichever statement makes them. `first_provider` marks the one
#: row that counts a resource for its key=value when several providers' tags give it the pair.
cloud_service_tags = Table(
    "cloud_service_tags",
    metadata,
    Column("key", Str(255), primary_key=True),
    Column("value", Str(1024), primary_key=True),
    Column("provider", Str(64), primary_key=True),
    Column("cloud_service_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    Column("project_id", Str(ID), nullable=True),
    Column("visible", Boolean, nullable=False),
    Column("first_provider", Boolean, nullable=False),
    sqlite_with_rowid=False,
)
Index(
    "ix_cloud_service_tags_count",
    cloud_service_tags.c.key,
    cloud_service_tags.c.value,
    cloud_service_tags.c.domain_id,
    cloud_service_tags.c.visible,
    cloud_service_tags.c.first_provider,
    cloud_service_tags.c.workspace_id,
    cloud_service_tags.c.project_id,
)


#: Custom tags of the Resource Explorer dialect: entities of one project, created once and then
#: attached to any number of that project's resources.
custom_tags = Table(
    "custom_tags",
    metadata,
    Column("tag_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    Column("project_id", Str(ID), nullable=False),
    Column("key", Str(128), nullable=False),
    Column("value", Str(256), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("project_id", "key", "value"),
)
Index("ix_custom_tags_key", custom_tags.c.key, custom_tags.c.value)

#: Which custom tag is attached to which resource. Keyed by tag (search: resources having a
#: tag) and indexed by resource (a resource's tags).
custom_tag_links = Table(
    "custom_tag_links",
    metadata,
    Column("tag_id", Str(ID), primary_key=True),
    Column("cloud_service_id", Str(ID), primary_key=True),
    sqlite_with_rowid=False,
)
Index(
    "ix_custom_tag_links_resource", custom_tag_links.c.cloud_service_id, custom_tag_links.c.tag_id
)


def custom_tag_links_with_tags() -> Any:
    """Attachments joined to their tags (key, value, project)."""
    return custom_tag_links.join(custom_tags, custom_tags.c.tag_id == custom_tag_links.c.tag_id)


#: The one queue of asynchronous work (tag operations now; collections and cost syncs use it
#: too). A job accepted is a row committed. `seq` is the acceptance order; jobs of one `queue`
#: apply strictly in that order, each in the same transaction that marks it done, so a crash
#: leaves it PENDING and it runs again, exactly once.
jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Str(ID), nullable=False, unique=True),
    Column("kind", Str(64), nullable=False),
    Column("queue", Str(128), nullable=False),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=True),
    Column("project_id", Str(ID), nullable=True),
    Column("payload", JSONDoc, nullable=False),
    Column("state", Str(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
)
Index("ix_jobs_pending", jobs.c.state, jobs.c.queue, jobs.c.seq)
# Long jobs (collections, cost syncs) run outside one transaction: they are claimed (RUNNING),
# renew `heartbeat_at` while they run, and a RUNNING job whose heartbeat is older than the lease
# was abandoned by a crashed worker and is claimed again (`attempts` counts the claims).
jobs.append_column(Column("attempts", Integer, nullable=False, server_default="0"))
jobs.append_column(Column("heartbeat_at", UTCDateTime(), nullable=True))
jobs.append_column(Column("worker", Str(128), nullable=True))

#: Which collector collects what, how (plugin and options) and when (schedule).
collectors = Table(
    "collectors",
    metadata,
    Column("collector_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    # "*" for a DOMAIN collector (it collects the service accounts of every workspace).
    Column("workspace_id", Str(ID), nullable=False),
    Column("resource_group", Str(16), nullable=False),
    Column("name", Str(255), nullable=False),
    Column("provider", Str(64), nullable=True),
    Column("plugin_info", JSONDoc, nullable=False),
    Column("schedule", JSONDoc, nullable=False),
    Column("secret_filter", JSONDoc, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    Column("last_collected_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    UniqueConstraint("workspace_id", "name"),
)

#: One collect: its tasks' totals are kept here, updated as each task ends.
collector_jobs = Table(
    "collector_jobs",
    metadata,
    Column("job_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    Column("collector_id", Str(ID), nullable=False),
    Column("plugin_id", Str(128), nullable=False),
    Column("trigger", Str(16), nullable=False),
    Column("status", Str(16), nullable=False),
    Column("total_tasks", Integer, nullable=False),
    Column("remained_tasks", Integer, nullable=False),
    Column("success_tasks", Integer, nullable=False),
    Column("failure_tasks", Integer, nullable=False),
    Column("canceled_tasks", Integer, nullable=False),
    Column("reason", Text, nullable=True),
    *_timestamps(),
    Column("finished_at", UTCDateTime(), nullable=True),
)
Index("ix_collector_jobs_collector", collector_jobs.c.collector_id, collector_jobs.c.created_at)

#: One service account's part of a collect, with its counters and per-resource errors.
collector_job_tasks = Table(
    "collector_job_tasks",
    metadata,
    Column("job_task_id", Str(ID), primary_key=True),
    Column("job_id", Str(ID), nullable=False),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    Column("project_id", Str(ID), nullable=True),
    Column("collector_id", Str(ID), nullable=False),
    Column("service_account_id", Str(ID), nullable=True),
    Column("secret_id", Str(ID), nullable=True),
    Column("status", Str(16), nullable=False),
    Column("created_count", Integer, nullable=False),
    Column("updated_count", Integer, nullable=False),
    Column("deleted_count", Integer, nullable=False),
    Column("disconnected_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("errors", JSONDoc, nullable=False),
    Column("attempts", Integer, nullable=False),
    *_timestamps(),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
)
Index("ix_collector_job_tasks_job", collector_job_tasks.c.job_id)

#: Scheduled runs already queued: the primary key makes "at most once per hour per collector"
#: hold however many workers look at the clock at the same time.
schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("owner_id", Str(ID), primary_key=True),
    Column("slot", Str(16), primary_key=True),
    Column("job_id", Str(ID), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


#: Tables whose rows belong to one workspace, in an order that is safe to delete in (dependents
#: first). Deleting a workspace with `force` clears each of them.
WORKSPACE_OWNED: list[tuple[str, Table]] = [
    ("collector job tasks", collector_job_tasks),
    ("collector jobs", collector_jobs),
    ("collectors", collectors),
    ("cloud services", cloud_services),
    ("cloud service types", cloud_service_types),
    ("regions", regions),
    ("service accounts", service_accounts),
    ("apps", apps),
    ("role bindings", role_bindings),
    ("projects", projects),
    ("project groups", project_groups),
]

#: A cost data source: where costs come from (a plugin and its options, or LOCAL rows), what
#: its data holds (learned keys), and when it last synced. The rows are in the cost store.
data_sources = Table(
    "data_sources",
    metadata,
    Column("data_source_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    # "*" for a DOMAIN data source (its costs map to any workspace of the domain).
    Column("workspace_id", Str(ID), nullable=False),
    Column("resource_group", Str(16), nullable=False),
    Column("name", Str(255), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("data_source_type", Str(16), nullable=False),
    Column("provider", Str(64), nullable=True),
    Column("secret_type", Str(32), nullable=False),
    Column("secret_filter", JSONDoc, nullable=False),
    Column("plugin_info", JSONDoc, nullable=False),
    Column("schedule", JSONDoc, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    Column("cost_tag_keys", JSONDoc, nullable=False),
    Column("cost_additional_info_keys", JSONDoc, nullable=False),
    Column("cost_data_keys", JSONDoc, nullable=False),
    Column("months", JSONDoc, nullable=False),
    Column("last_synchronized_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    UniqueConstraint("workspace_id", "name"),
)

#: One sync of a data source (cost-analysis `job`).
cost_jobs = Table(
    "cost_jobs",
    metadata,
    Column("job_id", Str(ID), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    Column("data_source_id", Str(ID), nullable=False),
    Column("status", Str(16), nullable=False),
    Column("trigger", Str(16), nullable=False),
    Column("options", JSONDoc, nullable=False),
    Column("months", JSONDoc, nullable=False),
    Column("total_rows", Integer, nullable=False),
    Column("reason", Text, nullable=True),
    *_timestamps(),
    Column("finished_at", UTCDateTime(), nullable=True),
)
Index("ix_cost_jobs_data_source", cost_jobs.c.data_source_id, cost_jobs.c.created_at)

#: A cost budget (cost-analysis `budget`): a limit on the costs of a workspace or one of its
#: projects (optionally of one data source), over whole months from `start` to `end`.
budgets = Table(
    "budgets",
    metadata,
    Column("budget_id", Str(ID), primary_key=True),
    Column("name", Str(255), nullable=False),
    Column("domain_id", Str(ID), nullable=False),
    Column("workspace_id", Str(ID), nullable=False),
    # None: the whole workspace.
    Column("project_id", Str(ID), nullable=True),
    # None: every data source whose costs reach the workspace.
    Column("data_source_id", Str(ID), nullable=True),
    Column("time_unit", Str(16), nullable=False),
    # TOTAL budgets: the limit of the whole period.
    Column("limit", Float, nullable=True),
    # MONTHLY budgets: [{"date": "YYYY-MM", "limit": float}], one per month of the period.
    Column("planned_limits", JSONDoc, nullable=False),
    Column("start", Str(7), nullable=False),
    Column("end", Str(7), nullable=False),
    Column("currency", Str(8), nullable=False),
    # {"state", "recipients": {"webhook_url"}, "plans": [{"threshold", "unit"}]}
    Column("notification", JSONDoc, nullable=False),
    Column("tags", JSONDoc, nullable=False),
    *_timestamps(),
)
Index("ix_budgets_workspace", budgets.c.domain_id, budgets.c.workspace_id)

#: A budget threshold already crossed: the primary key makes "one notification per crossing"
#: hold however many syncs look at the same costs at the same time.
budget_notices = Table(
    "budget_notices",
    metadata,
    Column("budget_id", Str(ID), primary_key=True),
    # "YYYY-MM" (MONTHLY budgets) or "TOTAL".
    Column("period", Str(16), primary_key=True),
    # "PERCENT:80", "ACTUAL_COST:1000".
    Column("threshold_key", Str(64), primary_key=True),
    # Sent with the webhook (body and Idempotency-Key): the same on every retry of one notice.
    Column("notice_id", Str(ID), nullable=False, unique=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("job_id", Str(ID), nullable=True),
    # PENDING, DELIVERED or FAILED.
    Column("status", Str(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("notified_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
)

#: A web console sign-in. Only the SHA-256 of the cookie's random id is kept.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("session_hash", Str(64), primary_key=True),
    Column("domain_id", Str(ID), nullable=False),
    Column("user_id", Str(128), nullable=False),
    Column("csrf_token", Str(64), nullable=False),
    # The workspace the user is looking at; NULL in Admin mode or before the first choice.
    Column("workspace_id", Str(ID), nullable=True),
    Column("admin_mode", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
)
Index("ix_console_sessions_user", console_sessions.c.domain_id, console_sessions.c.user_id)
