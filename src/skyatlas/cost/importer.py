"""`skyatlas import costs`: FOCUS files into a data source, through the same sync job a
scheduled or API-started sync uses (one job for all the files, so months they share are
replaced by all their rows together).

The job goes into the queue. If this process can own the cost store (no server holds it, or
the store is PostgreSQL), it runs the job itself; otherwise the running server's workers do
(from copies of the files placed in the data directory's `imports/`, the directory a server
reads from), and this process waits for the job to end.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from skyatlas.cost.store import CostStoreBusy
from skyatlas.cost.sync import IN_PROGRESS, TASK_KIND, CostSyncTask, load_job, start_sync
from skyatlas.errors import InvalidParameter, NotFound
from skyatlas.ids import new_id, utcnow
from skyatlas.inventory.importer import default_workspace
from skyatlas.jobs.queue import run_next
from skyatlas.runtime import Runtime
from skyatlas.store.tables import data_sources

DEFAULT_NAME = "focus-import"


@dataclass(frozen=True)
class ImportResult:
    job_id: str
    data_source_id: str
    status: str
    rows: int
    months: tuple[str, ...]
    reason: str | None
    ran_here: bool


def _find_or_create(
    runtime: Runtime,
    data_source_id: str | None,
    name: str | None,
    paths: Sequence[Path],
    source: Path,
) -> Any:
    """The data source (created for `--name` if missing, its `path` the user's first file) and
    the accepted sync job reading `paths`."""
    with runtime.store.begin(write=True) as conn:
        if data_source_id is not None:
            row = conn.execute(
                select(data_sources).where(data_sources.c.data_source_id == data_source_id)
            ).first()
            if row is None:
                raise NotFound(f"data source not found (data_source_id={data_source_id})")
        else:
            domain_id, workspace_id = default_workspace(conn)
            wanted = name or DEFAULT_NAME
            row = conn.execute(
                select(data_sources).where(
                    data_sources.c.workspace_id == workspace_id, data_sources.c.name == wanted
                )
            ).first()
            if row is None:
                now = utcnow()
                conn.execute(
                    insert(data_sources).values(
                        data_source_id=new_id("ds"),
                        domain_id=domain_id,
                        workspace_id=workspace_id,
                        resource_group="WORKSPACE",
                        name=wanted,
                        state="ENABLED",
                        data_source_type="EXTERNAL",
                        provider=None,
                        secret_type="MANUAL",
                        secret_filter={
                            "state": "ENABLED",
                            "secrets": [],
                            "service_accounts": [],
                            "schemas": [],
                        },
                        plugin_info={"plugin_id": "focus", "options": {"path": str(source)}},
                        schedule={"state": "DISABLED", "hour": None},
                        tags={},
                        cost_tag_keys=[],
                        cost_additional_info_keys=[],
                        cost_data_keys=[],
                        months=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
                row = conn.execute(
                    select(data_sources).where(
                        data_sources.c.workspace_id == workspace_id, data_sources.c.name == wanted
                    )
                ).first()
        if row.data_source_type != "EXTERNAL" or row.plugin_info.get("plugin_id") != "focus":
            raise InvalidParameter(
                f"data source {row.data_source_id} does not read FOCUS files (plugin "
                f"{row.plugin_info.get('plugin_id') or 'none'}); name a focus data source"
            )
        job_id = start_sync(conn, row, trigger="IMPORT", options={"paths": [str(p) for p in paths]})
    return row, job_id


def import_costs(
    runtime: Runtime,
    paths: Sequence[Path],
    *,
    data_source_id: str | None = None,
    name: str | None = None,
    progress: Callable[[int], None] | None = None,
    poll_seconds: float = 0.5,
) -> ImportResult:
    if not paths:
        raise InvalidParameter("name at least one file")
    resolved = [p.resolve() for p in paths]
    source = resolved[0]
    ran_here = True
    try:
        runtime.costs  # noqa: B018 - owning the cost store decides who runs the job
    except CostStoreBusy:
        ran_here = False
    staged: Path | None = None
    if not ran_here:
        # The server reads files only below its import directory: hand it copies there.
        staged = runtime.settings.data_dir / "imports" / f"cli-{new_id('import')}"
        staged.mkdir(parents=True)
        copies = []
        for i, path in enumerate(resolved):
            target = staged / f"{i:03d}-{path.name}"
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, target)
            copies.append(target)
        resolved = copies
    try:
        ds, job_id = _find_or_create(runtime, data_source_id, name, resolved, source)
        return _run(runtime, ds, job_id, ran_here, progress, poll_seconds)
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def _run(
    runtime: Runtime,
    ds: Any,
    job_id: str,
    ran_here: bool,
    progress: Callable[[int], None] | None,
    poll_seconds: float,
) -> ImportResult:
    if ran_here:
        task = CostSyncTask(
            runtime, progress=(lambda _job, rows: progress(rows)) if progress else None
        )
        while True:
            with runtime.store.read() as conn:
                if load_job(conn, job_id).status != IN_PROGRESS:
                    break
            if not run_next(runtime.store, {}, {TASK_KIND: task}):
                time.sleep(poll_seconds)
    else:
        while True:
            with runtime.store.read() as conn:
                job = load_job(conn, job_id)
            if job.status != IN_PROGRESS:
                break
            time.sleep(poll_seconds)
    with runtime.store.read() as conn:
        job = load_job(conn, job_id)
    return ImportResult(
        job_id=job_id,
        data_source_id=ds.data_source_id,
        status=job.status,
        rows=job.total_rows,
        months=tuple(job.months or ()),
        reason=job.reason,
        ran_here=ran_here,
    )
