"""Cost budgets: validation, usage against the cost store, and threshold notices.

A budget limits the costs of a workspace, or of one of its projects, optionally of one data
source, over whole months from `start` to `end` (YYYY-MM, inclusive). A TOTAL budget has one
`limit` for the whole period; a MONTHLY budget has `planned_limits`, one per month.

Usage is read from the cost store's monthly rollup (`cost_monthly`), never from the facts.

Notices: after a sync replaces some months, `check_budgets` looks at the budgets those months
can affect. Every threshold of an ENABLED notification that the costs have reached gets one row
in `budget_notices` — its primary key (budget, period, threshold) is what makes a crossing
notify once, however many syncs see it — and one `budget-notify` job, which POSTs the webhook
(`skyatlas.cost.budget_notify`). The row and the job are written in the sync's transaction, so
a sync that fails to commit notifies nobody.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from skyatlas.cost.tables import cost_monthly
from skyatlas.errors import InvalidParameter
from skyatlas.ids import new_id, utcnow
from skyatlas.jobs.queue import enqueue
from skyatlas.store.tables import budget_notices, budgets

log = logging.getLogger(__name__)

NOTIFY_KIND = "budget-notify"
TOTAL, MONTHLY = "TOTAL", "MONTHLY"
PERCENT, ACTUAL_COST = "PERCENT", "ACTUAL_COST"
ENABLED, DISABLED = "ENABLED", "DISABLED"
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"
#: The longest period a budget may span (ten years of months).
MAX_MONTHS = 120
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# -- months ----------------------------------------------------------------------------------
def months_between(start: str, end: str) -> list[str]:
    """Every month from `start` to `end` inclusive (YYYY-MM)."""
    year, month = int(start[:4]), int(start[5:7])
    out: list[str] = []
    while True:
        current = f"{year:04d}-{month:02d}"
        if current > end:
            return out
        out.append(current)
        month += 1
        if month == 13:
            year, month = year + 1, 1


# -- validation ------------------------------------------------------------------------------
def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"{where} must be a number")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise InvalidParameter(f"{where} must be greater than 0")
    return number


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise InvalidParameter("notification.recipients.webhook_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidParameter(
            "notification.recipients.webhook_url must be an http:// or https:// URL with a host"
        )
    if any(c.isspace() for c in url):
        raise InvalidParameter("notification.recipients.webhook_url must not contain spaces")
    return url


def threshold_key(plan: Mapping[str, Any]) -> str:
    """`PERCENT:80`, `ACTUAL_COST:1250.5`: one threshold, written the same way every time."""
    threshold = float(plan["threshold"])
    text = str(int(threshold)) if threshold.is_integer() else repr(threshold)
    return f"{plan['unit']}:{text}"


def normalise_notification(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored form of a notification, validated: ENABLED needs a webhook and a plan."""
    if raw is None:
        return {"state": DISABLED, "recipients": {}, "plans": []}
    state = raw.get("state") or DISABLED
    recipients = dict(raw.get("recipients") or {})
    url = recipients.get("webhook_url")
    if url is not None:
        recipients["webhook_url"] = check_webhook_url(url)
    plans: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, plan in enumerate(raw.get("plans") or []):
        unit = plan.get("unit") or PERCENT
        threshold = _positive(plan.get("threshold"), f"notification.plans.{i}.threshold")
        clean = {"threshold": threshold, "unit": unit}
        key = threshold_key(clean)
        if key in seen:
            raise InvalidParameter(f"notification.plans.{i}: threshold {key} is listed twice")
        seen.add(key)
        plans.append(clean)
    if state == ENABLED:
        if not recipients.get("webhook_url"):
            raise InvalidParameter(
                "notification.recipients.webhook_url is required when notification is ENABLED"
            )
        if not plans:
            raise InvalidParameter(
                "notification.plans needs at least one threshold when notification is ENABLED"
            )
    return {"state": state, "recipients": recipients, "plans": plans}


def validate_budget(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a budget's period and limits (create, or update merged with the stored budget);
    answers the stored form of `limit` and `planned_limits`."""
    start, end, unit = values["start"], values["end"], values["time_unit"]
    for key in ("start", "end"):
        if not isinstance(values[key], str) or not MONTH.match(values[key]):
            raise InvalidParameter(f"{key} must be a month (YYYY-MM)")
    if start > end:
        raise InvalidParameter(f"start ({start}) must not be after end ({end})")
    months = months_between(start, end)
    if len(months) > MAX_MONTHS:
        raise InvalidParameter(f"a budget spans at most {MAX_MONTHS} months ({len(months)} given)")
    limit, planned = values.get("limit"), values.get("planned_limits")
    if unit == TOTAL:
        if planned:
            raise InvalidParameter(
                "planned_limits are for MONTHLY budgets; a TOTAL budget has one limit"
            )
        if limit is None:
            raise InvalidParameter("limit is required for a TOTAL budget")
        return {"limit": _positive(limit, "limit"), "planned_limits": []}
    if unit != MONTHLY:
        raise InvalidParameter("time_unit must be TOTAL or MONTHLY")
    if limit is not None:
        raise InvalidParameter("limit is for TOTAL budgets; a MONTHLY budget has planned_limits")
    if not planned:
        raise InvalidParameter(
            f"planned_limits is required for a MONTHLY budget: one limit per month from "
            f"{start} to {end}"
        )
    by_month: dict[str, float] = {}
    for i, item in enumerate(planned):
        month = item.get("date")
        if not isinstance(month, str) or not MONTH.match(month):
            raise InvalidParameter(f"planned_limits.{i}.date must be a month (YYYY-MM)")
        if month in by_month:
            raise InvalidParameter(f"planned_limits: month {month} is planned twice")
        if not start <= month <= end:
            raise InvalidParameter(
                f"planned_limits: month {month} is outside the budget ({start} to {end})"
            )
        by_month[month] = _positive(item.get("limit"), f"planned_limits.{i}.limit")
    missing = [m for m in months if m not in by_month]
    if missing:
        raise InvalidParameter(f"planned_limits: no limit for {', '.join(missing)}")
    return {"limit": None, "planned_limits": [{"date": m, "limit": by_month[m]} for m in months]}


# -- usage -----------------------------------------------------------------------------------
class MonthCosts:
    """The monthly costs every budget of `rows` can see, read from the rollup in one query."""

    def __init__(self, runtime: Any, rows: Sequence[Any]) -> None:
        self._by: dict[tuple[str, str, str], list[tuple[str | None, str | None, float]]]
        self._by = defaultdict(list)
        if not rows:
            return
        c = cost_monthly.c
        stmt = (
            select(
                c.domain_id,
                c.workspace_id,
                c.project_id,
                c.data_source_id,
                c.billed_month,
                func.sum(c.cost).label("cost"),
            )
            .where(
                c.domain_id.in_(sorted({r.domain_id for r in rows})),
                c.workspace_id.in_(sorted({r.workspace_id for r in rows})),
                c.billed_month >= min(r.start for r in rows),
                c.billed_month <= max(r.end for r in rows),
            )
            .group_by(c.domain_id, c.workspace_id, c.project_id, c.data_source_id, c.billed_month)
        )
        for found in runtime.costs.fetch(stmt):
            key = (found["domain_id"], found["workspace_id"], found["billed_month"])
            entry = (found["project_id"], found["data_source_id"], float(found["cost"] or 0.0))
            self._by[key].append(entry)

    def cost(self, budget: Any, month: str) -> float:
        total = 0.0
        for project_id, data_source_id, cost in self._by.get(
            (budget.domain_id, budget.workspace_id, month), ()
        ):
            if budget.project_id is not None and project_id != budget.project_id:
                continue
            if budget.data_source_id is not None and data_source_id != budget.data_source_id:
                continue
            total += cost
        return total


def _rate(cost: float, limit: float | None) -> float | None:
    return cost / limit * 100.0 if limit else None


def usage_of(budget: Any, costs: MonthCosts) -> list[dict[str, Any]]:
    """One row per month of the budget. TOTAL: each month's limit is the whole limit and
    `utilization_rate` is cumulative (the costs up to and including that month)."""
    planned = {p["date"]: p["limit"] for p in budget.planned_limits or ()}
    out, cumulative = [], 0.0
    for month in months_between(budget.start, budget.end):
        cost = costs.cost(budget, month)
        cumulative += cost
        if budget.time_unit == TOTAL:
            limit, rate = budget.limit, _rate(cumulative, budget.limit)
        else:
            limit = planned.get(month)
            rate = _rate(cost, limit)
        out.append(
            {
                "budget_id": budget.budget_id,
                "name": budget.name,
                "date": month,
                "cost": cost,
                "limit": limit,
                "utilization_rate": rate,
                "currency": budget.currency,
                "time_unit": budget.time_unit,
                "data_source_id": budget.data_source_id,
                "workspace_id": budget.workspace_id,
                "project_id": budget.project_id,
                "domain_id": budget.domain_id,
            }
        )
    return out


def usage_rows(runtime: Any, rows: Sequence[Any]) -> list[dict[str, Any]]:
    costs = MonthCosts(runtime, rows)
    return [u for budget in rows for u in usage_of(budget, costs)]


def periods(
    budget: Any, costs: MonthCosts, months: Iterable[str] | None = None
) -> list[tuple[str, float, float]]:
    """(period, cost, limit) to hold the thresholds against: the months of `months` within a
    MONTHLY budget, or the whole period of a TOTAL budget (when `months` touches it)."""
    usage = usage_of(budget, costs)
    wanted = None if months is None else set(months)
    if budget.time_unit == TOTAL:
        if wanted is not None and not any(u["date"] in wanted for u in usage):
            return []
        return [(TOTAL, sum(u["cost"] for u in usage), budget.limit)]
    return [
        (u["date"], u["cost"], u["limit"])
        for u in usage
        if (wanted is None or u["date"] in wanted) and u["limit"]
    ]


def crossed(plan: Mapping[str, Any], cost: float, limit: float) -> bool:
    threshold = float(plan["threshold"])
    if plan["unit"] == ACTUAL_COST:
        return cost >= threshold
    return cost >= limit * threshold / 100.0


# -- notices ---------------------------------------------------------------------------------
def _enabled(budget: Any) -> bool:
    notification = budget.notification or {}
    return (
        notification.get("state") == ENABLED
        and bool((notification.get("recipients") or {}).get("webhook_url"))
        and bool(notification.get("plans"))
    )


def _notice(
    conn: Connection, budget: Any, period: str, plan: Mapping[str, Any], cost: float, limit: float
) -> str | None:
    """Record the crossing and queue its webhook; None when it was recorded already."""
    key = threshold_key(plan)
    pk = (
        budget_notices.c.budget_id == budget.budget_id,
        budget_notices.c.period == period,
        budget_notices.c.threshold_key == key,
    )
    if conn.execute(select(budget_notices.c.notice_id).where(*pk)).first() is not None:
        return None
    notice_id = new_id("notice")
    body = {
        "notice_id": notice_id,
        "budget_id": budget.budget_id,
        "name": budget.name,
        "period": period,
        "threshold": plan["threshold"],
        "unit": plan["unit"],
        "cost": cost,
        "limit": limit,
        "utilization_rate": _rate(cost, limit),
        "currency": budget.currency,
        "workspace_id": budget.workspace_id,
        "project_id": budget.project_id,
    }
    try:
        with conn.begin_nested():
            conn.execute(
                insert(budget_notices).values(
                    budget_id=budget.budget_id,
                    period=period,
                    threshold_key=key,
                    notice_id=notice_id,
                    domain_id=budget.domain_id,
                    status=PENDING,
                    notified_at=utcnow(),
                )
            )
            job_id = enqueue(
                conn,
                kind=NOTIFY_KIND,
                queue=f"{NOTIFY_KIND}:{budget.budget_id}",
                domain_id=budget.domain_id,
                workspace_id=budget.workspace_id,
                project_id=budget.project_id,
                payload={
                    "notice_id": notice_id,
                    "url": budget.notification["recipients"]["webhook_url"],
                    "body": body,
                },
                prefix="qjob",
            )
            conn.execute(
                update(budget_notices)
                .where(budget_notices.c.notice_id == notice_id)
                .values(job_id=job_id)
            )
    except IntegrityError:  # a concurrent check recorded the same crossing first
        return None
    return job_id


def check_budgets(
    conn: Connection, runtime: Any, data_source_row: Any, months: Iterable[str]
) -> list[str]:
    """After a sync of `data_source_row` replaced `months`: queue one webhook per threshold
    newly crossed by a budget those costs count toward. Answers the queued job ids."""
    wanted = sorted({m for m in months if isinstance(m, str) and MONTH.match(m)})
    if not wanted:
        return []
    ds = data_source_row
    where = [
        budgets.c.domain_id == ds.domain_id,
        budgets.c.start <= wanted[-1],
        budgets.c.end >= wanted[0],
        or_(budgets.c.data_source_id.is_(None), budgets.c.data_source_id == ds.data_source_id),
    ]
    if ds.workspace_id != "*":  # a DOMAIN data source's costs reach any workspace
        where.append(budgets.c.workspace_id == ds.workspace_id)
    rows = [
        r
        for r in conn.execute(select(budgets).where(*where).order_by(budgets.c.budget_id))
        if _enabled(r) and any(r.start <= m <= r.end for m in wanted)
    ]
    if not rows:
        return []
    costs = MonthCosts(runtime, rows)
    job_ids = []
    for budget in rows:
        for period, cost, limit in periods(budget, costs, wanted):
            for plan in budget.notification["plans"]:
                if crossed(plan, cost, limit):
                    job_id = _notice(conn, budget, period, plan, cost, limit)
                    if job_id is not None:
                        job_ids.append(job_id)
    return job_ids


def notify_after_sync(
    conn: Connection, runtime: Any, data_source_row: Any, months: Iterable[str]
) -> list[str]:
    """`check_budgets` for the end of a sync: a failure here is logged and leaves the sync's
    own result untouched (its savepoint is rolled back)."""
    try:
        with conn.begin_nested():
            return check_budgets(conn, runtime, data_source_row, months)
    except Exception:
        log.exception("budget check after a sync of %s failed", data_source_row.data_source_id)
        return []


def rearm(conn: Connection, runtime: Any, budget: Any) -> None:
    """After a budget's limits, period or thresholds change: forget the notices whose
    threshold the costs no longer reach under the new terms (or that are gone), so a later
    crossing of them notifies again. Those still crossed stay: no repeat notification."""
    notices = conn.execute(
        select(budget_notices.c.period, budget_notices.c.threshold_key).where(
            budget_notices.c.budget_id == budget.budget_id
        )
    ).all()
    if not notices:
        return
    still: set[tuple[str, str]] = set()
    costs = MonthCosts(runtime, [budget])
    for period, cost, limit in periods(budget, costs):
        for plan in (budget.notification or {}).get("plans") or ():
            if crossed(plan, cost, limit):
                still.add((period, threshold_key(plan)))
    for n in notices:
        if (n.period, n.threshold_key) not in still:
            conn.execute(
                delete(budget_notices).where(
                    budget_notices.c.budget_id == budget.budget_id,
                    budget_notices.c.period == n.period,
                    budget_notices.c.threshold_key == n.threshold_key,
                )
            )


def forget(conn: Connection, budget_id: str) -> None:
    conn.execute(delete(budget_notices).where(budget_notices.c.budget_id == budget_id))


# -- analyze over usage rows -----------------------------------------------------------------
GROUP_KEYS = (
    "budget_id",
    "name",
    "date",
    "currency",
    "time_unit",
    "data_source_id",
    "workspace_id",
    "project_id",
)
VALUE_KEYS = ("cost", "limit", "utilization_rate")
FIELD_OPERATORS = ("sum", "count", "min", "max", "average")
FILTER_OPERATORS = ("eq", "not", "in", "not_in", "gt", "gte", "lt", "lte")


def _key(raw: Any, where: str, allowed: Sequence[str]) -> str:
    if not isinstance(raw, str) or raw not in allowed:
        raise InvalidParameter(f"{where}: unknown key {raw!r}; use one of {', '.join(allowed)}")
    return raw


def _matches(value: Any, op: str, expected: Any) -> bool:
    if op == "eq":
        return value == expected
    if op == "not":
        return value != expected
    if op in ("in", "not_in"):
        inside = value in (expected if isinstance(expected, list) else [expected])
        return inside if op == "in" else not inside
    if value is None:
        return False
    try:
        if op == "gt":
            return value > expected
        if op == "gte":
            return value >= expected
        if op == "lt":
            return value < expected
        return value <= expected
    except TypeError:
        raise InvalidParameter(f"filter: cannot compare {value!r} with {expected!r}") from None


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


def analyze_usage(rows: list[dict[str, Any]], query: Mapping[str, Any]) -> dict[str, Any]:
    """`group_by` over usage rows with `fields` ({name: {key, operator}}), narrowed by
    `filter` and `start` / `end` (months), ordered by `sort`, cut by `page`."""
    if not isinstance(query, Mapping):
        raise InvalidParameter("query must be an object")
    raw_group = query.get("group_by") or []
    if not isinstance(raw_group, list):
        raise InvalidParameter("query.group_by must be a list")
    group: list[tuple[str, str]] = []
    for i, item in enumerate(raw_group):
        if isinstance(item, Mapping):
            key = _key(item.get("key"), f"query.group_by.{i}", GROUP_KEYS)
            name = item.get("name") or key
            if not isinstance(name, str):
                raise InvalidParameter(f"query.group_by.{i}.name must be a string")
        else:
            key = name = _key(item, f"query.group_by.{i}", GROUP_KEYS)
        group.append((key, name))
    raw_fields = query.get("fields")
    if not isinstance(raw_fields, Mapping) or not raw_fields:
        raise InvalidParameter(
            'query.fields is required, e.g. {"cost": {"key": "cost", "operator": "sum"}}'
        )
    fields: list[tuple[str, str | None, str]] = []
    for name, spec in raw_fields.items():
        if not isinstance(spec, Mapping):
            raise InvalidParameter(f"query.fields.{name} must be an object")
        op = spec.get("operator")
        if op not in FIELD_OPERATORS:
            raise InvalidParameter(
                f"query.fields.{name}.operator must be one of {', '.join(FIELD_OPERATORS)}"
            )
        key = None if op == "count" else _key(spec.get("key"), f"query.fields.{name}", VALUE_KEYS)
        fields.append((name, key, op))
    selected = list(rows)
    for bound, op in (("start", "gte"), ("end", "lte")):
        value = query.get(bound)
        if value is not None:
            if not isinstance(value, str) or not MONTH.match(value):
                raise InvalidParameter(f"query.{bound} must be a month (YYYY-MM)")
            selected = [r for r in selected if _matches(r["date"], op, value)]
    raw_filter = query.get("filter") or []
    if not isinstance(raw_filter, list):
        raise InvalidParameter("query.filter must be a list")
    for i, cond in enumerate(raw_filter):
        if not isinstance(cond, Mapping):
            raise InvalidParameter(f"query.filter.{i} must be an object")
        key = _key(cond.get("k", cond.get("key")), f"query.filter.{i}", GROUP_KEYS + VALUE_KEYS)
        op = cond.get("o", cond.get("operator", "eq"))
        if op not in FILTER_OPERATORS:
            raise InvalidParameter(
                f"query.filter.{i}.operator must be one of {', '.join(FILTER_OPERATORS)}"
            )
        value = cond.get("v", cond.get("value"))
        selected = [r for r in selected if _matches(r[key], op, value)]

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in selected:
        groups.setdefault(tuple(row[k] for k, _ in group), []).append(row)
    results = []
    for values, members in groups.items():
        out: dict[str, Any] = {name: v for (_, name), v in zip(group, values, strict=True)}
        for name, key, op in fields:
            if op == "count":
                out[name] = len(members)
                continue
            numbers = [m[key] for m in members if m[key] is not None]
            if op == "sum":
                out[name] = sum(numbers)
            elif not numbers:
                out[name] = None
            elif op == "min":
                out[name] = min(numbers)
            elif op == "max":
                out[name] = max(numbers)
            else:
                out[name] = sum(numbers) / len(numbers)
        results.append(out)

    names = [name for _, name in group] + [name for name, _, _ in fields]
    raw_sort = query.get("sort") or [{"key": name} for _, name in group]
    if not isinstance(raw_sort, list):
        raise InvalidParameter("query.sort must be a list")
    for spec in reversed(raw_sort):
        if not isinstance(spec, Mapping):
            raise InvalidParameter("query.sort items must be objects")
        key = _key(spec.get("key"), "query.sort", names)
        results.sort(key=lambda r, k=key: _sort_key(r.get(k)), reverse=bool(spec.get("desc")))
    total = len(results)
    page = query.get("page") or {}
    if not isinstance(page, Mapping):
        raise InvalidParameter("query.page must be an object")
    start, limit = page.get("start", 1), page.get("limit")
    if not isinstance(start, int) or start < 1:
        raise InvalidParameter("query.page.start must be an integer ≥ 1")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvalidParameter("query.page.limit must be an integer ≥ 1")
    end = total if limit is None else start - 1 + limit
    return {"results": results[start - 1 : end], "more": end < total, "total_count": total}
