"""A data source sync: a cost-analysis job, run on the workers.

`start_sync` records the job (IN_PROGRESS) and queues it in the data source's own queue, so two
syncs of one data source never overlap. `CostSyncTask` runs it: it asks the plugin for a feed,
hands the feed to the cost store, which swaps the covered months in atomically, then records
what was learned (keys, months) on the data source and ends the job. A failure or a cancel
while reading changes no cost data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, insert, select, update

from skyatlas.cost.budget import notify_after_sync
from skyatlas.cost.store import Assignment, SyncCancelled
from skyatlas.errors import SkyatlasError
from skyatlas.identity.verbs.service_account import read_secret_data
from skyatlas.ids import new_id, utcnow
from skyatlas.jobs.queue import enqueue
from skyatlas.plugins.base import CostFeed, CostSyncContext, PluginError
from skyatlas.runtime import Runtime
from skyatlas.store.engine import Store
from skyatlas.store.tables import cost_jobs, data_sources, projects, service_accounts

log = logging.getLogger(__name__)

#: Options the core reads itself; plugins never see them.
CORE_OPTIONS = ("project_tag_key",)

TASK_KIND = "cost-sync"
IN_PROGRESS, SUCCESS, FAILURE, CANCELED = "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"


def start_sync(
    conn: Connection,
    ds: Any,
    *,
    trigger: str = "MANUAL",
    options: dict[str, Any] | None = None,
) -> str:
    """Accept a sync of `ds` (answered at once; the workers run it)."""
    now = utcnow()
    job_id = new_id("job")
    conn.execute(
        insert(cost_jobs).values(
            job_id=job_id,
            domain_id=ds.domain_id,
            workspace_id=ds.workspace_id,
            data_source_id=ds.data_source_id,
            status=IN_PROGRESS,
            trigger=trigger,
            options=dict(options or {}),
            months=[],
            total_rows=0,
            created_at=now,
            updated_at=now,
        )
    )
    enqueue(
        conn,
        kind=TASK_KIND,
        queue=f"cost-sync:{ds.data_source_id}",
        domain_id=ds.domain_id,
        workspace_id=None if ds.workspace_id == "*" else ds.workspace_id,
        payload={"job_id": job_id},
        prefix="qjob",
    )
    return job_id


def load_job(conn: Connection, job_id: str) -> Any:
    return conn.execute(select(cost_jobs).where(cost_jobs.c.job_id == job_id)).first()


def finish_job(
    conn: Connection, job_id: str, status: str, reason: str | None = None, **values: Any
) -> None:
    """End a job unless it ended already (a cancel wins over a late success)."""
    now = utcnow()
    conn.execute(
        update(cost_jobs)
        .where(cost_jobs.c.job_id == job_id, cost_jobs.c.status == IN_PROGRESS)
        .values(status=status, reason=reason, updated_at=now, finished_at=now, **values)
    )


def assignment_for(conn: Connection, ds: Any) -> Assignment:
    """How the data source's rows map to service accounts, projects and workspaces."""
    workspace = None if ds.workspace_id == "*" else ds.workspace_id
    where = [service_accounts.c.domain_id == ds.domain_id]
    if workspace:
        where.append(service_accounts.c.workspace_id == workspace)
    accounts: dict[str, tuple[str, str, str]] = {}
    rows = conn.execute(
        select(service_accounts).where(*where).order_by(service_accounts.c.created_at)
    )
    for row in rows:
        account_id = (row.data or {}).get("account_id")
        if isinstance(account_id, str | int) and str(account_id) not in accounts:
            accounts[str(account_id)] = (row.service_account_id, row.project_id, row.workspace_id)
    options = (ds.plugin_info or {}).get("options") or {}
    tag_key = options.get("project_tag_key")
    by_key: dict[str, tuple[str, str]] = {}
    if tag_key:
        where = [projects.c.domain_id == ds.domain_id]
        if workspace:
            where.append(projects.c.workspace_id == workspace)
        names: dict[str, list[tuple[str, str]]] = {}
        for p in conn.execute(select(projects).where(*where)):
            by_key[p.project_id] = (p.project_id, p.workspace_id)
            names.setdefault(p.name, []).append((p.project_id, p.workspace_id))
        for name, found in names.items():
            if len(found) == 1:  # an ambiguous name maps nowhere rather than anywhere
                by_key.setdefault(name, found[0])
    return Assignment(
        data_source_id=ds.data_source_id,
        domain_id=ds.domain_id,
        workspace_id=workspace,
        accounts=accounts,
        project_tag_key=tag_key,
        projects=by_key,
    )


def credentials(conn: Connection, runtime: Runtime, ds: Any) -> dict[str, Any]:
    """The secret of the data source's first service account (in `secret_filter`) that has
    one; empty when it names none."""
    for account_id in (ds.secret_filter or {}).get("service_accounts") or []:
        secret = read_secret_data(conn, runtime.sealer, account_id)
        if secret is not None:
            return secret
    return {}


class _CancelCheck:
    """`ctx.cancelled()`: reads the job's status at most once a second."""

    def __init__(self, store: Store, job_id: str) -> None:
        self.store, self.job_id = store, job_id
        self._checked, self._value = 0.0, False

    def __call__(self, *, fresh: bool = False) -> bool:
        now = time.monotonic()
        if not self._value and (fresh or now - self._checked > 1.0):
            self._checked = now
            with self.store.read() as conn:
                job = load_job(conn, self.job_id)
                self._value = job is None or job.status == CANCELED
        return self._value


def _guarded(batches: Any) -> Iterator[Any]:
    """The plugin's batches; an unexpected exception becomes a `PluginError` users can read."""
    iterator = iter(batches)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except PluginError:
            raise
        except Exception as exc:
            log.exception("cost plugin failed while reading")
            raise PluginError(f"the cost plugin failed: {type(exc).__name__}: {exc}") from None
        yield batch


class CostSyncTask:
    """The long-job handler of `cost-sync` jobs."""

    def __init__(
        self, runtime: Runtime, progress: Callable[[str, int], None] | None = None
    ) -> None:
        self.runtime = runtime
        #: Called with (job_id, rows read so far) as batches arrive (the CLI's progress bar).
        self.progress = progress

    def abandon(self, conn: Connection, job: Any, reason: str) -> None:
        finish_job(conn, job.payload["job_id"], FAILURE, reason)

    def run(self, store: Store, job: Any) -> None:
        job_id = job.payload["job_id"]
        with store.read() as conn:
            cost_job = load_job(conn, job_id)
            if cost_job is None or cost_job.status != IN_PROGRESS:
                return
            ds = conn.execute(
                select(data_sources).where(data_sources.c.data_source_id == cost_job.data_source_id)
            ).first()
            if ds is None:
                problem: str | None = "the data source was deregistered before the sync ran"
            elif ds.data_source_type == "LOCAL":
                problem = "a LOCAL data source takes rows through `cost create`; nothing to sync"
            else:
                problem = None
        if problem is not None:
            with store.begin(write=True) as conn:
                finish_job(conn, job_id, FAILURE, problem)
            return
        try:
            self._sync(store, cost_job, ds)
        except SyncCancelled:
            log.info("cost sync %s cancelled; nothing changed", job_id)
        except Exception as exc:  # the job must end, whatever happened
            if isinstance(exc, PluginError | SkyatlasError):
                message = exc.message
            else:
                log.exception("cost sync %s failed", job_id)
                message = f"internal error ({type(exc).__name__}); see the server log"
            with store.begin(write=True) as conn:
                finish_job(conn, job_id, FAILURE, f"{message} (the previous data is unchanged)")

    def _sync(self, store: Store, cost_job: Any, ds: Any) -> None:
        plugin_id = ds.plugin_info["plugin_id"]
        plugin = self.runtime.plugins.get(plugin_id, "cost")
        with store.read() as conn:
            assignment = assignment_for(conn, ds)
            secret = credentials(conn, self.runtime, ds)
        options = {**(ds.plugin_info.get("options") or {}), **(cost_job.options or {})}
        span = {k: options.pop(k) for k in ("start", "end") if k in options}
        for key in CORE_OPTIONS:
            options.pop(key, None)
        # An import names several files: one sync reads them all, so months they share are
        # replaced by all of their rows together.
        paths = options.pop("paths", None)
        cancelled = _CancelCheck(store, cost_job.job_id)
        contexts = [
            CostSyncContext(
                options={**options, "path": path} if path is not None else options,
                secret=secret,
                cancelled=cancelled,
                log=logging.getLogger(f"skyatlas.plugins.{plugin_id}"),
                import_roots=self.runtime.settings.allowed_import_roots,
                start=span.get("start"),
                end=span.get("end"),
            )
            for path in (paths or [None])
        ]
        feeds: list[CostFeed] = [plugin.sync(ctx) for ctx in contexts]
        months: set[str] = set()
        for feed in feeds:
            months |= set(feed.months or ())
        costs = self.runtime.costs
        queries = None
        if costs.backend == "duckdb" and all(f.queries is not None for f in feeds):
            queries = _checked(_guarded(q for f in feeds for q in f.queries or ()), cancelled)
        job_id = cost_job.job_id
        result = costs.replace(
            assignment,
            job_id,
            self._counted(job_id, _guarded(b for f in feeds for b in f.batches), cancelled),
            months,
            cancelled,
            queries=queries,
            progress=(lambda rows: self.progress(job_id, rows)) if self.progress else None,
        )
        with store.begin(write=True) as conn:
            current = conn.execute(
                select(data_sources).where(data_sources.c.data_source_id == ds.data_source_id)
            ).first()
            now = utcnow()
            if current is not None:
                conn.execute(
                    update(data_sources)
                    .where(data_sources.c.data_source_id == ds.data_source_id)
                    .values(
                        cost_tag_keys=_merge(current.cost_tag_keys, result.tag_keys),
                        cost_additional_info_keys=_merge(
                            current.cost_additional_info_keys, result.additional_info_keys
                        ),
                        cost_data_keys=_merge(current.cost_data_keys, result.data_keys),
                        months=_merge(current.months, result.months),
                        last_synchronized_at=now,
                        updated_at=now,
                    )
                )
            finish_job(
                conn,
                cost_job.job_id,
                SUCCESS,
                months=list(result.months),
                total_rows=result.rows,
            )
            if current is not None:
                # Budgets those months count toward: one webhook job per newly crossed
                # threshold, committed with the sync (a failure here is logged, not raised).
                notify_after_sync(conn, self.runtime, current, list(result.months))
        if self.runtime.workers is not None:
            self.runtime.workers.wake()

    def _counted(
        self, job_id: str, batches: Iterator[Any], cancelled: _CancelCheck
    ) -> Iterator[Any]:
        rows = 0
        for batch in batches:
            rows += batch.num_rows
            if self.progress is not None:
                self.progress(job_id, rows)
            yield batch
        # A plugin that saw the cancel ends its feed early, like a finished one: only the job
        # can tell them apart, so it is asked once more before anything is swapped in.
        if cancelled(fresh=True):
            raise SyncCancelled()


def _checked(queries: Iterator[Any], cancelled: _CancelCheck) -> Iterator[Any]:
    """The queries; after the last, the job is asked once more whether it was cancelled (see
    `CostSyncTask._counted`)."""
    yield from queries
    if cancelled(fresh=True):
        raise SyncCancelled()


def _merge(old: Any, new: tuple[str, ...]) -> list[str]:
    return sorted(set(old or ()) | set(new))
