"""IAM > Projects: project groups and projects of the workspace as one tree."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from skyatlas.console.pages.iam.common import (
    PICK_LIMIT,
    PROJECTS,
    _after,
    _all,
    _done,
    _group_paths,
    _workspace_only,
)
from skyatlas.console.web import Pages, View, error_text
from skyatlas.errors import SkyatlasError

pages = Pages()


# -- projects ----------------------------------------------------------------------------------
def _tree(groups: list[dict[str, Any]], projects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups nested by parent, each with its projects; projects outside any group at the top.
    A group whose parent is not visible (a member's view) starts a branch of its own."""
    nodes = {g["project_group_id"]: {"group": g, "children": [], "projects": []} for g in groups}
    roots: list[dict[str, Any]] = []
    for node in nodes.values():
        parent = nodes.get(node["group"].get("parent_group_id") or "")
        (parent["children"] if parent and parent is not node else roots).append(node)
    loose: list[dict[str, Any]] = []
    for project in projects:
        holder = nodes.get(project.get("project_group_id") or "")
        (holder["projects"] if holder else loose).append(project)

    def order(items: list[dict[str, Any]]) -> None:
        items.sort(key=lambda n: n["group"]["name"].lower())
        for n in items:
            n["projects"].sort(key=lambda p: p["name"].lower())
            order(n["children"])

    order(roots)
    loose.sort(key=lambda p: p["name"].lower())
    return [*roots, *({"project": p} for p in loose)]


def _projects_view(
    view: View,
    *,
    error: str | None = None,
    failed_form: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    assert view.place is not None
    groups = _all(view, "project-group")
    projects = _all(view, "project")
    accounts = view.call(
        "identity",
        "service-account",
        "stat",
        {
            "query": {
                "aggregate": [
                    {
                        "group": {
                            "keys": [{"key": "project_id", "name": "project_id"}],
                            "fields": [{"operator": "count", "name": "count"}],
                        }
                    }
                ]
            }
        },
    )
    return view.render(
        "iam/projects.html",
        status=status,
        tree=_tree(groups["results"], projects["results"]),
        group_count=groups["total_count"],
        project_count=projects["total_count"],
        truncated=groups["total_count"] > PICK_LIMIT or projects["total_count"] > PICK_LIMIT,
        pick_limit=PICK_LIMIT,
        group_options=sorted(
            _group_paths(groups["results"]).items(), key=lambda item: item[1].lower()
        ),
        account_counts={r["project_id"]: r["count"] for r in accounts.get("results", [])},
        can_manage=view.place.role_type != "WORKSPACE_MEMBER",
        notice=_done(view),
        error=error,
        failed_form=failed_form,
        values=values or {},
    )


@pages.get("/iam/projects")
def projects_page(view: View) -> Response:
    refused = _workspace_only(view, "Projects", "projects and project groups")
    if refused:
        return refused
    return _projects_view(view)


def _inline(view: View, failed_form: str, values: dict[str, str], exc: SkyatlasError) -> Response:
    if exc.status >= 500:
        raise exc
    return _projects_view(
        view, error=error_text(exc), failed_form=failed_form, values=values, status=exc.status
    )


@pages.post("/iam/projects/groups")
def group_create(view: View) -> Response:
    values = {"name": view.arg("name"), "parent_group_id": view.arg("parent_group_id")}
    body: dict[str, Any] = {"name": values["name"]}
    if values["parent_group_id"]:
        body["parent_group_id"] = values["parent_group_id"]
    try:
        group = view.call("identity", "project-group", "create", body)
    except SkyatlasError as exc:
        return _inline(view, "group", values, exc)
    return view.redirect(_after(PROJECTS, "group-created", group["name"]))


@pages.post("/iam/projects")
def project_create(view: View) -> Response:
    values = {"name": view.arg("name"), "project_group_id": view.arg("project_group_id")}
    body: dict[str, Any] = {"name": values["name"]}
    if values["project_group_id"]:
        body["project_group_id"] = values["project_group_id"]
    try:
        project = view.call("identity", "project", "create", body)
    except SkyatlasError as exc:
        return _inline(view, "project", values, exc)
    return view.redirect(_after(PROJECTS, "project-created", project["name"]))


@pages.post("/iam/projects/groups/{project_group_id}/delete")
def group_delete(view: View) -> Response:
    gid = view.request.path_params["project_group_id"]
    try:
        group = view.call("identity", "project-group", "get", {"project_group_id": gid})
        view.call("identity", "project-group", "delete", {"project_group_id": gid})
    except SkyatlasError as exc:
        return _inline(view, "tree", {}, exc)
    return view.redirect(_after(PROJECTS, "group-deleted", group["name"]))


@pages.post("/iam/projects/{project_id}/delete")
def project_delete(view: View) -> Response:
    pid = view.request.path_params["project_id"]
    try:
        project = view.call("identity", "project", "get", {"project_id": pid})
        view.call("identity", "project", "delete", {"project_id": pid})
    except SkyatlasError as exc:
        return _inline(view, "tree", {}, exc)
    return view.redirect(_after(PROJECTS, "project-deleted", project["name"]))
