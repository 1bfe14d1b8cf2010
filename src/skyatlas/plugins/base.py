"""What a plugin is: the contract between the core and a collector (or cost source).

A collector plugin only talks to its cloud and *yields* what it finds; the core does everything
else (validation of the yielded records, the upsert, the counting, the reconcile, the job's
state). That keeps a third-party plugin small and keeps every rule about stored resources in one
place. Built-in plugins (`aws`, `file`) are found through the same entry point group a third
party uses (`skyatlas.plugins`), so they go through exactly the same door.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

PluginKind = Literal["collector", "cost"]


class PluginError(Exception):
    """A failure the plugin understands (bad credentials, unreachable endpoint, unreadable
    file). Its message is shown to users as is, so it must say what is wrong and contain no
    secret. Raised from `collect`, it fails the whole task (and nothing is disconnected)."""

    def __init__(self, message: str, *, code: str = "ERROR_COLLECTOR_PLUGIN") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class CloudServiceTypeSpec:
    """A kind of resource the plugin produces; registered in the workspace before a run.
    `search` lists the `data.*` paths people filter on: `[{"key": "data.x.y", "name": "Y"}]`
    (each gets an expression index)."""

    provider: str
    group: str
    name: str
    is_primary: bool = False
    is_major: bool = False
    search: tuple[Mapping[str, str], ...] = ()
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginMetadata:
    plugin_id: str
    kind: PluginKind
    name: str
    description: str
    #: The provider whose service accounts this plugin collects (None: records name their own,
    #: as the `file` collector's do).
    provider: str | None
    #: Whether each run needs a service account (and its secret); False runs one task per collect.
    needs_service_account: bool = True
    supported_resource_types: tuple[str, ...] = ("inventory.CloudService", "inventory.Region")
    cloud_service_types: tuple[CloudServiceTypeSpec, ...] = ()
    #: Validates `plugin_info.options`; its JSON schema is what `collector get` shows.
    options_model: type[BaseModel] | None = None

    def options_schema(self) -> dict[str, Any]:
        return self.options_model.model_json_schema() if self.options_model else {}


@dataclass(frozen=True)
class ServiceAccountView:
    """The account a task collects (never carries the secret; that is `CollectContext.secret`)."""

    service_account_id: str | None
    name: str | None
    provider: str | None
    data: Mapping[str, Any]
    project_id: str | None
    workspace_id: str


@dataclass(frozen=True)
class RegionRecord:
    """A region the cloud reports; registered in the workspace's `region` list."""

    provider: str
    region_code: str
    name: str


@dataclass(frozen=True)
class CollectError:
    """A per-resource (or per-region, per-type) failure that does not stop the run.

    `cloud_service_group` / `cloud_service_type` (and `region_code`, when only one region
    failed) say which kind of resource could not be read: the reconcile then leaves resources
    of that kind (in that region) alone for this run (they may still exist). An error with no
    group means the core cannot tell what is missing, so nothing is disconnected by that run."""

    message: str
    error_code: str = "ERROR_COLLECT_RESOURCE"
    cloud_service_group: str | None = None
    cloud_service_type: str | None = None
    region_code: str | None = None
    additional: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CollectContext:
    """What one run of a collector plugin sees."""

    options: Mapping[str, Any]
    secret: Mapping[str, Any]
    account: ServiceAccountView
    #: True once the job was cancelled: stop yielding soon (the core stops reading anyway).
    cancelled: Callable[[], bool] = lambda: False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("skyatlas.plugins"))
    #: Directories a plugin that reads local files may read from (the server's
    #: `SKYATLAS_IMPORT_ROOTS`); empty means unrestricted (a plugin run outside a server).
    import_roots: tuple[Path, ...] = ()


#: What `collect` yields: cloud-service create bodies (dicts in the shape of
#: `inventory cloud-service create`: provider, cloud_service_group, cloud_service_type, name,
#: account, region_code, data, tags (flat `{key: value}` = the provider's tags), reference
#: {resource_id, external_link}, instance_type, ip_addresses, ...), regions, and errors.
Collected = dict[str, Any] | RegionRecord | CollectError


@runtime_checkable
class CollectorPlugin(Protocol):
    metadata: PluginMetadata

    def collect(self, ctx: CollectContext) -> Iterable[Collected]: ...


# -- cost sources --------------------------------------------------------------------------


@dataclass
class CostSyncContext:
    """What one sync of a cost plugin sees."""

    options: Mapping[str, Any]
    #: The credentials of the data source's secret (empty when the source needs none).
    secret: Mapping[str, Any]
    #: True once the sync was cancelled: stop soon (the core discards what was read).
    cancelled: Callable[[], bool] = lambda: False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("skyatlas.plugins"))
    #: Directories local paths may be read from (`SKYATLAS_IMPORT_ROOTS`); empty = unrestricted.
    import_roots: tuple[Path, ...] = ()
    #: For sources queried by date range (an API): the first and last day (`YYYY-MM-DD`) to
    #: fetch. None: the source decides (a file source reads everything it holds).
    start: str | None = None
    end: str | None = None


@dataclass
class CostFeed:
    """A sync's result: record batches in `skyatlas.cost.schema.COST_SCHEMA`, read lazily.

    `months` (`YYYY-MM`) are the months the source reports completely; the core replaces
    exactly those months of the data source, atomically. None means "the months the rows
    fall in". Reading `batches` may raise `PluginError` (a file corrupt halfway): the sync then
    fails and the previous data stays.
    """

    batches: Iterable[Any]
    months: frozenset[str] | None = None
    #: Optionally, the same rows as DuckDB statements (see `CostQuery`), read lazily like
    #: `batches`: a store that runs DuckDB itself takes these and `batches` is never read.
    queries: Iterable[CostQuery] | None = None


@runtime_checkable
class CostQuery(Protocol):
    """One source's rows as a DuckDB `SELECT` that a store runs on its own connection.

    Why: moving ten million rows out of one DuckDB as Arrow batches and into another costs
    more than reading and mapping them; a store that can run the statement itself loads them
    without the rows ever leaving DuckDB. A query stays valid until the next item of
    `CostFeed.queries` is asked for (an S3 object is deleted then).

    `select(con)` prepares what the statement needs on `con` (temporary tables, named by the
    query) and returns it. Its columns are `COST_SCHEMA`'s, except `tags`, a list of
    `{key, value}` structs in the map's order, plus `_n`: the row's number in the source,
    1, 2, ... in the order `batches` yields the rows. `close(con)` drops what `select` made.
    `failure(exc)` is the `PluginError` users should read for an error DuckDB raised while
    running the statement (a file corrupt halfway).

    `totals(con)` (after `select`) is a `SELECT` of the same rows summed by the monthly
    rollup's keys: the columns of `select` (with `billed_date` the first of its month, `_n` 0
    and `resource`, `additional_info` and `data` NULL) plus `row_count`; `cost` and
    `usage_quantity` are sums. The store builds the rollup from it instead of scanning the
    rows it loaded; rows may share their keys (the store groups them once more).
    """

    display: str

    def select(self, con: Any) -> str: ...

    def totals(self, con: Any) -> str: ...

    def close(self, con: Any) -> None: ...

    def failure(self, exc: BaseException) -> PluginError: ...


@runtime_checkable
class CostPlugin(Protocol):
    metadata: PluginMetadata

    def sync(self, ctx: CostSyncContext) -> CostFeed: ...
