"""Which cost store a process uses: DuckDB beside the embedded store, PostgreSQL's own tables
when the main store is PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

from skyatlas.config import Settings

#: DuckDB's own memory cap (it spills to disk beyond it). The process adds Python on top: at
#: 384MB a ten-million-row FOCUS sync peaks near 0.6 GB of RSS (a larger cap loads no faster).
DEFAULT_MEMORY_LIMIT = "384MB"


def open_cost_store(settings: Settings, store: Any) -> Any:
    if settings.is_postgres:
        from skyatlas.cost.pg_store import PgCostStore

        return PgCostStore(store)
    from skyatlas.cost.store import DuckCostStore

    return DuckCostStore(
        settings.data_dir / "costs.duckdb",
        memory_limit=os.environ.get("SKYATLAS_COST_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
    )
