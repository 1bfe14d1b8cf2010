"""Apps as a user meets them: creating one per resource group, its client secret (a SpaceONE v2
JWT), rotating / disabling / deleting it with immediate effect, forged tokens, member scoping by
project group, and workspace isolation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from skyatlas.identity.tokens import issue_client_secret
from skyatlas.ids import parse_iso, utcnow
from skyatlas.store.tables import apps, domain_keys

V2_CLAIMS = {"typ", "own", "did", "wid", "rol", "jti", "aud", "iat", "exp", "ver"}
_n = itertools.count()


def _name(prefix: str = "app") -> str:
    return f"{prefix}-{next(_n)}"


def _error(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, (status, response.status_code, response.text)
    body = response.json()
    assert set(body) == {"detail"} and set(body["detail"]) == {"code", "message"}, body
    return body["detail"]


def create_app(env: Any, role_id: str, token: str | None = "admin", **fields: Any) -> dict:
    return env.ok("/identity/app/create", {"name": _name(), "role_id": role_id, **fields}, token)


def owner_app(env: Any, workspace_id: str | None = None, **fields: Any) -> dict:
    return create_app(
        env, "managed-workspace-owner", workspace_id=workspace_id or env.workspace_id, **fields
    )


def new_project(env: Any, workspace_id: str | None = None, **fields: Any) -> str:
    body = {"name": _name("project"), "workspace_id": workspace_id or env.workspace_id, **fields}
    return env.ok("/identity/project/create", body)["project_id"]


def new_group(env: Any, parent: str | None = None, workspace_id: str | None = None) -> str:
    body = {"name": _name("group"), "workspace_id": workspace_id or env.workspace_id}
    if parent:
        body["parent_group_id"] = parent
    return env.ok("/identity/project-group/create", body)["project_group_id"]


def new_account(env: Any, project_id: str) -> str:
    body = {"name": _name("sa"), "provider": "aws", "project_id": project_id}
    return env.ok("/identity/service-account/create", body)["service_account_id"]


def works(env: Any, token: str) -> int:
    """The status a secret gets for a harmless read every kind of app may make."""
    return env.call("/identity/workspace/list", {}, token).status_code


def public_key_pem(env: Any) -> bytes:
    with env.runtime.store.begin() as conn:
        return (
            conn.execute(
                select(domain_keys.c.public_key).where(domain_keys.c.domain_id == env.domain_id)
            )
            .scalar_one()
            .encode()
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_jwt(header: dict, claims: dict, sign: Any = None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{_b64(signature)}"


# --- create --------------------------------------------------------------------------------
def test_create_an_app_for_each_resource_group(env):
    ws = env.workspace_id
    project = new_project(env)
    group = new_group(env)

    domain = create_app(env, "managed-domain-admin", resource_group="DOMAIN")
    assert domain["resource_group"] == "DOMAIN" and domain["role_type"] == "DOMAIN_ADMIN"
    assert domain["workspace_id"] is None

    workspace = owner_app(env, resource_group="WORKSPACE")
    assert workspace["resource_group"] == "WORKSPACE"
    assert workspace["role_type"] == "WORKSPACE_OWNER"
    assert workspace["workspace_id"] == ws

    by_project = create_app(
        env,
        "managed-workspace-member",
        resource_group="PROJECT",
        workspace_id=ws,
        project_id=project,
    )
    assert by_project["resource_group"] == "PROJECT"
    assert by_project["role_type"] == "WORKSPACE_MEMBER"
    assert (by_project["project_id"], by_project["project_group_id"]) == (project, None)

    by_group = create_app(
        env,
        "managed-workspace-member",
        resource_group="PROJECT",
        workspace_id=ws,
        project_group_id=group,
    )
    assert (by_group["project_id"], by_group["project_group_id"]) == (None, group)

    # the resource group may be left out: it follows from the role
    implied = owner_app(env)
    assert implied["resource_group"] == "WORKSPACE"

    for app in (domain, workspace, by_project, by_group, implied):
        assert app["state"] == "ENABLED"
        assert app["client_id"] and app["client_secret"]
        assert works(env, app["client_secret"]) == 200, app["resource_group"]
        # the default lifetime is one year
        expires = parse_iso(app["expired_at"])
        assert abs(expires - (utcnow() + timedelta(days=365))) < timedelta(minutes=5)

    listed = env.ok("/identity/app/list", {})["results"]
    ids = {a["app_id"] for a in listed}
    assert {domain["app_id"], workspace["app_id"], by_project["app_id"]} <= ids


def test_create_refuses_mismatches_with_400_and_creates_nothing(env):
    ws = env.workspace_id
    project = new_project(env)
    group = new_group(env)
    now = datetime.now(UTC)
    before = env.ok("/identity/app/list", {})["total_count"]
    bad = {
        "owner role as DOMAIN": {
            "role_id": "managed-workspace-owner", "resource_group": "DOMAIN", "workspace_id": ws,
        },
        "admin role as WORKSPACE": {
            "role_id": "managed-domain-admin", "resource_group": "WORKSPACE", "workspace_id": ws,
        },
        "member role as WORKSPACE": {
            "role_id": "managed-workspace-member", "resource_group": "WORKSPACE",
            "workspace_id": ws, "project_id": project,
        },
        "owner role as PROJECT": {
            "role_id": "managed-workspace-owner", "resource_group": "PROJECT",
            "workspace_id": ws, "project_id": project,
        },
        "PROJECT app without project": {
            "role_id": "managed-workspace-member", "resource_group": "PROJECT",
            "workspace_id": ws,
        },
        "PROJECT app with project and group": {
            "role_id": "managed-workspace-member", "resource_group": "PROJECT",
            "workspace_id": ws, "project_id": project, "project_group_id": group,
        },
        "expired_at in the past": {
            "role_id": "managed-workspace-owner", "workspace_id": ws,
            "expired_at": (now - timedelta(minutes=1)).isoformat(),
        },
        "expired_at beyond one year": {
            "role_id": "managed-workspace-owner", "workspace_id": ws,
            "expired_at": (now + timedelta(days=400)).isoformat(),
        },
        "workspace app without workspace_id": {
            "role_id": "managed-workspace-owner", "resource_group": "WORKSPACE",
        },
        "DOMAIN app naming a workspace": {
            "role_id": "managed-domain-admin", "resource_group": "DOMAIN", "workspace_id": ws,
        },
    }  # fmt: skip
    for label, body in bad.items():
        response = env.call("/identity/app/create", {"name": _name(), **body})
        detail = _error(response, 400)
        assert detail["code"] == "ERROR_INVALID_PARAMETER", label
    assert env.ok("/identity/app/list", {})["total_count"] == before

    # the edges that are fine: just under a year
    ok = owner_app(env, expired_at=(now + timedelta(days=364)).isoformat())
    assert parse_iso(ok["expired_at"]) > utcnow() + timedelta(days=363)


def test_a_workspace_owner_cannot_create_a_domain_app(env):
    owner = owner_app(env)["client_secret"]
    response = env.call(
        "/identity/app/create",
        {"name": "escalate", "role_id": "managed-domain-admin", "resource_group": "DOMAIN"},
        owner,
    )
    assert _error(response, 403)["code"] == "ERROR_PERMISSION_DENIED"
    names = {a["name"] for a in env.ok("/identity/app/list", {})["results"]}
    assert "escalate" not in names
    # an owner can create an app of its own workspace, and nowhere else
    mine = env.call(
        "/identity/app/create", {"name": "mine", "role_id": "managed-workspace-owner"}, owner
    )
    assert mine.status_code == 200 and mine.json()["workspace_id"] == env.workspace_id
    other_ws = env.ok("/identity/workspace/create", {"name": "other"})["workspace_id"]
    elsewhere = env.call(
        "/identity/app/create",
        {"name": "elsewhere", "role_id": "managed-workspace-owner", "workspace_id": other_ws},
        owner,
    )
    _error(elsewhere, 404)
    # nor can it reach the domain admin's app to rotate, disable or delete it
    for verb in ("get", "generate-client-secret", "disable", "delete"):
        response = env.call(f"/identity/app/{verb}", {"app_id": env.admin_app_id}, owner)
        _error(response, 404)
    assert works(env, env.admin_token) == 200


# --- the client secret ---------------------------------------------------------------------
def test_the_secret_is_shown_by_create_and_rotate_only(env):
    app = owner_app(env)
    secret, app_id = app["client_secret"], app["app_id"]
    answers = {
        "update": env.call("/identity/app/update", {"app_id": app_id, "name": "renamed"}),
        "get": env.call("/identity/app/get", {"app_id": app_id}),
        "list": env.call("/identity/app/list", {}),
        "list by id": env.call("/identity/app/list", {"app_id": app_id}),
        "disable": env.call("/identity/app/disable", {"app_id": app_id}),
        "enable": env.call("/identity/app/enable", {"app_id": app_id}),
        "stat": env.call("/identity/app/stat", {"query": {"distinct": "client_id"}}),
    }
    for verb, response in answers.items():
        assert response.status_code == 200, (verb, response.text)
        assert "client_secret" not in response.text, verb
        assert secret not in response.text, verb
    assert answers["get"].json()["name"] == "renamed"

    rotated = env.ok("/identity/app/generate-client-secret", {"app_id": app_id})
    assert rotated["client_secret"] and rotated["client_secret"] != secret
    assert rotated["client_id"] != app["client_id"]
    again = env.ok("/identity/app/get", {"app_id": app_id})
    assert "client_secret" not in again
    assert again["client_id"] == rotated["client_id"]

    # never at rest in the clear
    with env.runtime.store.begin() as conn:
        stored = repr(conn.execute(select(apps)).all())
    assert secret not in stored and rotated["client_secret"] not in stored


def test_the_secret_is_a_spaceone_v2_jwt_signed_with_eddsa(env):
    project = new_project(env)
    cases = {
        "domain": create_app(env, "managed-domain-admin"),
        "workspace": owner_app(env),
        "project": create_app(
            env, "managed-workspace-member", workspace_id=env.workspace_id, project_id=project
        ),
    }
    public = serialization.load_pem_public_key(public_key_pem(env))
    for label, app in cases.items():
        secret = app["client_secret"]
        assert jwt.get_unverified_header(secret)["alg"] == "EdDSA", label
        claims = jwt.decode(secret, options={"verify_signature": False})
        assert set(claims) == V2_CLAIMS, label
        assert claims["typ"] == "CLIENT_SECRET"
        assert claims["own"] == "APP"
        assert claims["ver"] == "2.0"
        assert claims["did"] == env.domain_id
        assert claims["wid"] == ("*" if label == "domain" else env.workspace_id), label
        assert claims["rol"] == app["role_type"]
        assert claims["jti"] == app["client_id"]
        assert claims["aud"] == app["app_id"]
        assert abs(claims["iat"] - utcnow().timestamp()) < 60
        assert abs(claims["exp"] - parse_iso(app["expired_at"]).timestamp()) < 1
        # and it really is signed by the domain's key
        verified = jwt.decode(secret, public, algorithms=["EdDSA"], options={"verify_aud": False})
        assert verified == claims
    assert cases["project"]["role_type"] == "WORKSPACE_MEMBER"

    # rotating with a new expiry carries it into the new secret
    new_expiry = datetime.now(UTC) + timedelta(days=30)
    rotated = env.ok(
        "/identity/app/generate-client-secret",
        {"app_id": cases["workspace"]["app_id"], "expired_at": new_expiry.isoformat()},
    )
    claims = jwt.decode(rotated["client_secret"], options={"verify_signature": False})
    assert set(claims) == V2_CLAIMS
    assert claims["jti"] == rotated["client_id"] != cases["workspace"]["client_id"]
    assert abs(claims["exp"] - new_expiry.timestamp()) < 1


def test_rotating_revokes_the_old_secret_on_the_next_request(env):
    app = owner_app(env)
    old = app["client_secret"]
    assert works(env, old) == 200
    new = env.ok("/identity/app/generate-client-secret", {"app_id": app["app_id"]})
    detail = _error(env.call("/identity/workspace/list", {}, old), 401)
    assert detail["code"] == "ERROR_AUTHENTICATE_FAILURE"
    assert works(env, new["client_secret"]) == 200
    # rotating again revokes the second one too
    newer = env.ok("/identity/app/generate-client-secret", {"app_id": app["app_id"]})
    assert works(env, new["client_secret"]) == 401
    assert works(env, old) == 401
    assert works(env, newer["client_secret"]) == 200


def test_a_refused_rotation_keeps_the_old_secret(env):
    app = owner_app(env)
    now = datetime.now(UTC)
    for expired_at in (now - timedelta(days=1), now + timedelta(days=400)):
        body = {"app_id": app["app_id"], "expired_at": expired_at.isoformat()}
        _error(env.call("/identity/app/generate-client-secret", body), 400)
    assert env.ok("/identity/app/get", {"app_id": app["app_id"]})["client_id"] == app["client_id"]
    assert works(env, app["client_secret"]) == 200


def test_an_app_can_rotate_its_own_secret_and_the_old_one_dies_at_once(env):
    app = owner_app(env)
    old = app["client_secret"]
    new = env.ok("/identity/app/generate-client-secret", {"app_id": app["app_id"]}, old)
    assert works(env, old) == 401
    assert works(env, new["client_secret"]) == 200


def test_disable_enable_and_delete_take_effect_on_the_next_request(env):
    app = owner_app(env)
    secret, app_id = app["client_secret"], app["app_id"]
    assert works(env, secret) == 200

    env.ok("/identity/app/disable", {"app_id": app_id})
    assert env.ok("/identity/app/get", {"app_id": app_id})["state"] == "DISABLED"
    detail = _error(env.call("/identity/workspace/list", {}, secret), 401)
    assert detail["code"] == "ERROR_AUTHENTICATE_FAILURE"

    env.ok("/identity/app/enable", {"app_id": app_id})
    assert env.ok("/identity/app/get", {"app_id": app_id})["state"] == "ENABLED"
    assert works(env, secret) == 200

    env.ok("/identity/app/delete", {"app_id": app_id})
    _error(env.call("/identity/workspace/list", {}, secret), 401)
    _error(env.call("/identity/app/get", {"app_id": app_id}), 404)
    # the bootstrap admin is untouched by all this
    assert works(env, env.admin_token) == 200


def test_disabling_a_workspace_refuses_its_apps_until_it_is_enabled(env):
    ws = env.ok("/identity/workspace/create", {"name": "team"})["workspace_id"]
    project = new_project(env, ws)
    owner = owner_app(env, ws)["client_secret"]
    member = create_app(env, "managed-workspace-member", workspace_id=ws, project_id=project)[
        "client_secret"
    ]
    default_owner = owner_app(env)["client_secret"]
    for token in (owner, member):
        assert works(env, token) == 200

    env.ok("/identity/workspace/disable", {"workspace_id": ws})
    for token in (owner, member):
        response = env.call("/identity/project/list", {}, token)
        assert _error(response, 403)["code"] == "ERROR_PERMISSION_DENIED"
    # other workspaces and the domain admin carry on
    assert works(env, default_owner) == 200
    assert works(env, env.admin_token) == 200

    env.ok("/identity/workspace/enable", {"workspace_id": ws})
    for token in (owner, member):
        answer = env.ok("/identity/project/list", {}, token)
        assert [p["project_id"] for p in answer["results"]] == [project]


def test_forged_and_tampered_tokens_are_401(env):
    app = owner_app(env)
    real = app["client_secret"]
    claims = jwt.decode(real, options={"verify_signature": False})
    admin_claims = {**claims, "rol": "DOMAIN_ADMIN", "wid": "*"}

    other_key = Ed25519PrivateKey.generate()
    pem = public_key_pem(env)
    head, body, signature = real.split(".")
    tampered_body = _b64(json.dumps(admin_claims).encode())
    with env.runtime.store.begin() as conn:
        # correctly signed, but for an app that does not exist
        ghost = issue_client_secret(
            conn,
            env.runtime.sealer,
            domain_id=env.domain_id,
            workspace_id=env.workspace_id,
            role_type="WORKSPACE_OWNER",
            app_id="app-000000000000",
            client_id=claims["jti"],
            expires_at=utcnow() + timedelta(days=1),
        )

    forged = {
        "another Ed25519 key": jwt.encode(claims, other_key, algorithm="EdDSA"),
        "another key, admin claims": jwt.encode(admin_claims, other_key, algorithm="EdDSA"),
        "alg none": _raw_jwt({"alg": "none", "typ": "JWT"}, claims),
        "alg none, admin claims": _raw_jwt({"alg": "none", "typ": "JWT"}, admin_claims),
        "HS256 keyed with the public key": _raw_jwt(
            {"alg": "HS256", "typ": "JWT"},
            claims,
            lambda data: hmac.new(pem, data, hashlib.sha256).digest(),
        ),
        "claims changed, signature kept": f"{head}.{tampered_body}.{signature}",
        "signature cut off": f"{head}.{body}.",
        "signature of another token": f"{head}.{body}.{env.admin_token.split('.')[2]}",
        "not a JWT": "definitely-not-a-token",
        "correctly signed for a missing app": ghost,
    }
    for label, token in forged.items():
        for header in ("bearer", "x-auth-token"):
            response = env.call("/identity/workspace/list", {}, token, header=header)
            detail = _error(response, 401)
            assert detail["code"] == "ERROR_AUTHENTICATE_FAILURE", (label, header)
    # the untouched original still works, so the 401s above are about the forgery
    assert works(env, real) == 200


def test_bearer_and_x_auth_token_both_authenticate(env):
    secret = owner_app(env)["client_secret"]
    for token in (env.admin_token, secret):
        for header in ("bearer", "x-auth-token"):
            response = env.call("/identity/domain/get", {}, token, header=header)
            assert response.status_code == 200, (header, response.text)
            assert response.json()["domain_id"] == env.domain_id
    # lowercase scheme is fine too; a non-Bearer scheme is no token at all
    lower = env.client.post(
        "/identity/domain/get", json={}, headers={"Authorization": f"bearer {secret}"}
    )
    assert lower.status_code == 200
    basic = env.client.post(
        "/identity/domain/get", json={}, headers={"Authorization": f"Basic {secret}"}
    )
    _error(basic, 401)


# --- member scoping ------------------------------------------------------------------------
def _visible(env: Any, token: str) -> tuple[set[str], set[str]]:
    projects = env.ok("/identity/project/list", {}, token)
    accounts = env.ok("/identity/service-account/list", {}, token)
    assert projects["total_count"] == len(projects["results"])
    assert accounts["total_count"] == len(accounts["results"])
    return (
        {p["project_id"] for p in projects["results"]},
        {a["service_account_id"] for a in accounts["results"]},
    )


def test_a_project_group_app_sees_the_projects_below_it_recursively(env):
    # g1 > g2 > g3, and an unrelated tree gx; projects at each level and at the top
    g1 = new_group(env)
    g2 = new_group(env, g1)
    g3 = new_group(env, g2)
    gx = new_group(env)
    p1, p2, p3 = (
        new_project(env, project_group_id=g1),
        new_project(env, project_group_id=g2),
        new_project(env, project_group_id=g3),
    )
    p_out = new_project(env, project_group_id=gx)
    p_top = new_project(env)
    sa = {p: new_account(env, p) for p in (p1, p2, p3, p_out, p_top)}

    top = create_app(
        env, "managed-workspace-member", workspace_id=env.workspace_id, project_group_id=g1
    )["client_secret"]
    middle = create_app(
        env, "managed-workspace-member", workspace_id=env.workspace_id, project_group_id=g2
    )["client_secret"]

    assert _visible(env, top) == ({p1, p2, p3}, {sa[p1], sa[p2], sa[p3]})
    assert _visible(env, middle) == ({p2, p3}, {sa[p2], sa[p3]})

    assert env.ok("/identity/project/get", {"project_id": p3}, top)["project_group_id"] == g3
    missing = _error(env.call("/identity/project/get", {"project_id": "project-0"}, top), 404)
    for outside in (p_out, p_top):
        detail = _error(env.call("/identity/project/get", {"project_id": outside}, top), 404)
        assert detail["code"] == missing["code"] == "ERROR_NOT_FOUND"
        assert detail["message"].replace(outside, "<id>") == missing["message"].replace(
            "project-0", "<id>"
        )
        account = {"service_account_id": sa[outside]}
        _error(env.call("/identity/service-account/get", account, top), 404)
    _error(env.call("/identity/project/get", {"project_id": p1}, middle), 404)
    # stat counts the same projects list shows
    stat = env.ok("/identity/project/stat", {"query": {"distinct": "project_id"}}, top)
    assert set(stat["results"]) == {p1, p2, p3}

    # moving a project into the tree shows it on the very next request, same secret
    env.ok("/identity/project/update", {"project_id": p_out, "project_group_id": g3})
    assert _visible(env, top) == ({p1, p2, p3, p_out}, {sa[p1], sa[p2], sa[p3], sa[p_out]})
    assert _visible(env, middle)[0] == {p2, p3, p_out}
    assert env.ok("/identity/project/get", {"project_id": p_out}, top)["project_id"] == p_out

    # ...and moving it out hides it again
    env.ok("/identity/project/update", {"project_id": p_out, "project_group_id": None})
    assert _visible(env, top)[0] == {p1, p2, p3}
    _error(env.call("/identity/project/get", {"project_id": p_out}, top), 404)

    # moving a whole group under the tree brings its projects along
    env.ok("/identity/project-group/update", {"project_group_id": gx, "parent_group_id": g3})
    env.ok("/identity/project/update", {"project_id": p_out, "project_group_id": gx})
    assert _visible(env, top)[0] == {p1, p2, p3, p_out}
    assert _visible(env, middle)[0] == {p2, p3, p_out}


def test_a_project_app_sees_only_its_project(env):
    mine, other = new_project(env), new_project(env)
    sa_mine, sa_other = new_account(env, mine), new_account(env, other)
    token = create_app(
        env, "managed-workspace-member", workspace_id=env.workspace_id, project_id=mine
    )["client_secret"]
    assert _visible(env, token) == ({mine}, {sa_mine})
    _error(env.call("/identity/project/get", {"project_id": other}, token), 404)
    _error(env.call("/identity/service-account/get", {"service_account_id": sa_other}, token), 404)
    # a member cannot put an account into a project it does not have
    response = env.call(
        "/identity/service-account/create",
        {"name": "sneak", "provider": "aws", "project_id": other},
        token,
    )
    _error(response, 404)
    response = env.call(
        "/identity/service-account/update",
        {"service_account_id": sa_mine, "project_id": other},
        token,
    )
    _error(response, 404)
    assert (
        env.ok("/identity/service-account/get", {"service_account_id": sa_mine})["project_id"]
        == mine
    )


# --- workspace isolation -------------------------------------------------------------------
def test_another_workspaces_owner_cannot_see_or_touch_workspace_a(env):
    a = env.workspace_id
    group = new_group(env)
    project = new_project(env, project_group_id=group)
    account = new_account(env, project)
    a_app = owner_app(env)
    a_ids = {a, group, project, account, a_app["app_id"]}

    b = env.ok("/identity/workspace/create", {"name": "B"})["workspace_id"]
    b_project = new_project(env, b, project_group_id=new_group(env, workspace_id=b))
    b_account = new_account(env, b_project)
    b_owner = owner_app(env, b)
    token = b_owner["client_secret"]

    probes = {
        "project": ("project_id", project, "project-000000000000", ["get", "update", "delete"]),
        "app": (
            "app_id",
            a_app["app_id"],
            "app-000000000000",
            ["get", "update", "disable", "enable", "generate-client-secret", "delete"],
        ),
        "service-account": (
            "service_account_id",
            account,
            "sa-000000000000",
            ["get", "update", "update-secret-data", "delete"],
        ),
        "project-group": ("project_group_id", group, "pg-000000000000", ["get", "delete"]),
    }
    extra = {"update-secret-data": {"secret_data": {"k": "v"}}}
    for resource, (key, real_id, missing_id, verbs) in probes.items():
        for verb in verbs:
            path = f"/identity/{resource}/{verb}"
            seen = _error(env.call(path, {key: real_id, **extra.get(verb, {})}, token), 404)
            gone = _error(env.call(path, {key: missing_id, **extra.get(verb, {})}, token), 404)
            assert seen["code"] == gone["code"] == "ERROR_NOT_FOUND", path
            assert seen["message"].replace(real_id, "<id>") == gone["message"].replace(
                missing_id, "<id>"
            ), path

    # nothing of A changed: the app still works, everything still exists as it was
    assert works(env, a_app["client_secret"]) == 200
    assert env.ok("/identity/app/get", {"app_id": a_app["app_id"]})["state"] == "ENABLED"
    assert env.ok("/identity/project/get", {"project_id": project})["name"].startswith("project")
    env.ok("/identity/service-account/get", {"service_account_id": account})
    env.ok("/identity/project-group/get", {"project_group_id": group})

    # nor can B's owner create things in A or aim them at A's objects
    for path, body in {
        "/identity/project/create": {"name": "intruder", "workspace_id": a},
        "/identity/project-group/create": {"name": "intruder", "workspace_id": a},
        "/identity/app/create": {
            "name": "intruder",
            "role_id": "managed-workspace-owner",
            "workspace_id": a,
        },
        "/identity/service-account/create": {
            "name": "intruder",
            "provider": "aws",
            "project_id": project,
        },
        "/identity/service-account/update": {
            "service_account_id": b_account,
            "project_id": project,
        },
        "/identity/workspace/get": {"workspace_id": a},
    }.items():
        _error(env.call(path, body, token), 404)

    # lists and stats never show A, even when asked for A by name
    lists = {
        "/identity/project/list": [{}, {"workspace_id": a}, {"project_id": project}],
        "/identity/project-group/list": [{}, {"workspace_id": a}],
        "/identity/app/list": [{}, {"workspace_id": a}, {"app_id": a_app["app_id"]}],
        "/identity/service-account/list": [
            {},
            {"workspace_id": a},
            {"query": {"filter": [{"k": "project_id", "v": project, "o": "eq"}]}},
        ],
        "/identity/workspace/list": [{}, {"workspace_id": a}],
    }
    for path, bodies in lists.items():
        for body in bodies:
            answer = env.ok(path, body, token)
            assert not (json.dumps(answer).count(a) or any(i in json.dumps(answer) for i in a_ids))
            assert all(r.get("workspace_id") == b for r in answer["results"]), (path, answer)
            if body == {}:
                assert answer["total_count"] >= 1, path  # B's own records are there
    for resource in ("project", "project-group", "app", "service-account", "workspace"):
        for field in ("workspace_id", f"{resource.replace('-', '_')}_id"):
            stat = env.ok(f"/identity/{resource}/stat", {"query": {"distinct": field}}, token)
            assert not set(stat["results"]) & a_ids, (resource, field, stat)
        stat = env.ok(
            f"/identity/{resource}/stat",
            {"query": {"aggregate": [{"group": {"fields": [{"operator": "count", "name": "n"}]}}]}},
            token,
        )
        assert json.dumps(stat).count(a) == 0
    counts = env.ok(
        "/identity/project/stat",
        {"query": {"aggregate": [{"group": {"fields": [{"operator": "count", "name": "n"}]}}]}},
        token,
    )
    assert counts["results"] == [{"n": 1}]  # only B's project is counted
    assert {p["project_id"] for p in env.ok("/identity/project/list", {}, token)["results"]} == {
        b_project
    }
