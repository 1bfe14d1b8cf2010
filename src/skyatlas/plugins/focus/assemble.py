"""Arrow maps (`tags`, `additional_info`, `data`) put together from DuckDB's flat columns.

DuckDB builds a MAP value row by row and checks each one's keys for duplicates: on a FOCUS
file with thirty text columns that runs at well under 100,000 rows a second, far too slow for
a ten-million-row export. So the statement hands over one plain column per map key (NULL where
the row has no value) and this module lays them out as an Arrow `MapArray` with a few
vectorised Arrow kernels per batch (a gather of the non-NULL values in row order, then the
offsets from the per-row counts). No Python code runs per row or per value.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc


class _Layout:
    """Index arrays for batches of `rows` rows of a map with `width` keys, laid out row after
    row (position `p = row * width + key`): where each position's value sits in the columns
    concatenated one after the other (`key * rows + row`), and each position's key name.
    Batches come in a few sizes only, so these are built once per size."""

    def __init__(self, rows: int, names: pa.Array) -> None:
        width = len(names)
        position = _count(rows * width)
        row_of = pc.divide(position, width)  # integer division
        key_of = pc.subtract(position, pc.multiply(row_of, width))
        self.source = pc.add(pc.multiply(key_of, rows), row_of)
        self.names = pc.array_take(names, key_of)


class MapAssembler:
    """Columns named by fixed keys → one `map<string, value_type>` column, NULLs left out."""

    _CACHED_SIZES = 8

    def __init__(self, keys: Sequence[str], map_type: pa.MapType) -> None:
        self.width = len(keys)
        self.map_type = map_type
        self._names = pa.array(keys, pa.string())
        self._item_type = map_type.item_type
        self._layouts: dict[int, _Layout] = {}

    def _layout(self, rows: int) -> _Layout:
        layout = self._layouts.get(rows)
        if layout is None:
            if len(self._layouts) >= self._CACHED_SIZES:
                self._layouts.clear()
            layout = self._layouts[rows] = _Layout(rows, self._names)
        return layout

    def build(self, columns: Sequence[pa.Array], rows: int) -> pa.MapArray:
        """One map per row of `columns` (one array per key, each `rows` long)."""
        if not self.width or not rows:
            return empty_maps(rows, self.map_type)
        layout = self._layout(rows)
        present = pc.array_take(
            pa.concat_arrays([c.is_valid() for c in columns]), layout.source, boundscheck=False
        )
        values = pc.array_take(
            pa.concat_arrays([self._plain(c) for c in columns]),
            pc.filter(layout.source, present),
            boundscheck=False,
        )
        keys = pc.filter(layout.names, present)
        counts = pc.cast(columns[0].is_valid(), pa.int32())
        for column in columns[1:]:
            counts = pc.add(counts, pc.cast(column.is_valid(), pa.int32()))
        offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(counts)])
        return pa.MapArray.from_arrays(offsets, keys, values, self.map_type)

    def _plain(self, column: pa.Array) -> pa.Array:
        """The column in the map's value type (a reader may hand over dictionary-encoded or
        large strings)."""
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        return column if column.type == self._item_type else column.cast(self._item_type)


def empty_maps(rows: int, map_type: pa.MapType) -> pa.MapArray:
    """`rows` empty maps."""
    offsets = pa.repeat(pa.scalar(0, pa.int32()), rows + 1)
    empty = pa.array([], map_type.item_type)
    return pa.MapArray.from_arrays(offsets, pa.array([], pa.string()), empty, map_type)


def _count(size: int) -> pa.Array:
    """0, 1, ..., size - 1 (int32), without a Python loop."""
    ones = pa.repeat(pa.scalar(1, pa.int32()), size)
    return pc.subtract(pc.cumulative_sum(ones), pa.scalar(1, pa.int32()))


def map_from_lists(keys: pa.ListArray, values: pa.ListArray, map_type: pa.MapType) -> pa.MapArray:
    """A map per row from a list of keys and a list of values of the same lengths (the tags);
    a NULL value becomes the text `null` (as JSON writes it)."""
    lengths = pc.fill_null(pc.list_value_length(keys), 0)
    offsets = pa.concat_arrays(
        [pa.array([0], pa.int32()), pc.cast(pc.cumulative_sum(lengths), pa.int32())]
    )
    names = keys.flatten().cast(map_type.key_type)
    items = pc.fill_null(values.flatten().cast(map_type.item_type), "null")
    return pa.MapArray.from_arrays(offsets, names, items, map_type)
