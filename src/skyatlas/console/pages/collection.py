"""Collectors and their jobs: create an `aws` or `file` collector, run it, watch it run.

A run answers at once with its job; the job page then polls `job get` and `job-task list`
every second (htmx) until the job ends, so progress and per-task errors appear as the workers
write them. Everything shown comes from the inventory service's collection verbs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from skyatlas.console.web import PREFIX, Pages, View
from skyatlas.errors import SkyatlasError

pages = Pages()

PAGE_SIZE = 20
#: The plugins this page knows how to build options for.
PLUGINS = {
    "aws": "aws — Amazon Web Services APIs, with a service account's credentials",
    "file": "file — JSON Lines, JSON or CSV files on the server",
}
FILE_FORMATS = ("auto", "jsonl", "json", "csv")
JOB_DONE = ("SUCCESS", "FAILURE", "CANCELED")


# -- helpers shared with the cost pages --------------------------------------------------------
def path_param(view: View, name: str) -> str:
    return str(view.request.path_params[name])


def table_query(view: View, default_sort: str, sortable: Iterable[str]) -> dict[str, Any]:
    """The page and sort the request asks for, as a SpaceONE `query`; `sort` is `key` or
    `-key` (descending), limited to the columns the table offers."""
    start = view.int_arg("start", 1, high=2**31)
    limit = view.int_arg("limit", PAGE_SIZE, high=200)
    sort = view.arg("sort", default_sort)
    if sort.lstrip("-") not in set(sortable):
        sort = default_sort
    return {
        "start": start,
        "limit": limit,
        "sort": sort,
        "query": {
            "page": {"start": start, "limit": limit},
            "sort": [{"key": sort.lstrip("-"), "desc": sort.startswith("-")}],
        },
    }


def latest_jobs(
    view: View, service: str, owner_key: str, owner_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The newest job of each owner (collector or data source) in one `job list` call; an
    owner crowded out of that page by busier ones is asked for alone."""
    if not owner_ids:
        return {}
    window = max(50, 5 * len(owner_ids))
    answer = view.call(
        service,
        "job",
        "list",
        {
            "query": {
                "filter": [{"k": owner_key, "v": owner_ids, "o": "in"}],
                "sort": [{"key": "created_at", "desc": True}],
                "page": {"start": 1, "limit": window},
            }
        },
    )
    found: dict[str, dict[str, Any]] = {}
    for job in answer["results"]:
        found.setdefault(job[owner_key], job)
    if answer["total_count"] > window:
        for owner in owner_ids:
            if owner in found:
                continue
            one = view.call(
                service,
                "job",
                "list",
                {
                    owner_key: owner,
                    "query": {
                        "sort": [{"key": "created_at", "desc": True}],
                        "page": {"start": 1, "limit": 1},
                    },
                },
            )
            if one["results"]:
                found[owner] = one["results"][0]
    return found


# -- collectors ----------------------------------------------------------------------------
COLLECTOR_SORTS = ("name", "provider", "created_at", "last_collected_at")


def aws_accounts(view: View) -> list[dict[str, Any]]:
    answer = view.call(
        "identity",
        "service-account",
        "list",
        {"provider": "aws", "query": {"sort": [{"key": "name"}], "page": {"limit": 200}}},
    )
    return list(answer["results"])


def _form_context(view: View, values: dict[str, str], error: str | None) -> dict[str, Any]:
    plugin = values.get("plugin") or "file"
    return {
        "plugins": PLUGINS,
        "plugin": plugin if plugin in PLUGINS else "file",
        "given": values,
        "error": error,
        "accounts": aws_accounts(view) if plugin == "aws" else [],
        "import_roots": [str(p) for p in view.runtime.settings.allowed_import_roots],
        "file_formats": FILE_FORMATS,
    }


def _collectors_table(view: View) -> dict[str, Any]:
    paging = table_query(view, "name", COLLECTOR_SORTS)
    answer = view.call("inventory", "collector", "list", {"query": paging["query"]})
    rows = answer["results"]
    last = latest_jobs(view, "inventory", "collector_id", [r["collector_id"] for r in rows])
    return {
        "collectors": rows,
        "last_jobs": last,
        "total": answer["total_count"],
        "start": paging["start"],
        "limit": paging["limit"],
        "sort": paging["sort"],
        "member": view.place is not None and view.place.role_type == "WORKSPACE_MEMBER",
    }


@pages.get("/collectors")
def collectors_page(view: View) -> Response:
    """The collectors of this workspace, each with its schedule and its last job."""
    table = _collectors_table(view)
    if view.wants_fragment("collectors-table"):
        return view.render("collection/_collectors_table.html", **table)
    form = _form_context(view, {"plugin": view.arg("plugin", "file")}, None)
    return view.render("collection/collectors.html", form=form, **table)


@pages.get("/collectors/new-options")
def plugin_fields(view: View) -> Response:
    """The options of the plugin picked in the create form (swapped in when it changes)."""
    form = _form_context(view, {"plugin": view.arg("plugin", "file")}, None)
    return view.render("collection/_plugin_fields.html", form=form)


def _create_body(values: dict[str, str]) -> dict[str, Any]:
    plugin = values["plugin"]
    options: dict[str, Any] = {}
    body: dict[str, Any] = {"name": values["name"], "plugin_info": {"plugin_id": plugin}}
    if plugin == "aws":
        regions = [r for r in values["regions"].replace(",", " ").split() if r]
        if regions:
            options["regions"] = regions
        if values["service_account_id"]:
            body["secret_filter"] = {"service_accounts": [values["service_account_id"]]}
    else:
        options["path"] = values["path"]
        if values["format"] and values["format"] != "auto":
            options["format"] = values["format"]
        if values["provider"]:
            options["provider"] = values["provider"]
    body["plugin_info"]["options"] = options
    return body


@pages.post("/collectors")
def create_collector(view: View) -> Response:
    """Create, then open the new collector; a refusal is shown in the form, as the service
    worded it."""
    keys = ("name", "plugin", "service_account_id", "regions", "path", "format", "provider")
    values = {k: view.arg(k) for k in keys}
    if values["plugin"] not in PLUGINS:
        values["plugin"] = "file"
    try:
        created = view.call("inventory", "collector", "create", _create_body(values))
    except SkyatlasError as exc:
        form = _form_context(view, values, exc.message)
        return view.render("collection/_create_form.html", form=form)
    return view.redirect(f"{PREFIX}/collectors/{created['collector_id']}")


JOB_SORTS = ("created_at", "status", "finished_at")


def _jobs_table(view: View, collector_id: str) -> dict[str, Any]:
    paging = table_query(view, "-created_at", JOB_SORTS)
    answer = view.call(
        "inventory", "job", "list", {"collector_id": collector_id, "query": paging["query"]}
    )
    return {
        "jobs": answer["results"],
        "total": answer["total_count"],
        "start": paging["start"],
        "limit": paging["limit"],
        "sort": paging["sort"],
        "collector_id": collector_id,
    }


@pages.get("/collectors/{collector_id}")
def collector_page(view: View) -> Response:
    """One collector: its options, schedule, runs; run it now or delete it."""
    collector_id = path_param(view, "collector_id")
    jobs = _jobs_table(view, collector_id)
    if view.wants_fragment("jobs-table"):
        return view.render("collection/_jobs_table.html", **jobs)
    collector = view.call("inventory", "collector", "get", {"collector_id": collector_id})
    return view.render(
        "collection/collector.html",
        collector=collector,
        hours=list(range(24)),
        saved=False,
        error=None,
        **jobs,
    )


@pages.post("/collectors/{collector_id}/collect")
def run_collector(view: View) -> Response:
    """Start a run and go to its job page, where progress shows live."""
    collector_id = path_param(view, "collector_id")
    job = view.call("inventory", "collector", "collect", {"collector_id": collector_id})
    return view.redirect(f"{PREFIX}/collectors/jobs/{job['job_id']}")


@pages.post("/collectors/{collector_id}/schedule")
def save_schedule(view: View) -> Response:
    """Turn the schedule on or off and choose its UTC hours."""
    collector_id = path_param(view, "collector_id")
    hours = [int(h) for h in view.form.getlist("hours") if str(h).isdigit()]
    schedule = {"state": "ENABLED" if view.arg("enabled") == "on" else "DISABLED", "hours": hours}
    error = None
    try:
        collector = view.call(
            "inventory",
            "collector",
            "update",
            {"collector_id": collector_id, "schedule": schedule},
        )
    except SkyatlasError as exc:
        error = exc.message
        collector = view.call("inventory", "collector", "get", {"collector_id": collector_id})
    return view.render(
        "collection/_schedule.html",
        collector=collector,
        hours=list(range(24)),
        saved=error is None,
        error=error,
    )


@pages.post("/collectors/{collector_id}/delete")
def delete_collector(view: View) -> Response:
    collector_id = path_param(view, "collector_id")
    view.call("inventory", "collector", "delete", {"collector_id": collector_id})
    return view.redirect(f"{PREFIX}/collectors")


# -- jobs ------------------------------------------------------------------------------------
TASK_COUNTERS = ("created", "updated", "disconnected", "deleted", "failure")


def _job_progress(view: View, job_id: str) -> dict[str, Any]:
    """The job, its task totals (one stat over all tasks) and a page of its tasks."""
    job = view.call("inventory", "job", "get", {"job_id": job_id})
    tasks = view.call(
        "inventory",
        "job-task",
        "list",
        {
            "job_id": job_id,
            "query": {
                "sort": [{"key": "created_at"}, {"key": "job_task_id"}],
                "page": {"start": 1, "limit": 50},
            },
        },
    )
    stat = view.call(
        "inventory",
        "job-task",
        "stat",
        {
            "query": {
                "filter": [{"k": "job_id", "v": job_id, "o": "eq"}],
                "aggregate": [
                    {
                        "group": {
                            "fields": [
                                {"name": n, "operator": "sum", "key": f"{n}_count"}
                                for n in TASK_COUNTERS
                            ]
                        }
                    }
                ],
            }
        },
    )
    totals = stat["results"][0] if stat["results"] else {}
    total_tasks = job.get("total_tasks") or 0
    done = total_tasks - (job.get("remained_tasks") or 0)
    return {
        "job": job,
        "tasks": tasks["results"],
        "task_total": tasks["total_count"],
        "totals": {n: int(totals.get(n) or 0) for n in TASK_COUNTERS},
        "done_tasks": done,
        "percent": round(100 * done / total_tasks) if total_tasks else 0,
        "running": job.get("status") not in JOB_DONE,
    }


@pages.get("/collectors/jobs/{job_id}")
def job_page(view: View) -> Response:
    job_id = path_param(view, "job_id")
    progress = _job_progress(view, job_id)
    collector = None
    try:
        collector = view.call(
            "inventory",
            "collector",
            "get",
            {"collector_id": progress["job"]["collector_id"]},
        )
    except SkyatlasError:
        collector = None  # deleted since: the job stays readable
    return view.render("collection/job.html", collector=collector, **progress)


@pages.get("/collectors/jobs/{job_id}/progress")
def job_progress(view: View) -> Response:
    """The polled fragment: it stops asking once the job has ended."""
    return view.render(
        "collection/_job_progress.html", **_job_progress(view, path_param(view, "job_id"))
    )


@pages.post("/collectors/jobs/{job_id}/cancel")
def cancel_job(view: View) -> Response:
    job_id = path_param(view, "job_id")
    view.call("inventory", "job", "cancel", {"job_id": job_id})
    return view.render("collection/_job_progress.html", **_job_progress(view, job_id))
