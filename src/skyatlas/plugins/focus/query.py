"""One FOCUS file as a `CostQuery`: the mapping's statement, finished in SQL, for a store that
runs DuckDB itself (the embedded cost store), so the rows never leave DuckDB.

The batches (`reader`, `batches`) finish the mapping's flat output in Arrow; here the same
steps are joins against small tables made from a first pass over the file, which sums its
rows by the monthly rollup's keys (`totals`: the store builds the rollup from these sums
instead of reading the ten million rows it just wrote) and so also finds the distinct values
to look up (a Parquet file answers it from a few columns, without the JSON text):

- the provider: each distinct name normalised by `normalise_provider` itself, in Python;
- the tags: each distinct text parsed by the statement the batches use (`tags.parse_sql`),
  kept as a list of `{key, value}` entries; a text that is not a tags object adds its JSON
  string to `additional_info` under the tags column's name, as the batches do.

Rows are numbered in file order: Parquet's own `file_row_number`, and for CSV a streaming
`row_number() OVER ()`.
"""

from __future__ import annotations

import contextlib
import itertools

import duckdb
import pyarrow as pa

from skyatlas.cost.schema import normalise_provider
from skyatlas.plugins.base import PluginError
from skyatlas.plugins.focus.files import DataFile
from skyatlas.plugins.focus.mapping import Column, json_key, literal, missing_columns, plan
from skyatlas.plugins.focus.reader import READ_ERRORS, read_error, source_sql
from skyatlas.plugins.focus.tags import parse_sql

_names = itertools.count(1)


class FileQuery:
    """The rows of one file as a DuckDB statement (see `skyatlas.plugins.base.CostQuery`)."""

    def __init__(self, file: DataFile, cost_column: str) -> None:
        self.file = file
        self.cost_column = cost_column
        self.display = file.display
        # Names of this query's own tables: two files of one sync share a connection.
        self._prefix = f"skyatlas_focus_q{next(_names)}"

    def failure(self, exc: BaseException) -> PluginError:
        return read_error(self.file, exc)

    def select(self, con: duckdb.DuckDBPyConnection) -> str:
        """Also sets `con`'s time zone to UTC: time stamps without a zone are UTC."""
        source = source_sql(self.file, numbered=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except READ_ERRORS as exc:
            raise read_error(self.file, exc) from None
        parquet = self.file.fmt == "parquet"
        if parquet and described and described[-1][0] == "file_row_number":
            described = described[:-1]  # the number DuckDB adds, not a column of the file
        columns = [Column(name=str(row[0]), type_name=str(row[1])) for row in described]
        missing = missing_columns([c.name for c in columns], self.cost_column)
        if missing:
            raise PluginError(
                f"{self.display}: not a FOCUS file, it has no {', no '.join(missing)} column"
            )
        number = "file_row_number + 1" if parquet else "row_number() OVER ()"
        mapping = plan(source, columns, self.cost_column, self.display, number)
        # The first pass sums the rows by everything the monthly rollup keeps (the cost and
        # date checks run here already); the providers and tags to look up are its keys.
        unnumbered = plan(source, columns, self.cost_column, self.display)
        totals, texts = self._name("totals"), self._name("texts")
        providers, tags = self._name("providers"), self._name("tags")
        try:
            con.execute(
                f"""CREATE TEMP TABLE {totals} AS
                SELECT provider_name, tags_text, usage_unit, region_code, product, usage_type,
                       account_id, substr(billed_date, 1, 7) AS billed_month,
                       sum(cost) AS cost, sum(usage_quantity) AS usage_quantity,
                       count(*) AS row_count
                FROM ({unnumbered.sql}) GROUP BY ALL"""
            )
            names = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT provider_name FROM {totals} WHERE provider_name IS NOT NULL"
                ).fetchall()
            ]
            con.register(
                providers,
                pa.table(
                    {"raw": names, "provider": [normalise_provider(n) for n in names]},
                    schema=pa.schema([("raw", pa.string()), ("provider", pa.string())]),
                ),
            )
            con.execute(
                f"CREATE TEMP TABLE {texts} AS SELECT row_number() OVER () AS i, t FROM "
                f"(SELECT DISTINCT tags_text AS t FROM {totals} WHERE tags_text IS NOT NULL)"
            )
            con.execute(
                f"""CREATE TEMP TABLE {tags} AS
                SELECT x.t,
                       CASE WHEN p.keys IS NULL THEN []
                            ELSE list_transform(list_zip(p.keys, p."values"), lambda e:
                                 {{'key': e[1], 'value': coalesce(e[2], 'null')}}) END AS entries,
                       p.unparsed
                FROM ({parse_sql(texts)}) p JOIN {texts} x USING (i)"""
            )
        except READ_ERRORS as exc:
            raise read_error(self.file, exc) from None
        tags_key = literal("," + json_key(mapping.tags_column or "") + ":")
        return f"""
            SELECT m.cost, m.usage_quantity, m.usage_unit, p.provider, m.region_code,
                   p.provider || '.' || m.region_code AS region_key,
                   m.product, m.usage_type, m.resource, m.account_id, m.billed_date,
                   COALESCE(t.entries, []) AS tags,
                   CASE WHEN t.unparsed IS NULL THEN m.additional_info
                        ELSE concat(substr(m.additional_info, 1, length(m.additional_info) - 1),
                                    {tags_key}, t.unparsed, '}}') END AS additional_info,
                   m.data, m._n
            FROM ({mapping.sql}) m
            {self._lookups()}"""

    def totals(self, con: duckdb.DuckDBPyConnection) -> str:
        """The first pass's sums, finished like the rows (after `select`)."""
        return f"""
            SELECT m.cost, m.usage_quantity, m.usage_unit, p.provider, m.region_code,
                   p.provider || '.' || m.region_code AS region_key,
                   m.product, m.usage_type, CAST(NULL AS VARCHAR) AS resource, m.account_id,
                   m.billed_month || '-01' AS billed_date, COALESCE(t.entries, []) AS tags,
                   CAST(NULL AS VARCHAR) AS additional_info, CAST(NULL AS VARCHAR) AS data,
                   CAST(0 AS BIGINT) AS _n, m.row_count
            FROM {self._name("totals")} m
            {self._lookups()}"""

    def _lookups(self) -> str:
        """The joins of the rows `m` (raw `provider_name` and `tags_text`) with the first
        pass's normalised providers `p` and parsed tags `t`."""
        return (
            f"LEFT JOIN {self._name('providers')} p ON p.raw = m.provider_name "
            f"LEFT JOIN {self._name('tags')} t ON t.t = m.tags_text"
        )

    def _name(self, part: str) -> str:
        return f"{self._prefix}_{part}"

    def close(self, con: duckdb.DuckDBPyConnection) -> None:
        for part in ("totals", "texts", "tags"):
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DROP TABLE IF EXISTS {self._name(part)}")
        with contextlib.suppress(duckdb.Error, KeyError):
            con.unregister(self._name("providers"))
