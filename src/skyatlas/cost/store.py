"""The cost store: where cost facts and their monthly rollup live, and the one way they change.

Embedded, costs live in DuckDB (`<data dir>/costs.duckdb`): columnar, a monthly group-by over
millions of rows takes tens of milliseconds where SQLite takes seconds. The DuckDB file has one
owner process (the server, or a CLI import when no server runs); every other process reaches
cost data through that one. At scale (PostgreSQL), costs live in PostgreSQL tables partitioned
by month (see `skyatlas.cost.pg_store`).

Queries are SQLAlchemy Core statements, compiled for the backend's dialect; the store runs
them. Changes go through `replace` (a sync: whole months, atomically) and `insert` / `delete`
(single rows of LOCAL data sources), which keep the rollup right.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.cost.tables import DIMENSIONS
from skyatlas.errors import InvalidParameter, SkyatlasError, Unavailable
from skyatlas.plugins.base import CostQuery

SCHEMA_VERSION = 2
log = logging.getLogger(__name__)

#: How the embedded store keeps tags: a list of key/value entries, not a DuckDB MAP. A MAP is
#: checked entry by entry as it is built (keys unique, not NULL); building one per row took half
#: of a sync's load, and reading a tag from the list is as fast as from a map.
TAGS_TYPE = "STRUCT(key VARCHAR, value VARCHAR)[]"

#: Columns whose every value is different (the id, the JSON texts) are compressed with zstd:
#: DuckDB's default for text builds a dictionary first, which such columns never fill, and
#: that took about 1.5 s of a ten-million-row sync's 19 (a month's `data.*` sum reads them
#: 12 ms slower). A store created before keeps its columns as they were.
_UNIQUE_TEXT = "VARCHAR USING COMPRESSION zstd"

_DUCK_DDL = f"""
CREATE TABLE IF NOT EXISTS costs (
    cost_id {_UNIQUE_TEXT} NOT NULL,
    cost DOUBLE,
    usage_quantity DOUBLE,
    {", ".join(f"{d} VARCHAR" for d in DIMENSIONS)},
    resource VARCHAR,
    tags {TAGS_TYPE},
    additional_info {_UNIQUE_TEXT},
    data {_UNIQUE_TEXT},
    billed_date VARCHAR NOT NULL,
    billed_month VARCHAR NOT NULL,
    billed_year VARCHAR NOT NULL,
    sync_id VARCHAR
);
CREATE TABLE IF NOT EXISTS cost_monthly (
    {", ".join(f"{d} VARCHAR" for d in DIMENSIONS)},
    tags {TAGS_TYPE},
    billed_month VARCHAR NOT NULL,
    billed_year VARCHAR NOT NULL,
    cost DOUBLE,
    usage_quantity DOUBLE,
    row_count BIGINT
);
CREATE TABLE IF NOT EXISTS cost_store_info (name VARCHAR PRIMARY KEY, value VARCHAR);
"""

#: Schema version 1 → 2: tags from MAP to a list of entries (the same entries, in order).
_UPGRADES = {
    1: [
        f"ALTER TABLE {table} ALTER COLUMN tags SET DATA TYPE {TAGS_TYPE} USING map_entries(tags)"
        for table in ("costs", "cost_monthly")
    ]
}


def tag_value_sql(column: str, key: str) -> str:
    """DuckDB SQL for the value of tag `key` (SQL text: a literal or a placeholder) in a tags
    column, NULL when the row has no such tag."""
    return f"list_extract(list_filter({column}, lambda e: e.key = {key}), 1).value"


#: Rows of a sync whose JSON keys are read to learn `cost_additional_info_keys` /
#: `cost_data_keys` (all of them when the sync has fewer; about as many from a large one).
KEY_SAMPLE = 200_000

_ROLLUP_KEYS = ", ".join([*DIMENSIONS, "tags", "billed_month", "billed_year"])
#: A sync's totals by the rollup's keys, one temporary table per query (`CostQuery.totals`);
#: they live as long as the sync's connection.
_SYNC_TOTALS = "skyatlas_sync_totals"


class SyncFailed(SkyatlasError):
    """The source could not be read completely; nothing was changed."""

    status = 400
    code = "ERROR_COST_SYNC"


class SyncCancelled(Exception):
    """The sync was cancelled while reading; nothing was changed."""


@dataclass(frozen=True)
class Assignment:
    """Who new rows belong to: fixed ids, plus lookups from the billing sub-account (service
    accounts' `data.account_id`) and, optionally, from a project tag."""

    data_source_id: str
    domain_id: str
    #: The data source's workspace; None for a DOMAIN data source (rows take the workspace of
    #: the service account or project they map to, or stay unassigned).
    workspace_id: str | None
    #: account_id → (service_account_id, project_id, workspace_id); one entry per account.
    accounts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    project_tag_key: str | None = None
    #: tag value (project id or unique project name) → (project_id, workspace_id).
    projects: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplaceResult:
    months: tuple[str, ...]
    rows: int
    tag_keys: tuple[str, ...]
    additional_info_keys: tuple[str, ...]
    data_keys: tuple[str, ...]


class CostStore(Protocol):
    backend: str

    def fetch(self, stmt: Any) -> list[dict[str, Any]]: ...

    def replace(
        self,
        assignment: Assignment,
        sync_id: str,
        batches: Iterable[pa.RecordBatch],
        months: Iterable[str] | None,
        cancelled: Callable[[], bool],
        *,
        queries: Iterable[CostQuery] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ReplaceResult: ...

    def insert(
        self,
        assignment: Assignment,
        sync_id: str,
        rows: pa.Table,
        project: tuple[str, str] | None = None,
    ) -> list[str]: ...

    def delete(self, data_source_id: str, cost_ids: Sequence[str] | None = None) -> int: ...

    def close(self) -> None: ...


def _accounts_table(a: Assignment) -> pa.Table:
    items = sorted(a.accounts.items())
    return pa.table(
        {
            "account_id": [k for k, _ in items],
            "a_service_account_id": [v[0] for _, v in items],
            "a_project_id": [v[1] for _, v in items],
            "a_workspace_id": [v[2] for _, v in items],
        },
        schema=pa.schema(
            [
                (n, pa.string())
                for n in ("account_id", "a_service_account_id", "a_project_id", "a_workspace_id")
            ]
        ),
    )


def _projects_table(a: Assignment) -> pa.Table:
    items = sorted(a.projects.items())
    return pa.table(
        {
            "p_key": [k for k, _ in items],
            "p_project_id": [v[0] for _, v in items],
            "p_workspace_id": [v[1] for _, v in items],
        },
        schema=pa.schema([(n, pa.string()) for n in ("p_key", "p_project_id", "p_workspace_id")]),
    )


def _insert_select(
    a: Assignment, source: str = "_batch"
) -> tuple[str, Callable[[str, int, str], list[Any]]]:
    """INSERT INTO costs ... SELECT from `source` (the registered batch `_batch`, or a
    plugin's query in parentheses); see `_assigned_select`."""
    sql, params = _assigned_select(a, source)
    return f"INSERT INTO costs BY NAME {sql}", params


def _assigned_select(
    a: Assignment, source: str, extra: str = ""
) -> tuple[str, Callable[[str, int, str], list[Any]]]:
    """The rows of `source` as `costs` holds them: the assignment joins and derived columns,
    in SQL so no row passes through Python; `extra` columns of the source are kept as they
    are. Returns the SQL and a function giving its parameters (id prefix, id offset, sync id)
    in placeholder order."""
    tag_join = ""
    project = "a.a_project_id"
    workspace = "a.a_workspace_id"
    if a.project_tag_key:
        tag_join = f"LEFT JOIN _projects p ON p.p_key = {tag_value_sql('b.tags', '?')}"
        project = "COALESCE(a.a_project_id, p.p_project_id)"
        workspace = "COALESCE(a.a_workspace_id, p.p_workspace_id)"
    sql = f"""
        SELECT {extra + "," if extra else ""}
               ? || replace(substr(b.billed_date, 1, 7), '-', '') || '-'
                 || CAST(? + b._n AS VARCHAR) AS cost_id,
               b.cost, b.usage_quantity, b.usage_unit, b.provider, b.region_code, b.region_key,
               b.product, b.usage_type, b.resource, b.account_id,
               b.tags, b.additional_info, b.data,
               b.billed_date,
               substr(b.billed_date, 1, 7) AS billed_month,
               substr(b.billed_date, 1, 4) AS billed_year,
               ? AS data_source_id, ? AS domain_id,
               {"?" if a.workspace_id else workspace} AS workspace_id,
               {project} AS project_id,
               a.a_service_account_id AS service_account_id,
               ? AS sync_id
        FROM {source} b
        LEFT JOIN _accounts a ON a.account_id = b.account_id
        {tag_join}
    """

    def params(prefix: str, offset: int, sync_id: str) -> list[Any]:
        out: list[Any] = [prefix, offset, a.data_source_id, a.domain_id]
        if a.workspace_id:
            out.append(a.workspace_id)
        out.append(sync_id)
        if a.project_tag_key:
            out.append(a.project_tag_key)
        return out

    return sql, params


_COST_ID = re.compile(r"^cost-[0-9a-z]+-(\d{4})(\d{2})-\d+$")


def month_of(cost_id: str) -> str | None:
    """The billed month a cost id carries (`cost-<sync>-<YYYYMM>-<n>`): a lookup by id can
    then read one month instead of all of them."""
    match = _COST_ID.match(cost_id)
    return f"{match.group(1)}-{match.group(2)}" if match else None


class DuckCostStore:
    """Costs in one DuckDB file, owned by this process."""

    backend = "duckdb"

    def __init__(self, path: Path, *, memory_limit: str = "1GB", threads: int | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"memory_limit": memory_limit}
        if threads:
            config["threads"] = threads
        try:
            self._db = duckdb.connect(str(path), config=config)
        except duckdb.IOException as exc:
            raise CostStoreBusy(
                f"the cost store {path} is open in another process (a running `skyatlas "
                "serve`?); cost data is reached through that process"
            ) from exc
        self._db.execute(_DUCK_DDL)
        self._upgrade()
        self._local = threading.local()
        self._write = threading.Lock()
        from duckdb_engine import Dialect

        self.dialect = Dialect(paramstyle="qmark")

    def _upgrade(self) -> None:
        """Bring a cost store written by an earlier version to this one, in one transaction."""
        found = self._db.execute(
            "SELECT value FROM cost_store_info WHERE name = 'schema_version'"
        ).fetchone()
        version = int(found[0]) if found else SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise CostStoreBusy(
                f"the cost store was written by a newer skyatlas (schema {version}); "
                "upgrade skyatlas to open it"
            )
        self._db.execute("BEGIN TRANSACTION")
        try:
            for step in range(version, SCHEMA_VERSION):
                for sql in _UPGRADES[step]:
                    self._db.execute(sql)
            self._db.execute(
                "INSERT OR REPLACE INTO cost_store_info VALUES ('schema_version', ?)",
                [str(SCHEMA_VERSION)],
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- reading ---------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._db.cursor()
        return cur

    def compile(self, stmt: Any) -> tuple[str, list[Any]]:
        compiled = stmt.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.params
        return compiled.string, [params[name] for name in (compiled.positiontup or ())]

    def fetch(self, stmt: Any) -> list[dict[str, Any]]:
        sql, params = self.compile(stmt)
        cur = self._cursor()
        try:
            cur.execute(sql, params)
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise InvalidParameter(f"the query cannot be answered: {_first_line(exc)}") from None
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # -- writing ---------------------------------------------------------------------------
    def _load(
        self,
        cur: duckdb.DuckDBPyConnection,
        a: Assignment,
        sync_id: str,
        batches: Iterable[pa.RecordBatch],
        cancelled: Callable[[], bool],
    ) -> int:
        cur.register("_accounts", _accounts_table(a))
        cur.register("_projects", _projects_table(a))
        sql, sql_params = _insert_select(a)
        prefix = f"cost-{sync_id.rsplit('-', 1)[-1]}-"
        # One INSERT reads the whole stream (a statement per batch costs half the speed);
        # an error raised while reading is kept and raised as itself, not as DuckDB's.
        numbered = _Numbered(batches, cancelled)
        cur.register("_batch", pa.RecordBatchReader.from_batches(NUMBERED_SCHEMA, numbered))
        try:
            cur.execute(sql, sql_params(prefix, 0, sync_id))
        except duckdb.Error:
            if numbered.error is not None:
                raise numbered.error from None
            raise
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it
                cur.unregister("_batch")
        if numbered.error is not None:
            raise numbered.error
        return numbered.rows

    def _load_queries(
        self,
        cur: duckdb.DuckDBPyConnection,
        a: Assignment,
        sync_id: str,
        queries: Iterable[CostQuery],
        cancelled: Callable[[], bool],
        progress: Callable[[int], None] | None,
    ) -> tuple[int, str | None]:
        """Run each query into the table on this connection (see `CostQuery`): the rows go from
        the file to the table inside DuckDB, on every core; each query's totals go to a
        temporary table (`_SYNC_TOTALS`_n). Returns the rows loaded and the SQL of all the
        totals (None when no query ran). A watcher thread
        interrupts the statements when the sync is cancelled; progress is reported after each
        query (DuckDB's own estimate stays at 0 for these statements)."""
        cur.register("_accounts", _accounts_table(a))
        cur.register("_projects", _projects_table(a))
        prefix = f"cost-{sync_id.rsplit('-', 1)[-1]}-"
        total, tables = 0, []
        for n, query in enumerate(queries):
            if cancelled():
                raise SyncCancelled()
            try:
                with _Watch(cur, cancelled) as watch:
                    try:
                        sql, sql_params = _insert_select(a, f"({query.select(cur)})")
                        found = cur.execute(sql, sql_params(prefix, total, sync_id)).fetchone()
                        # CREATE TABLE ... AS, not INSERT: here (DuckDB 2.0), rows inserted
                        # into a table made earlier in this transaction went missing beyond
                        # one row group (test_the_rollup_of_a_sync_with_many_totals_...).
                        sql, sql_params = _assigned_select(
                            a, f"({query.totals(cur)})", "b.row_count"
                        )
                        table = f"{_SYNC_TOTALS}_{n}"
                        cur.execute(
                            f"CREATE TEMP TABLE {table} AS {sql}", sql_params(prefix, 0, sync_id)
                        ).fetchall()
                        tables.append(f"SELECT * FROM {table}")
                    except duckdb.Error as exc:
                        if watch.interrupted:
                            raise SyncCancelled() from None
                        raise query.failure(exc) from None
            finally:
                query.close(cur)
            total += int(found[0]) if found else 0
            if progress is not None:
                progress(total)
        return total, f"({' UNION ALL '.join(tables)})" if tables else None

    def _check_dates(self, cur: duckdb.DuckDBPyConnection, sync_id: str) -> None:
        bad = cur.execute(
            "SELECT billed_date FROM costs WHERE sync_id = ? AND "
            "NOT regexp_full_match(billed_date, '\\d{4}-\\d{2}-\\d{2}') LIMIT 1",
            [sync_id],
        ).fetchone()
        if bad is not None:
            raise SyncFailed(f"billed_date '{bad[0]}' is not a date (YYYY-MM-DD)")

    def _rollup(
        self,
        cur: duckdb.DuckDBPyConnection,
        ds: str,
        months: Sequence[str],
        totals: str | None = None,
    ) -> None:
        """Rebuild the rollup of `months` from the rows, or from a sync's `totals` (rows
        already summed, with their `row_count`), which hold the same sums."""
        if not months:
            return
        marks = ", ".join("?" for _ in months)
        cur.execute(
            f"DELETE FROM cost_monthly WHERE data_source_id = ? AND billed_month IN ({marks})",
            [ds, *months],
        )
        source, row_count = (totals, "sum(row_count)") if totals else ("costs", "count(*)")
        cur.execute(
            f"""INSERT INTO cost_monthly BY NAME
                SELECT {_ROLLUP_KEYS}, sum(cost) AS cost, sum(usage_quantity) AS usage_quantity,
                       {row_count} AS row_count
                FROM {source} WHERE data_source_id = ? AND billed_month IN ({marks})
                GROUP BY ALL""",
            [ds, *months],
        )

    def _keys(
        self,
        cur: duckdb.DuckDBPyConnection,
        sync_id: str,
        column: str,
        rows: int,
        totals: str | None = None,
    ) -> tuple[str, ...]:
        """The keys of `column` in the sync's `rows` rows: every row's tags (read from the
        sync's `totals` when it has them: every tag set is there, in far fewer rows); the JSON
        objects' keys from all rows of a sync of up to KEY_SAMPLE rows, else from a sample.

        JSON text: parsing every row would cost as much as the load, and a source's rows
        share their keys (a file's columns), so a sample finds them. The sample is a share of
        the rows' vectors sized to hold about KEY_SAMPLE rows: DuckDB reads only those
        vectors, where a reservoir of so many rows reads the whole column (0.5 s for ten
        million rows)."""
        if column == "tags":
            sql = (
                "SELECT DISTINCT e.key AS k FROM (SELECT unnest(tags) AS e "
                f"FROM {totals or 'costs'} WHERE sync_id = ?)"
            )
        else:
            sample = ""
            if rows > KEY_SAMPLE:
                sample = f"USING SAMPLE {100 * KEY_SAMPLE / rows:.6f}% (system, 7)"
            sql = (
                f"SELECT DISTINCT unnest(json_keys({column})) AS k FROM (SELECT {column} "
                f"FROM costs WHERE sync_id = ? AND {column} IS NOT NULL {sample})"
            )
        found = cur.execute(f"{sql} ORDER BY k", [sync_id]).fetchall()
        return tuple(r[0] for r in found)

    def replace(
        self,
        assignment: Assignment,
        sync_id: str,
        batches: Iterable[pa.RecordBatch],
        months: Iterable[str] | None,
        cancelled: Callable[[], bool],
        *,
        queries: Iterable[CostQuery] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ReplaceResult:
        """Load a sync's rows and swap them in for the months it covers, in one transaction:
        readers see the old months or the new ones, never a mix; an error or a cancel while
        reading leaves everything as it was. The rows come from `queries` when the plugin
        offers them (`batches` is then never read), else from `batches`."""
        with self._write:
            cur = self._db.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                totals: str | None = None
                if queries is not None:
                    total, totals = self._load_queries(
                        cur, assignment, sync_id, queries, cancelled, progress
                    )
                else:
                    total = self._load(cur, assignment, sync_id, batches, cancelled)
                self._check_dates(cur, sync_id)
                seen = {
                    r[0]
                    for r in cur.execute(
                        "SELECT DISTINCT billed_month FROM costs WHERE sync_id = ?", [sync_id]
                    ).fetchall()
                }
                covered = sorted(seen | set(months or ()))
                if covered:
                    marks = ", ".join("?" for _ in covered)
                    cur.execute(
                        f"DELETE FROM costs WHERE data_source_id = ? AND billed_month IN "
                        f"({marks}) AND sync_id IS DISTINCT FROM ?",
                        [assignment.data_source_id, *covered, sync_id],
                    )
                self._rollup(cur, assignment.data_source_id, covered, totals)
                result = ReplaceResult(
                    months=tuple(covered),
                    rows=total,
                    tag_keys=self._keys(cur, sync_id, "tags", total, totals),
                    additional_info_keys=self._keys(cur, sync_id, "additional_info", total),
                    data_keys=self._keys(cur, sync_id, "data", total),
                )
                cur.execute("COMMIT")
                return result
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def insert(
        self,
        assignment: Assignment,
        sync_id: str,
        rows: pa.Table,
        project: tuple[str, str] | None = None,
    ) -> list[str]:
        """Add rows (a LOCAL data source's `cost create`) and refresh their months' rollup.
        `project` (project_id, workspace_id) overrides the mapping for these rows."""
        with self._write:
            cur = self._db.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                self._load(cur, assignment, sync_id, rows.to_batches(), lambda: False)
                self._check_dates(cur, sync_id)
                if project is not None:
                    cur.execute(
                        "UPDATE costs SET project_id = ?, workspace_id = ? WHERE sync_id = ?",
                        [project[0], project[1], sync_id],
                    )
                months = [
                    r[0]
                    for r in cur.execute(
                        "SELECT DISTINCT billed_month FROM costs WHERE sync_id = ?", [sync_id]
                    ).fetchall()
                ]
                self._rollup(cur, assignment.data_source_id, months)
                ids = [
                    r[0]
                    for r in cur.execute(
                        "SELECT cost_id FROM costs WHERE sync_id = ? ORDER BY cost_id", [sync_id]
                    ).fetchall()
                ]
                cur.execute("COMMIT")
                return ids
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def delete(self, data_source_id: str, cost_ids: Sequence[str] | None = None) -> int:
        """Delete rows of a data source (all of them when `cost_ids` is None)."""
        with self._write:
            cur = self._db.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                where, params = "data_source_id = ?", [data_source_id]
                if cost_ids is not None:
                    marks = ", ".join("?" for _ in cost_ids) or "NULL"
                    where += f" AND cost_id IN ({marks})"
                    params += list(cost_ids)
                months = [
                    r[0]
                    for r in cur.execute(
                        f"SELECT DISTINCT billed_month FROM costs WHERE {where}", params
                    ).fetchall()
                ]
                count = cur.execute(f"DELETE FROM costs WHERE {where}", params).fetchone()[0]
                if cost_ids is None:
                    cur.execute(
                        "DELETE FROM cost_monthly WHERE data_source_id = ?", [data_source_id]
                    )
                else:
                    self._rollup(cur, data_source_id, months)
                cur.execute("COMMIT")
                return int(count)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def close(self) -> None:
        self._db.close()


#: The tags as the store loads them (see TAGS_TYPE): the map's own entries, relabelled.
TAG_ENTRIES = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
_TAGS_AT = COST_SCHEMA.get_field_index("tags")
#: COST_SCHEMA with tags as entries, plus each row's number within the sync (its cost_id
#: suffix).
NUMBERED_SCHEMA = COST_SCHEMA.set(_TAGS_AT, pa.field("tags", TAG_ENTRIES)).append(
    pa.field("_n", pa.int64())
)


def numbered(batch: pa.RecordBatch, before: int) -> pa.RecordBatch:
    """A COST_SCHEMA batch as the store loads it (NUMBERED_SCHEMA), its rows numbered on from
    `before`."""
    columns = batch.columns
    columns[_TAGS_AT] = columns[_TAGS_AT].cast(TAG_ENTRIES)
    columns.append(pa.array(range(before + 1, before + batch.num_rows + 1), pa.int64()))
    return pa.RecordBatch.from_arrays(columns, schema=NUMBERED_SCHEMA)


class _Numbered:
    """The batches, conformed and numbered, checking for a cancel between batches."""

    def __init__(self, batches: Iterable[pa.RecordBatch], cancelled: Callable[[], bool]) -> None:
        self._batches = batches
        self._cancelled = cancelled
        self.rows = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Any:
        try:
            for batch in self._batches:
                if self._cancelled():
                    raise SyncCancelled()
                if batch.num_rows == 0:
                    continue
                if batch.schema != COST_SCHEMA:
                    batch = _conform(batch)
                yield numbered(batch, self.rows)
                self.rows += batch.num_rows
        except BaseException as exc:
            self.error = exc
            raise


class _Watch:
    """While a query runs, interrupts it once `cancelled()` (polled a few times a second):
    a statement loading one big file is a single call into DuckDB."""

    POLL_S = 0.2

    def __init__(self, cur: duckdb.DuckDBPyConnection, cancelled: Callable[[], bool]) -> None:
        self._cur, self._cancelled = cur, cancelled
        self._done = threading.Event()
        self.interrupted = False
        self._thread = threading.Thread(target=self._run, name="skyatlas-cost-watch", daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.POLL_S):
            try:
                if self._cancelled():
                    self.interrupted = True
                    self._cur.interrupt()
                    return
            except Exception:  # a failing check must not kill the load; the next poll retries
                log.debug("cost load watcher", exc_info=True)


class CostStoreBusy(Unavailable):
    """Another process owns the embedded cost store."""


def _conform(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A plugin's batch with the right columns in a compatible shape → exactly COST_SCHEMA."""
    missing = [f.name for f in COST_SCHEMA if f.name not in batch.schema.names]
    if missing:
        raise SyncFailed(f"the cost plugin's rows lack the column(s) {', '.join(missing)}")
    try:
        columns = [batch.column(f.name).cast(f.type) for f in COST_SCHEMA]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SyncFailed(f"the cost plugin's rows do not fit the cost schema: {exc}") from None
    return pa.RecordBatch.from_arrays(columns, schema=COST_SCHEMA)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
