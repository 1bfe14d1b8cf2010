"""The overview page, and moving between workspaces and Admin mode."""

from __future__ import annotations

from starlette.responses import Response

from skyatlas.console import sessions
from skyatlas.console.web import PREFIX, Pages, View
from skyatlas.errors import InvalidParameter, PermissionDenied

pages = Pages()


@pages.get("/")
def overview(view: View) -> Response:
    """What this place holds: resources by provider, and where to go next."""
    assert view.place is not None
    by_provider: list[dict[str, object]] = []
    if not view.place.admin_mode:
        answer = view.call(
            "inventory",
            "cloud-service",
            "analyze",
            {
                "query": {
                    "group_by": ["provider"],
                    "fields": {"count": {"operator": "count"}},
                    "sort": [{"key": "count", "desc": True}],
                }
            },
        )
        by_provider = answer.get("results", [])
    return view.render("home.html", by_provider=by_provider, changed=view.arg("changed"))


@pages.post("/place")
def switch_place(view: View) -> Response:
    """The top bar's workspace selector and Admin-mode switch."""
    assert view.session is not None and view.place is not None
    admin_mode = view.arg("admin_mode") == "on"
    workspace_id = view.arg("workspace_id") or view.place.workspace_id
    if admin_mode and not view.place.domain_admin:
        raise PermissionDenied("Admin mode is for domain admins only.")
    known = {ws["workspace_id"] for ws in view.place.workspaces}
    if not admin_mode and workspace_id not in known:
        raise InvalidParameter(f"you have no access to workspace {workspace_id}")
    with view.runtime.store.begin() as conn:
        sessions.switch_place(conn, view.session, workspace_id=workspace_id, admin_mode=admin_mode)
    back = view.arg("back")
    return view.redirect(back if back.startswith(PREFIX + "/") else PREFIX + "/")
