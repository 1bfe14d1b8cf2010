"""Bulk import of cloud services from JSON Lines or a JSON array, streamed and batched.

Every record goes through the same validation model as `cloud-service/create` and the same
`write_batch` upsert as the API and the collectors: re-importing a file updates what it created
and creates nothing new. Each batch is its own short transaction, so a running server keeps
answering (SQLite WAL) while a large file loads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import Connection, select

from skyatlas.errors import InvalidParameter
from skyatlas.inventory import service
from skyatlas.schemas import first_error
from skyatlas.store import statistics
from skyatlas.store.engine import Store
from skyatlas.store.tables import workspaces

_CHUNK = 1 << 20
_IMPORT_CHECKPOINT_PAGES = 250_000  # about 1 GB of WAL between checkpoints


@dataclass
class ImportResult:
    read: int = 0
    created: int = 0
    updated: int = 0


def _records_from_array(fh: IO[str]) -> Iterator[tuple[int, Any]]:
    """Objects of a JSON array, one at a time, without loading the whole file."""
    decoder = json.JSONDecoder()
    buf = fh.read(_CHUNK).lstrip()
    if not buf.startswith("["):
        raise InvalidParameter("a JSON file must hold an array of records")
    buf = buf[1:]
    index = 0
    while True:
        buf = buf.lstrip().lstrip(",").lstrip()
        if buf.startswith("]"):
            return
        try:
            value, end = decoder.raw_decode(buf)
        except json.JSONDecodeError:
            more = fh.read(_CHUNK)
            if not more:
                raise InvalidParameter(f"record {index + 1}: the JSON array is cut short") from None
            buf += more
            continue
        index += 1
        yield index, value
        buf = buf[end:]
        if len(buf) < _CHUNK // 4:
            buf += fh.read(_CHUNK)


def read_records(fh: IO[str]) -> Iterator[tuple[int, Any]]:
    """`(record number, value)` from JSON Lines, or from a JSON array (detected by `[`)."""
    first = fh.read(1)
    while first and first.isspace():
        first = fh.read(1)
    if first == "[":
        rest = fh
        yield from _records_from_array(_Prefixed(first, rest))
        return
    line_no = 0
    pending = first
    for line in fh:
        line = pending + line
        pending = ""
        line_no += 1
        if not line.strip():
            continue
        # Raw text: the validation model parses it itself (in Rust), faster than a separate
        # parse followed by validation of Python objects.
        yield line_no, line
    if pending.strip():
        yield line_no + 1, pending


class _Prefixed:
    """A text stream with some already-read characters put back in front."""

    def __init__(self, prefix: str, rest: IO[str]) -> None:
        self._prefix = prefix
        self._rest = rest

    def read(self, n: int = -1) -> str:
        head, self._prefix = self._prefix, ""
        return head + self._rest.read(n if n < 0 else max(n - len(head), 0))


def default_workspace(conn: Connection) -> tuple[str, str]:
    """The `default` workspace (or the only one): `(domain_id, workspace_id)`."""
    rows = conn.execute(
        select(workspaces.c.domain_id, workspaces.c.workspace_id, workspaces.c.name)
    ).all()
    for domain_id, workspace_id, name in rows:
        if name == "default":
            return domain_id, workspace_id
    if len(rows) == 1:
        return rows[0][0], rows[0][1]
    raise InvalidParameter("several workspaces exist: name one with --workspace-id")


def import_cloud_services(
    store: Store,
    path: Path,
    *,
    workspace_id: str | None = None,
    project_id: str | None = None,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Stream `path` into the store; `progress(records, bytes)` after every batch."""
    from skyatlas.inventory.verbs.cloud_service import CloudServiceCreate

    with store.read() as conn:
        if workspace_id is None:
            domain_id, workspace_id = default_workspace(conn)
        else:
            found = conn.execute(
                select(workspaces.c.domain_id).where(workspaces.c.workspace_id == workspace_id)
            ).scalar_one_or_none()
            if found is None:
                raise InvalidParameter(f"workspace not found (workspace_id={workspace_id})")
            domain_id = found
        if project_id:
            service.check_projects(conn, None, workspace_id, [project_id])

    result = ImportResult()
    batch: list[dict[str, Any]] = []
    batches = 0
    projects_seen: set[str] = set()

    def flush() -> None:
        if not batch:
            return
        with store.begin() as conn:
            if conn.dialect.name == "sqlite":
                # Checkpoint rarely while loading: each checkpoint copies and syncs every page
                # touched since the last one, so fewer, larger checkpoints write much less.
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={_IMPORT_CHECKPOINT_PAGES}")
            named = {b["project_id"] for b in batch if b.get("project_id")} - projects_seen
            service.check_projects(conn, None, workspace_id, named)
            projects_seen.update(named)
            written = service.write_batch(
                conn,
                domain_id=domain_id,
                workspace_id=workspace_id,
                bodies=batch,
                upsert=True,
                default_project_id=project_id,
                created_by="import",
            )
        result.created += written.created
        result.updated += written.updated
        batch.clear()
        nonlocal batches
        batches += 1
        if store.dialect == "postgresql" and batches & (batches - 1) == 0:
            # A table growing from empty keeps the statistics (and the cached plans) of an empty
            # table until autovacuum catches up; the upsert-key lookup would then scan the whole
            # table every batch. Refresh them after batch 1, 2, 4, 8, ... : cheap, and enough.
            with store.begin() as conn:
                statistics.refresh(conn)

    with path.open("r", encoding="utf-8") as fh:
        for number, value in read_records(fh):
            try:
                if isinstance(value, str):
                    body = CloudServiceCreate.model_validate_json(value)
                elif isinstance(value, dict):
                    body = CloudServiceCreate.model_validate(value)
                else:
                    raise InvalidParameter(f"record {number}: must be a JSON object")
            except ValidationError as exc:
                where, what = first_error(exc)
                raise InvalidParameter(f"record {number}: {where}: {what}") from None
            batch.append(body.body())
            result.read += 1
            if len(batch) >= batch_size:
                flush()
                if progress:
                    progress(result.read, fh.buffer.tell() if hasattr(fh, "buffer") else 0)
        flush()
        if progress:
            progress(result.read, path.stat().st_size)
    statistics.settle(store)
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=10000")
    return result
