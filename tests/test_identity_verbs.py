"""Identity verbs through the SpaceONE API, on SQLite and PostgreSQL alike.

workspace, project-group, project, role and service-account: create / update / delete and their
refusals (409 for conflicts and things still in use, 400 for bad input, 404 for unknown ids),
that a refused request changes nothing, and that service-account credentials never come back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from skyatlas.identity.verbs.service_account import read_secret_data
from skyatlas.store.tables import service_accounts

MANAGED = ("managed-domain-admin", "managed-workspace-owner", "managed-workspace-member")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# --------------------------------------------------------------------------------------------
# helpers


def _error(response: Any, status: int, code: str | None = None) -> str:
    """Assert an error answer of the given status and return its message."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"detail"}, body
    if code is not None:
        assert body["detail"]["code"] == code, body
    assert "Traceback" not in response.text
    return body["detail"]["message"]


def _workspace(env: Any, name: str, **extra: Any) -> dict[str, Any]:
    return env.ok("/identity/workspace/create", {"name": name, **extra})


def _project(env: Any, name: str, workspace_id: str | None = None, **extra: Any) -> dict:
    body = {"name": name, "workspace_id": workspace_id or env.workspace_id, **extra}
    return env.ok("/identity/project/create", body)


def _group(
    env: Any, name: str, parent: str | None = None, workspace_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"name": name, "workspace_id": workspace_id or env.workspace_id, **extra}
    if parent is not None:
        body["parent_group_id"] = parent
    return env.ok("/identity/project-group/create", body)


def _account(env: Any, name: str, project_id: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "provider": "aws", "project_id": project_id, **extra}
    return env.ok("/identity/service-account/create", body)


def _member_app(env: Any, project_id: str, workspace_id: str | None = None) -> dict[str, Any]:
    return env.ok(
        "/identity/app/create",
        {
            "name": f"member-{project_id}",
            "role_id": "managed-workspace-member",
            "workspace_id": workspace_id or env.workspace_id,
            "project_id": project_id,
        },
    )


def _names(env: Any, path: str, body: dict[str, Any] | None = None) -> list[str]:
    return [r["name"] for r in env.ok(path, body or {})["results"]]


def _get(env: Any, resource: str, id_key: str, value: str) -> dict[str, Any]:
    return env.ok(f"/identity/{resource}/get", {id_key: value})


# --------------------------------------------------------------------------------------------
# workspace


def test_workspace_create_get_update_list(env):
    created = _workspace(env, "team-a", tags={"owner": "alice", "cost": "1"})
    assert re.fullmatch(r"workspace-[0-9a-f]{12}", created["workspace_id"])
    assert created["name"] == "team-a"
    assert created["state"] == "ENABLED"
    assert created["tags"] == {"owner": "alice", "cost": "1"}
    assert created["domain_id"] == env.domain_id
    assert TIMESTAMP.fullmatch(created["created_at"])
    assert TIMESTAMP.fullmatch(created["updated_at"])

    wid = created["workspace_id"]
    assert _get(env, "workspace", "workspace_id", wid) == created

    updated = env.ok(
        "/identity/workspace/update",
        {"workspace_id": wid, "name": "team-b", "tags": {"owner": "bob"}},
    )
    assert updated["name"] == "team-b"
    assert updated["tags"] == {"owner": "bob"}  # tags are replaced whole, not merged
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] >= created["updated_at"]
    assert _get(env, "workspace", "workspace_id", wid) == updated

    # an update that names only the tags keeps the name
    retagged = env.ok("/identity/workspace/update", {"workspace_id": wid, "tags": {}})
    assert retagged["name"] == "team-b" and retagged["tags"] == {}

    listed = env.ok("/identity/workspace/list", {})
    assert listed["total_count"] == 2
    assert sorted(w["name"] for w in listed["results"]) == ["default", "team-b"]
    assert _names(env, "/identity/workspace/list", {"name": "team-b"}) == ["team-b"]
    assert _names(env, "/identity/workspace/list", {"workspace_id": env.workspace_id}) == [
        "default"
    ]


def test_workspace_name_is_unique_and_a_clash_creates_nothing(env):
    _workspace(env, "shared")
    _error(env.call("/identity/workspace/create", {"name": "shared"}), 409, "ERROR_CONFLICT")
    _error(env.call("/identity/workspace/create", {"name": "default"}), 409, "ERROR_CONFLICT")
    assert sorted(_names(env, "/identity/workspace/list")) == ["default", "shared"]


def test_workspace_rename_onto_another_name_is_409_and_changes_nothing(env):
    other = _workspace(env, "other", tags={"keep": "me"})
    response = env.call(
        "/identity/workspace/update",
        {"workspace_id": other["workspace_id"], "name": "default", "tags": {"new": "tag"}},
    )
    _error(response, 409, "ERROR_CONFLICT")
    assert _get(env, "workspace", "workspace_id", other["workspace_id"]) == other
    # renaming a workspace to its own name is not a clash
    same = env.ok(
        "/identity/workspace/update", {"workspace_id": other["workspace_id"], "name": "other"}
    )
    assert same["name"] == "other"


def test_workspace_disable_and_enable(env):
    ws = _workspace(env, "seasonal")
    wid = ws["workspace_id"]
    assert env.ok("/identity/workspace/disable", {"workspace_id": wid})["state"] == "DISABLED"
    assert _get(env, "workspace", "workspace_id", wid)["state"] == "DISABLED"
    assert _names(env, "/identity/workspace/list", {"state": "DISABLED"}) == ["seasonal"]
    assert _names(env, "/identity/workspace/list", {"state": "ENABLED"}) == ["default"]
    assert env.ok("/identity/workspace/enable", {"workspace_id": wid})["state"] == "ENABLED"
    assert _get(env, "workspace", "workspace_id", wid)["state"] == "ENABLED"


def test_workspace_delete_of_an_empty_workspace(env):
    wid = _workspace(env, "empty")["workspace_id"]
    assert env.ok("/identity/workspace/delete", {"workspace_id": wid}) == {}
    _error(env.call("/identity/workspace/get", {"workspace_id": wid}), 404, "ERROR_NOT_FOUND")
    assert _names(env, "/identity/workspace/list") == ["default"]
    _error(env.call("/identity/workspace/delete", {"workspace_id": wid}), 404)


def test_workspace_delete_refuses_while_it_holds_things_and_force_removes_them(env):
    wid = _workspace(env, "doomed")["workspace_id"]
    group = _group(env, "g", workspace_id=wid)
    project = _project(env, "p", workspace_id=wid, project_group_id=group["project_group_id"])
    account = _account(env, "acct", project["project_id"], secret_data={"k": "v"})
    app = env.ok(
        "/identity/app/create",
        {"name": "owner", "role_id": "managed-workspace-owner", "workspace_id": wid},
    )
    # something in the default workspace that must survive
    survivor = _project(env, "p")

    # the app of the workspace works before the delete
    env.ok("/identity/workspace/get", {"workspace_id": wid}, app["client_secret"])

    message = _error(env.call("/identity/workspace/delete", {"workspace_id": wid}), 409)
    assert "project" in message and "force" in message
    # nothing was deleted
    assert _get(env, "workspace", "workspace_id", wid)["name"] == "doomed"
    _get(env, "project", "project_id", project["project_id"])
    _get(env, "project-group", "project_group_id", group["project_group_id"])
    _get(env, "service-account", "service_account_id", account["service_account_id"])
    _get(env, "app", "app_id", app["app_id"])

    assert env.ok("/identity/workspace/delete", {"workspace_id": wid, "force": True}) == {}
    _error(env.call("/identity/workspace/get", {"workspace_id": wid}), 404)
    _error(env.call("/identity/project/get", {"project_id": project["project_id"]}), 404)
    _error(
        env.call("/identity/project-group/get", {"project_group_id": group["project_group_id"]}),
        404,
    )
    _error(
        env.call(
            "/identity/service-account/get",
            {"service_account_id": account["service_account_id"]},
        ),
        404,
    )
    _error(env.call("/identity/app/get", {"app_id": app["app_id"]}), 404)
    # the deleted workspace's app can no longer authenticate
    _error(env.call("/identity/workspace/list", {}, app["client_secret"]), 401)
    # the other workspace is untouched
    assert _get(env, "project", "project_id", survivor["project_id"]) == survivor
    assert _names(env, "/identity/workspace/list") == ["default"]


def test_workspace_delete_with_only_an_app_is_refused_too(env):
    wid = _workspace(env, "apps-only")["workspace_id"]
    env.ok(
        "/identity/app/create",
        {"name": "owner", "role_id": "managed-workspace-owner", "workspace_id": wid},
    )
    assert "app" in _error(env.call("/identity/workspace/delete", {"workspace_id": wid}), 409)
    assert _get(env, "workspace", "workspace_id", wid)["name"] == "apps-only"


def test_workspace_stat(env):
    for name in ("w-c", "w-a", "w-b"):
        _workspace(env, name)
    env.ok(
        "/identity/workspace/disable",
        {
            "workspace_id": env.ok("/identity/workspace/list", {"name": "w-b"})["results"][0][
                "workspace_id"
            ]
        },
    )
    distinct = env.ok("/identity/workspace/stat", {"query": {"distinct": "name"}})
    assert distinct == {"results": ["default", "w-a", "w-b", "w-c"], "total_count": 4}
    grouped = env.ok(
        "/identity/workspace/stat",
        {
            "query": {
                "aggregate": [
                    {
                        "group": {
                            "keys": [{"key": "state", "name": "state"}],
                            "fields": [{"name": "n", "operator": "count"}],
                        }
                    }
                ]
            }
        },
    )
    assert sorted(grouped["results"], key=lambda r: r["state"]) == [
        {"state": "DISABLED", "n": 1},
        {"state": "ENABLED", "n": 3},
    ]


# --------------------------------------------------------------------------------------------
# project groups


def test_project_group_nested_tree(env):
    top = _group(env, "top", tags={"level": "0"})
    mid = _group(env, "mid", parent=top["project_group_id"])
    leaf = _group(env, "leaf", parent=mid["project_group_id"])
    assert re.fullmatch(r"pg-[0-9a-f]{12}", top["project_group_id"])
    assert top["parent_group_id"] is None
    assert mid["parent_group_id"] == top["project_group_id"]
    assert leaf["parent_group_id"] == mid["project_group_id"]
    assert top["workspace_id"] == env.workspace_id
    assert top["tags"] == {"level": "0"}
    assert _get(env, "project-group", "project_group_id", leaf["project_group_id"]) == leaf

    children = _names(
        env, "/identity/project-group/list", {"parent_group_id": top["project_group_id"]}
    )
    assert children == ["mid"]
    assert env.ok("/identity/project-group/list", {})["total_count"] == 3

    # move the leaf to the top, then under the top group
    moved = env.ok(
        "/identity/project-group/update",
        {"project_group_id": leaf["project_group_id"], "parent_group_id": None},
    )
    assert moved["parent_group_id"] is None
    moved = env.ok(
        "/identity/project-group/update",
        {"project_group_id": leaf["project_group_id"], "parent_group_id": top["project_group_id"]},
    )
    assert moved["parent_group_id"] == top["project_group_id"]
    assert sorted(
        _names(env, "/identity/project-group/list", {"parent_group_id": top["project_group_id"]})
    ) == ["leaf", "mid"]

    # an update without parent_group_id keeps the group where it is
    renamed = env.ok(
        "/identity/project-group/update",
        {"project_group_id": leaf["project_group_id"], "name": "leaf2"},
    )
    assert renamed["parent_group_id"] == top["project_group_id"]
    assert renamed["name"] == "leaf2"


def test_project_group_cannot_move_under_itself_or_a_descendant(env):
    top = _group(env, "top")
    mid = _group(env, "mid", parent=top["project_group_id"])
    leaf = _group(env, "leaf", parent=mid["project_group_id"])
    for target in (top, mid, leaf):
        response = env.call(
            "/identity/project-group/update",
            {
                "project_group_id": top["project_group_id"],
                "parent_group_id": target["project_group_id"],
                "name": "x",
            },
        )
        assert "parent_group_id" in _error(response, 400, "ERROR_INVALID_PARAMETER")
    assert _get(env, "project-group", "project_group_id", top["project_group_id"]) == top
    # a middle group cannot go under its own child either, but may go to the top
    response = env.call(
        "/identity/project-group/update",
        {"project_group_id": mid["project_group_id"], "parent_group_id": leaf["project_group_id"]},
    )
    _error(response, 400)
    assert _get(env, "project-group", "project_group_id", mid["project_group_id"]) == mid
    moved = env.ok(
        "/identity/project-group/update",
        {"project_group_id": mid["project_group_id"], "parent_group_id": None},
    )
    assert moved["parent_group_id"] is None
    # now the old top may go under the old middle group
    env.ok(
        "/identity/project-group/update",
        {"project_group_id": top["project_group_id"], "parent_group_id": mid["project_group_id"]},
    )


def test_project_group_parent_must_exist_in_the_same_workspace(env):
    other_ws = _workspace(env, "other")["workspace_id"]
    foreign = _group(env, "foreign", workspace_id=other_ws)
    response = env.call(
        "/identity/project-group/create",
        {
            "name": "child",
            "workspace_id": env.workspace_id,
            "parent_group_id": foreign["project_group_id"],
        },
    )
    _error(response, 404)
    response = env.call(
        "/identity/project-group/create",
        {"name": "child", "workspace_id": env.workspace_id, "parent_group_id": "pg-000000000000"},
    )
    _error(response, 404)
    assert env.ok("/identity/project-group/list", {"workspace_id": env.workspace_id}) == {
        "results": [],
        "total_count": 0,
    }
    mine = _group(env, "mine")
    response = env.call(
        "/identity/project-group/update",
        {
            "project_group_id": mine["project_group_id"],
            "parent_group_id": foreign["project_group_id"],
        },
    )
    _error(response, 404)
    assert _get(env, "project-group", "project_group_id", mine["project_group_id"]) == mine


def test_project_group_names_are_unique_among_siblings(env):
    a = _group(env, "a")
    b = _group(env, "b")
    _error(
        env.call("/identity/project-group/create", {"name": "a", "workspace_id": env.workspace_id}),
        409,
        "ERROR_CONFLICT",
    )
    # the same name under another parent is fine, twice under the same parent is not
    under_a = _group(env, "ops", parent=a["project_group_id"])
    under_b = _group(env, "ops", parent=b["project_group_id"])
    response = env.call(
        "/identity/project-group/create",
        {"name": "ops", "workspace_id": env.workspace_id, "parent_group_id": a["project_group_id"]},
    )
    _error(response, 409)
    # the same name in another workspace is fine
    _group(env, "a", workspace_id=_workspace(env, "w2")["workspace_id"])
    assert (
        env.ok("/identity/project-group/list", {"workspace_id": env.workspace_id})["total_count"]
        == 4
    )

    # moving next to a sibling with the same name is a clash, and nothing moves
    response = env.call(
        "/identity/project-group/update",
        {
            "project_group_id": under_b["project_group_id"],
            "parent_group_id": a["project_group_id"],
            "tags": {"moved": "yes"},
        },
    )
    _error(response, 409)
    assert _get(env, "project-group", "project_group_id", under_b["project_group_id"]) == under_b
    # renaming onto a sibling's name is a clash too
    response = env.call(
        "/identity/project-group/update", {"project_group_id": b["project_group_id"], "name": "a"}
    )
    _error(response, 409)
    assert _get(env, "project-group", "project_group_id", b["project_group_id"]) == b
    assert _get(env, "project-group", "project_group_id", under_a["project_group_id"]) == under_a


def test_project_group_delete_refused_while_not_empty(env):
    parent = _group(env, "parent")
    child = _group(env, "child", parent=parent["project_group_id"])
    pid = parent["project_group_id"]
    assert "project group" in _error(
        env.call("/identity/project-group/delete", {"project_group_id": pid}), 409
    )
    env.ok("/identity/project-group/delete", {"project_group_id": child["project_group_id"]})

    project = _project(env, "inside", project_group_id=pid)
    assert "project" in _error(
        env.call("/identity/project-group/delete", {"project_group_id": pid}), 409
    )
    assert _get(env, "project-group", "project_group_id", pid) == parent
    env.ok(
        "/identity/project/update", {"project_id": project["project_id"], "project_group_id": None}
    )

    assert env.ok("/identity/project-group/delete", {"project_group_id": pid}) == {}
    _error(env.call("/identity/project-group/get", {"project_group_id": pid}), 404)
    # the project that was inside survives at the top level
    assert _get(env, "project", "project_id", project["project_id"])["project_group_id"] is None


def test_project_group_delete_refused_while_an_app_is_bound_to_it(env):
    group = _group(env, "bound")
    env.ok(
        "/identity/app/create",
        {
            "name": "member",
            "role_id": "managed-workspace-member",
            "workspace_id": env.workspace_id,
            "project_group_id": group["project_group_id"],
        },
    )
    assert "app" in _error(
        env.call("/identity/project-group/delete", {"project_group_id": group["project_group_id"]}),
        409,
    )


# --------------------------------------------------------------------------------------------
# projects


def test_project_create_get_update(env):
    created = _project(env, "web", tags={"env": "prod"})
    assert re.fullmatch(r"project-[0-9a-f]{12}", created["project_id"])
    assert created["project_type"] == "PRIVATE"  # the default
    assert created["project_group_id"] is None
    assert created["workspace_id"] == env.workspace_id
    assert created["domain_id"] == env.domain_id
    assert created["tags"] == {"env": "prod"}
    assert _get(env, "project", "project_id", created["project_id"]) == created

    public = _project(env, "site", project_type="PUBLIC")
    assert public["project_type"] == "PUBLIC"
    _error(
        env.call(
            "/identity/project/create",
            {"name": "odd", "workspace_id": env.workspace_id, "project_type": "SECRET"},
        ),
        400,
    )

    group = _group(env, "g")
    pid = created["project_id"]
    updated = env.ok(
        "/identity/project/update",
        {
            "project_id": pid,
            "name": "web2",
            "project_type": "PUBLIC",
            "project_group_id": group["project_group_id"],
            "tags": {"team": "x"},
        },
    )
    assert updated["name"] == "web2"
    assert updated["project_type"] == "PUBLIC"
    assert updated["project_group_id"] == group["project_group_id"]
    assert updated["tags"] == {"team": "x"}
    assert updated["created_at"] == created["created_at"]
    # an update that does not mention the group leaves it; null moves the project to the top
    kept = env.ok("/identity/project/update", {"project_id": pid, "tags": {}})
    assert kept["project_group_id"] == group["project_group_id"]
    top = env.ok("/identity/project/update", {"project_id": pid, "project_group_id": None})
    assert top["project_group_id"] is None
    _error(env.call("/identity/project/update", {"project_id": pid, "project_type": "X"}), 400)
    assert _get(env, "project", "project_id", pid) == top


def test_project_needs_an_existing_group_and_workspace(env):
    _error(
        env.call(
            "/identity/project/create",
            {
                "name": "p",
                "workspace_id": env.workspace_id,
                "project_group_id": "pg-000000000000",
            },
        ),
        404,
    )
    _error(env.call("/identity/project/create", {"name": "p", "workspace_id": "workspace-0"}), 404)
    # a domain admin must say which workspace
    _error(env.call("/identity/project/create", {"name": "p"}), 400)
    other = _workspace(env, "w2")["workspace_id"]
    foreign = _group(env, "g", workspace_id=other)
    _error(
        env.call(
            "/identity/project/create",
            {
                "name": "p",
                "workspace_id": env.workspace_id,
                "project_group_id": foreign["project_group_id"],
            },
        ),
        404,
    )
    assert env.ok("/identity/project/list", {})["total_count"] == 0


def test_project_names_are_unique_per_workspace(env):
    first = _project(env, "dup")
    _error(
        env.call("/identity/project/create", {"name": "dup", "workspace_id": env.workspace_id}),
        409,
        "ERROR_CONFLICT",
    )
    assert env.ok("/identity/project/list", {})["total_count"] == 1
    other = _project(env, "dup", workspace_id=_workspace(env, "w2")["workspace_id"])
    assert other["project_id"] != first["project_id"]
    assert env.ok("/identity/project/list", {})["total_count"] == 2


def test_project_failed_update_changes_nothing(env):
    _project(env, "taken")
    mine = _project(env, "mine", tags={"a": "1"}, project_type="PUBLIC")
    response = env.call(
        "/identity/project/update",
        {
            "project_id": mine["project_id"],
            "name": "taken",
            "tags": {"b": "2"},
            "project_type": "PRIVATE",
        },
    )
    _error(response, 409)
    assert _get(env, "project", "project_id", mine["project_id"]) == mine
    response = env.call(
        "/identity/project/update",
        {"project_id": mine["project_id"], "tags": {"b": "2"}, "project_group_id": "pg-0"},
    )
    _error(response, 404)
    assert _get(env, "project", "project_id", mine["project_id"]) == mine


def test_project_delete_refused_while_a_service_account_uses_it(env):
    project = _project(env, "p")
    account = _account(env, "acct", project["project_id"])
    message = _error(
        env.call("/identity/project/delete", {"project_id": project["project_id"]}), 409
    )
    assert "service account" in message
    assert _get(env, "project", "project_id", project["project_id"]) == project
    env.ok(
        "/identity/service-account/delete",
        {"service_account_id": account["service_account_id"]},
    )
    assert env.ok("/identity/project/delete", {"project_id": project["project_id"]}) == {}
    _error(env.call("/identity/project/get", {"project_id": project["project_id"]}), 404)


def test_project_delete_refused_while_an_app_uses_it(env):
    project = _project(env, "p")
    app = _member_app(env, project["project_id"])
    assert "app" in _error(
        env.call("/identity/project/delete", {"project_id": project["project_id"]}), 409
    )
    env.ok("/identity/app/delete", {"app_id": app["app_id"]})
    assert env.ok("/identity/project/delete", {"project_id": project["project_id"]}) == {}


def test_project_list_top_level_params_are_filters(env):
    g1 = _group(env, "g1")["project_group_id"]
    g2 = _group(env, "g2")["project_group_id"]
    a = _project(env, "a", project_group_id=g1)
    b = _project(env, "b", project_group_id=g1, project_type="PUBLIC")
    c = _project(env, "c", project_group_id=g2)
    _project(env, "d")
    other_ws = _workspace(env, "w2")["workspace_id"]
    _project(env, "e", workspace_id=other_ws)

    def names(body: dict[str, Any]) -> list[str]:
        return sorted(_names(env, "/identity/project/list", body))

    assert names({"project_group_id": g1}) == ["a", "b"]
    assert names({"project_group_id": g2}) == ["c"]
    assert names({"project_id": [a["project_id"], c["project_id"]]}) == ["a", "c"]
    assert names({"project_id": c["project_id"]}) == ["c"]
    assert names({"project_id": []}) == []
    assert names({"project_type": "PUBLIC"}) == ["b"]
    assert names({"name": "d"}) == ["d"]
    assert names({"workspace_id": other_ws}) == ["e"]
    assert names({}) == ["a", "b", "c", "d", "e"]
    # params AND with each other and with the query
    assert names({"project_group_id": g1, "project_type": "PRIVATE"}) == ["a"]
    assert names(
        {
            "project_id": [a["project_id"], b["project_id"], c["project_id"]],
            "query": {"filter": [{"k": "project_group_id", "v": g1}]},
        }
    ) == ["a", "b"]
    listed = env.ok("/identity/project/list", {"project_id": [a["project_id"], b["project_id"]]})
    assert listed["total_count"] == 2
    _error(env.call("/identity/project/list", {"project_id": [1, 2]}), 400)
    _error(env.call("/identity/project/list", {"nonsense": 1}), 400)


def test_project_stat(env):
    _project(env, "a", project_type="PUBLIC")
    _project(env, "b")
    _project(env, "c")
    body = {
        "query": {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "project_type", "name": "type"}],
                        "fields": [{"name": "n", "operator": "count"}],
                    }
                }
            ]
        }
    }
    results = env.ok("/identity/project/stat", body)["results"]
    assert sorted(results, key=lambda r: r["type"]) == [
        {"type": "PRIVATE", "n": 2},
        {"type": "PUBLIC", "n": 1},
    ]


# --------------------------------------------------------------------------------------------
# roles


def test_managed_roles_are_listed(env):
    listed = env.ok("/identity/role/list", {})
    by_id = {r["role_id"]: r for r in listed["results"]}
    assert set(MANAGED) <= set(by_id)
    assert listed["total_count"] == len(listed["results"]) == 3
    for role_id, role_type in zip(
        MANAGED, ("DOMAIN_ADMIN", "WORKSPACE_OWNER", "WORKSPACE_MEMBER"), strict=True
    ):
        role = by_id[role_id]
        assert role["is_managed"] is True
        assert role["role_type"] == role_type
        assert role["permissions"] is None
        assert _get(env, "role", "role_id", role_id) == role
    assert [
        r["role_id"]
        for r in env.ok("/identity/role/list", {"role_type": "WORKSPACE_OWNER"})["results"]
    ] == ["managed-workspace-owner"]


def test_managed_roles_cannot_be_updated_or_deleted(env):
    for role_id in MANAGED:
        before = _get(env, "role", "role_id", role_id)
        message = _error(
            env.call("/identity/role/update", {"role_id": role_id, "name": "mine"}),
            400,
            "ERROR_INVALID_PARAMETER",
        )
        assert "managed" in message
        _error(
            env.call(
                "/identity/role/update",
                {"role_id": role_id, "permissions": ["inventory:CloudService.read"]},
            ),
            400,
        )
        _error(env.call("/identity/role/delete", {"role_id": role_id}), 400)
        assert _get(env, "role", "role_id", role_id) == before


def test_custom_role_create_update_delete(env):
    created = env.ok(
        "/identity/role/create",
        {
            "name": "Reader",
            "role_type": "WORKSPACE_MEMBER",
            "permissions": [
                "inventory:CloudService.read",
                "cost-analysis:Cost.read",
                "inventory:CloudService.read",
            ],
            "tags": {"k": "v"},
        },
    )
    assert created["is_managed"] is False
    assert created["role_type"] == "WORKSPACE_MEMBER"
    assert sorted(created["permissions"]) == [
        "cost-analysis:Cost.read",
        "inventory:CloudService.read",
    ]
    assert created["domain_id"] == env.domain_id
    rid = created["role_id"]
    assert _get(env, "role", "role_id", rid) == created
    assert env.ok("/identity/role/list", {})["total_count"] == 4

    updated = env.ok(
        "/identity/role/update",
        {"role_id": rid, "name": "Writer", "permissions": ["inventory:", "identity:Project.*"]},
    )
    assert updated["name"] == "Writer"
    assert sorted(updated["permissions"]) == ["identity:Project.*", "inventory:"]
    assert updated["tags"] == {"k": "v"}

    assert env.ok("/identity/role/delete", {"role_id": rid}) == {}
    _error(env.call("/identity/role/get", {"role_id": rid}), 404)
    assert env.ok("/identity/role/list", {})["total_count"] == 3


BAD_PERMISSIONS = [
    "inventory",
    "Inventory:CloudService.read",
    "inventory:CloudService.delete",
    "inventory:Cloud Service.read",
    "inventory:CloudService.read.write",
    "inventory:CloudService.",
    ":CloudService.read",
    "inventory:CloudService.read;drop",
]


def test_custom_role_permissions_are_validated(env):
    good = env.ok(
        "/identity/role/create",
        {"name": "ok", "role_type": "WORKSPACE_OWNER", "permissions": ["inventory:"]},
    )
    for bad in BAD_PERMISSIONS:
        response = env.call(
            "/identity/role/create",
            {
                "name": "r",
                "role_type": "WORKSPACE_OWNER",
                "permissions": ["inventory:CloudService.read", bad],
            },
        )
        message = _error(response, 400, "ERROR_INVALID_PARAMETER")
        assert "permissions" in message and f"'{bad}'" in message, (bad, message)
        response = env.call(
            "/identity/role/update",
            {"role_id": good["role_id"], "name": "renamed", "permissions": [bad]},
        )
        assert f"'{bad}'" in _error(response, 400), bad
    assert env.ok("/identity/role/list", {})["total_count"] == 4
    assert _get(env, "role", "role_id", good["role_id"]) == good
    # the accepted spellings
    for fine in ("inventory:CloudService.write", "cost-analysis:Cost.read", "identity:", "*:*"):
        env.ok("/identity/role/update", {"role_id": good["role_id"], "permissions": [fine]})


def test_custom_role_needs_at_least_one_permission_and_a_known_type(env):
    base = {"name": "r", "role_type": "WORKSPACE_OWNER", "permissions": []}
    assert "permissions" in _error(env.call("/identity/role/create", base), 400)
    _error(
        env.call(
            "/identity/role/create", {**base, "permissions": ["inventory:"], "role_type": "GOD"}
        ),
        400,
    )
    _error(env.call("/identity/role/create", {"name": "r", "role_type": "WORKSPACE_OWNER"}), 400)
    assert env.ok("/identity/role/list", {})["total_count"] == 3


def test_role_in_use_cannot_be_deleted(env):
    role = env.ok(
        "/identity/role/create",
        {
            "name": "owner-ro",
            "role_type": "WORKSPACE_OWNER",
            "permissions": ["inventory:CloudService.read"],
        },
    )
    app = env.ok(
        "/identity/app/create",
        {"name": "reader", "role_id": role["role_id"], "workspace_id": env.workspace_id},
    )
    _error(env.call("/identity/role/delete", {"role_id": role["role_id"]}), 409, "ERROR_CONFLICT")
    assert _get(env, "role", "role_id", role["role_id"]) == role
    env.ok("/identity/app/delete", {"app_id": app["app_id"]})
    assert env.ok("/identity/role/delete", {"role_id": role["role_id"]}) == {}


# --------------------------------------------------------------------------------------------
# service accounts

PLAINTEXT = "AKIA-very-secret-0123456789"


def _raw_secret(env: Any, service_account_id: str) -> bytes | None:
    with env.runtime.store.read() as conn:
        value = conn.execute(
            select(service_accounts.c.secret_encrypted).where(
                service_accounts.c.service_account_id == service_account_id
            )
        ).scalar_one()
    return None if value is None else bytes(value)


def _read_secret(env: Any, service_account_id: str) -> Any:
    with env.runtime.store.read() as conn:
        return read_secret_data(conn, env.runtime.sealer, service_account_id)


def _assert_no_secret(response_text: str) -> None:
    assert "secret_data" not in response_text
    assert "secret_encrypted" not in response_text
    assert PLAINTEXT not in response_text


def test_service_account_secret_is_write_only(env):
    project = _project(env, "p")
    secret = {"aws_access_key_id": "AKIA", "aws_secret_access_key": PLAINTEXT, "n": [1, 2.5]}
    response = env.call(
        "/identity/service-account/create",
        {
            "name": "prod-account",
            "provider": "aws",
            "project_id": project["project_id"],
            "data": {"account_id": "123456789012", "nested": {"x": [1, {"y": None}]}},
            "secret_data": secret,
            "tags": {"env": "prod"},
        },
    )
    assert response.status_code == 200, response.text
    _assert_no_secret(response.text)
    created = response.json()
    sid = created["service_account_id"]
    assert re.fullmatch(r"sa-[0-9a-f]{12}", sid)
    assert re.fullmatch(r"secret-[0-9a-f]{12}", created["secret_id"])
    assert created["data"] == {"account_id": "123456789012", "nested": {"x": [1, {"y": None}]}}
    assert created["project_id"] == project["project_id"]
    assert created["workspace_id"] == env.workspace_id
    assert created["provider"] == "aws"
    assert created["tags"] == {"env": "prod"}

    # the server can read back exactly what was written; the column holds no plaintext
    assert _read_secret(env, sid) == secret
    raw = _raw_secret(env, sid)
    assert raw and PLAINTEXT.encode() not in raw and b"aws_secret_access_key" not in raw

    # no read verb ever shows it
    reads = [
        ("/identity/service-account/get", {"service_account_id": sid}),
        ("/identity/service-account/list", {}),
        ("/identity/service-account/list", {"query": {"only": ["secret_encrypted", "name"]}}),
        ("/identity/service-account/stat", {"query": {"distinct": "secret_id"}}),
    ]
    for path, body in reads:
        response = env.call(path, body)
        assert response.status_code == 200, (path, response.text)
        _assert_no_secret(response.text)
    assert env.ok("/identity/service-account/get", {"service_account_id": sid}) == created
    only = env.ok(
        "/identity/service-account/list", {"query": {"only": ["secret_encrypted", "name"]}}
    )
    assert only["results"] == [{"name": "prod-account"}]

    # the sealed column is not a queryable field either
    for body in (
        {"query": {"filter": [{"k": "secret_encrypted", "o": "exists", "v": True}]}},
        {"query": {"sort": [{"key": "secret_encrypted"}]}},
    ):
        assert "secret_encrypted" in _error(env.call("/identity/service-account/list", body), 400)
    for query in (
        {"distinct": "secret_encrypted"},
        {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "name", "name": "name"}],
                        "fields": [{"key": "secret_encrypted", "name": "s", "operator": "push"}],
                    }
                }
            ]
        },
    ):
        _error(env.call("/identity/service-account/stat", {"query": query}), 400)

    if env.backend == "sqlite":
        for path in env.data_dir.glob("skyatlas.db*"):
            assert PLAINTEXT.encode() not in path.read_bytes(), path


def test_service_account_update_secret_data_replaces_it(env):
    project = _project(env, "p")
    created = _account(env, "acct", project["project_id"], secret_data={"key": "old-secret"})
    sid = created["service_account_id"]
    response = env.call(
        "/identity/service-account/update-secret-data",
        {"service_account_id": sid, "secret_data": {"key": PLAINTEXT}},
    )
    assert response.status_code == 200, response.text
    _assert_no_secret(response.text)
    updated = response.json()
    assert re.fullmatch(r"secret-[0-9a-f]{12}", updated["secret_id"])
    assert updated["secret_id"] != created["secret_id"]
    assert updated["name"] == "acct" and updated["data"] == created["data"]
    assert _read_secret(env, sid) == {"key": PLAINTEXT}
    raw = _raw_secret(env, sid)
    assert raw and PLAINTEXT.encode() not in raw and b"old-secret" not in raw
    assert (
        _get(env, "service-account", "service_account_id", sid)["secret_id"] == updated["secret_id"]
    )
    # update-secret-data needs the secret
    _error(
        env.call("/identity/service-account/update-secret-data", {"service_account_id": sid}), 400
    )
    _error(
        env.call(
            "/identity/service-account/update-secret-data",
            {"service_account_id": "sa-000000000000", "secret_data": {"k": "v"}},
        ),
        404,
    )
    assert _read_secret(env, sid) == {"key": PLAINTEXT}


def test_service_account_without_secret(env):
    project = _project(env, "p")
    created = _account(env, "bare", project["project_id"])
    assert created["secret_id"] is None
    assert created["data"] == {}
    assert _read_secret(env, created["service_account_id"]) is None
    assert _raw_secret(env, created["service_account_id"]) is None
    updated = env.ok(
        "/identity/service-account/update-secret-data",
        {"service_account_id": created["service_account_id"], "secret_data": {"k": "v"}},
    )
    assert updated["secret_id"] is not None
    assert _read_secret(env, created["service_account_id"]) == {"k": "v"}


def test_service_account_update_and_delete(env):
    p1 = _project(env, "p1")
    p2 = _project(env, "p2")
    created = _account(
        env, "acct", p1["project_id"], data={"a": 1, "b": 2}, tags={"t": "1"}, secret_data={"s": 1}
    )
    sid = created["service_account_id"]
    updated = env.ok(
        "/identity/service-account/update",
        {
            "service_account_id": sid,
            "name": "acct2",
            "data": {"c": 3},
            "tags": {"u": "2"},
            "project_id": p2["project_id"],
        },
    )
    assert updated["name"] == "acct2"
    assert updated["data"] == {"c": 3}  # replaced whole
    assert updated["tags"] == {"u": "2"}
    assert updated["project_id"] == p2["project_id"]
    assert updated["secret_id"] == created["secret_id"]  # credentials untouched
    assert _read_secret(env, sid) == {"s": 1}
    _error(
        env.call(
            "/identity/service-account/update", {"service_account_id": sid, "secret_data": {}}
        ),
        400,
    )

    assert env.ok("/identity/service-account/delete", {"service_account_id": sid}) == {}
    _error(env.call("/identity/service-account/get", {"service_account_id": sid}), 404)
    _error(env.call("/identity/service-account/delete", {"service_account_id": sid}), 404)
    assert _read_secret(env, sid) is None
    assert env.ok("/identity/service-account/list", {})["total_count"] == 0


def test_service_account_names_unique_and_failed_update_changes_nothing(env):
    p1 = _project(env, "p1")
    _account(env, "taken", p1["project_id"])
    mine = _account(env, "mine", p1["project_id"], data={"x": 1}, tags={"a": "1"})
    _error(
        env.call(
            "/identity/service-account/create",
            {"name": "taken", "provider": "gcp", "project_id": p1["project_id"]},
        ),
        409,
    )
    assert env.ok("/identity/service-account/list", {})["total_count"] == 2

    sid = mine["service_account_id"]
    response = env.call(
        "/identity/service-account/update",
        {"service_account_id": sid, "name": "taken", "tags": {"b": "2"}, "data": {"y": 2}},
    )
    _error(response, 409, "ERROR_CONFLICT")
    assert _get(env, "service-account", "service_account_id", sid) == mine

    # a project of another workspace is out of reach: 404, and nothing else changes either
    foreign = _project(env, "far", workspace_id=_workspace(env, "w2")["workspace_id"])
    response = env.call(
        "/identity/service-account/update",
        {"service_account_id": sid, "tags": {"b": "2"}, "project_id": foreign["project_id"]},
    )
    _error(response, 404)
    assert _get(env, "service-account", "service_account_id", sid) == mine


def test_service_account_needs_an_existing_project(env):
    _error(
        env.call(
            "/identity/service-account/create",
            {"name": "a", "provider": "aws", "project_id": "project-000000000000"},
        ),
        404,
    )
    _error(env.call("/identity/service-account/create", {"name": "a", "provider": "aws"}), 400)
    assert env.ok("/identity/service-account/list", {})["total_count"] == 0


def test_service_account_list_and_stat(env):
    p1 = _project(env, "p1")
    p2 = _project(env, "p2")
    _account(env, "a1", p1["project_id"], provider="aws", data={"account_id": "111"})
    _account(env, "a2", p1["project_id"], provider="google_cloud", data={"account_id": "222"})
    _account(env, "a3", p2["project_id"], provider="aws", data={"account_id": "333"})

    def names(body: dict[str, Any]) -> list[str]:
        return sorted(_names(env, "/identity/service-account/list", body))

    assert names({"provider": "aws"}) == ["a1", "a3"]
    assert names({"project_id": p1["project_id"]}) == ["a1", "a2"]
    assert names({"provider": "aws", "project_id": p1["project_id"]}) == ["a1"]
    assert names({"query": {"filter": [{"k": "data.account_id", "v": "222"}]}}) == ["a2"]
    distinct = env.ok("/identity/service-account/stat", {"query": {"distinct": "provider"}})
    assert distinct == {"results": ["aws", "google_cloud"], "total_count": 2}
    grouped = env.ok(
        "/identity/service-account/stat",
        {
            "query": {
                "aggregate": [
                    {
                        "group": {
                            "keys": [{"key": "project_id", "name": "project_id"}],
                            "fields": [{"name": "n", "operator": "count"}],
                        }
                    }
                ]
            }
        },
    )
    assert sorted((r["project_id"], r["n"]) for r in grouped["results"]) == sorted(
        [(p1["project_id"], 2), (p2["project_id"], 1)]
    )


# --------------------------------------------------------------------------------------------
# unknown ids


UNKNOWN_IDS = [
    ("workspace", "workspace_id", "workspace-000000000000"),
    ("project-group", "project_group_id", "pg-000000000000"),
    ("project", "project_id", "project-000000000000"),
    ("role", "role_id", "role-000000000000"),
    ("service-account", "service_account_id", "sa-000000000000"),
]


def test_unknown_id_is_404_for_get_update_and_delete(env):
    for resource, id_key, value in UNKNOWN_IDS:
        response = env.call(f"/identity/{resource}/get", {id_key: value})
        assert value in _error(response, 404, "ERROR_NOT_FOUND")
        _error(env.call(f"/identity/{resource}/update", {id_key: value, "tags": {}}), 404)
        _error(env.call(f"/identity/{resource}/delete", {id_key: value}), 404)


# --------------------------------------------------------------------------------------------
# NUL characters: PostgreSQL cannot store them, so both backends refuse them alike (400)

Case = Callable[[Any, dict[str, str]], tuple[str, dict[str, Any]]]

NUL_CASES: dict[str, Case] = {
    "workspace name": lambda env, ids: ("/identity/workspace/create", {"name": "a\x00b"}),
    "workspace tag value": lambda env, ids: (
        "/identity/workspace/create",
        {"name": "w", "tags": {"k": "v\x00"}},
    ),
    "workspace tag key": lambda env, ids: (
        "/identity/workspace/create",
        {"name": "w", "tags": {"k\x00": "v"}},
    ),
    "workspace rename": lambda env, ids: (
        "/identity/workspace/update",
        {"workspace_id": env.workspace_id, "name": "\x00"},
    ),
    "project name": lambda env, ids: (
        "/identity/project/create",
        {"name": "p\x00", "workspace_id": env.workspace_id},
    ),
    "project rename": lambda env, ids: (
        "/identity/project/update",
        {"project_id": ids["project_id"], "name": "x\x00y", "tags": {"a": "b"}},
    ),
    "project group name": lambda env, ids: (
        "/identity/project-group/create",
        {"name": "g\x00", "workspace_id": env.workspace_id},
    ),
    "role name": lambda env, ids: (
        "/identity/role/create",
        {"name": "r\x00", "role_type": "WORKSPACE_OWNER", "permissions": ["inventory:"]},
    ),
    "role permission": lambda env, ids: (
        "/identity/role/create",
        {"name": "r", "role_type": "WORKSPACE_OWNER", "permissions": ["inventory:\x00"]},
    ),
    "service account name": lambda env, ids: (
        "/identity/service-account/create",
        {"name": "s\x00", "provider": "aws", "project_id": ids["project_id"]},
    ),
    "service account provider": lambda env, ids: (
        "/identity/service-account/create",
        {"name": "s", "provider": "a\x00ws", "project_id": ids["project_id"]},
    ),
    "data value": lambda env, ids: (
        "/identity/service-account/create",
        {"name": "s", "provider": "aws", "project_id": ids["project_id"], "data": {"k": "\x00"}},
    ),
    "data key": lambda env, ids: (
        "/identity/service-account/create",
        {"name": "s", "provider": "aws", "project_id": ids["project_id"], "data": {"\x00": 1}},
    ),
    "data nested in a list": lambda env, ids: (
        "/identity/service-account/create",
        {
            "name": "s",
            "provider": "aws",
            "project_id": ids["project_id"],
            "data": {"a": [{"b": ["ok", "n\x00"]}]},
        },
    ),
    "secret data": lambda env, ids: (
        "/identity/service-account/create",
        {
            "name": "s",
            "provider": "aws",
            "project_id": ids["project_id"],
            "secret_data": {"k": "\x00"},
        },
    ),
    "data update": lambda env, ids: (
        "/identity/service-account/update",
        {"service_account_id": ids["service_account_id"], "data": {"k": {"j": "\x00"}}},
    ),
    "secret update": lambda env, ids: (
        "/identity/service-account/update-secret-data",
        {"service_account_id": ids["service_account_id"], "secret_data": {"\x00": "v"}},
    ),
    "list param": lambda env, ids: ("/identity/project/list", {"name": "p\x00"}),
    "list id param": lambda env, ids: ("/identity/project/list", {"project_id": ["a\x00"]}),
    "get id": lambda env, ids: ("/identity/project/get", {"project_id": "project-\x00"}),
}


def _snapshot(env: Any) -> dict[str, Any]:
    return {
        path: env.ok(f"/identity/{path}/list", {})
        for path in ("workspace", "project", "project-group", "role", "service-account")
    }


def test_nul_characters_are_400_on_both_backends(env):
    project = _project(env, "p")
    account = _account(env, "sa", project["project_id"], secret_data={"k": "v"})
    ids = {
        "project_id": project["project_id"],
        "service_account_id": account["service_account_id"],
    }
    before = _snapshot(env)
    failures = []
    for case, build in NUL_CASES.items():
        path, body = build(env, ids)
        response = env.call(path, body)
        if response.status_code != 400:
            failures.append(f"{case}: {path} answered {response.status_code} {response.text}")
            continue
        message = response.json()["detail"]["message"]
        # a NUL is named as such, or (permissions) the whole bad value is named
        if "NUL" not in message and "is not a permission" not in message:
            failures.append(f"{case}: the message does not say what is wrong: {message}")
    assert not failures, "\n".join(failures)
    assert _snapshot(env) == before
    assert _read_secret(env, account["service_account_id"]) == {"k": "v"}
