"""What the IAM pages share: table state, pickers of roles, projects and groups, messages.

Every page here only calls `identity.*` verbs as the signed-in user and renders the answer; what
may be created where (a role's resource group, a member's project, a unique name, a weak
password) is decided by the verbs, and their messages are shown where the user is looking.

Secrets are shown exactly once: an app's client secret and a generated password travel from the
verb's answer into the one page that answers the request (and, for an app, into a JSON file built
server-side in that same page as a `data:` link); nothing keeps them afterwards. Service-account
credentials go the other way only: the form sends them, no page ever renders them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from skyatlas.console.web import PREFIX, View
from skyatlas.errors import InvalidParameter

APPS = f"{PREFIX}/iam/apps"
USERS = f"{PREFIX}/iam/users"
PROJECTS = f"{PREFIX}/iam/projects"
ACCOUNTS = f"{PREFIX}/iam/service-accounts"
#: Rows per table page unless the pager asks for another size.
PAGE_SIZE = 15
#: How many projects / groups a select or the tree lists; beyond this the page says so.
PICK_LIMIT = 1000
AWS_SECRET_FIELDS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "role_arn",
    "external_id",
    "region_name",
)
#: Offered in the provider box; any other provider name can be typed.
KNOWN_PROVIDERS = ("aws", "google_cloud", "azure", "kakaocloud", "oci", "alibaba_cloud")

#: What a finished action says after the redirect that follows it (`?done=<key>&name=<name>`).
DONE = {
    "app-enabled": "App {name} is enabled: its client secret works again.",
    "app-disabled": "App {name} is disabled: its client secret is refused until you enable it.",
    "app-deleted": "App {name} is deleted: its client secret no longer works.",
    "user-enabled": "User {name} is enabled.",
    "user-disabled": "User {name} is disabled: it cannot sign in and its tokens are refused.",
    "user-deleted": "User {name} is deleted.",
    "binding-added": "Role binding added for {name}.",
    "binding-deleted": "Role binding removed from {name}.",
    "group-created": "Project group {name} created.",
    "group-deleted": "Project group {name} deleted.",
    "project-created": "Project {name} created.",
    "project-deleted": "Project {name} deleted.",
    "account-created": "Service account {name} registered; its secret is stored encrypted.",
    "account-secret": "The credentials of {name} were replaced.",
    "account-deleted": "Service account {name} deleted, with its stored credentials.",
}


# -- shared pieces -----------------------------------------------------------------------------
def _done(view: View) -> str | None:
    template = DONE.get(view.arg("done"))
    return template.format(name=view.arg("name")) if template else None


def _after(path: str, done: str, name: str) -> str:
    return f"{path}?done={done}&name={_q(name)}"


def _q(value: str) -> str:
    return quote(value, safe="")


def _table_state(view: View, default_sort: str) -> dict[str, Any]:
    """Paging and sorting of a server-paged table, as the query params carry them."""
    limit = view.int_arg("limit", PAGE_SIZE, low=1, high=200)
    start = view.int_arg("start", 1, low=1, high=10_000_000)
    sort = view.arg("sort") or default_sort
    key = sort.lstrip("-")
    return {
        "start": start,
        "limit": limit,
        "sort": sort,
        "query": {
            "page": {"start": start, "limit": limit},
            "sort": [{"key": key, "desc": sort.startswith("-")}],
        },
    }


def _pairs(
    view: View, key_field: str, value_field: str, what: str, *, strip: bool = True
) -> dict[str, str]:
    """Key/value rows of a form (tags, data, secret fields); rows left empty are skipped.
    Secret values are taken as typed (`strip=False`): a password may end in a space."""
    keys = [str(k).strip() for k in view.form.getlist(key_field)]
    values = [str(v) for v in view.form.getlist(value_field)]
    out: dict[str, str] = {}
    for i, key in enumerate(keys):
        value = values[i] if i < len(values) else ""
        if not key and not value.strip():
            continue
        if not key:
            raise InvalidParameter(f"{what} row {i + 1} has a value but no key: give it a key")
        out[key] = value.strip() if strip else value
    return out


def _tag_rows(view: View) -> list[tuple[str, str]]:
    """The tag rows as typed, to show them again when the form comes back with an error."""
    keys = [str(k) for k in view.form.getlist("tag_key")]
    values = [str(v) for v in view.form.getlist("tag_value")]
    rows = [(k, values[i] if i < len(values) else "") for i, k in enumerate(keys)]
    return [r for r in rows if r[0] or r[1]] or [("", "")]


def _end_of_day(value: str) -> str | None:
    """A date input (YYYY-MM-DD) as the end of that day in UTC; the verb checks the range."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(f"'{value}' is not a date: pick one in the calendar") from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC).isoformat()


def _all(view: View, resource: str, sort_key: str = "name", **body: Any) -> dict[str, Any]:
    """Up to PICK_LIMIT rows of an identity list verb, for selects and the projects tree."""
    query = {"page": {"start": 1, "limit": PICK_LIMIT}, "sort": [{"key": sort_key}]}
    return dict(view.call("identity", resource, "list", {"query": query, **body}))


def _role_names(view: View) -> dict[str, str]:
    roles = _all(view, "role")["results"]
    return {r["role_id"]: r["name"] for r in roles}


def _group_paths(groups: list[dict[str, Any]]) -> dict[str, str]:
    """`Data / Machine Learning`: a group named with its ancestors, for selects."""
    by_id = {g["project_group_id"]: g for g in groups}
    paths: dict[str, str] = {}
    for gid, group in by_id.items():
        names, seen, cur = [], set(), group
        while cur is not None and cur["project_group_id"] not in seen:
            seen.add(cur["project_group_id"])
            names.append(cur["name"])
            cur = by_id.get(cur.get("parent_group_id") or "")
        paths[gid] = " / ".join(reversed(names))
    return paths


def _project_label(project: dict[str, Any], paths: dict[str, str]) -> str:
    group = paths.get(project.get("project_group_id") or "")
    return f"{group} / {project['name']}" if group else str(project["name"])


def _places(view: View) -> dict[str, Any]:
    """Projects and project groups of the current workspace, labelled with their group path."""
    groups = _all(view, "project-group")
    projects = _all(view, "project")
    paths = _group_paths(groups["results"])
    return {
        "groups": sorted(
            ({"id": gid, "label": label} for gid, label in paths.items()),
            key=lambda g: g["label"].lower(),
        ),
        "projects": sorted(
            (
                {
                    "id": p["project_id"],
                    "label": _project_label(p, paths),
                }
                for p in projects["results"]
            ),
            key=lambda p: p["label"].lower(),
        ),
        "truncated": groups["total_count"] > PICK_LIMIT or projects["total_count"] > PICK_LIMIT,
    }


def _assignment(target: str) -> dict[str, str]:
    """The project or project group a member role is given on, from a select's `kind:id`."""
    kind, _, ident = target.partition(":")
    if kind == "project" and ident:
        return {"project_id": ident}
    if kind == "group" and ident:
        return {"project_group_id": ident}
    return {}


def _workspace_only(view: View, title: str, what: str) -> Response | None:
    """Projects and service accounts live in a workspace; Admin mode has none to show."""
    assert view.place is not None
    if view.place.admin_mode:
        return view.render("iam/need_workspace.html", title=title, what=what)
    return None
