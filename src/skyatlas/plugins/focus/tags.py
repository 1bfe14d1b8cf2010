"""The `Tags` column (a JSON object in FOCUS) → the `tags` map, parsed once per distinct value.

A resource carries the same tags on every one of its rows (one per hour, day or charge), so a
batch of tens of thousands of rows holds a few hundred distinct tag texts. Each batch's
distinct texts go through one small DuckDB query (which does the JSON work), and the result is
spread back over the rows with an Arrow `take`: JSON parsing then costs next to nothing, where
parsing every row was the single most expensive step of a sync. A batch whose tags are all
different costs what parsing every row would have.

A text that is a JSON object with distinct keys becomes a map (string values as they are,
other values as their JSON text: `1`, `true`, `null`, `{"a":1}`); anything else (invalid
JSON, an array, an object with a key twice) an empty map, and the text is kept for
`additional_info`.
"""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from skyatlas.cost.schema import STRING_MAP
from skyatlas.plugins.focus.assemble import map_from_lists

_TABLE = "skyatlas_focus_tag_texts"
_PARSE = f"""
WITH parsed AS (
    SELECT i, TRY_CAST(t AS JSON) AS j FROM {_TABLE}
),
keyed AS (
    SELECT i, j, CASE WHEN json_type(j) = 'OBJECT' THEN json_keys(j) END AS k FROM parsed
)
SELECT
    i,
    CASE WHEN list_unique(k) = len(k) THEN k END AS keys,
    CASE WHEN list_unique(k) = len(k) THEN json_extract_string(j, '$.*') END AS "values"
FROM keyed
ORDER BY i
"""


class TagParser:
    """Parses tag texts with its own cursor on the sync's DuckDB (it runs while the file's
    statement is still streaming on the main connection), remembering what it parsed: after the
    first batches of a file, most batches hold no tag text it has not seen."""

    #: Distinct texts remembered; past this many the memory starts over (it stays small).
    MAX_KNOWN = 65_536

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._cursor = con.cursor()
        self._lock = threading.Lock()  # batches are built by several threads at once
        self._forget()

    def close(self) -> None:
        self._cursor.close()

    def _forget(self) -> None:
        #: Text → its entry in `_maps` / `_is_map`; entry 0 is the empty map (no tags).
        self._known: dict[str, int] = {}
        no_tags = pa.array([[]], pa.list_(pa.string()))
        self._maps = map_from_lists(no_tags, no_tags, STRING_MAP)
        self._is_map = pa.array([True])

    def parse(self, texts: pa.Array) -> tuple[pa.MapArray, pa.Array]:
        """(the tags map of each row, the text of the rows whose text is not a tags object)."""
        encoded = pc.dictionary_encode(texts)
        distinct = encoded.dictionary.to_pylist()
        with self._lock:  # the memory is shared by the threads building batches
            if len(self._known) + len(distinct) > self.MAX_KNOWN:
                self._forget()
            new = [text for text in distinct if text not in self._known]
            if new:
                keys, values = self._parse_distinct(pa.array(new, pa.string()))
                first = len(self._maps)
                parsed = map_from_lists(keys, values, STRING_MAP)
                self._maps = pa.concat_arrays([self._maps, parsed])
                self._is_map = pa.concat_arrays([self._is_map, keys.is_valid()])
                self._known.update((text, first + n) for n, text in enumerate(new))
            entries = pa.array([self._known[text] for text in distinct], pa.int32())
            maps, is_map = self._maps, self._is_map
        index = pc.fill_null(pc.array_take(entries, encoded.indices), 0)
        rows = pc.array_take(maps, index)
        unparsed = pc.if_else(pc.array_take(is_map, index), pa.scalar(None, pa.string()), texts)
        return rows, unparsed

    def _parse_distinct(self, texts: pa.Array) -> tuple[pa.ListArray, pa.ListArray]:
        """(keys, values) of each text (NULL lists where it is not a tags object), in order."""
        table = pa.table({"i": pa.array(range(len(texts)), pa.int32()), "t": texts})
        self._cursor.register(_TABLE, table)
        try:
            result = self._cursor.sql(_PARSE).to_arrow_table()
        finally:
            self._cursor.unregister(_TABLE)
        keys = result.column("keys").combine_chunks()
        values = result.column("values").combine_chunks()
        return _as_lists(keys), _as_lists(values)


def _as_lists(column: pa.Array) -> pa.ListArray:
    return column if column.type == pa.list_(pa.string()) else column.cast(pa.list_(pa.string()))
