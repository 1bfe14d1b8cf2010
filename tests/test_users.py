"""Local users as a person meets them, on SQLite and PostgreSQL alike: created by an admin, bound
to a role, signing in for tokens (`identity.token.issue` / `grant`), calling verbs with the
access token in the right scope, and everything that must stop a token or a sign-in on the very
next request: the lockout after ten wrong passwords, a password change, disabling or deleting
the user. Passwords never come back except the generated one, once."""

from __future__ import annotations

import base64
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select, update

from skyatlas.errors import AuthenticationFailed, InvalidParameter, PermissionDenied
from skyatlas.identity.roles import RoleType
from skyatlas.identity.tokens import ACCESS_TOKEN, issue_user_token
from skyatlas.identity.users import (
    authenticate_password,
    change_password,
    check_password_policy,
    is_domain_admin,
    user_caller,
    user_workspaces,
)
from skyatlas.ids import utcnow
from skyatlas.store.tables import role_bindings, users

PASSWORD = "correct-horse-1"
V2_USER_CLAIMS = {"typ", "own", "did", "wid", "rol", "jti", "aud", "iat", "exp", "ver"}
_n = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


def _error(response: Any, status: int, code: str | None = None) -> str:
    assert response.status_code == status, (status, response.status_code, response.text)
    body = response.json()
    assert set(body) == {"detail"} and set(body["detail"]) == {"code", "message"}, body
    if code is not None:
        assert body["detail"]["code"] == code, body
    return body["detail"]["message"]


def new_user(env: Any, password: str | None = PASSWORD, **fields: Any) -> str:
    user_id = fields.pop("user_id", None) or _name("user")
    body = {"user_id": user_id, **fields}
    if password is not None:
        body["password"] = password
    env.ok("/identity/user/create", body)
    return user_id


def bind(env: Any, user_id: str, role_id: str, token: str | None = "admin", **fields: Any) -> dict:
    body = {"user_id": user_id, "role_id": role_id, **fields}
    return env.ok("/identity/role-binding/create", body, token)


def bind_member(env: Any, user_id: str, project_id: str, workspace_id: str | None = None) -> dict:
    return bind(
        env,
        user_id,
        "managed-workspace-member",
        resource_group="WORKSPACE",
        workspace_id=workspace_id or env.workspace_id,
        project_id=project_id,
    )


def bind_owner(env: Any, user_id: str, workspace_id: str | None = None) -> dict:
    workspace = workspace_id or env.workspace_id
    return bind(env, user_id, "managed-workspace-owner", workspace_id=workspace)


def bind_admin(env: Any, user_id: str) -> dict:
    return bind(env, user_id, "managed-domain-admin", resource_group="DOMAIN")


def issue(env: Any, user_id: str, password: str = PASSWORD, **extra: Any) -> Any:
    return env.call(
        "/identity/token/issue", {"user_id": user_id, "password": password, **extra}, None
    )


def tokens(env: Any, user_id: str, password: str = PASSWORD) -> dict[str, Any]:
    response = issue(env, user_id, password)
    assert response.status_code == 200, response.text
    return response.json()


def grant(env: Any, refresh: str, scope: str, workspace_id: str | None = None) -> Any:
    body: dict[str, Any] = {"grant_type": "REFRESH_TOKEN", "token": refresh, "scope": scope}
    if workspace_id is not None:
        body["workspace_id"] = workspace_id
    return env.call("/identity/token/grant", body, None)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def new_project(env: Any, workspace_id: str | None = None) -> str:
    body = {"name": _name("project"), "workspace_id": workspace_id or env.workspace_id}
    return env.ok("/identity/project/create", body)["project_id"]


def new_workspace(env: Any, name: str | None = None) -> str:
    return env.ok("/identity/workspace/create", {"name": name or _name("ws")})["workspace_id"]


def new_cloud_service(env: Any, project_id: str) -> str:
    body = {
        "name": _name("vm"),
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "project_id": project_id,
        "data": {},
    }
    return env.ok("/inventory/cloud-service/create", body)["cloud_service_id"]


def user_row(env: Any, user_id: str) -> Any:
    with env.runtime.store.read() as conn:
        return conn.execute(
            select(users).where(users.c.domain_id == env.domain_id, users.c.user_id == user_id)
        ).one()


def set_password(env: Any, user_id: str, current: str, new: str) -> None:
    with env.runtime.store.begin() as conn:
        change_password(conn, env.domain_id, user_id, current, new)


# --- sign in, scope ---------------------------------------------------------------------------
def test_a_member_signs_in_and_sees_only_its_projects_resources(env):
    mine, other = new_project(env), new_project(env)
    cs_mine, cs_other = new_cloud_service(env, mine), new_cloud_service(env, other)
    alice = new_user(env, name="Alice", email="alice@example.com")
    bind_member(env, alice, mine)

    issued = tokens(env, alice)
    assert set(issued) == {"access_token", "refresh_token", "required_actions"}
    assert issued["required_actions"] == ["UPDATE_PASSWORD"]
    access = claims_of(issued["access_token"])
    assert set(access) == V2_USER_CLAIMS
    assert access["typ"] == "ACCESS_TOKEN" and access["own"] == "USER" and access["ver"] == "2.0"
    assert (access["did"], access["wid"], access["aud"]) == (env.domain_id, env.workspace_id, alice)
    assert access["rol"] == "WORKSPACE_MEMBER"
    assert access["exp"] - access["iat"] == pytest.approx(30 * 60, abs=1)
    refresh = claims_of(issued["refresh_token"])
    assert refresh["typ"] == "REFRESH_TOKEN" and refresh["aud"] == alice
    assert refresh["exp"] - refresh["iat"] == pytest.approx(8 * 3600, abs=1)
    assert access["jti"] != refresh["jti"]

    token = issued["access_token"]
    listed = env.ok("/inventory/cloud-service/list", {}, token)
    assert [r["cloud_service_id"] for r in listed["results"]] == [cs_mine]
    _error(env.call("/inventory/cloud-service/get", {"cloud_service_id": cs_other}, token), 404)
    # the access token works with the other header too
    response = env.call("/inventory/cloud-service/list", {}, token, header="x-auth-token")
    assert response.json()["total_count"] == 1
    # and the role gate applies to users like to apps
    message = _error(env.call("/identity/workspace/create", {"name": "nope"}, token), 403)
    assert "WORKSPACE_MEMBER user" in message
    # the sign-in was recorded
    row = user_row(env, alice)
    assert row.last_accessed_at is not None and row.failed_attempts == 0


def test_a_domain_admin_user_gets_a_domain_token_and_can_enter_a_workspace_as_owner(env):
    boss = new_user(env)
    bind_admin(env, boss)
    issued = tokens(env, boss)
    access = claims_of(issued["access_token"])
    assert (access["wid"], access["rol"]) == ("*", "DOMAIN_ADMIN")
    ws = env.ok("/identity/workspace/create", {"name": "by-user"}, issued["access_token"])

    granted = grant(env, issued["refresh_token"], "WORKSPACE", ws["workspace_id"])
    assert granted.status_code == 200, granted.text
    assert granted.json()["role_type"] == "WORKSPACE_OWNER"
    assert granted.json()["workspace_id"] == ws["workspace_id"]
    in_ws = granted.json()["access_token"]
    assert claims_of(in_ws)["wid"] == ws["workspace_id"]
    project = env.ok("/identity/project/create", {"name": "p"}, in_ws)
    assert project["workspace_id"] == ws["workspace_id"]
    _error(env.call("/identity/workspace/create", {"name": "nope"}, in_ws), 403)

    back = grant(env, issued["refresh_token"], "DOMAIN")
    assert back.status_code == 200 and back.json() == {
        "access_token": back.json()["access_token"],
        "role_type": "DOMAIN_ADMIN",
        "workspace_id": None,
    }


def test_refresh_token_grants_access_to_each_workspace_the_user_is_bound_to(env):
    ws_b = new_workspace(env, "zz-second")
    ws_none = new_workspace(env)
    project_b = new_project(env, ws_b)
    cs_b = new_cloud_service(env, project_b)
    bob = new_user(env)
    bind_owner(env, bob)  # "default"
    bind_member(env, bob, project_b, ws_b)

    issued = tokens(env, bob)
    # the first workspace by name: "default" < "zz-second"
    assert claims_of(issued["access_token"])["wid"] == env.workspace_id
    assert claims_of(issued["access_token"])["rol"] == "WORKSPACE_OWNER"

    response = grant(env, issued["refresh_token"], "WORKSPACE", ws_b)
    assert response.status_code == 200, response.text
    assert response.json()["role_type"] == "WORKSPACE_MEMBER"
    in_b = response.json()["access_token"]
    listed = env.ok("/inventory/cloud-service/list", {}, in_b)
    assert [r["cloud_service_id"] for r in listed["results"]] == [cs_b]

    assert "no role in workspace" in _error(
        grant(env, issued["refresh_token"], "WORKSPACE", ws_none), 403
    )
    assert "not a domain admin" in _error(grant(env, issued["refresh_token"], "DOMAIN"), 403)
    assert "workspace_id is required" in _error(
        grant(env, issued["refresh_token"], "WORKSPACE"), 400
    )
    # an access token is not a refresh token
    _error(grant(env, issued["access_token"], "WORKSPACE", ws_b), 401, "ERROR_AUTHENTICATE_FAILURE")
    _error(grant(env, env.admin_token, "WORKSPACE", ws_b), 401)
    _error(grant(env, "not-a-token", "WORKSPACE", ws_b), 401)


def test_a_refresh_token_is_refused_as_a_bearer(env):
    carol = new_user(env)
    bind_owner(env, carol)
    issued = tokens(env, carol)
    message = _error(
        env.call("/identity/workspace/list", {}, issued["refresh_token"]),
        401,
        "ERROR_AUTHENTICATE_FAILURE",
    )
    assert "refresh token" in message
    assert env.call("/identity/workspace/list", {}, issued["access_token"]).status_code == 200


def test_a_user_without_a_role_binding_gets_no_token(env):
    loner = new_user(env)
    message = _error(issue(env, loner), 403, "ERROR_PERMISSION_DENIED")
    assert "role binding" in message
    # once bound it signs in; once the binding is gone its token stops working
    binding = bind_owner(env, loner)
    token = tokens(env, loner)["access_token"]
    assert env.call("/identity/project/list", {}, token).status_code == 200
    env.ok("/identity/role-binding/delete", {"role_binding_id": binding["role_binding_id"]})
    _error(env.call("/identity/project/list", {}, token), 403)


def test_expired_and_forged_user_tokens_are_401(env):
    dave = new_user(env)
    bind_owner(env, dave)
    real = tokens(env, dave)["access_token"]
    claims = claims_of(real)
    head, _body, signature = real.split(".")
    admin = base64.urlsafe_b64encode(json.dumps({**claims, "wid": "*"}).encode()).rstrip(b"=")
    tampered = f"{head}.{admin.decode()}.{signature}"
    now = utcnow()
    with env.runtime.store.begin() as conn:
        expired = issue_user_token(
            conn,
            env.runtime.sealer,
            typ=ACCESS_TOKEN,
            domain_id=env.domain_id,
            user_id=dave,
            lifetime=timedelta(minutes=30),
            workspace_id=env.workspace_id,
            role_type="WORKSPACE_OWNER",
            issued_at=now - timedelta(hours=1),
        )
    assert "expired" in _error(env.call("/identity/project/list", {}, expired), 401)
    _error(env.call("/identity/project/list", {}, tampered), 401)
    assert env.call("/identity/project/list", {}, real).status_code == 200


# --- lockout ----------------------------------------------------------------------------------
def test_ten_wrong_passwords_lock_the_user_and_the_count_survives_each_request(env):
    erin = new_user(env)
    bind_owner(env, erin)
    for attempt in range(1, 10):
        message = _error(issue(env, erin, "wrong-password-1"), 401, "ERROR_AUTHENTICATE_FAILURE")
        assert message == "invalid user_id or password"
        # committed although the request failed
        assert user_row(env, erin).failed_attempts == attempt
    # an unknown user gets exactly the same answer
    assert _error(issue(env, "nobody-here", "wrong-password-1"), 401) == (
        "invalid user_id or password"
    )
    message = _error(issue(env, erin, "wrong-password-1"), 401)
    assert "locked" in message and "5 minutes" in message
    row = user_row(env, erin)
    assert row.failed_attempts == 10 and row.locked_until > utcnow()
    # now even the right password is refused, saying how long to wait
    message = _error(issue(env, erin), 401)
    assert "try again in 5 minutes" in message
    assert env.ok("/identity/user/get", {"user_id": erin})["locked"] is True

    with env.runtime.store.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.user_id == erin)
            .values(locked_until=utcnow() + timedelta(seconds=61))
        )
    assert "try again in 2 minutes" in _error(issue(env, erin), 401)
    with env.runtime.store.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.user_id == erin)
            .values(locked_until=utcnow() + timedelta(seconds=20))
        )
    assert "try again in 1 minute" in _error(issue(env, erin), 401)

    # the lock ran out: one more wrong password locks again at once
    with env.runtime.store.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.user_id == erin)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert "locked" in _error(issue(env, erin, "wrong-password-1"), 401)
    # an admin lifts the lock by enabling the user; the right password then resets the count
    assert env.ok("/identity/user/enable", {"user_id": erin})["locked"] is False
    assert issue(env, erin).status_code == 200
    assert user_row(env, erin).failed_attempts == 0


def test_a_right_password_resets_the_count(env):
    fay = new_user(env)
    bind_owner(env, fay)
    for _ in range(5):
        _error(issue(env, fay, "wrong-password-1"), 401)
    assert user_row(env, fay).failed_attempts == 5
    assert issue(env, fay).status_code == 200
    assert user_row(env, fay).failed_attempts == 0
    for _ in range(9):
        _error(issue(env, fay, "wrong-password-1"), 401)
    assert issue(env, fay).status_code == 200  # 9 + 9 misses, never 10 in a row


def test_concurrent_wrong_passwords_are_all_counted(env):
    """Each attempt's count is written in its own transaction on the re-read row: none is lost
    to a race, and the right password is refused once they have locked the user."""
    ole = new_user(env)
    bind_owner(env, ole)

    def attempt(_: int) -> str:
        try:
            authenticate_password(env.runtime, env.domain_id, ole, "wrong-password-1")
        except AuthenticationFailed as exc:
            return exc.message
        return "signed in"

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(attempt, range(12)))
    assert "signed in" not in answers
    row = user_row(env, ole)
    assert row.failed_attempts == 12 and row.locked_until > utcnow()
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate_password(env.runtime, env.domain_id, ole, PASSWORD)


# --- passwords --------------------------------------------------------------------------------
def test_a_password_change_revokes_earlier_tokens(env):
    gus = new_user(env)
    bind_owner(env, gus)
    before = tokens(env, gus)
    assert env.call("/identity/project/list", {}, before["access_token"]).status_code == 200

    set_password(env, gus, PASSWORD, "brand-new-pass-2")
    message = _error(env.call("/identity/project/list", {}, before["access_token"]), 401)
    assert "revoked by a password change" in message
    _error(grant(env, before["refresh_token"], "WORKSPACE", env.workspace_id), 401)
    _error(issue(env, gus), 401)

    after = tokens(env, gus, "brand-new-pass-2")
    assert after["required_actions"] == []
    assert env.call("/identity/project/list", {}, after["access_token"]).status_code == 200

    # an admin's reset revokes too, and asks for a change again
    env.ok("/identity/user/update", {"user_id": gus, "password": "admin-chosen-3"})
    _error(env.call("/identity/project/list", {}, after["access_token"]), 401)
    assert tokens(env, gus, "admin-chosen-3")["required_actions"] == ["UPDATE_PASSWORD"]


def test_change_password_checks_the_current_one_and_the_policy(env):
    hal = new_user(env)
    with pytest.raises(InvalidParameter, match="current password is wrong"):
        set_password(env, hal, "not-it-1", "brand-new-pass-2")
    with pytest.raises(InvalidParameter, match="at least one digit"):
        set_password(env, hal, PASSWORD, "no-digits-here")
    with pytest.raises(InvalidParameter, match="must differ"):
        set_password(env, hal, PASSWORD, PASSWORD)
    assert user_row(env, hal).required_actions == ["UPDATE_PASSWORD"]
    set_password(env, hal, PASSWORD, "brand-new-pass-2")
    assert user_row(env, hal).required_actions == []


@pytest.mark.parametrize(
    ("password", "needs"),
    [
        ("abc1", ["at least 8 characters (it has 4)"]),
        ("abcdefgh", ["at least one digit"]),
        ("12345678", ["at least one letter"]),
        ("", ["at least 8 characters (it has 0)", "at least one letter", "at least one digit"]),
        ("!!!", ["at least 8 characters (it has 3)", "at least one letter", "at least one digit"]),
    ],
)
def test_the_password_policy_names_everything_missing(password, needs):
    with pytest.raises(InvalidParameter) as caught:
        check_password_policy(password)
    for need in needs:
        assert need in caught.value.message
    check_password_policy("abcdefg1")


def test_create_without_password_shows_a_generated_one_once(env):
    created = env.ok("/identity/user/create", {"user_id": "ivy", "name": "Ivy"})
    generated = created["password"]
    check_password_policy(generated)
    assert created["required_actions"] == ["UPDATE_PASSWORD"]
    assert created["state"] == "ENABLED" and created["locked"] is False
    assert "password_hash" not in created and "failed_attempts" not in created

    for answer in (
        env.ok("/identity/user/get", {"user_id": "ivy"}),
        env.ok("/identity/user/list", {})["results"],
        env.ok("/identity/user/update", {"user_id": "ivy", "name": "Ivy 2"}),
        env.ok("/identity/user/disable", {"user_id": "ivy"}),
        env.ok("/identity/user/enable", {"user_id": "ivy"}),
    ):
        text = json.dumps(answer)
        assert generated not in text and "password" not in text and "$argon2" not in text

    bind_owner(env, "ivy")
    assert tokens(env, "ivy", generated)["required_actions"] == ["UPDATE_PASSWORD"]
    # reset_password asks for a generated one too; a given password is never echoed
    assert "password" in env.ok(
        "/identity/user/create", {"user_id": "ivy2", "reset_password": True}
    )
    given = env.ok("/identity/user/create", {"user_id": "ivy3", "password": PASSWORD})
    assert "password" not in given


def test_user_create_refusals(env):
    new_user(env, user_id="jack")
    assert "already exists" in _error(
        env.call("/identity/user/create", {"user_id": "jack", "password": PASSWORD}), 409
    )
    assert "at least one digit" in _error(
        env.call("/identity/user/create", {"user_id": "jill", "password": "lettersonly"}), 400
    )
    assert "not both" in _error(
        env.call(
            "/identity/user/create",
            {"user_id": "jill", "password": PASSWORD, "reset_password": True},
        ),
        400,
    )
    for bad in ("", " jill", "-jill", "jill smith", "j" * 129):
        _error(env.call("/identity/user/create", {"user_id": bad}), 400)
    _error(env.call("/identity/user/create", {"user_id": "jill", "email": "nope"}), 400)
    assert env.call("/identity/user/get", {"user_id": "jill"}).status_code == 404


def test_user_list_filters(env):
    new_user(env, user_id="kim", name="Kim", email="kim@example.com")
    new_user(env, user_id="lee", name="Lee")
    env.ok("/identity/user/disable", {"user_id": "lee"})
    names = {r["user_id"] for r in env.ok("/identity/user/list", {"state": "DISABLED"})["results"]}
    assert names == {"lee"}
    found = env.ok("/identity/user/list", {"email": "kim@example.com"})["results"]
    assert [r["user_id"] for r in found] == ["kim"]
    query = {"filter": [{"k": "required_actions", "v": "UPDATE_PASSWORD", "o": "eq"}]}
    listed = env.ok("/identity/user/list", {"query": query})
    assert {"kim", "lee", "admin"} <= {r["user_id"] for r in listed["results"]}
    stat = env.ok("/identity/user/stat", {"query": {"distinct": "state"}})
    assert set(stat["results"]) == {"ENABLED", "DISABLED"}


# --- disable, delete --------------------------------------------------------------------------
def test_a_disabled_or_deleted_user_is_refused_on_the_next_request(env):
    max_ = new_user(env)
    bind_owner(env, max_)
    issued = tokens(env, max_)
    token = issued["access_token"]
    assert env.call("/identity/project/list", {}, token).status_code == 200

    env.ok("/identity/user/disable", {"user_id": max_})
    assert "disabled" in _error(env.call("/identity/project/list", {}, token), 401)
    assert "disabled" in _error(issue(env, max_), 401)
    _error(grant(env, issued["refresh_token"], "WORKSPACE", env.workspace_id), 401)

    env.ok("/identity/user/enable", {"user_id": max_})
    assert env.call("/identity/project/list", {}, token).status_code == 200

    env.ok("/identity/user/delete", {"user_id": max_})
    assert "deleted" in _error(env.call("/identity/project/list", {}, token), 401)
    with env.runtime.store.read() as conn:
        left = conn.execute(select(role_bindings).where(role_bindings.c.user_id == max_)).all()
    assert left == []
    assert _error(issue(env, max_), 401) == "invalid user_id or password"


def test_a_user_cannot_disable_or_delete_itself(env):
    root = new_user(env)
    bind_admin(env, root)
    token = tokens(env, root)["access_token"]
    for verb in ("disable", "delete"):
        message = _error(env.call(f"/identity/user/{verb}", {"user_id": root}, token), 400)
        assert "signed in as" in message


# --- role bindings ----------------------------------------------------------------------------
def test_role_binding_rules(env):
    nia = new_user(env)
    project = new_project(env)
    other_ws = new_workspace(env)
    foreign = new_project(env, other_ws)
    group = env.ok(
        "/identity/project-group/create", {"name": "g", "workspace_id": env.workspace_id}
    )
    member = {"role_id": "managed-workspace-member", "workspace_id": env.workspace_id}

    def refused(status: int, **body: Any) -> str:
        response = env.call("/identity/role-binding/create", {"user_id": nia, **body})
        return _error(response, status)

    assert "exactly one of project_id or project_group_id" in refused(400, **member)
    assert "exactly one" in refused(
        400, **member, project_id=project, project_group_id=group["project_group_id"]
    )
    refused(404, **member, project_id=foreign)
    assert "does not fit" in refused(
        400, role_id="managed-domain-admin", resource_group="WORKSPACE"
    )
    assert "takes no workspace_id" in refused(
        400, role_id="managed-domain-admin", workspace_id=env.workspace_id
    )
    assert "takes no project_id" in refused(
        400, role_id="managed-workspace-owner", workspace_id=env.workspace_id, project_id=project
    )
    refused(404, role_id="no-such-role", workspace_id=env.workspace_id)
    response = env.call(
        "/identity/role-binding/create",
        {
            "user_id": "ghost",
            "role_id": "managed-workspace-owner",
            "workspace_id": env.workspace_id,
        },
    )
    assert "user not found" in _error(response, 404)

    made = bind_member(env, nia, project)
    assert made["resource_group"] == "WORKSPACE" and made["role_type"] == "WORKSPACE_MEMBER"
    assert made["role_binding_id"].startswith("rb-") and made["project_id"] == project
    assert "already has a role binding" in refused(
        409, role_id="managed-workspace-owner", workspace_id=env.workspace_id
    )
    bind_admin(env, nia)
    assert "already has a role binding in the domain" in refused(
        409, role_id="managed-domain-admin"
    )
    by_group = bind(
        env,
        nia,
        "managed-workspace-member",
        workspace_id=other_ws,
        project_group_id=env.ok(
            "/identity/project-group/create", {"name": "g2", "workspace_id": other_ws}
        )["project_group_id"],
    )
    assert by_group["project_group_id"] and by_group["project_id"] is None

    listed = env.ok("/identity/role-binding/list", {"user_id": nia})["results"]
    assert {b["workspace_id"] for b in listed} == {env.workspace_id, other_ws, None}
    admins = env.ok("/identity/role-binding/list", {"role_type": "DOMAIN_ADMIN"})["results"]
    assert {b["user_id"] for b in admins} == {"admin", nia}

    # what is bound cannot be pulled out from under the binding
    role = env.ok(
        "/identity/role/create",
        {"name": "r", "role_type": "WORKSPACE_OWNER", "permissions": ["identity:"]},
    )
    bind(env, new_user(env), role["role_id"], workspace_id=env.workspace_id)
    assert "role binding" in _error(
        env.call("/identity/role/delete", {"role_id": role["role_id"]}), 409
    )
    assert "role bindings" in _error(
        env.call("/identity/project/delete", {"project_id": project}), 409
    )


def test_a_workspace_owner_manages_its_own_workspaces_bindings_only(env):
    ws_b = new_workspace(env)
    owner = env.ok(
        "/identity/app/create",
        {"name": "owner", "role_id": "managed-workspace-owner", "workspace_id": env.workspace_id},
    )["client_secret"]
    mine, theirs, boss = new_user(env), new_user(env), new_user(env)
    project = new_project(env)
    bind_owner(env, theirs, ws_b)
    bind_admin(env, boss)

    made = bind(env, mine, "managed-workspace-member", owner, project_id=project)
    assert made["workspace_id"] == env.workspace_id
    response = env.call(
        "/identity/role-binding/create",
        {"user_id": theirs, "role_id": "managed-domain-admin"},
        owner,
    )
    assert "only a domain admin" in _error(response, 403)
    response = env.call(
        "/identity/role-binding/create",
        {"user_id": theirs, "role_id": "managed-workspace-owner", "workspace_id": ws_b},
        owner,
    )
    _error(response, 404)

    visible = env.ok("/identity/role-binding/list", {}, owner)["results"]
    assert [b["role_binding_id"] for b in visible] == [made["role_binding_id"]]
    assert [u["user_id"] for u in env.ok("/identity/user/list", {}, owner)["results"]] == [mine]
    _error(env.call("/identity/user/get", {"user_id": theirs}, owner), 404)
    _error(env.call("/identity/user/create", {"user_id": "x"}, owner), 403)
    env.ok("/identity/role-binding/delete", {"role_binding_id": made["role_binding_id"]}, owner)


def test_deleting_a_workspace_takes_its_role_bindings_only_when_forced(env):
    ws = new_workspace(env)
    pat = new_user(env)
    bind_owner(env, pat, ws)
    message = _error(env.call("/identity/workspace/delete", {"workspace_id": ws}), 409)
    assert "1 role bindings" in message
    env.ok("/identity/workspace/delete", {"workspace_id": ws, "force": True})
    assert env.ok("/identity/role-binding/list", {"user_id": pat})["results"] == []
    assert "no role in any enabled workspace" in _error(issue(env, pat), 403)


# --- the service functions the console calls -------------------------------------------------
def test_user_caller_and_the_workspaces_a_user_can_enter(env):
    ws_a = new_workspace(env, "aaa")
    ws_off = new_workspace(env, "bbb")
    project = new_project(env, ws_a)
    member, boss = new_user(env), new_user(env)
    bind_member(env, member, project, ws_a)
    bind_owner(env, member)
    bind_owner(env, member, ws_off)
    env.ok("/identity/workspace/disable", {"workspace_id": ws_off})
    bind_admin(env, boss)

    with env.runtime.store.read() as conn:
        entered = user_workspaces(conn, env.domain_id, member)
        assert entered == [
            {"workspace_id": ws_a, "name": "aaa", "role_type": "WORKSPACE_MEMBER"},
            {"workspace_id": env.workspace_id, "name": "default", "role_type": "WORKSPACE_OWNER"},
        ]
        assert [w["name"] for w in user_workspaces(conn, env.domain_id, boss)] == [
            "aaa",
            "default",
        ]
        assert is_domain_admin(conn, env.domain_id, boss)
        assert not is_domain_admin(conn, env.domain_id, member)

        caller = user_caller(conn, env.domain_id, member, workspace_id=ws_a, admin_mode=False)
        assert caller.role_type is RoleType.WORKSPACE_MEMBER and caller.project_id == project
        assert caller.user_id == member and caller.app_id == f"user:{member}"
        assert caller.project_ids(conn) == frozenset({project})

        admin = user_caller(conn, env.domain_id, boss, workspace_id=None, admin_mode=True)
        assert admin.role_type is RoleType.DOMAIN_ADMIN and admin.workspace_id is None
        as_owner = user_caller(conn, env.domain_id, boss, workspace_id=ws_a, admin_mode=False)
        assert as_owner.role_type is RoleType.WORKSPACE_OWNER and as_owner.workspace_id == ws_a

        with pytest.raises(PermissionDenied, match="not a domain admin"):
            user_caller(conn, env.domain_id, member, workspace_id=None, admin_mode=True)
        with pytest.raises(InvalidParameter, match="workspace_id is required"):
            user_caller(conn, env.domain_id, member, workspace_id=None, admin_mode=False)
        with pytest.raises(PermissionDenied, match="disabled"):
            user_caller(conn, env.domain_id, member, workspace_id=ws_off, admin_mode=False)
        with pytest.raises(PermissionDenied, match="no role in workspace"):
            user_caller(conn, env.domain_id, boss, workspace_id="workspace-0", admin_mode=False)
        with pytest.raises(AuthenticationFailed):
            user_caller(conn, env.domain_id, "nobody", workspace_id=ws_a, admin_mode=False)


# --- bootstrap, public verbs ----------------------------------------------------------------
def test_the_bootstrap_admin_user_signs_in_with_the_password_in_bootstrap_json(env):
    boot = json.loads((env.data_dir / "bootstrap.json").read_text())
    assert boot["admin_user_id"] == "admin"
    check_password_policy(boot["admin_password"])
    issued = tokens(env, boot["admin_user_id"], boot["admin_password"])
    assert issued["required_actions"] == ["UPDATE_PASSWORD"]
    token = issued["access_token"]
    assert claims_of(token)["wid"] == "*" and claims_of(token)["rol"] == "DOMAIN_ADMIN"
    admin = env.ok("/identity/user/get", {"user_id": "admin"}, token)
    assert admin["name"] == "Administrator"
    # the store keeps only the hash
    assert user_row(env, "admin").password_hash.startswith("$argon2id$")
    assert boot["admin_password"] not in user_row(env, "admin").password_hash
    # domain_id may be named; a wrong one is the same refusal as a wrong password
    assert issue(env, "admin", boot["admin_password"], domain_id=env.domain_id).status_code == 200
    _error(issue(env, "admin", boot["admin_password"], domain_id="domain-000000000000"), 401)


def test_token_verbs_are_public_documented_and_listed(env):
    doc = env.client.get("/openapi.json").json()
    for path in ("/identity/token/issue", "/identity/token/grant"):
        assert doc["paths"][path]["post"]["security"] == []
    assert doc["paths"]["/identity/user/create"]["post"]["security"] != []
    reflection = env.client.get("/api/reflection").json()
    identity = next(s for s in reflection["services"] if s["name"] == "identity")
    resources = {r["name"]: r["verbs"] for r in identity["resources"]}
    assert resources["token"] == ["grant", "issue"]
    assert resources["role-binding"] == ["create", "delete", "get", "list"]
    assert set(resources["user"]) == {
        "create", "update", "enable", "disable", "delete", "get", "list", "stat"
    }  # fmt: skip
    # a token sent along is ignored, even a broken one, and bad bodies are a clear 400
    pia = new_user(env)
    bind_owner(env, pia)
    response = env.call(
        "/identity/token/issue", {"user_id": pia, "password": PASSWORD}, "garbage-token"
    )
    assert response.status_code == 200
    assert "password" in _error(env.call("/identity/token/issue", {"user_id": pia}, None), 400)
    assert "grant_type" in _error(
        env.call("/identity/token/grant", {"token": "x", "scope": "DOMAIN"}, None), 400
    )
    # the other verbs still want a token
    _error(env.call("/identity/user/list", {}, None), 401)
