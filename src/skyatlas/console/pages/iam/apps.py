"""IAM > Apps, in the seed's flow: create with a role (and, for a member role, a project or
project group), then copy the client secret or download it as JSON — shown once, never kept."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from starlette.responses import Response

from skyatlas.console.pages.iam.common import (
    APPS,
    PICK_LIMIT,
    _after,
    _assignment,
    _done,
    _end_of_day,
    _pairs,
    _places,
    _role_names,
    _table_state,
    _tag_rows,
)
from skyatlas.console.web import Pages, View, error_text
from skyatlas.errors import SkyatlasError

pages = Pages()


# -- apps --------------------------------------------------------------------------------------
def _apps_context(view: View) -> dict[str, Any]:
    state = _table_state(view, "-created_at")
    answer = view.call("identity", "app", "list", {"query": state["query"]})
    return {
        **state,
        "apps": answer["results"],
        "total": answer["total_count"],
        "role_names": _role_names(view),
        "workspace_names": {
            ws["workspace_id"]: ws["name"] for ws in (view.place.workspaces if view.place else [])
        },
    }


def _secret_panel(view: View, app: dict[str, Any], action: str) -> dict[str, Any]:
    """What the one-time panel shows, with the JSON file built here, from this answer only."""
    endpoint = str(view.request.base_url).rstrip("/")
    document = {
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "endpoint": endpoint,
    }
    encoded = base64.b64encode(orjson.dumps(document, option=orjson.OPT_INDENT_2)).decode()
    return {
        "action": action,
        "app": app,
        "endpoint": endpoint,
        "download_href": f"data:application/json;base64,{encoded}",
        "download_name": f"{app['name']}.json",
    }


def _refused(view: View, exc: SkyatlasError) -> Response:
    """The verb's 403 (a workspace member may not manage apps), explained where to turn."""
    if exc.status != 403:
        raise exc
    return view.render(
        "iam/members_cannot.html", status=403, title="Apps", what="apps", message=error_text(exc)
    )


@pages.get("/iam/apps")
def apps_page(view: View) -> Response:
    """The apps of this place (the domain in Admin mode, else the workspace), paged here."""
    try:
        context = _apps_context(view)
    except SkyatlasError as exc:
        return _refused(view, exc)
    if view.wants_fragment("apps-table"):
        return view.render("iam/_apps_table.html", **context)
    return view.render("iam/apps.html", **context, panel=None, notice=_done(view), error=None)


def _app_form_context(view: View) -> dict[str, Any]:
    assert view.place is not None
    types = ["DOMAIN_ADMIN"] if view.place.admin_mode else ["WORKSPACE_OWNER", "WORKSPACE_MEMBER"]
    roles = view.call(
        "identity",
        "role",
        "list",
        {
            "query": {
                "filter": [{"k": "role_type", "v": types, "o": "in"}],
                "sort": [{"key": "role_type"}, {"key": "name"}],
                "page": {"start": 1, "limit": PICK_LIMIT},
            }
        },
    )["results"]
    by_type = [{"role_type": t, "roles": [r for r in roles if r["role_type"] == t]} for t in types]
    places = None if view.place.admin_mode else _places(view)
    return {"role_groups": by_type, "places": places}


@pages.get("/iam/apps/create")
def app_form(view: View) -> Response:
    try:
        context = _app_form_context(view)
    except SkyatlasError as exc:
        return _refused(view, exc)
    return view.render("iam/app_form.html", **context, values={}, tags=[("", "")], error=None)


@pages.post("/iam/apps/create")
def app_create(view: View) -> Response:
    """Create, then answer with the apps page holding the one-time secret panel."""
    values = {
        "name": view.arg("name"),
        "role_id": view.arg("role_id"),
        "expired_at": view.arg("expired_at"),
        "assign_project": view.arg("assign_project"),
        "assign_target": view.arg("assign_target"),
    }
    try:
        body: dict[str, Any] = {
            "name": values["name"],
            "role_id": values["role_id"],
            "tags": _pairs(view, "tag_key", "tag_value", "tag"),
        }
        expires = _end_of_day(values["expired_at"])
        if expires:
            body["expired_at"] = expires
        if values["role_id"]:
            role = view.call("identity", "role", "get", {"role_id": values["role_id"]})
            if role["role_type"] == "WORKSPACE_MEMBER" and values["assign_project"] == "on":
                body.update(_assignment(values["assign_target"]))
        created = view.call("identity", "app", "create", body)
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return view.render(
            "iam/app_form.html",
            status=exc.status,
            **_app_form_context(view),
            values=values,
            tags=_tag_rows(view),
            error=error_text(exc),
        )
    return view.render(
        "iam/apps.html",
        **_apps_context(view),
        panel=_secret_panel(view, created, "created"),
        notice=None,
        error=None,
    )


def _app_action(view: View, verb: str) -> dict[str, Any]:
    app_id = view.request.path_params["app_id"]
    return dict(view.call("identity", "app", verb, {"app_id": app_id}))


@pages.post("/iam/apps/{app_id}/regenerate")
def app_regenerate(view: View) -> Response:
    """A new secret revokes the old one at once; it too is shown only in this answer."""
    renewed = view.call(
        "identity",
        "app",
        "generate-client-secret",
        {"app_id": view.request.path_params["app_id"]},
    )
    return view.render(
        "iam/apps.html",
        **_apps_context(view),
        panel=_secret_panel(view, renewed, "regenerated"),
        notice=None,
        error=None,
    )


@pages.post("/iam/apps/{app_id}/enable")
def app_enable(view: View) -> Response:
    app = _app_action(view, "enable")
    return view.redirect(_after(APPS, "app-enabled", app["name"]))


@pages.post("/iam/apps/{app_id}/disable")
def app_disable(view: View) -> Response:
    app = _app_action(view, "disable")
    return view.redirect(_after(APPS, "app-disabled", app["name"]))


@pages.post("/iam/apps/{app_id}/delete")
def app_delete(view: View) -> Response:
    app = _app_action(view, "get")
    _app_action(view, "delete")
    return view.redirect(_after(APPS, "app-deleted", app["name"]))
