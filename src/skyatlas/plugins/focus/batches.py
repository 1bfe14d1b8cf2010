"""DuckDB's flat output (see `mapping.Plan`) → batches in exactly `COST_SCHEMA`.

What is left to do per batch is done with vectorised Arrow kernels, or once per distinct
value: the provider's name is normalised with `normalise_provider` itself (a batch holds a
handful of distinct names), and the tags are parsed once per distinct text (`tags`). DuckDB
has already written `additional_info` and `data` as JSON text; the text of a `Tags` value
that is not a JSON object is added to `additional_info` here (rare, and only known once the
tags are parsed).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from skyatlas.cost.schema import COST_SCHEMA, normalise_provider
from skyatlas.plugins.focus.mapping import OUTPUTS, Plan, json_key
from skyatlas.plugins.focus.tags import TagParser, empty_maps

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
    "additional_info",
    "data",
)


class BatchBuilder:
    """Builds the batches of one file; `build` may run in several threads at once."""

    def __init__(self, mapping: Plan, con: duckdb.DuckDBPyConnection) -> None:
        self._tags = TagParser(con) if mapping.tags_column is not None else None
        #: What goes before the tags text in `additional_info` (its key; the object is never
        #: empty, so after a comma).
        self._tags_key = "," + json_key(mapping.tags_column or "") + ":"
        self._index = {name: i for i, name in enumerate(OUTPUTS)}

    def close(self) -> None:
        if self._tags is not None:
            self._tags.close()

    def build(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        def column(name: str) -> pa.Array:
            return batch.column(self._index[name])

        provider = _normalise(column("provider_name"))
        region = _typed(column("region_code"), pa.string())
        fields = {name: column(name) for name in _AS_IS}
        if self._tags is not None:
            tags, unparsed = self._tags.parse(_typed(column("tags_text"), pa.string()))
            fields["additional_info"] = _with_unparsed_tags(
                _typed(column("additional_info"), pa.string()), self._tags_key, unparsed
            )
        else:
            tags = empty_maps(batch.num_rows)
        fields.update(
            provider=provider,
            # NULL when either is (binary_join's default null handling).
            region_key=pc.binary_join_element_wise(provider, region, "."),
            tags=tags,
        )
        arrays = [_typed(fields[f.name], f.type) for f in COST_SCHEMA]
        return pa.RecordBatch.from_arrays(arrays, schema=COST_SCHEMA)


def _with_unparsed_tags(info: pa.Array, key: str, unparsed: pa.Array) -> pa.Array:
    """`info` (JSON objects, none empty) with `key` (`,"Tags":`) and `unparsed` (a JSON
    string) added at the end in the rows where `unparsed` is not NULL."""
    if unparsed.null_count == len(unparsed):
        return info
    head = pc.utf8_slice_codeunits(info, 0, -1)  # without the closing brace
    patched = pc.binary_join_element_wise(head, key, unparsed, "}", "")  # NULL where unparsed is
    return pc.coalesce(patched, info)


def _normalise(names: pa.Array) -> pa.Array:
    """`normalise_provider` of every row, called once per distinct name of the batch."""
    encoded = pc.dictionary_encode(_typed(names, pa.string()))
    distinct = [normalise_provider(n) for n in encoded.dictionary.to_pylist()]
    return pc.array_take(pa.array(distinct, pa.string()), encoded.indices)


def _typed(column: pa.Array, type_: pa.DataType) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column if column.type == type_ else column.cast(type_)
