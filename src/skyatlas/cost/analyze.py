"""Cost analyze, list and stat: pick the smallest table that can answer, then run the shared
query executors on it.

The monthly rollup holds one row per month and dimension combination (tags included), with
sums and row counts. It answers any analyze whose filters, group keys and fields only touch
those dimensions, whose fields are sums or counts, and whose granularity is MONTHLY, YEARLY or
none. Everything else (DAILY, `resource`, `additional_info.*`, `data.*`, averages, keyword)
reads the facts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Table

from skyatlas.cost.fields import COST_FIELDS, ROLLUP_FIELDS
from skyatlas.cost.tables import cost_monthly, costs
from skyatlas.errors import InvalidParameter
from skyatlas.query.analyze import AnalyzeQuery, run_analyze
from skyatlas.query.compile import FieldSet
from skyatlas.query.model import GroupField

PERIOD_KEYS = {"DAILY": "billed_date", "MONTHLY": "billed_month", "YEARLY": "billed_year"}
Scope = Callable[[Table], list[ColumnElement[bool]]]


def _resolves(fields: FieldSet, key: str) -> bool:
    try:
        fields.resolve(key)
    except InvalidParameter:
        return False
    return True


def rollup_fits(query: AnalyzeQuery) -> bool:
    """Whether the monthly rollup holds everything this analyze needs."""
    if query.keyword or query.granularity == "DAILY":
        return False
    if any(f.operator not in ("sum", "count") for f in query.fields):
        return False
    keys = [c.key for c in (*query.filter, *query.filter_or)]
    keys += [k.key for k in query.keys]
    keys += [f.key for f in query.fields if f.key is not None]
    return all(_resolves(ROLLUP_FIELDS, k) for k in keys)


def _rollup_fields(query: AnalyzeQuery) -> tuple[GroupField, ...]:
    """A count over the rollup is the sum of the row counts it folded."""
    return tuple(
        GroupField(name=f.name, operator="sum", key="row_count") if f.operator == "count" else f
        for f in query.fields
    )


def analyze_costs(conn: Any, query: AnalyzeQuery, scope: Scope) -> tuple[dict[str, Any], str]:
    """The analyze answer and the table that gave it (`cost_monthly` or `costs`)."""
    if rollup_fits(query):
        result = run_analyze(
            conn,
            cost_monthly,
            ROLLUP_FIELDS,
            query,
            date_key="billed_month",
            scope=scope(cost_monthly),
            period_keys=PERIOD_KEYS,
            group_fields=_rollup_fields(query),
        )
        return result, "cost_monthly"
    result = run_analyze(
        conn,
        costs,
        COST_FIELDS,
        query,
        date_key="billed_date",
        scope=scope(costs),
        period_keys=PERIOD_KEYS,
    )
    return result, "costs"
