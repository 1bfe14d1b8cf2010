"""One Cost Explorer answer (a page of `GetCostAndUsage`, grouped by service and linked account)
→ cost rows, and rows → Arrow record batches in `COST_SCHEMA`.

Cost Explorer sends amounts as decimal strings; they become floats here so the store can sum
them. `additional_info` and `data` are the text of one compact JSON object per row (as
`COST_SCHEMA` wants them), with the keys whose value Cost Explorer left out omitted. Nothing
else is derived: the row says what Cost Explorer said (its unit included, even
the `N/A` it reports for usage summed over different units).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.plugins.base import PluginError

PROVIDER = "aws"
USAGE_METRIC = "UsageQuantity"
#: The `GroupBy` of every request; a group's `Keys` come in this order.
GROUP_BY = (
    {"Type": "DIMENSION", "Key": "SERVICE"},
    {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
)
#: Rows per record batch: large enough for bulk loading, small enough to bound memory.
BATCH_ROWS = 50_000

Row = dict[str, Any]


def rows_of_answer(answer: Mapping[str, Any], metric: str) -> Iterator[Row]:
    """One row per (day, service, linked account) of the answer, in the answer's order."""
    for result in answer.get("ResultsByTime") or ():
        day = (result.get("TimePeriod") or {}).get("Start")
        if not isinstance(day, str) or not day:
            raise PluginError("AWS Cost Explorer answered a result without TimePeriod.Start")
        estimated = "true" if result.get("Estimated") else "false"
        for group in result.get("Groups") or ():
            yield _row(group, day, estimated, metric)


def _row(group: Mapping[str, Any], day: str, estimated: str, metric: str) -> Row:
    keys = list(group.get("Keys") or ())
    metrics = group.get("Metrics") or {}
    cost, currency = _amount(metrics.get(metric), metric, day)
    quantity, unit = _amount(metrics.get(USAGE_METRIC), USAGE_METRIC, day)
    info = {"Metric": metric, "Currency": currency, "Estimated": estimated}
    info = {k: v for k, v in info.items() if v is not None}
    data = {
        name: value
        for name, value in ((metric, cost), (USAGE_METRIC, quantity))
        if value is not None
    }
    return {
        "cost": cost,
        "usage_quantity": quantity,
        "usage_unit": unit,
        "provider": PROVIDER,
        "region_code": None,
        "region_key": None,
        "product": keys[0] if keys else None,
        "usage_type": None,
        "resource": None,
        "account_id": keys[1] if len(keys) > 1 else None,
        "billed_date": day,
        "tags": {},
        "additional_info": _json(info),
        "data": _json(data),
    }


def _json(fields: Mapping[str, Any]) -> str:
    """The compact JSON text of one object (`{"Metric":"UnblendedCost",...}`)."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _amount(value: Any, metric: str, day: str) -> tuple[float | None, str | None]:
    """(amount, unit) of a metric value `{"Amount": "1.23", "Unit": "USD"}`; (None, None) when
    Cost Explorer left the metric out."""
    if not isinstance(value, Mapping):
        return None, None
    raw, unit = value.get("Amount"), value.get("Unit")
    try:
        amount = None if raw is None else float(raw)
        if amount is not None and not math.isfinite(amount):
            raise ValueError(raw)  # NaN and infinities are no amount (nor a JSON number)
    except (TypeError, ValueError):
        raise PluginError(
            f"AWS Cost Explorer answered a non-numeric {metric} amount {str(raw)[:40]!r} for {day}"
        ) from None
    return amount, (str(unit) if unit is not None else None)


class RowBuffer:
    """Rows collected column by column until a batch is full, so that no more than one batch
    of rows is held at a time whatever the size of the answer."""

    def __init__(self, batch_rows: int = BATCH_ROWS) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self.batch_rows = batch_rows
        self._columns: dict[str, list[Any]] = {name: [] for name in COST_SCHEMA.names}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, row: Row) -> bool:
        """Append a row; True when the buffer now holds a full batch."""
        for name, column in self._columns.items():
            value = row[name]
            column.append(list(value.items()) if isinstance(value, dict) else value)
        self._count += 1
        return self._count >= self.batch_rows

    def take(self) -> pa.RecordBatch:
        """The buffered rows as one batch in exactly `COST_SCHEMA`; the buffer is emptied."""
        batch = pa.RecordBatch.from_pydict(self._columns, schema=COST_SCHEMA)
        self._columns = {name: [] for name in COST_SCHEMA.names}
        self._count = 0
        return batch
