"""Running one collection task: plugin → validated records → upsert in batches → reconcile.

The task commits as it goes (a batch per transaction), so the API stays responsive and a crash
loses at most one batch; the queue's lease brings a crashed task back, and since every write is
an upsert by the collection key, running it again converges on the same inventory. Progress
counters are written with each batch, so `job-task get` shows them live.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from skyatlas.collection.bookkeeping import (
    CANCELED,
    FAILURE,
    IN_PROGRESS,
    MAX_ERRORS_KEPT,
    SUCCESS,
    TASK_DONE,
    error_entry,
    finish_task,
    load_job,
    load_task,
)
from skyatlas.collection.reconcile import reconcile
from skyatlas.collection.registration import register_regions, register_types
from skyatlas.errors import SkyatlasError
from skyatlas.identity.verbs.service_account import read_secret_data
from skyatlas.ids import utcnow
from skyatlas.inventory import collection_marks, service
from skyatlas.plugins.base import (
    CollectContext,
    CollectError,
    PluginError,
    RegionRecord,
    ServiceAccountView,
)
from skyatlas.runtime import Runtime
from skyatlas.schemas import first_error
from skyatlas.store import statistics
from skyatlas.store.engine import Store
from skyatlas.store.tables import collector_job_tasks, collectors, projects, service_accounts

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
#: A slow source still shows progress (and is checked for cancellation) this often.
FLUSH_SECONDS = 2.0
#: Resources seen again unchanged get this run's time on their mark at the end of the run, in
#: one pass over the marks in id order; a run this large writes them along the way.
PENDING_MARKS = 200_000


class Stop(Exception):
    """The job was cancelled while this task ran."""


class CollectTask:
    """The queue handler for `collect` jobs (a `LongHandler`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- queue handler interface -------------------------------------------------------------
    def abandon(self, conn: Connection, job: Any, reason: str) -> None:
        finish_task(
            conn,
            job.payload["job_task_id"],
            FAILURE,
            add_errors=[error_entry("ERROR_JOB_ABANDONED", reason)],
        )

    def run(self, store: Store, job: Any) -> None:
        task_id = job.payload["job_task_id"]
        with store.begin(write=True) as conn:
            prepared = self._prepare(conn, task_id, job.attempts)
        if prepared is None:
            return
        try:
            self._collect(store, *prepared)
        except Stop:
            with store.begin(write=True) as conn:
                finish_task(conn, task_id, CANCELED)
        except Exception as exc:  # the task must end, whatever happened
            if isinstance(exc, SkyatlasError):
                message = exc.message
            else:
                log.exception("collection task %s failed", task_id)
                message = f"internal error ({type(exc).__name__}); see the server log"
            with store.begin(write=True) as conn:
                finish_task(
                    conn, task_id, FAILURE, add_errors=[error_entry("ERROR_COLLECT", message)]
                )
            raise

    # -- steps ---------------------------------------------------------------------------------
    def _prepare(self, conn: Connection, task_id: str, attempt: int) -> tuple | None:
        task = load_task(conn, task_id)
        if task is None or task.status in TASK_DONE:
            return None  # ended already (the queue row outlived a crash after the task's end)
        job = load_job(conn, task.job_id)
        if job.status == CANCELED:
            finish_task(conn, task_id, CANCELED)
            return None
        collector = conn.execute(
            select(collectors).where(collectors.c.collector_id == task.collector_id)
        ).first()
        problem = None
        account = secret = plugin = None
        if collector is None:
            problem = "the collector was deleted before this task ran"
        else:
            try:
                plugin = self.runtime.plugins.get(collector.plugin_info["plugin_id"], "collector")
            except SkyatlasError as exc:
                problem = exc.message
        if problem is None and task.service_account_id is not None:
            account = conn.execute(
                select(service_accounts).where(
                    service_accounts.c.service_account_id == task.service_account_id
                )
            ).first()
            if account is None:
                problem = "the service account was deleted before this task ran"
            else:
                secret = read_secret_data(conn, self.runtime.sealer, account.service_account_id)
                if secret is None:
                    problem = "the service account has no secret_data"
        if problem is not None:
            finish_task(conn, task_id, FAILURE, add_errors=[error_entry("ERROR_COLLECT", problem)])
            return None
        now = utcnow()
        notes = []
        if attempt > 1:
            notes.append(
                error_entry(
                    "WARNING_RESUMED",
                    f"restarted (attempt {attempt}): the worker running it stopped",
                )
            )
        conn.execute(
            update(collector_job_tasks)
            .where(collector_job_tasks.c.job_task_id == task_id)
            .values(
                status=IN_PROGRESS,
                attempts=attempt,
                started_at=now,
                updated_at=now,
                created_count=0,
                updated_count=0,
                deleted_count=0,
                disconnected_count=0,
                failure_count=0,
                errors=notes,
            )
        )
        assert plugin is not None and collector is not None
        register_types(conn, task.domain_id, task.workspace_id, plugin.metadata.cloud_service_types)
        view = ServiceAccountView(
            service_account_id=task.service_account_id,
            name=account.name if account else None,
            provider=account.provider if account else collector.provider,
            data=dict(account.data or {}) if account else {},
            project_id=account.project_id if account else None,
            workspace_id=task.workspace_id,
        )
        return task, collector, plugin, view, secret or {}

    def _collect(
        self, store: Store, task: Any, collector: Any, plugin: Any, view: Any, secret: Any
    ) -> None:
        from skyatlas.inventory.verbs.cloud_service import CloudServiceCreate

        run_started = utcnow()
        pending: list[str] = []  # seen again, already marked by this run's collector
        collection = service.Collection(
            collector_id=collector.collector_id,
            service_account_id=task.service_account_id,
            secret_id=task.secret_id,
            collected_at=run_started,
            pending=pending,
        )
        cancelled = _CancelCheck(store, task.job_id)
        ctx = CollectContext(
            options=dict(collector.plugin_info.get("options") or {}),
            secret=secret,
            account=view,
            cancelled=cancelled,
            log=logging.getLogger(f"skyatlas.plugins.{plugin.metadata.plugin_id}"),
            import_roots=self.runtime.settings.allowed_import_roots,
        )
        batch: list[dict[str, Any]] = []
        found_regions: dict[tuple[str, str], RegionRecord] = {}
        errors: list[dict[str, Any]] = []
        unreadable: set[tuple[str, str | None, str | None]] = set()
        blind = False  # an error naming no kind of resource: reconcile nothing
        last_flush = time.monotonic()
        seen = 0
        batches = [0]

        def flush() -> None:
            try:
                write()
            except IntegrityError:
                # another task created one of these resources between our lookup and our
                # insert (two collectors covering one account): the retry finds it and updates
                log.info("task %s: batch raced another writer; retrying", task.job_task_id)
                write()

        def write() -> None:
            nonlocal last_flush
            with store.begin(write=True) as conn:
                if load_job(conn, task.job_id).status == CANCELED:
                    raise Stop
                _drop_foreign_projects(conn, task.workspace_id, batch, errors)
                written = (
                    service.write_batch(
                        conn,
                        domain_id=task.domain_id,
                        workspace_id=task.workspace_id,
                        bodies=batch,
                        upsert=True,
                        default_project_id=view.project_id,
                        collection=collection,
                        created_by=collector.name,
                    )
                    if batch
                    else service.WriteResult()
                )
                _add_counts(conn, task.job_task_id, written, errors)
                if len(pending) >= PENDING_MARKS:
                    collection_marks.touch(conn, pending, run_started)
                    pending.clear()
            batches[0] += 1
            if written.created and store.dialect == "postgresql" and _power_of_two(batches[0]):
                # a table growing fast keeps an empty table's statistics until autovacuum
                # catches up, and the upsert-key lookup would scan it every batch (the importer
                # does the same)
                with store.begin(write=True) as conn:
                    statistics.refresh(conn)
            batch.clear()
            errors.clear()
            last_flush = time.monotonic()

        try:
            for item in _guarded(plugin.collect(ctx)):
                if isinstance(item, RegionRecord):
                    found_regions[(item.provider, item.region_code)] = item
                    continue
                if isinstance(item, CollectError):
                    errors.append(
                        error_entry(
                            item.error_code,
                            item.message,
                            {
                                **dict(item.additional),
                                "cloud_service_group": item.cloud_service_group,
                                "cloud_service_type": item.cloud_service_type,
                                "region_code": item.region_code,
                            },
                        )
                    )
                    if item.cloud_service_group is None:
                        blind = True
                    else:
                        unreadable.add(
                            (item.cloud_service_group, item.cloud_service_type, item.region_code)
                        )
                    continue
                seen += 1
                body = _validated(item, CloudServiceCreate)
                if isinstance(body, dict) and "error_code" in body:
                    errors.append(body)
                    group = item.get("cloud_service_group") if isinstance(item, dict) else None
                    if isinstance(group, str):
                        type_ = item.get("cloud_service_type")
                        unreadable.add((group, type_ if isinstance(type_, str) else None, None))
                    else:
                        blind = True
                    continue
                batch.append(body)
                if len(batch) >= BATCH_SIZE or time.monotonic() - last_flush > FLUSH_SECONDS:
                    flush()
            flush()
        except PluginError as exc:
            with store.begin(write=True) as conn:
                _add_counts(conn, task.job_task_id, service.WriteResult(), errors)
                finish_task(
                    conn,
                    task.job_task_id,
                    FAILURE,
                    add_errors=[error_entry(exc.code, exc.message)],
                )
            return
        with store.begin(write=True) as conn:
            if load_job(conn, task.job_id).status == CANCELED:
                raise Stop
            # before the reconcile, which takes a resource without this run's time as missed
            collection_marks.touch(conn, pending, run_started)
            register_regions(conn, task.domain_id, task.workspace_id, found_regions.values())
            values: dict[str, Any] = {}
            if not blind:
                result = reconcile(
                    conn,
                    workspace_id=task.workspace_id,
                    collector_id=collector.collector_id,
                    service_account_id=task.service_account_id,
                    run_started=run_started,
                    unreadable_kinds=unreadable,
                )
                values = {
                    "disconnected_count": result.disconnected,
                    "deleted_count": result.deleted,
                }
            conn.execute(
                update(collectors)
                .where(collectors.c.collector_id == collector.collector_id)
                .values(last_collected_at=utcnow())
            )
            finish_task(conn, task.job_task_id, SUCCESS, values=values)
        log.info("collector %s: task %s read %d resources", collector.name, task.job_task_id, seen)


class _CancelCheck:
    """`ctx.cancelled()` for plugins: reads the job's status at most once a second."""

    def __init__(self, store: Store, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self._checked = 0.0
        self._value = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._value and now - self._checked > 1.0:
            self._checked = now
            with self.store.read() as conn:
                self._value = load_job(conn, self.job_id).status == CANCELED
        return self._value


def _guarded(items: Any) -> Iterator[Any]:
    """The plugin's items; an unexpected exception becomes a `PluginError` users can read."""
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except PluginError:
            raise
        except Exception as exc:
            log.exception("collector plugin failed")
            raise PluginError(
                f"the plugin failed unexpectedly ({type(exc).__name__}); see the server log",
                code="ERROR_COLLECTOR_PLUGIN_CRASHED",
            ) from exc
        yield item


def _validated(item: Any, model: Any) -> dict[str, Any]:
    """A create body as the API would accept it, or an error entry saying why not."""
    if not isinstance(item, dict):
        return error_entry(
            "ERROR_INVALID_RESOURCE", f"the plugin yielded a {type(item).__name__}, not a record"
        )
    try:
        body = model.model_validate(item)
    except ValidationError as exc:
        where, what = first_error(exc)
        reference = (item.get("reference") or {}) if isinstance(item.get("reference"), dict) else {}
        return error_entry(
            "ERROR_INVALID_RESOURCE",
            f"{where}: {what}",
            {"resource_id": reference.get("resource_id"), "name": item.get("name")},
        )
    return body.body()


def _drop_foreign_projects(
    conn: Connection, workspace_id: str, batch: list[dict[str, Any]], errors: list[dict]
) -> None:
    """Records naming a project that is not in the workspace become errors, not writes."""
    named = {b["project_id"] for b in batch if b.get("project_id")}
    if not named:
        return
    known = set(
        conn.execute(
            select(projects.c.project_id).where(
                projects.c.workspace_id == workspace_id, projects.c.project_id.in_(sorted(named))
            )
        ).scalars()
    )
    kept = []
    for body in batch:
        if body.get("project_id") and body["project_id"] not in known:
            errors.append(
                error_entry(
                    "ERROR_INVALID_RESOURCE",
                    f"project_id: project {body['project_id']} is not in this workspace",
                    {"resource_id": (body.get("reference") or {}).get("resource_id")},
                )
            )
        else:
            kept.append(body)
    batch[:] = kept


def _power_of_two(n: int) -> bool:
    return n & (n - 1) == 0


def _add_counts(conn: Connection, task_id: str, written: Any, errors: list[dict[str, Any]]) -> None:
    t = collector_job_tasks.c
    values: dict[str, Any] = {
        "created_count": t.created_count + written.created,
        "updated_count": t.updated_count + written.updated,
        "updated_at": utcnow(),
    }
    if errors:
        current = conn.execute(select(t.errors).where(t.job_task_id == task_id)).scalar_one()
        values["errors"] = [*(current or []), *errors][:MAX_ERRORS_KEPT]
        values["failure_count"] = t.failure_count + len(errors)
    conn.execute(update(collector_job_tasks).where(t.job_task_id == task_id).values(values))
