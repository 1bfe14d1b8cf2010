"""Cost analysis: data sources (register, sync, deregister), the analysis view, budgets.

The analysis view answers from one `cost analyze` call per render (granularity, range, one
group key, filters), then only reshapes it for the eye: a stacked bar chart over time with the
fifteen largest groups and "Others", and the same numbers as a table whose cells carry the
unrounded values, so a CSV export is exact.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Any

from starlette.responses import Response

from skyatlas.console.pages.collection import (
    JOB_DONE,
    aws_accounts,
    latest_jobs,
    path_param,
    table_query,
)
from skyatlas.console.web import PREFIX, Pages, View
from skyatlas.cost.budget import months_between
from skyatlas.errors import SkyatlasError

pages = Pages()

#: What the cost analysis can group by besides the data sources' tag keys (`tags.<key>`).
GROUP_KEYS = {
    "provider": "Provider",
    "product": "Product",
    "region_code": "Region",
    "project_id": "Project",
    "account_id": "Account",
    "usage_type": "Usage type",
    "data_source_id": "Data source",
    "service_account_id": "Service account",
    "usage_unit": "Usage unit",
}
GRANULARITIES = ("DAILY", "MONTHLY", "YEARLY")
#: The chart draws this many groups (the largest by total) and folds the rest into "Others".
TOP_GROUPS = 15
#: A daily chart and table stay readable up to about a year of columns.
MAX_DAYS = 366
OTHERS = "Others"
NO_VALUE = "(no value)"
#: Where cost rows keep their currency: FOCUS's column, and the demo data's.
CURRENCY_KEYS = ("BillingCurrency", "Currency")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Cost plugins this page can build options for.
COST_PLUGINS = {
    "focus": "focus — FOCUS exports (CSV or Parquet) on the server",
    "aws-cost-explorer": "aws-cost-explorer — AWS Cost Explorer, with a service account",
}


def _member(view: View) -> bool:
    return view.place is not None and view.place.role_type == "WORKSPACE_MEMBER"


def option_choices(view: View, plugin_id: str, kind: str, name: str) -> list[str]:
    """The values the plugin's own options schema allows for `name` (its enum): read from the
    plugin, so the form never offers what the plugin would refuse."""
    try:
        schema = view.runtime.plugins.get(plugin_id, kind).metadata.options_schema()
    except SkyatlasError:
        return []
    prop = (schema.get("properties") or {}).get(name) or {}
    return [str(v) for v in prop.get("enum") or []]


def _data_sources(view: View) -> list[dict[str, Any]]:
    answer = view.call(
        "cost-analysis",
        "data-source",
        "list",
        {"query": {"sort": [{"key": "name"}], "page": {"start": 1, "limit": 200}}},
    )
    return list(answer["results"])


def _projects(view: View) -> list[dict[str, Any]]:
    answer = view.call(
        "identity",
        "project",
        "list",
        {"query": {"sort": [{"key": "name"}], "page": {"start": 1, "limit": 500}}},
    )
    return list(answer["results"])


# -- data sources -----------------------------------------------------------------------------
DS_SORTS = ("name", "state", "last_synchronized_at", "created_at")


def _ds_table(view: View) -> dict[str, Any]:
    paging = table_query(view, "name", DS_SORTS)
    answer = view.call("cost-analysis", "data-source", "list", {"query": paging["query"]})
    rows = answer["results"]
    last = latest_jobs(view, "cost-analysis", "data_source_id", [r["data_source_id"] for r in rows])
    return {
        "sources": rows,
        "last_jobs": last,
        "total": answer["total_count"],
        "start": paging["start"],
        "limit": paging["limit"],
        "sort": paging["sort"],
        "member": _member(view),
    }


def _register_context(view: View, values: dict[str, str], error: str | None) -> dict[str, Any]:
    plugin = values.get("plugin") or "focus"
    plugin = plugin if plugin in COST_PLUGINS else "focus"
    return {
        "plugins": COST_PLUGINS,
        "plugin": plugin,
        "given": values,
        "error": error,
        "accounts": aws_accounts(view) if plugin == "aws-cost-explorer" else [],
        "cost_columns": option_choices(view, "focus", "cost", "cost_column"),
        "metrics": option_choices(view, "aws-cost-explorer", "cost", "metric"),
        "import_roots": [str(p) for p in view.runtime.settings.allowed_import_roots],
    }


@pages.get("/cost/data-sources")
def data_sources_page(view: View) -> Response:
    """Where costs come from, when each was last synced and how its last sync went."""
    table = _ds_table(view)
    if view.wants_fragment("ds-table"):
        return view.render("cost/_data_sources_table.html", **table)
    form = _register_context(view, {"plugin": view.arg("plugin", "focus")}, None)
    return view.render("cost/data_sources.html", form=form, **table)


@pages.get("/cost/data-sources/new-options")
def data_source_fields(view: View) -> Response:
    form = _register_context(view, {"plugin": view.arg("plugin", "focus")}, None)
    return view.render("cost/_ds_plugin_fields.html", form=form)


def _register_body(values: dict[str, str]) -> dict[str, Any]:
    plugin = values["plugin"]
    options: dict[str, Any] = {}
    body: dict[str, Any] = {"name": values["name"], "data_source_type": "EXTERNAL"}
    if plugin == "focus":
        options["path"] = values["path"]
        if values["cost_column"]:
            options["cost_column"] = values["cost_column"]
    else:
        if values["metric"]:
            options["metric"] = values["metric"]
        if values["service_account_id"]:
            body["secret_filter"] = {"service_accounts": [values["service_account_id"]]}
            body["secret_type"] = "USE_SERVICE_ACCOUNT_SECRET"
    body["plugin_info"] = {"plugin_id": plugin, "options": options}
    return body


@pages.post("/cost/data-sources")
def register_data_source(view: View) -> Response:
    keys = ("name", "plugin", "path", "cost_column", "metric", "service_account_id")
    values = {k: view.arg(k) for k in keys}
    if values["plugin"] not in COST_PLUGINS:
        values["plugin"] = "focus"
    try:
        view.call("cost-analysis", "data-source", "register", _register_body(values))
    except SkyatlasError as exc:
        form = _register_context(view, values, exc.message)
        return view.render("cost/_register_form.html", form=form)
    return view.redirect(f"{PREFIX}/cost/data-sources?registered={values['name']}")


def _sync_progress(view: View, job_id: str) -> dict[str, Any]:
    job = view.call("cost-analysis", "job", "get", {"job_id": job_id})
    return {"job": job, "running": job.get("status") not in JOB_DONE}


@pages.post("/cost/data-sources/{data_source_id}/sync")
def sync_data_source(view: View) -> Response:
    """Start a sync; the answer is its progress, polled until the job ends."""
    data_source_id = path_param(view, "data_source_id")
    job = view.call("cost-analysis", "data-source", "sync", {"data_source_id": data_source_id})
    return view.render("cost/_sync_progress.html", **_sync_progress(view, job["job_id"]))


@pages.get("/cost/data-sources/jobs/{job_id}/progress")
def sync_progress(view: View) -> Response:
    return view.render(
        "cost/_sync_progress.html", **_sync_progress(view, path_param(view, "job_id"))
    )


@pages.post("/cost/data-sources/{data_source_id}/deregister")
def deregister_data_source(view: View) -> Response:
    data_source_id = path_param(view, "data_source_id")
    view.call("cost-analysis", "data-source", "deregister", {"data_source_id": data_source_id})
    return view.redirect(f"{PREFIX}/cost/data-sources")


# -- analysis ---------------------------------------------------------------------------------
def periods_between(granularity: str, start: date, end: date) -> list[str]:
    """Every period from start to end, so a day or month without costs still has its place
    on the time axis."""
    if granularity == "DAILY":
        return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    if granularity == "MONTHLY":
        return months_between(start.isoformat()[:7], end.isoformat()[:7])
    return [str(y) for y in range(start.year, end.year + 1)]


def _bound(granularity: str, day: date) -> str:
    text = day.isoformat()
    return {"DAILY": text, "MONTHLY": text[:7], "YEARLY": text[:4]}[granularity]


def _default_range(granularity: str, sources: list[dict[str, Any]]) -> tuple[date, date]:
    """The latest month any data source holds (else this month), and before it a span that
    suits the granularity: that month by day, a year by month, three years by year."""
    months = sorted(m for s in sources for m in (s.get("months") or []) if _MONTH.match(m))
    latest = months[-1] if months else date.today().isoformat()[:7]
    first = date(int(latest[:4]), int(latest[5:7]), 1)
    end = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if granularity == "DAILY":
        return first, end
    if granularity == "MONTHLY":
        index = first.year * 12 + first.month - 1 - 11
        return date(index // 12, index % 12 + 1, 1), end
    return date(first.year - 2, 1, 1), date(first.year, 12, 31)


def _parse_day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{label} must be a date (YYYY-MM-DD), not '{text}'.") from None


def _label(value: Any, names: dict[str, str]) -> str:
    if value is None or value == "":
        return NO_VALUE
    text = str(value)
    return f"{names[text]} ({text})" if text in names else text


def shape(
    results: list[dict[str, Any]], group: str, periods: list[str], names: dict[str, str]
) -> dict[str, Any]:
    """Rows per group value (the largest TOP_GROUPS by total, the rest as Others), a value per
    period, and totals; sums use fsum so they do not depend on the order rows arrive in."""
    index = {p: i for i, p in enumerate(periods)}
    cells: dict[str, list[list[float]]] = {}
    raw: dict[str, Any] = {}
    for row in results:
        key = _label(row.get(group), names)
        raw.setdefault(key, row.get(group))
        slot = index.get(str(row.get("date")))
        if slot is None:
            continue
        cells.setdefault(key, [[] for _ in periods])[slot].append(float(row.get("cost") or 0.0))
    sums = {k: [math.fsum(v) for v in per] for k, per in cells.items()}
    totals = {k: math.fsum(v) for k, v in sums.items()}
    ordered = sorted(sums, key=lambda k: (-totals[k], k))
    top, rest = ordered[:TOP_GROUPS], ordered[TOP_GROUPS:]
    rows = [
        {"label": k, "value": raw[k], "cells": sums[k], "total": totals[k], "others": False}
        for k in top
    ]
    if rest:
        per = [math.fsum(sums[k][i] for k in rest) for i in range(len(periods))]
        rows.append(
            {
                "label": f"{OTHERS} ({len(rest)} more)",
                "value": None,
                "cells": per,
                "total": math.fsum(per),
                "others": True,
            }
        )
    column_totals = [math.fsum(sums[k][i] for k in ordered) for i in range(len(periods))]
    return {
        "rows": rows,
        "column_totals": column_totals,
        "grand_total": math.fsum(totals.values()),
        "group_count": len(ordered),
    }


def chart_option(table: dict[str, Any], periods: list[str], currency: str | None) -> dict:
    # No animation: every control redraws the chart, and a growing bar reads as a wrong one.
    return {
        "animation": False,
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"type": "scroll", "top": 0, "data": [r["label"] for r in table["rows"]]},
        "grid": {"left": 16, "right": 16, "top": 56, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value", "name": currency or "cost"},
        "series": [
            {
                "name": r["label"],
                "type": "bar",
                "stack": "total",
                "emphasis": {"focus": "series"},
                "data": [round(v, 2) for v in r["cells"]],
            }
            for r in table["rows"]
        ],
    }


def _filters(view: View) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The filter conditions the controls ask for, and the controls' values."""
    chosen = {k: view.arg(k) for k in ("provider", "data_source_id", "project_id")}
    chosen["filter_key"] = view.arg("filter_key")
    chosen["filter_value"] = view.arg("filter_value")
    conditions = [{"k": k, "v": chosen[k], "o": "eq"} for k in GROUP_KEYS if chosen.get(k)]
    if chosen["filter_key"]:
        conditions.append({"k": chosen["filter_key"], "v": chosen["filter_value"], "o": "eq"})
    return conditions, chosen


PERIOD_KEYS = {"DAILY": "billed_date", "MONTHLY": "billed_month", "YEARLY": "billed_year"}


def _currency(
    view: View, conditions: list[dict[str, Any]], granularity: str, group: str, results: list
) -> str | None:
    """The currency the rows state: cost rows keep it per row, so one row of the largest
    group and period of the answer is read (narrowed that far, the lookup stays cheap)."""
    if not results:
        return None
    top = max(results, key=lambda r: abs(float(r.get("cost") or 0.0)))
    where = [*conditions, {"k": PERIOD_KEYS[granularity], "v": str(top["date"]), "o": "eq"}]
    if top.get(group) is not None:
        where.append({"k": group, "v": top[group], "o": "eq"})
    answer = view.call(
        "cost-analysis",
        "cost",
        "list",
        {"query": {"filter": where, "page": {"start": 1, "limit": 1}}},
    )
    for row in answer["results"]:
        info = row.get("additional_info") or {}
        for key in CURRENCY_KEYS:
            if info.get(key):
                return str(info[key])
    return None


def _analysis(view: View, sources: list[dict[str, Any]], projects: list[dict[str, Any]]) -> dict:
    granularity = view.arg("granularity", "MONTHLY").upper()
    if granularity not in GRANULARITIES:
        granularity = "MONTHLY"
    group = view.arg("group_by", "provider") or "provider"
    default_start, default_end = _default_range(granularity, sources)
    conditions, chosen = _filters(view)
    context: dict[str, Any] = {
        "granularity": granularity,
        "group": group,
        "group_label": dict(_group_choices(sources)).get(group, group),
        "chosen": chosen,
        "start": view.arg("start") or default_start.isoformat(),
        "end": view.arg("end") or default_end.isoformat(),
        "error": None,
        "table": None,
        "periods": [],
        "currency": None,
        "option": None,
    }
    try:
        start = _parse_day(context["start"], "Start")
        end = _parse_day(context["end"], "End")
    except ValueError as exc:
        context["error"] = str(exc)
        return context
    if start > end:
        context["error"] = "The start date is after the end date: swap them."
        return context
    if granularity == "DAILY" and (end - start).days >= MAX_DAYS:
        context["error"] = (
            f"A daily view shows at most {MAX_DAYS} days (one column each): narrow the dates "
            "or choose Monthly."
        )
        return context
    periods = periods_between(granularity, start, end)
    query = {
        "granularity": granularity,
        "start": _bound(granularity, start),
        "end": _bound(granularity, end),
        "group_by": [group],
        "fields": {"cost": {"key": "cost", "operator": "sum"}},
        "filter": conditions,
    }
    try:
        answer = view.call("cost-analysis", "cost", "analyze", {"query": query})
        currency = _currency(view, conditions, granularity, group, answer["results"])
    except SkyatlasError as exc:
        context["error"] = exc.message + " Change the grouping or the filter and try again."
        return context
    names: dict[str, str] = {}
    if group == "project_id":
        names = {p["project_id"]: p["name"] for p in projects}
    elif group == "data_source_id":
        names = {s["data_source_id"]: s["name"] for s in sources}
    table = shape(answer["results"], group, periods, names)
    context.update(
        table=table,
        periods=periods,
        currency=currency,
        option=chart_option(table, periods, currency),
        query=query,
    )
    return context


def _group_choices(sources: list[dict[str, Any]]) -> list[tuple[str, str]]:
    tag_keys = sorted({k for s in sources for k in (s.get("cost_tag_keys") or [])})
    return [*GROUP_KEYS.items(), *((f"tags.{k}", f"Tag: {k}") for k in tag_keys)]


def _providers(view: View) -> list[str]:
    """The providers the caller's costs name, for the filter's choices. Asked of the monthly
    rollup (no granularity, a count): cheap at any size, and only on a full page load."""
    answer = view.call(
        "cost-analysis",
        "cost",
        "analyze",
        {
            "query": {
                "group_by": ["provider"],
                "fields": {"rows": {"operator": "count"}},
                "sort": [{"key": "provider"}],
            }
        },
    )
    return [str(r["provider"]) for r in answer["results"] if r.get("provider")]


@pages.get("/cost/analysis")
def analysis_page(view: View) -> Response:
    """Costs over time, grouped and filtered by the controls; the controls re-render only
    the result (and put the question in the URL, so it can be bookmarked)."""
    sources = _data_sources(view)
    projects = _projects(view)
    result = _analysis(view, sources, projects)
    if view.wants_fragment("analysis-result"):
        return view.render("cost/_analysis_result.html", **result)
    return view.render(
        "cost/analysis.html",
        sources=sources,
        projects=projects,
        providers=_providers(view),
        group_choices=_group_choices(sources),
        granularities=GRANULARITIES,
        **result,
    )


# -- budgets ----------------------------------------------------------------------------------
BUDGET_SORTS = ("name", "start", "end", "created_at")


def _usage(view: View, budget_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each budget's months (cost, limit, utilisation) in one `budget-usage analyze` call."""
    if not budget_ids:
        return {}
    answer = view.call(
        "cost-analysis",
        "budget-usage",
        "analyze",
        {
            "query": {
                "filter": [{"k": "budget_id", "v": budget_ids, "o": "in"}],
                "group_by": ["budget_id", "date"],
                "fields": {
                    "cost": {"key": "cost", "operator": "sum"},
                    "limit": {"key": "limit", "operator": "max"},
                    "rate": {"key": "utilization_rate", "operator": "max"},
                },
                "sort": [{"key": "budget_id"}, {"key": "date"}],
            }
        },
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in answer["results"]:
        out.setdefault(row["budget_id"], []).append(row)
    return out


def _budgets_table(view: View) -> dict[str, Any]:
    paging = table_query(view, "name", BUDGET_SORTS)
    answer = view.call("cost-analysis", "budget", "list", {"query": paging["query"]})
    rows = answer["results"]
    return {
        "budgets": rows,
        "usage": _usage(view, [b["budget_id"] for b in rows]),
        "total": answer["total_count"],
        "start": paging["start"],
        "limit": paging["limit"],
        "sort": paging["sort"],
        "member": _member(view),
    }


def _budget_form(view: View, values: dict[str, str], error: str | None) -> dict[str, Any]:
    return {
        "given": values,
        "error": error,
        "projects": _projects(view),
        "sources": _data_sources(view),
    }


def _names(view: View) -> dict[str, str]:
    names = {p["project_id"]: p["name"] for p in _projects(view)}
    names.update({s["data_source_id"]: s["name"] for s in _data_sources(view)})
    return names


@pages.get("/cost/budgets")
def budgets_page(view: View) -> Response:
    """Budgets with a utilisation bar per month: actual cost against the month's limit."""
    table = _budgets_table(view)
    if view.wants_fragment("budgets-table"):
        return view.render("cost/_budgets_table.html", names=_names(view), **table)
    form = _budget_form(view, {"time_unit": "MONTHLY", "currency": "USD"}, None)
    names = {p["project_id"]: p["name"] for p in form["projects"]}
    names.update({s["data_source_id"]: s["name"] for s in form["sources"]})
    return view.render("cost/budgets.html", form=form, names=names, **table)


def _budget_body(values: dict[str, str]) -> dict[str, Any]:
    """The create request; ValueError when the limit is not a number at all."""
    try:
        amount = float(values["limit"].replace(",", ""))
    except ValueError:
        raise ValueError(
            f"Limit: enter an amount such as 1000 (not '{values['limit']}')."
        ) from None
    body: dict[str, Any] = {
        "name": values["name"],
        "time_unit": values["time_unit"],
        "start": values["start"],
        "end": values["end"],
        "currency": values["currency"] or "USD",
    }
    if values["project_id"]:
        body["project_id"] = values["project_id"]
        body["resource_group"] = "PROJECT"
    if values["data_source_id"]:
        body["data_source_id"] = values["data_source_id"]
    if values["time_unit"] == "TOTAL":
        body["limit"] = amount
    elif _MONTH.match(values["start"]) and _MONTH.match(values["end"]):
        # The same limit for every month of the period (the service checks the months).
        months = months_between(values["start"], values["end"])
        body["planned_limits"] = [{"date": m, "limit": amount} for m in months]
    return body


@pages.post("/cost/budgets")
def create_budget(view: View) -> Response:
    keys = ("name", "time_unit", "limit", "start", "end", "currency", "project_id")
    values = {k: view.arg(k) for k in (*keys, "data_source_id")}
    try:
        body = _budget_body(values)
        view.call("cost-analysis", "budget", "create", body)
    except ValueError as exc:
        return view.render("cost/_budget_form.html", form=_budget_form(view, values, str(exc)))
    except SkyatlasError as exc:
        return view.render("cost/_budget_form.html", form=_budget_form(view, values, exc.message))
    return view.redirect(f"{PREFIX}/cost/budgets")


@pages.post("/cost/budgets/{budget_id}/delete")
def delete_budget(view: View) -> Response:
    view.call("cost-analysis", "budget", "delete", {"budget_id": path_param(view, "budget_id")})
    return view.redirect(f"{PREFIX}/cost/budgets")
