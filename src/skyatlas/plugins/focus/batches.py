"""DuckDB's flat output (see `mapping.Plan`) → batches in exactly `COST_SCHEMA`.

What is left to do per batch is done with vectorised Arrow kernels, or once per distinct
value: the provider's name is normalised with `normalise_provider` itself (a batch holds a
handful of distinct names), the tags are parsed once per distinct text (`tags`), and the
`additional_info` and `data` maps are laid out from one column per key (`assemble`).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from skyatlas.cost.schema import COST_SCHEMA, NUMBER_MAP, STRING_MAP, normalise_provider
from skyatlas.plugins.focus.assemble import MapAssembler, empty_maps
from skyatlas.plugins.focus.mapping import SCALAR_OUTPUTS, Plan
from skyatlas.plugins.focus.tags import TagParser

#: COST_SCHEMA fields DuckDB outputs as they are (under the same name).
_AS_IS = (
    "cost",
    "usage_quantity",
    "usage_unit",
    "region_code",
    "product",
    "usage_type",
    "resource",
    "account_id",
    "billed_date",
)


class BatchBuilder:
    """Builds the batches of one file; `build` may run in several threads at once."""

    def __init__(self, mapping: Plan, con: duckdb.DuckDBPyConnection) -> None:
        info_keys = mapping.info_keys
        if mapping.tags_column is not None:
            info_keys = (*info_keys, mapping.tags_column)
        self._info = MapAssembler(info_keys, STRING_MAP)
        self._data = MapAssembler(mapping.data_keys, NUMBER_MAP)
        self._tags = TagParser(con) if mapping.tags_column is not None else None
        first_info = len(SCALAR_OUTPUTS)
        first_data = first_info + len(mapping.info_keys)
        self._info_at = range(first_info, first_data)
        self._data_at = range(first_data, first_data + len(mapping.data_keys))
        self._index = {name: i for i, name in enumerate(SCALAR_OUTPUTS)}

    def close(self) -> None:
        if self._tags is not None:
            self._tags.close()

    def build(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = batch.num_rows

        def column(name: str) -> pa.Array:
            return batch.column(self._index[name])

        provider = _normalise(column("provider_name"))
        region = _typed(column("region_code"), pa.string())
        info = [batch.column(i) for i in self._info_at]
        if self._tags is not None:
            tags, unparsed = self._tags.parse(_typed(column("tags_text"), pa.string()))
            info.append(unparsed)
        else:
            tags = empty_maps(rows, STRING_MAP)
        fields = {
            **{name: column(name) for name in _AS_IS},
            "provider": provider,
            # NULL when either is (binary_join's default null handling).
            "region_key": pc.binary_join_element_wise(provider, region, "."),
            "tags": tags,
            "additional_info": self._info.build(info, rows),
            "data": self._data.build([batch.column(i) for i in self._data_at], rows),
        }
        arrays = [_typed(fields[f.name], f.type) for f in COST_SCHEMA]
        return pa.RecordBatch.from_arrays(arrays, schema=COST_SCHEMA)


def _normalise(names: pa.Array) -> pa.Array:
    """`normalise_provider` of every row, called once per distinct name of the batch."""
    encoded = pc.dictionary_encode(_typed(names, pa.string()))
    distinct = [normalise_provider(n) for n in encoded.dictionary.to_pylist()]
    return pc.array_take(pa.array(distinct, pa.string()), encoded.indices)


def _typed(column: pa.Array, type_: pa.DataType) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column if column.type == type_ else column.cast(type_)
