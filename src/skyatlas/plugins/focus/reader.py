"""Reading one FOCUS file with DuckDB and streaming it out as `COST_SCHEMA` batches.

CSV is read with every column as text (`all_varchar`) and a fixed dialect (comma, double
quotes, no comment lines, no skipped lines, strict): numbers are cast by the mapping, so a
column that looks numeric in one file and not in another never breaks a sync, and nothing the
sniffer might guess (a comment character, lines to skip, padding of short rows) can drop or
invent a row silently. A row with the wrong number of columns, a gzip stream cut short or a
Parquet file without its footer fails the sync with a `PluginError` naming the file, whether
DuckDB notices while planning or only when it reaches the spot while batches are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import duckdb
import pyarrow as pa

from skyatlas.plugins.base import PluginError
from skyatlas.plugins.focus.batches import BatchBuilder
from skyatlas.plugins.focus.files import DataFile
from skyatlas.plugins.focus.mapping import Column, literal, missing_columns, plan
from skyatlas.plugins.focus.pipeline import ordered_map, prefetch

#: Rows per Arrow batch: large enough that per-batch overhead vanishes, small enough that a
#: batch (with its `additional_info` JSON text, up to ~1 KiB a row) stays in the tens of
#: megabytes.
ROWS_PER_BATCH = 32_768
#: Threads assembling batches at once (DuckDB has its own): two keep two cores busy.
BUILD_THREADS = 2
#: What a DuckDB read can raise: its own errors, and Arrow's while the stream is consumed.
READ_ERRORS = (duckdb.Error, pa.ArrowException, OSError)
_ERROR_PREFIX = re.compile(r"^[A-Za-z ]*Error: ")
#: Where DuckDB's messages stop describing the problem and start suggesting its own options.
_ADVICE = ("Possible fixes", "Possible Solution", "The search space used was")


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one sync, in UTC (zone-less timestamps are UTC)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def source_sql(file: DataFile, *, numbered: bool = False) -> str:
    """The table function reading `file`; `numbered` adds Parquet's `file_row_number`."""
    path = literal(str(file.local))
    if file.fmt == "parquet":
        return f"read_parquet({path}{', file_row_number = true' if numbered else ''})"
    return (
        f"read_csv({path}, header = true, all_varchar = true, nullstr = 'NULL', "
        "delim = ',', quote = '\"', escape = '\"', comment = '', skip = 0, "
        "strict_mode = true, null_padding = false, ignore_errors = false, "
        f"encoding = 'utf-8', compression = '{'gzip' if file.compression == 'gzip' else 'none'}')"
    )


def read_file(
    con: duckdb.DuckDBPyConnection,
    file: DataFile,
    cost_column: str,
    cancelled: Callable[[], bool],
) -> Iterator[pa.RecordBatch]:
    """The file's rows as COST_SCHEMA batches; stops early once `cancelled()` is True."""
    source = source_sql(file)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        columns = [Column(name=str(row[0]), type_name=str(row[1])) for row in described]
    except READ_ERRORS as exc:
        raise read_error(file, exc) from None
    missing = missing_columns([c.name for c in columns], cost_column)
    if missing:
        raise PluginError(
            f"{file.display}: not a FOCUS file, it has no {', no '.join(missing)} column"
        )
    mapping = plan(source, columns, cost_column, file.display)
    builder = BatchBuilder(mapping, con)
    try:
        reader = con.sql(mapping.sql).to_arrow_reader(ROWS_PER_BATCH)
    except READ_ERRORS as exc:
        builder.close()
        raise read_error(file, exc) from None
    # DuckDB fills the next batches while Arrow assembles the ones before and the caller
    # stores the ones before those (see `pipeline`).
    batches = _built(builder, prefetch(_batches(reader)))
    try:
        for batch in batches:
            if cancelled():
                return
            yield batch
    except READ_ERRORS as exc:
        raise read_error(file, exc) from None
    finally:
        batches.close()


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    try:
        for batch in reader:
            if batch.num_rows:
                yield batch
    finally:
        reader.close()


def _built(builder: BatchBuilder, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    try:
        yield from ordered_map(builder.build, batches, BUILD_THREADS)
    finally:
        builder.close()


def read_error(file: DataFile, exc: BaseException) -> PluginError:
    """What went wrong, named by the file users know (not a temporary copy), without DuckDB's
    advice about its own options (which users cannot set) or the offending line's content."""
    text = str(exc).replace(str(file.local), file.display)
    if "Error when sniffing file" in text:
        return PluginError(
            f"{file.display}: cannot be read as CSV (expected a header row, comma-separated "
            "values in double quotes, and every row with as many values as the header)"
        )
    kept = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(_ADVICE):
            break
        if line and not line.startswith("Original Line"):
            kept.append(_ERROR_PREFIX.sub("", line))
    message = "; ".join(kept) or type(exc).__name__
    if len(message) > 500:
        message = message[:497] + "..."
    prefix = f"{file.display}: "
    if message.startswith(prefix):  # the mapping's own errors already name the file
        return PluginError(message)
    return PluginError(f"{prefix}{message}")
