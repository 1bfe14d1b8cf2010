"""Costs in PostgreSQL: the facts partitioned by month (one partition per `billed_month`,
created as months appear), the monthly rollup beside them; tables from migration 0007.

Rows arrive as Arrow batches like on the embedded store. Each batch goes through the same
assignment SQL in a scratch in-memory DuckDB (so both backends map rows to projects the same
way), which writes it as CSV that PostgreSQL's COPY reads at C speed. The whole sync happens
in one PostgreSQL transaction, so readers see the old months or the new ones.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, text

from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.cost.store import (
    _DUCK_DDL,
    KEY_SAMPLE,
    Assignment,
    ReplaceResult,
    SyncCancelled,
    SyncFailed,
    _accounts_table,
    _conform,
    _insert_select,
    _projects_table,
    numbered,
)
from skyatlas.cost.tables import DIMENSIONS
from skyatlas.plugins.base import CostQuery
from skyatlas.store.engine import Store

_MONTH = re.compile(r"^\d{4}-\d{2}$")
COLUMNS = (
    "cost_id",
    "cost",
    "usage_quantity",
    *DIMENSIONS,
    "resource",
    "tags",
    "additional_info",
    "data",
    "billed_date",
    "billed_month",
    "billed_year",
    "sync_id",
)
_ROLLUP_KEYS = ", ".join([*DIMENSIONS, "tags", "billed_month", "billed_year"])
#: The scratch table keeps tags as entries (see TAGS_TYPE); PostgreSQL takes a JSON object.
_EXPORT = ", ".join("to_json(map_from_entries(tags))" if c == "tags" else c for c in COLUMNS)


def ensure_partitions(conn: Connection, months: Iterable[str]) -> None:
    for month in sorted(set(months)):
        if not _MONTH.match(month):
            raise SyncFailed(f"billed_date month '{month}' is not a date (YYYY-MM)")
        name = f"costs_{month.replace('-', '_')}"
        conn.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF costs '
                f"FOR VALUES IN ('{month}')"
            )
        )


class PgCostStore:
    """Costs in the main PostgreSQL database."""

    backend = "postgresql"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dialect = store.engine.dialect

    def fetch(self, stmt: Any) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    # -- writing ---------------------------------------------------------------------------
    def _load(
        self,
        conn: Connection,
        a: Assignment,
        sync_id: str,
        batches: Iterable[pa.RecordBatch],
        cancelled: Callable[[], bool],
    ) -> tuple[int, set[str], dict[str, set[str]]]:
        scratch = duckdb.connect()
        scratch.execute(_DUCK_DDL)
        scratch.register("_accounts", _accounts_table(a))
        scratch.register("_projects", _projects_table(a))
        sql, sql_params = _insert_select(a)
        prefix = f"cost-{sync_id.rsplit('-', 1)[-1]}-"
        total, months = 0, set()
        keys: dict[str, set[str]] = {"tags": set(), "additional_info": set(), "data": set()}
        raw = conn.connection.driver_connection
        with tempfile.TemporaryDirectory(prefix="skyatlas-costs-") as tmp:
            csv_path = Path(tmp) / "batch.csv"
            for batch in batches:
                if cancelled():
                    raise SyncCancelled()
                if batch.num_rows == 0:
                    continue
                if batch.schema != COST_SCHEMA:
                    batch = _conform(batch)
                scratch.execute("DELETE FROM costs")
                scratch.register("_batch", numbered(batch, total))
                scratch.execute(sql, sql_params(prefix, 0, sync_id))
                scratch.unregister("_batch")
                bad = scratch.execute(
                    "SELECT billed_date FROM costs WHERE billed_date IS NULL OR "
                    "NOT regexp_full_match(billed_date, '\\d{4}-\\d{2}-\\d{2}') LIMIT 1"
                ).fetchone()
                if bad is not None:
                    raise SyncFailed(f"billed_date '{bad[0]}' is not a date (YYYY-MM-DD)")
                batch_months = {
                    r[0]
                    for r in scratch.execute("SELECT DISTINCT billed_month FROM costs").fetchall()
                }
                keys["tags"].update(
                    r[0]
                    for r in scratch.execute(
                        "SELECT DISTINCT e.key FROM (SELECT unnest(tags) AS e FROM costs)"
                    ).fetchall()
                )
                for column in ("additional_info", "data"):  # a sample: see DuckCostStore._keys
                    keys[column].update(
                        r[0]
                        for r in scratch.execute(
                            f"SELECT DISTINCT unnest(json_keys({column})) FROM (SELECT {column} "
                            f"FROM costs WHERE {column} IS NOT NULL LIMIT {KEY_SAMPLE})"
                        ).fetchall()
                    )
                ensure_partitions(conn, batch_months - months)
                months |= batch_months
                scratch.execute(
                    f"COPY (SELECT {_EXPORT} FROM costs) TO '{csv_path}' (FORMAT csv, HEADER false)"
                )
                with (
                    raw.cursor() as cur,
                    cur.copy(
                        f"COPY costs ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
                    ) as copy,
                    csv_path.open("rb") as fh,
                ):
                    while chunk := fh.read(1 << 20):
                        copy.write(chunk)
                total += batch.num_rows
        scratch.close()
        return total, months, keys

    def _rollup(self, conn: Connection, ds: str, months: Sequence[str]) -> None:
        if not months:
            return
        params = {"ds": ds, "months": list(months)}
        conn.execute(
            text(
                "DELETE FROM cost_monthly WHERE data_source_id = :ds "
                "AND billed_month = ANY(:months)"
            ),
            params,
        )
        conn.execute(
            text(
                f"""INSERT INTO cost_monthly ({_ROLLUP_KEYS}, cost, usage_quantity, row_count)
                SELECT {_ROLLUP_KEYS}, sum(cost), sum(usage_quantity), count(*)
                FROM costs WHERE data_source_id = :ds AND billed_month = ANY(:months)
                GROUP BY {_ROLLUP_KEYS}"""
            ),
            params,
        )

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
        """As `DuckCostStore.replace`; the rows always come from `batches` (PostgreSQL cannot
        run a plugin's DuckDB statements), and the caller reports their progress."""
        with self.store.begin(write=True) as conn:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                {"k": f"costs:{assignment.data_source_id}"},
            )
            total, seen, keys = self._load(conn, assignment, sync_id, batches, cancelled)
            covered = sorted(seen | set(months or ()))
            if covered:
                conn.execute(
                    text(
                        "DELETE FROM costs WHERE data_source_id = :ds AND billed_month = "
                        "ANY(:months) AND sync_id IS DISTINCT FROM :sync"
                    ),
                    {"ds": assignment.data_source_id, "months": covered, "sync": sync_id},
                )
            self._rollup(conn, assignment.data_source_id, covered)
        return ReplaceResult(
            months=tuple(covered),
            rows=total,
            tag_keys=tuple(sorted(keys["tags"])),
            additional_info_keys=tuple(sorted(keys["additional_info"])),
            data_keys=tuple(sorted(keys["data"])),
        )

    def insert(
        self,
        assignment: Assignment,
        sync_id: str,
        rows: pa.Table,
        project: tuple[str, str] | None = None,
    ) -> list[str]:
        with self.store.begin(write=True) as conn:
            _, months, _ = self._load(conn, assignment, sync_id, rows.to_batches(), lambda: False)
            ids = list(
                conn.execute(
                    text(
                        "SELECT cost_id FROM costs WHERE sync_id = :s AND billed_month = "
                        "ANY(:m) ORDER BY cost_id"
                    ),
                    {"s": sync_id, "m": sorted(months)},
                ).scalars()
            )
            if project is not None:
                conn.execute(
                    text(
                        "UPDATE costs SET project_id = :p, workspace_id = :w "
                        "WHERE cost_id = ANY(:ids)"
                    ),
                    {"p": project[0], "w": project[1], "ids": ids},
                )
            self._rollup(conn, assignment.data_source_id, sorted(months))
        return ids

    def delete(self, data_source_id: str, cost_ids: Sequence[str] | None = None) -> int:
        with self.store.begin(write=True) as conn:
            params: dict[str, Any] = {"ds": data_source_id}
            where = "data_source_id = :ds"
            if cost_ids is not None:
                where += " AND cost_id = ANY(:ids)"
                params["ids"] = list(cost_ids)
            months = list(
                conn.execute(
                    text(f"SELECT DISTINCT billed_month FROM costs WHERE {where}"), params
                ).scalars()
            )
            count = conn.execute(text(f"DELETE FROM costs WHERE {where}"), params).rowcount
            if cost_ids is None:
                conn.execute(text("DELETE FROM cost_monthly WHERE data_source_id = :ds"), params)
            else:
                self._rollup(conn, data_source_id, months)
            return int(count)

    def close(self) -> None:
        """The main store owns the connections."""
