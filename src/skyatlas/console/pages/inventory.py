"""Asset inventory: counts, the filterable cloud-service table, and one resource's page.

The table is `inventory.cloud-service.list` with a query built from the page's controls in the
SpaceONE query model, so whatever the API accepts or refuses the page does too (its 400 message
is shown under the filter). The whole view lives in the query string, so a filtered, sorted page
can be bookmarked; htmx swaps only the part that changed and the server names the URL to push.
The counts are a separate request: grouping a large store costs more than one page of rows, and
the table should not wait for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.responses import Response

from skyatlas.console.web import PREFIX, Pages, View, error_text
from skyatlas.errors import SkyatlasError
from skyatlas.explorer.filter_string import escape
from skyatlas.query.model import OPERATORS

pages = Pages()

BASE = PREFIX + "/inventory"
PAGE_SIZES = (15, 20, 50, 100)
DEFAULT_LIMIT = 20
#: Only what the table shows: a page of rows stays small however large `data` is.
LIST_ONLY = [
    "cloud_service_id",
    "name",
    "provider",
    "cloud_service_group",
    "cloud_service_type",
    "region_code",
    "project_id",
    "account",
    "state",
    "updated_at",
]
#: (label, sort key) of the table's columns, in order.
COLUMNS = [
    ("Name", "name"),
    ("Provider", "provider"),
    ("Service group", "cloud_service_group"),
    ("Type", "cloud_service_type"),
    ("Region", "region_code"),
    ("Project", "project_id"),
    ("Account", "account"),
    ("State", "state"),
    ("Updated", "updated_at"),
]
#: Operators offered first in the advanced filter; the rest of the query model follows.
COMMON_OPERATORS = ("eq", "not", "contain", "not_contain", "in", "not_in", "gt", "gte", "lt", "lte")
COST_MONTHS = 12


@dataclass
class Condition:
    key: str
    operator: str
    value: str


@dataclass
class State:
    """The view as the query string holds it."""

    provider: str = ""
    group: str = ""
    type: str = ""
    region: str = ""
    project: str = ""
    keyword: str = ""
    advanced: list[Condition] = field(default_factory=list)
    sort: str = ""
    start: int = 1
    limit: int = DEFAULT_LIMIT

    def params(self, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "provider": self.provider,
            "group": self.group,
            "type": self.type,
            "region": self.region,
            "project": self.project,
            "keyword": self.keyword,
            "ak": [c.key for c in self.advanced],
            "ao": [c.operator for c in self.advanced],
            "av": [c.value for c in self.advanced],
            "sort": self.sort,
            "start": self.start if self.start > 1 else None,
            "limit": self.limit if self.limit != DEFAULT_LIMIT else None,
        }
        values.update(changes)
        return values


def read_state(view: View) -> State:
    q = view.query
    keys, ops, values = q.getlist("ak"), q.getlist("ao"), q.getlist("av")
    advanced = []
    for i, key in enumerate(keys):
        key = key.strip()
        if not key:
            continue  # an empty row of the form
        op = ops[i] if i < len(ops) and ops[i] else "eq"
        advanced.append(Condition(key, op, values[i] if i < len(values) else ""))
    limit = view.int_arg("limit", DEFAULT_LIMIT, low=1, high=100)
    return State(
        provider=view.arg("provider"),
        group=view.arg("group"),
        type=view.arg("type"),
        region=view.arg("region"),
        project=view.arg("project"),
        keyword=view.arg("keyword"),
        advanced=advanced,
        sort=view.arg("sort"),
        start=view.int_arg("start", 1, high=10_000_000),
        limit=limit,
    )


def _value(operator: str, text: str) -> Any:
    """What the user typed, as the JSON value the operator takes. Numbers, true/false/null and
    JSON ("quoted", [lists], {objects}) are read as JSON; for list operators a comma-separated
    list works too; anything else is sent as text. The server judges the result."""
    kind = OPERATORS.get(operator)
    stripped = text.strip()
    try:
        parsed = json.loads(stripped)
    except ValueError:
        parsed = None
        is_json = False
    else:
        is_json = True
    if kind in ("list", "string_list"):
        if is_json and isinstance(parsed, list):
            return parsed
        return [part.strip() for part in stripped.split(",")] if stripped else []
    if kind == "bool":
        return parsed if is_json and isinstance(parsed, bool) else stripped
    if kind == "object":
        return parsed if is_json else stripped
    if kind in ("scalar_or_null", "scalar"):
        return parsed if is_json and not isinstance(parsed, list | dict) else text
    return text


def conditions(state: State, *, facets: bool = True) -> list[dict[str, Any]]:
    """The query filter of the page's controls (`facets`: also provider, group and type)."""
    out: list[dict[str, Any]] = []
    pairs = [("region_code", state.region), ("project_id", state.project)]
    if facets:
        pairs = [
            ("provider", state.provider),
            ("cloud_service_group", state.group),
            ("cloud_service_type", state.type),
            *pairs,
        ]
    for key, value in pairs:
        if value:
            out.append({"k": key, "v": value, "o": "eq"})
    for cond in state.advanced:
        out.append({"k": cond.key, "v": _value(cond.operator, cond.value), "o": cond.operator})
    return out


def _sort(state: State) -> list[dict[str, Any]]:
    if not state.sort:
        return []
    desc = state.sort.startswith("-")
    return [{"key": state.sort.lstrip("-"), "desc": desc}]


def _query(state: State) -> dict[str, Any]:
    query: dict[str, Any] = {
        "filter": conditions(state),
        "only": LIST_ONLY,
        "page": {"start": state.start, "limit": state.limit},
    }
    if state.keyword:
        query["keyword"] = state.keyword
    sort = _sort(state)
    if sort:
        query["sort"] = sort
    return query


def _optional(view: View, service: str, resource: str, verb: str, body: dict[str, Any]) -> Any:
    """Choices for a select: nice to have, never worth failing the page for."""
    try:
        return view.call(service, resource, verb, body).get("results", [])
    except SkyatlasError:
        return []


def project_names(view: View) -> dict[str, str]:
    rows = _optional(
        view,
        "identity",
        "project",
        "list",
        {"query": {"only": ["project_id", "name"], "sort": [{"key": "name"}]}},
    )
    return {r["project_id"]: r.get("name") or r["project_id"] for r in rows}


def _choices(view: View, state: State) -> dict[str, Any]:
    types = _optional(
        view,
        "inventory",
        "cloud-service-type",
        "list",
        {"query": {"only": ["provider", "group", "name"]}},
    )
    regions = _optional(
        view,
        "inventory",
        "region",
        "list",
        {"query": {"only": ["region_code", "name", "provider"], "sort": [{"key": "region_code"}]}},
    )
    providers = sorted({t["provider"] for t in types} | {state.provider} - {""})
    groups = sorted(
        {t["group"] for t in types if not state.provider or t["provider"] == state.provider}
        | {state.group} - {""}
    )
    kinds = sorted(
        {
            t["name"]
            for t in types
            if (not state.provider or t["provider"] == state.provider)
            and (not state.group or t["group"] == state.group)
        }
        | {state.type} - {""}
    )
    region_names: dict[str, str] = {}
    for r in regions:
        if not state.provider or r.get("provider") == state.provider:
            region_names.setdefault(r["region_code"], r.get("name") or r["region_code"])
    if state.region and state.region not in region_names:
        region_names[state.region] = state.region
    return {
        "providers": providers,
        "groups": groups,
        "types": kinds,
        "regions": sorted(region_names.items()),
    }


def _results(view: View, state: State) -> dict[str, Any]:
    try:
        answer = view.call("inventory", "cloud-service", "list", {"query": _query(state)})
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return {"rows": [], "total": 0, "error": error_text(exc)}
    return {"rows": answer["results"], "total": answer["total_count"], "error": None}


def _context(view: View, state: State) -> dict[str, Any]:
    return {
        "state": state,
        "columns": COLUMNS,
        "page_sizes": PAGE_SIZES,
        "operators": list(COMMON_OPERATORS) + [o for o in OPERATORS if o not in COMMON_OPERATORS],
        "projects": project_names(view),
        # the pager adds start and limit, a sort header adds sort, the page size adds limit
        "pager_url": view.url(BASE, **state.params(start=None, limit=None)),
        "sort_url": view.url(BASE, **state.params(start=None, sort=None)),
        "size_url": view.url(BASE, **state.params(start=None, limit=None)),
        "counts_url": view.url(BASE + "/counts", **state.params(start=None, sort=None)),
        "self_url": view.url(BASE, **state.params()),
        **_results(view, state),
    }


@pages.get("/inventory")
def inventory(view: View) -> Response:
    state = read_state(view)
    target = view.request.headers.get("hx-target") if view.is_htmx else None
    context = _context(view, state)
    if target in ("inventory", "inv-results"):
        view.response_headers["HX-Push-Url"] = context["self_url"]
        template = "inventory/_section.html" if target == "inventory" else "inventory/_results.html"
        return view.render(
            template, standalone=target == "inv-results", **context, **_choices(view, state)
        )
    return view.render("inventory/list.html", standalone=False, **context, **_choices(view, state))


@pages.get("/inventory/counts")
def counts(view: View) -> Response:
    """Counts by provider, service group and type under the page's other filters; each one a
    link that narrows the table to it."""
    state = read_state(view)
    try:
        answer = view.call(
            "inventory",
            "cloud-service",
            "analyze",
            {
                "query": {
                    "group_by": ["provider", "cloud_service_group", "cloud_service_type"],
                    "fields": {"count": {"operator": "count"}},
                    "filter": conditions(state, facets=False),
                    **({"keyword": state.keyword} if state.keyword else {}),
                }
            },
        )
    except SkyatlasError as exc:
        # a filter the server refuses is explained under the filter already
        message = "they appear once the filter is accepted" if exc.status == 400 else None
        return view.render("inventory/_counts.html", error=message or error_text(exc), groups=None)
    rows = answer.get("results", [])

    def total(pred: Any, key: Any) -> list[tuple[Any, int]]:
        sums: dict[Any, int] = {}
        for r in rows:
            if pred(r):
                sums[key(r)] = sums.get(key(r), 0) + int(r["count"])
        return sorted(sums.items(), key=lambda kv: (-kv[1], str(kv[0])))

    by_provider = total(lambda r: True, lambda r: r["provider"])
    by_group = total(
        lambda r: not state.provider or r["provider"] == state.provider,
        lambda r: (r["provider"], r["cloud_service_group"]),
    )
    by_type = total(
        lambda r: (
            (not state.provider or r["provider"] == state.provider)
            and (not state.group or r["cloud_service_group"] == state.group)
        ),
        lambda r: (r["provider"], r["cloud_service_group"], r["cloud_service_type"]),
    )

    def link(provider: str = "", group: str = "", type_: str = "") -> str:
        return view.url(
            BASE, **state.params(provider=provider, group=group, type=type_, start=None)
        )

    return view.render(
        "inventory/_counts.html",
        error=None,
        state=state,
        groups=[
            (
                "Providers",
                [(p, n, link(p), state.provider == p) for p, n in by_provider],
            ),
            (
                "Service groups",
                [
                    (g if state.provider else f"{p} · {g}", n, link(p, g), state.group == g)
                    for (p, g), n in by_group
                ],
            ),
            (
                "Types",
                [
                    (
                        t if state.group else f"{g} · {t}",
                        n,
                        link(p, g, t),
                        state.type == t and state.group == g,
                    )
                    for (p, g, t), n in by_type
                ],
            ),
        ],
        all_url=link(),
    )


def _months(today: date, n: int) -> tuple[str, str]:
    """The first and last month (YYYY-MM) of the n months ending with this one."""
    index = today.year * 12 + today.month - 1 - (n - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}", f"{today.year:04d}-{today.month:02d}"


def resource_cost(view: View, resource_id: str | None) -> dict[str, Any]:
    """Monthly cost of the rows whose `resource` is this resource's provider id (the field a
    cost source fills from the bill's resource id), over the last twelve months."""
    start, end = _months(date.today(), COST_MONTHS)
    out: dict[str, Any] = {"start": start, "end": end, "rows": [], "error": None, "total": 0.0}
    if not resource_id:
        return out
    try:
        answer = view.call(
            "cost-analysis",
            "cost",
            "analyze",
            {
                "query": {
                    "granularity": "MONTHLY",
                    "start": start,
                    "end": end,
                    "fields": {"cost": {"key": "cost", "operator": "sum"}},
                    "filter": [{"k": "resource", "v": resource_id, "o": "eq"}],
                    "sort": [{"key": "date"}],
                }
            },
        )
    except SkyatlasError as exc:
        out["error"] = error_text(exc)
        return out
    rows = [r for r in answer.get("results", []) if r.get("cost") is not None]
    out["rows"] = rows
    out["total"] = sum(float(r["cost"]) for r in rows)
    out["chart"] = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 60, "right": 16, "top": 16, "bottom": 28},
        "xAxis": {"type": "category", "data": [r["date"] for r in rows]},
        "yAxis": {"type": "value"},
        "series": [
            {"type": "bar", "name": "Cost", "data": [round(float(r["cost"]), 2) for r in rows]}
        ],
    }
    return out


@pages.get("/inventory/{cloud_service_id}")
def resource(view: View) -> Response:
    cloud_service_id = view.request.path_params["cloud_service_id"]
    record = view.call("inventory", "cloud-service", "get", {"cloud_service_id": cloud_service_id})
    reference = record.get("reference") or {}
    tags = record.get("tags") or {}
    provider_tags = [
        (provider, key, value)
        for provider, pairs in sorted(tags.items())
        if provider != "custom" and isinstance(pairs, dict)
        for key, value in sorted(pairs.items())
    ]
    custom_tags = sorted((tags.get("custom") or {}).items())
    projects = project_names(view)
    return view.render(
        "inventory/resource.html",
        record=record,
        reference=reference,
        provider_tags=provider_tags,
        custom_tags=custom_tags,
        project_name=projects.get(record.get("project_id") or "", record.get("project_id")),
        cost=resource_cost(view, reference.get("resource_id")),
        explorer_filter="resource_id="
        + escape(reference.get("resource_id") or record["cloud_service_id"]),
    )
