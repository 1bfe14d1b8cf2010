"""The `Tags` column (a JSON object in FOCUS) → the `tags` map, parsed once per distinct value.

A resource carries the same tags on every one of its rows (one per hour, day or charge), so a
batch of tens of thousands of rows holds a few hundred distinct tag texts. Each batch's
distinct texts go through one small DuckDB query (which does the JSON work), and the result is
spread back over the rows with an Arrow `take`: JSON parsing then costs next to nothing, where
parsing every row was the single most expensive step of a sync. A batch whose tags are all
different costs what parsing every row would have.

A text that is a JSON object with distinct keys becomes a map (string values as they are,
other values as their JSON text: `1`, `true`, `null`, `{"a":1}`); anything else (invalid
JSON, an array, an object with a key twice) an empty map, and the text is handed back as a
JSON string (`"{not json"`, escaped by DuckDB) for `additional_info`.
"""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from skyatlas.cost.schema import STRING_MAP

_TABLE = "skyatlas_focus_tag_texts"


def parse_sql(table: str) -> str:
    """The statement parsing the texts `t` of `table` (numbered by `i`): `i`, `keys` and
    `values` (lists, NULL unless the text is a tags object) and `unparsed` (the text as a
    JSON string where it is not one). The one definition of what a tags text means, for
    batches and for `query` alike."""
    return _PARSE_TEMPLATE.replace("{table}", table)


_PARSE_TEMPLATE = """
WITH parsed AS (
    SELECT i, t, TRY_CAST(t AS JSON) AS j FROM {table}
),
keyed AS (
    SELECT i, t, j, CASE WHEN json_type(j) = 'OBJECT' THEN json_keys(j) END AS k FROM parsed
),
checked AS (
    SELECT i, t, j, k, list_unique(k) = len(k) AS ok FROM keyed
)
SELECT
    i,
    CASE WHEN ok THEN k END AS keys,
    CASE WHEN ok THEN json_extract_string(j, '$.*') END AS "values",
    CASE WHEN ok THEN NULL ELSE CAST(to_json(t) AS VARCHAR) END AS unparsed
FROM checked
ORDER BY i
"""
_PARSE = parse_sql(_TABLE)


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
        #: Text → its entry in `_maps` / `_unparsed`; entry 0 is the empty map (no tags).
        self._known: dict[str, int] = {}
        no_tags = pa.array([[]], pa.list_(pa.string()))
        self._maps = map_from_lists(no_tags, no_tags)
        self._unparsed = pa.array([None], pa.string())

    def parse(self, texts: pa.Array) -> tuple[pa.MapArray, pa.Array]:
        """(the tags map of each row, the text as a JSON string of the rows whose text is not a
        tags object, NULL in the others)."""
        encoded = pc.dictionary_encode(texts)
        distinct = encoded.dictionary.to_pylist()
        with self._lock:  # the memory is shared by the threads building batches
            if len(self._known) + len(distinct) > self.MAX_KNOWN:
                self._forget()
            new = [text for text in distinct if text not in self._known]
            if new:
                keys, values, unparsed = self._parse_distinct(pa.array(new, pa.string()))
                first = len(self._maps)
                self._maps = pa.concat_arrays([self._maps, map_from_lists(keys, values)])
                self._unparsed = pa.concat_arrays([self._unparsed, unparsed])
                self._known.update((text, first + n) for n, text in enumerate(new))
            entries = pa.array([self._known[text] for text in distinct], pa.int32())
            maps, unparsed = self._maps, self._unparsed
        index = pc.fill_null(pc.array_take(entries, encoded.indices), 0)
        return pc.array_take(maps, index), pc.array_take(unparsed, index)

    def _parse_distinct(self, texts: pa.Array) -> tuple[pa.ListArray, pa.ListArray, pa.Array]:
        """(keys, values, unparsed) of each text, in order: NULL lists and the text as a JSON
        string where it is not a tags object, a NULL text where it is."""
        table = pa.table({"i": pa.array(range(len(texts)), pa.int32()), "t": texts})
        self._cursor.register(_TABLE, table)
        try:
            result = self._cursor.sql(_PARSE).to_arrow_table()
        finally:
            self._cursor.unregister(_TABLE)
        keys = result.column("keys").combine_chunks()
        values = result.column("values").combine_chunks()
        unparsed = result.column("unparsed").combine_chunks()
        return _as_lists(keys), _as_lists(values), _as_strings(unparsed)


def empty_maps(rows: int) -> pa.MapArray:
    """`rows` empty tag maps."""
    offsets = pa.repeat(pa.scalar(0, pa.int32()), rows + 1)
    empty = pa.array([], pa.string())
    return pa.MapArray.from_arrays(offsets, empty, empty, STRING_MAP)


def map_from_lists(keys: pa.ListArray, values: pa.ListArray) -> pa.MapArray:
    """A tag map per row from a list of keys and a list of values of the same lengths; a NULL
    value becomes the text `null` (as JSON writes it)."""
    lengths = pc.fill_null(pc.list_value_length(keys), 0)
    offsets = pa.concat_arrays(
        [pa.array([0], pa.int32()), pc.cast(pc.cumulative_sum(lengths), pa.int32())]
    )
    names = keys.flatten().cast(pa.string())
    items = pc.fill_null(values.flatten().cast(pa.string()), "null")
    return pa.MapArray.from_arrays(offsets, names, items, STRING_MAP)


def _as_lists(column: pa.Array) -> pa.ListArray:
    return column if column.type == pa.list_(pa.string()) else column.cast(pa.list_(pa.string()))


def _as_strings(column: pa.Array) -> pa.Array:
    return column if column.type == pa.string() else column.cast(pa.string())
