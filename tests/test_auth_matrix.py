"""The authorisation matrix: every registered verb, times every kind of caller.

`ALLOWED` below is the single source of truth for who may call what. "Allowed" means the role gate
lets the call through: the answer is 200, or 404 when the caller is the owner of another
workspace and the body names an object of workspace A (invisible is the same as missing).
Everyone else gets 403 (authenticated) or 401 (no token, deleted app, rotated or expired secret,
a user's refresh token sent as a bearer). Signed-in users go through the same gate as apps: a user
bound as owner (member) of A may call exactly what the owner (member) app may. The public verbs
(signing in) answer every caller alike, token or not.

A verb registered without a row here, or a row for a verb that does not exist, fails the test:
adding a verb means deciding who may call it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from skyatlas.api.app import build_registry
from skyatlas.identity.tokens import issue_client_secret
from skyatlas.ids import utcnow

# --- callers --------------------------------------------------------------------------------
ADMIN = "admin"  # the bootstrap DOMAIN_ADMIN app
OWNER = "owner"  # managed-workspace-owner in workspace A
MEMBER = "member"  # managed-workspace-member bound to project P in A
READER = "reader"  # custom WORKSPACE_OWNER role with only read permissions, in A
OTHER_OWNER = "other_owner"  # managed-workspace-owner of workspace B
ANONYMOUS = "anonymous"  # no token at all
REVOKED = "revoked"  # the secret of an app that was deleted
ROTATED = "rotated"  # the previous secret of an app whose secret was regenerated
EXPIRED = "expired"  # a correctly signed secret whose `exp` is in the past
USER_OWNER = "user_owner"  # a user's access token, bound as managed-workspace-owner of A
USER_MEMBER = "user_member"  # a user's access token, bound as member to project P in A
USER_REFRESH = "user_refresh"  # that owner user's refresh token, sent as a bearer

AUTHENTICATED = (ADMIN, OWNER, MEMBER, READER, OTHER_OWNER)
UNAUTHENTICATED = (ANONYMOUS, REVOKED, ROTATED, EXPIRED, USER_REFRESH)
#: Users are allowed what the app of the same role and place is allowed.
USERS_AS = {USER_OWNER: OWNER, USER_MEMBER: MEMBER}
CALLERS = AUTHENTICATED + tuple(USERS_AS) + UNAUTHENTICATED

# --- who may call what ----------------------------------------------------------------------
# The read-only custom role is of type WORKSPACE_OWNER, so it passes every read verb an owner
# passes and no write verb at all.
ONLY_ADMIN = frozenset({ADMIN})
OWNERS_WRITE = frozenset({ADMIN, OWNER, OTHER_OWNER})
OWNERS_READ = OWNERS_WRITE | {READER}
ALL_WRITE = OWNERS_WRITE | {MEMBER}
ALL_READ = ALL_WRITE | {READER}
#: Public verbs (signing in): every caller, a token or none.
PUBLIC = frozenset(CALLERS)
USER_PASSWORD = "matrix-pass-1"

ALLOWED: dict[tuple[str, str, str], frozenset[str]] = {
    ("identity", "app", "create"): OWNERS_WRITE,
    ("identity", "app", "delete"): OWNERS_WRITE,
    ("identity", "app", "disable"): OWNERS_WRITE,
    ("identity", "app", "enable"): OWNERS_WRITE,
    ("identity", "app", "generate-client-secret"): OWNERS_WRITE,
    ("identity", "app", "get"): OWNERS_READ,
    ("identity", "app", "list"): OWNERS_READ,
    ("identity", "app", "stat"): OWNERS_READ,
    ("identity", "app", "update"): OWNERS_WRITE,
    ("identity", "domain", "get"): ALL_READ,
    ("identity", "project", "create"): OWNERS_WRITE,
    ("identity", "project", "delete"): OWNERS_WRITE,
    ("identity", "project", "get"): ALL_READ,
    ("identity", "project", "list"): ALL_READ,
    ("identity", "project", "stat"): ALL_READ,
    ("identity", "project", "update"): OWNERS_WRITE,
    ("identity", "project-group", "create"): OWNERS_WRITE,
    ("identity", "project-group", "delete"): OWNERS_WRITE,
    ("identity", "project-group", "get"): ALL_READ,
    ("identity", "project-group", "list"): ALL_READ,
    ("identity", "project-group", "stat"): ALL_READ,
    ("identity", "project-group", "update"): OWNERS_WRITE,
    ("identity", "role", "create"): ONLY_ADMIN,
    ("identity", "role", "delete"): ONLY_ADMIN,
    ("identity", "role", "get"): OWNERS_READ,
    ("identity", "role", "list"): OWNERS_READ,
    ("identity", "role", "update"): ONLY_ADMIN,
    ("identity", "role-binding", "create"): OWNERS_WRITE,
    ("identity", "role-binding", "delete"): OWNERS_WRITE,
    ("identity", "role-binding", "get"): OWNERS_READ,
    ("identity", "role-binding", "list"): OWNERS_READ,
    ("identity", "service-account", "create"): ALL_WRITE,
    ("identity", "service-account", "delete"): ALL_WRITE,
    ("identity", "service-account", "get"): ALL_READ,
    ("identity", "service-account", "list"): ALL_READ,
    ("identity", "service-account", "stat"): ALL_READ,
    ("identity", "service-account", "update"): ALL_WRITE,
    ("identity", "service-account", "update-secret-data"): ALL_WRITE,
    ("identity", "token", "grant"): PUBLIC,
    ("identity", "token", "issue"): PUBLIC,
    ("identity", "user", "create"): ONLY_ADMIN,
    ("identity", "user", "delete"): ONLY_ADMIN,
    ("identity", "user", "disable"): ONLY_ADMIN,
    ("identity", "user", "enable"): ONLY_ADMIN,
    ("identity", "user", "get"): OWNERS_READ,
    ("identity", "user", "list"): OWNERS_READ,
    ("identity", "user", "stat"): OWNERS_READ,
    ("identity", "user", "update"): ONLY_ADMIN,
    ("identity", "workspace", "create"): ONLY_ADMIN,
    ("identity", "workspace", "delete"): ONLY_ADMIN,
    ("identity", "workspace", "disable"): ONLY_ADMIN,
    ("identity", "workspace", "enable"): ONLY_ADMIN,
    ("identity", "workspace", "get"): ALL_READ,
    ("identity", "workspace", "list"): ALL_READ,
    ("identity", "workspace", "stat"): ALL_READ,
    ("identity", "workspace", "update"): ONLY_ADMIN,
    ("inventory", "cloud-service", "analyze"): ALL_READ,
    ("inventory", "cloud-service", "create"): ALL_WRITE,
    ("inventory", "cloud-service", "delete"): ALL_WRITE,
    ("inventory", "cloud-service", "get"): ALL_READ,
    ("inventory", "cloud-service", "list"): ALL_READ,
    ("inventory", "cloud-service", "stat"): ALL_READ,
    ("inventory", "cloud-service", "update"): ALL_WRITE,
    ("inventory", "cloud-service-type", "create"): OWNERS_WRITE,
    ("inventory", "cloud-service-type", "delete"): OWNERS_WRITE,
    ("inventory", "cloud-service-type", "get"): ALL_READ,
    ("inventory", "cloud-service-type", "list"): ALL_READ,
    ("inventory", "cloud-service-type", "stat"): ALL_READ,
    ("inventory", "cloud-service-type", "update"): OWNERS_WRITE,
    ("inventory", "region", "create"): OWNERS_WRITE,
    ("inventory", "region", "delete"): OWNERS_WRITE,
    ("inventory", "region", "get"): ALL_READ,
    ("inventory", "region", "list"): ALL_READ,
    ("inventory", "region", "stat"): ALL_READ,
    ("inventory", "region", "update"): OWNERS_WRITE,
    ("inventory", "collector", "collect"): OWNERS_WRITE,
    ("inventory", "collector", "create"): OWNERS_WRITE,
    ("inventory", "collector", "delete"): OWNERS_WRITE,
    ("inventory", "collector", "get"): ALL_READ,
    ("inventory", "collector", "list"): ALL_READ,
    ("inventory", "collector", "stat"): ALL_READ,
    ("inventory", "collector", "update"): OWNERS_WRITE,
    ("inventory", "job", "cancel"): OWNERS_WRITE,
    ("inventory", "job", "delete"): OWNERS_WRITE,
    ("inventory", "job", "get"): ALL_READ,
    ("inventory", "job", "list"): ALL_READ,
    ("inventory", "job", "stat"): ALL_READ,
    ("inventory", "job-task", "get"): ALL_READ,
    ("inventory", "job-task", "list"): ALL_READ,
    ("inventory", "job-task", "stat"): ALL_READ,
    ("cost-analysis", "data-source", "register"): OWNERS_WRITE,
    ("cost-analysis", "data-source", "update"): OWNERS_WRITE,
    ("cost-analysis", "data-source", "deregister"): OWNERS_WRITE,
    ("cost-analysis", "data-source", "sync"): OWNERS_WRITE,
    ("cost-analysis", "data-source", "get"): ALL_READ,
    ("cost-analysis", "data-source", "list"): ALL_READ,
    ("cost-analysis", "data-source", "stat"): ALL_READ,
    ("cost-analysis", "cost", "create"): OWNERS_WRITE,
    ("cost-analysis", "cost", "delete"): OWNERS_WRITE,
    ("cost-analysis", "cost", "get"): ALL_READ,
    ("cost-analysis", "cost", "list"): ALL_READ,
    ("cost-analysis", "cost", "stat"): ALL_READ,
    ("cost-analysis", "cost", "analyze"): ALL_READ,
    ("cost-analysis", "job", "get"): ALL_READ,
    ("cost-analysis", "job", "list"): ALL_READ,
    ("cost-analysis", "job", "cancel"): OWNERS_WRITE,
    ("cost-analysis", "budget", "create"): OWNERS_WRITE,
    ("cost-analysis", "budget", "update"): OWNERS_WRITE,
    ("cost-analysis", "budget", "delete"): OWNERS_WRITE,
    ("cost-analysis", "budget", "get"): ALL_READ,
    ("cost-analysis", "budget", "list"): ALL_READ,
    ("cost-analysis", "budget-usage", "list"): ALL_READ,
    ("cost-analysis", "budget-usage", "analyze"): ALL_READ,
}


def _registered() -> set[tuple[str, str, str]]:
    return {(v.service, v.resource, v.verb) for v in build_registry()}


def test_the_table_has_exactly_one_row_per_registered_verb():
    registered = _registered()
    missing = sorted(registered - ALLOWED.keys())
    stale = sorted(ALLOWED.keys() - registered)
    assert not missing, f"verbs registered without a row in ALLOWED: {missing}"
    assert not stale, f"rows in ALLOWED for verbs that are not registered: {stale}"
    public = {(v.service, v.resource, v.verb) for v in build_registry() if v.public}
    assert {key for key, callers in ALLOWED.items() if callers == PUBLIC} == public
    for key, callers in ALLOWED.items():
        if key in public:
            continue
        assert callers <= set(AUTHENTICATED), (key, callers - set(AUTHENTICATED))
        assert ADMIN in callers, f"{key}: the domain admin must be able to call every verb"
    # a read-only role never writes, and the table must not say otherwise
    for verb in build_registry():
        key = (verb.service, verb.resource, verb.verb)
        if key in ALLOWED and verb.action == "write" and not verb.public:
            assert READER not in ALLOWED[key], f"{verb.path}: the read-only role may write"
        if key in ALLOWED and verb.action == "read" and OWNER in ALLOWED[key]:
            assert READER in ALLOWED[key], f"{verb.path}: the read-only owner role cannot read"


def test_every_verb_has_a_body_in_the_matrix():
    registered = _registered()
    assert sorted(registered - BODIES.keys()) == [], "give every new verb a body in BODIES"
    assert sorted(BODIES.keys() - registered) == []


# --- the world the matrix runs in -----------------------------------------------------------
_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


@dataclass
class World:
    env: Any
    ws_a: str
    ws_b: str
    group: str  # G: a project group in A holding P
    project: str  # P: the member's project in A
    account: str  # S: a service account in P
    target_app: str  # T: an app in A that is nobody's caller (update / rotate / enable ...)
    custom_role: str  # X: a custom role no app uses (role get / update)
    region: str  # R: a region of A
    cloud_service: str  # C: a cloud service of A in project P (so the member may touch it)
    cloud_service_type: str  # CT: a cloud service type of A
    collector: str  # K: an aws collector of A (its jobs never run: the workers are stopped)
    job: str  # J: a collect of K, IN_PROGRESS
    job_task: str  # its task, for S in project P (so the member may see it)
    data_source: str  # L: a LOCAL cost data source of A
    cost: str  # a cost row of L in project P (so the member may see it)
    feed: str  # F: a focus data source of A
    cost_job: str  # a sync of F, IN_PROGRESS (the workers are stopped)
    budget: str  # a TOTAL budget of project P (so the member may read it)
    user: str  # U: a user bound to A (as member of P) that is nobody's caller
    binding: str  # U's role binding
    signer: str  # the user behind USER_OWNER, who signs in with USER_PASSWORD
    refresh: str  # its refresh token
    tokens: dict[str, str | None]
    a_ids: set[str] = field(default_factory=set)

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.env.ok(path, body)

    # fresh objects for the verbs that destroy their target, one per call
    def fresh_project(self) -> str:
        body = {"name": unique("doomed"), "workspace_id": self.ws_a}
        pid = self.admin("/identity/project/create", body)["project_id"]
        self.a_ids.add(pid)
        return pid

    def fresh_group(self) -> str:
        body = {"name": unique("doomed-group"), "workspace_id": self.ws_a}
        gid = self.admin("/identity/project-group/create", body)["project_group_id"]
        self.a_ids.add(gid)
        return gid

    def fresh_app(self) -> str:
        app = self.admin(
            "/identity/app/create",
            {
                "name": unique("doomed-app"),
                "role_id": "managed-workspace-owner",
                "resource_group": "WORKSPACE",
                "workspace_id": self.ws_a,
            },
        )
        self.a_ids.add(app["app_id"])
        return app["app_id"]

    def fresh_account(self) -> str:
        body = {"name": unique("doomed-sa"), "provider": "aws", "project_id": self.project}
        sa = self.admin("/identity/service-account/create", body)["service_account_id"]
        self.a_ids.add(sa)
        return sa

    def fresh_role(self) -> str:
        body = {
            "name": unique("doomed-role"),
            "role_type": "WORKSPACE_OWNER",
            "permissions": ["identity:Project.read"],
        }
        return self.admin("/identity/role/create", body)["role_id"]

    def fresh_region(self) -> str:
        body = {
            "name": unique("doomed-region"),
            "region_code": unique("xx-doomed"),
            "provider": "aws",
            "workspace_id": self.ws_a,
        }
        region = self.admin("/inventory/region/create", body)["region_id"]
        self.a_ids.add(region)
        return region

    def fresh_cloud_service(self) -> str:
        cid = self.admin("/inventory/cloud-service/create", cloud_service_body(self.project))[
            "cloud_service_id"
        ]
        self.a_ids.add(cid)
        return cid

    def fresh_cloud_service_type(self) -> str:
        body = cloud_service_type_body(self.ws_a, unique("Doomed"))
        type_id = self.admin("/inventory/cloud-service-type/create", body)["cloud_service_type_id"]
        self.a_ids.add(type_id)
        return type_id

    def fresh_collector(self) -> str:
        body = collector_body(self.ws_a, unique("doomed-collector"))
        collector_id = self.admin("/inventory/collector/create", body)["collector_id"]
        self.a_ids.add(collector_id)
        return collector_id

    def fresh_job(self, *, finished: bool) -> str:
        job_id = self.admin("/inventory/collector/collect", {"collector_id": self.collector})[
            "job_id"
        ]
        if finished:
            self.admin("/inventory/job/cancel", {"job_id": job_id})
        self.a_ids.add(job_id)
        return job_id

    def fresh_data_source(self) -> str:
        body = {"name": unique("doomed-ds"), "data_source_type": "LOCAL", "workspace_id": self.ws_a}
        ds = self.admin("/cost-analysis/data-source/register", body)["data_source_id"]
        self.a_ids.add(ds)
        return ds

    def fresh_cost(self) -> str:
        cost = self.admin("/cost-analysis/cost/create", cost_body(self.data_source, self.project))
        self.a_ids.add(cost["cost_id"])
        return cost["cost_id"]

    def fresh_cost_job(self) -> str:
        job = self.admin("/cost-analysis/data-source/sync", {"data_source_id": self.feed})
        self.a_ids.add(job["job_id"])
        return job["job_id"]

    def fresh_budget(self) -> str:
        budget = self.admin("/cost-analysis/budget/create", budget_body(self.ws_a, self.project))
        self.a_ids.add(budget["budget_id"])
        return budget["budget_id"]

    def fresh_user(self) -> str:
        return self.admin("/identity/user/create", {"user_id": unique("doomed-user")})["user_id"]

    def fresh_binding(self) -> str:
        binding = self.admin(
            "/identity/role-binding/create", member_binding(self, self.fresh_user())
        )
        self.a_ids.add(binding["role_binding_id"])
        return binding["role_binding_id"]

    def fresh_workspace(self) -> str:
        return self.admin("/identity/workspace/create", {"name": unique("doomed-ws")})[
            "workspace_id"
        ]


def member_binding(world: World, user_id: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "role_id": "managed-workspace-member",
        "resource_group": "WORKSPACE",
        "workspace_id": world.ws_a,
        "project_id": world.project,
    }


def _user(env: Any, role_id: str, workspace_id: str, **place: Any) -> tuple[str, str]:
    """A user bound to a role in a workspace, and its role binding's id."""
    user_id = unique("user")
    env.ok("/identity/user/create", {"user_id": user_id, "password": USER_PASSWORD})
    body = {"user_id": user_id, "role_id": role_id, "workspace_id": workspace_id, **place}
    return user_id, env.ok("/identity/role-binding/create", body)["role_binding_id"]


def _sign_in(env: Any, user_id: str) -> dict[str, Any]:
    body = {"user_id": user_id, "password": USER_PASSWORD}
    return env.ok("/identity/token/issue", body, None)


def collector_body(workspace_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "plugin_info": {"plugin_id": "aws", "options": {"regions": ["ap-northeast-2"]}},
        "workspace_id": workspace_id,
    }


def cost_body(data_source_id: str, project_id: str) -> dict[str, Any]:
    return {
        "data_source_id": data_source_id,
        "cost": 1.5,
        "billed_date": "2024-05-01",
        "product": "AmazonEC2",
        "project_id": project_id,
    }


def feed_body(workspace_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "plugin_info": {"plugin_id": "focus", "options": {"path": "billing/focus.csv"}},
        "workspace_id": workspace_id,
    }


def budget_body(workspace_id: str, project_id: str) -> dict[str, Any]:
    return {
        "name": unique("budget"),
        "time_unit": "TOTAL",
        "limit": 100.0,
        "start": "2024-05",
        "end": "2024-05",
        "workspace_id": workspace_id,
        "project_id": project_id,
    }


def _cost_world(env: Any, workspace_id: str, project_id: str, prefix: str) -> dict[str, str]:
    """A LOCAL data source with one cost in the project, a focus data source and its sync."""
    body = {"name": f"{prefix}L", "data_source_type": "LOCAL", "workspace_id": workspace_id}
    local = env.ok("/cost-analysis/data-source/register", body)["data_source_id"]
    cost = env.ok("/cost-analysis/cost/create", cost_body(local, project_id))["cost_id"]
    feed = env.ok("/cost-analysis/data-source/register", feed_body(workspace_id, f"{prefix}F"))
    job = env.ok("/cost-analysis/data-source/sync", {"data_source_id": feed["data_source_id"]})
    budget = env.ok("/cost-analysis/budget/create", budget_body(workspace_id, project_id))
    return {
        "data_source": local,
        "cost": cost,
        "feed": feed["data_source_id"],
        "cost_job": job["job_id"],
        "budget": budget["budget_id"],
    }


def cloud_service_body(project_id: str, name: str | None = None) -> dict[str, Any]:
    """A resource without `reference.resource_id`, so repeated creates never collide (409)."""
    return {
        "name": name or unique("vm"),
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "region_code": "ap-northeast-2",
        "project_id": project_id,
        "data": {"compute": {"instance_state": "RUNNING"}},
        "tags": {"aws": {"Name": "matrix"}},
    }


def cloud_service_type_body(workspace_id: str, name: str) -> dict[str, Any]:
    return {"name": name, "group": "EC2", "provider": "aws", "workspace_id": workspace_id}


def _app(env: Any, token: str, role_id: str, workspace_id: str, **extra: Any) -> dict[str, Any]:
    body = {"name": unique("app"), "role_id": role_id, "workspace_id": workspace_id, **extra}
    return env.ok("/identity/app/create", body, token)


def build_world(env: Any) -> World:
    # collection jobs must stay IN_PROGRESS (cancel needs one) and never reach a cloud
    env.runtime.workers.stop()
    ws_a = env.workspace_id
    ws_b = env.ok("/identity/workspace/create", {"name": "B"})["workspace_id"]
    group = env.ok("/identity/project-group/create", {"name": "G", "workspace_id": ws_a})
    project = env.ok(
        "/identity/project/create",
        {"name": "P", "workspace_id": ws_a, "project_group_id": group["project_group_id"]},
    )
    pid = project["project_id"]
    account = env.ok(
        "/identity/service-account/create",
        {"name": "S", "provider": "aws", "project_id": pid, "secret_data": {"key": "k"}},
    )
    owner = _app(env, env.admin_token, "managed-workspace-owner", ws_a, resource_group="WORKSPACE")
    member = _app(
        env,
        env.admin_token,
        "managed-workspace-member",
        ws_a,
        resource_group="PROJECT",
        project_id=pid,
    )
    reader_role = env.ok(
        "/identity/role/create",
        {"name": "Reader", "role_type": "WORKSPACE_OWNER", "permissions": ["*:*.read"]},
    )
    reader = _app(env, env.admin_token, reader_role["role_id"], ws_a)
    target = _app(env, env.admin_token, "managed-workspace-owner", ws_a)
    custom = env.ok(
        "/identity/role/create",
        {"name": "Unused", "role_type": "WORKSPACE_MEMBER", "permissions": ["inventory:"]},
    )

    region = env.ok(
        "/inventory/region/create",
        {"name": "Seoul", "region_code": "ap-northeast-2", "provider": "aws", "workspace_id": ws_a},
    )

    cloud_service = env.ok("/inventory/cloud-service/create", cloud_service_body(pid, "web-a"))
    cloud_service_type = env.ok(
        "/inventory/cloud-service-type/create", cloud_service_type_body(ws_a, "Instance")
    )

    # workspace B has its own objects, so its owner's lists are not trivially empty
    other = _app(env, env.admin_token, "managed-workspace-owner", ws_b)
    b_group = env.ok("/identity/project-group/create", {"name": "BG", "workspace_id": ws_b})
    b_project = env.ok(
        "/identity/project/create",
        {"name": "BP", "workspace_id": ws_b, "project_group_id": b_group["project_group_id"]},
    )
    env.ok(
        "/identity/service-account/create",
        {
            "name": "BS",
            "provider": "aws",
            "project_id": b_project["project_id"],
            "secret_data": {"key": "k"},
        },
    )
    b_collector = env.ok("/inventory/collector/create", collector_body(ws_b, "BK"))
    env.ok("/inventory/collector/collect", {"collector_id": b_collector["collector_id"]})
    env.ok(
        "/inventory/region/create",
        {"name": "Tokyo", "region_code": "ap-northeast-1", "provider": "aws", "workspace_id": ws_b},
    )
    env.ok(
        "/inventory/cloud-service/create",
        cloud_service_body(b_project["project_id"], "web-b"),
    )
    env.ok("/inventory/cloud-service-type/create", cloud_service_type_body(ws_b, "Instance"))

    collector = env.ok("/inventory/collector/create", collector_body(ws_a, "K"))
    job = env.ok("/inventory/collector/collect", {"collector_id": collector["collector_id"]})
    (job_task,) = env.ok("/inventory/job-task/list", {"job_id": job["job_id"]})["results"]
    _cost_world(env, ws_b, b_project["project_id"], "B")
    costs_a = _cost_world(env, ws_a, pid, "A")

    # users: a target in A, a user of B (so B's owner sees some), and two who sign in
    user, binding = _user(env, "managed-workspace-member", ws_a, project_id=pid)
    _user(env, "managed-workspace-owner", ws_b)
    signer, signer_binding = _user(env, "managed-workspace-owner", ws_a)
    signed_in = _sign_in(env, signer)
    user_member, member_binding_id = _user(env, "managed-workspace-member", ws_a, project_id=pid)
    member_token = _sign_in(env, user_member)["access_token"]

    # revoked: an app that was created and deleted
    deleted = _app(env, env.admin_token, "managed-workspace-owner", ws_a)
    env.ok("/identity/app/delete", {"app_id": deleted["app_id"]})
    # rotated: the previous secret of an app whose secret was regenerated
    rotated = _app(env, env.admin_token, "managed-workspace-owner", ws_a)
    env.ok("/identity/app/generate-client-secret", {"app_id": rotated["app_id"]})
    # expired: a correctly signed secret of the (still valid) owner app, with exp in the past
    now = utcnow()
    with env.runtime.store.begin() as conn:
        expired = issue_client_secret(
            conn,
            env.runtime.sealer,
            domain_id=env.domain_id,
            workspace_id=ws_a,
            role_type="WORKSPACE_OWNER",
            app_id=owner["app_id"],
            client_id=owner["client_id"],
            expires_at=now - timedelta(hours=1),
            issued_at=now - timedelta(hours=2),
        )

    world = World(
        env=env,
        ws_a=ws_a,
        ws_b=ws_b,
        group=group["project_group_id"],
        project=pid,
        account=account["service_account_id"],
        target_app=target["app_id"],
        custom_role=custom["role_id"],
        region=region["region_id"],
        cloud_service=cloud_service["cloud_service_id"],
        cloud_service_type=cloud_service_type["cloud_service_type_id"],
        collector=collector["collector_id"],
        job=job["job_id"],
        job_task=job_task["job_task_id"],
        **costs_a,
        user=user,
        binding=binding,
        signer=signer,
        refresh=signed_in["refresh_token"],
        tokens={
            ADMIN: env.admin_token,
            OWNER: owner["client_secret"],
            MEMBER: member["client_secret"],
            READER: reader["client_secret"],
            OTHER_OWNER: other["client_secret"],
            ANONYMOUS: None,
            REVOKED: deleted["client_secret"],
            ROTATED: rotated["client_secret"],
            EXPIRED: expired,
            USER_OWNER: signed_in["access_token"],
            USER_MEMBER: member_token,
            USER_REFRESH: signed_in["refresh_token"],
        },
    )
    world.a_ids |= {
        ws_a,
        world.group,
        pid,
        world.account,
        world.target_app,
        owner["app_id"],
        member["app_id"],
        reader["app_id"],
        rotated["app_id"],
        world.region,
        world.cloud_service,
        world.cloud_service_type,
        world.collector,
        world.job,
        world.job_task,
        *costs_a.values(),
        user,
        binding,
        signer,
        signer_binding,
        user_member,
        member_binding_id,
    }
    # every caller must really be what it claims before the matrix means anything
    for name in (ADMIN, OWNER, MEMBER, READER, OTHER_OWNER, USER_OWNER, USER_MEMBER):
        env.ok("/identity/domain/get", {}, world.tokens[name])
    return world


# --- a realistic body per verb, aimed at workspace A ----------------------------------------
Body = Callable[[World], dict[str, Any]]


def _stat(key: str) -> Body:
    return lambda w: {"query": {"distinct": key}}


BODIES: dict[tuple[str, str, str], Body] = {
    ("identity", "app", "create"): lambda w: {
        "name": unique("new-app"),
        "role_id": "managed-workspace-owner",
        "resource_group": "WORKSPACE",
        "workspace_id": w.ws_a,
    },
    ("identity", "app", "delete"): lambda w: {"app_id": w.fresh_app()},
    ("identity", "app", "disable"): lambda w: {"app_id": w.fresh_app()},
    ("identity", "app", "enable"): lambda w: {"app_id": w.target_app},
    ("identity", "app", "generate-client-secret"): lambda w: {"app_id": w.target_app},
    ("identity", "app", "get"): lambda w: {"app_id": w.target_app},
    ("identity", "app", "list"): lambda w: {},
    ("identity", "app", "stat"): _stat("app_id"),
    ("identity", "app", "update"): lambda w: {"app_id": w.target_app, "tags": {"seen": "yes"}},
    ("identity", "domain", "get"): lambda w: {},
    ("identity", "project", "create"): lambda w: {
        "name": unique("new-project"),
        "workspace_id": w.ws_a,
        "project_group_id": w.group,
    },
    ("identity", "project", "delete"): lambda w: {"project_id": w.fresh_project()},
    ("identity", "project", "get"): lambda w: {"project_id": w.project},
    ("identity", "project", "list"): lambda w: {},
    ("identity", "project", "stat"): _stat("project_id"),
    ("identity", "project", "update"): lambda w: {"project_id": w.project, "tags": {"t": "1"}},
    ("identity", "project-group", "create"): lambda w: {
        "name": unique("new-group"),
        "workspace_id": w.ws_a,
        "parent_group_id": w.group,
    },
    ("identity", "project-group", "delete"): lambda w: {"project_group_id": w.fresh_group()},
    ("identity", "project-group", "get"): lambda w: {"project_group_id": w.group},
    ("identity", "project-group", "list"): lambda w: {},
    ("identity", "project-group", "stat"): _stat("project_group_id"),
    ("identity", "project-group", "update"): lambda w: {
        "project_group_id": w.group,
        "tags": {"t": "1"},
    },
    ("identity", "role", "create"): lambda w: {
        "name": unique("new-role"),
        "role_type": "WORKSPACE_MEMBER",
        "permissions": ["identity:Project.read"],
    },
    ("identity", "role", "delete"): lambda w: {"role_id": w.fresh_role()},
    ("identity", "role", "get"): lambda w: {"role_id": w.custom_role},
    ("identity", "role", "list"): lambda w: {},
    ("identity", "role", "update"): lambda w: {"role_id": w.custom_role, "name": unique("r")},
    ("identity", "role-binding", "create"): lambda w: member_binding(w, w.fresh_user()),
    ("identity", "role-binding", "delete"): lambda w: {"role_binding_id": w.fresh_binding()},
    ("identity", "role-binding", "get"): lambda w: {"role_binding_id": w.binding},
    ("identity", "role-binding", "list"): lambda w: {},
    ("identity", "service-account", "create"): lambda w: {
        "name": unique("new-sa"),
        "provider": "aws",
        "project_id": w.project,
        "data": {"account_id": "123456789012"},
        "secret_data": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s"},
    },
    ("identity", "service-account", "delete"): lambda w: {"service_account_id": w.fresh_account()},
    ("identity", "service-account", "get"): lambda w: {"service_account_id": w.account},
    ("identity", "service-account", "list"): lambda w: {},
    ("identity", "service-account", "stat"): _stat("service_account_id"),
    ("identity", "service-account", "update"): lambda w: {
        "service_account_id": w.account,
        "tags": {"t": "1"},
    },
    ("identity", "service-account", "update-secret-data"): lambda w: {
        "service_account_id": w.account,
        "secret_data": {"aws_access_key_id": "AKIA2", "aws_secret_access_key": "s2"},
    },
    ("identity", "token", "grant"): lambda w: {
        "grant_type": "REFRESH_TOKEN",
        "token": w.refresh,
        "scope": "WORKSPACE",
        "workspace_id": w.ws_a,
    },
    ("identity", "token", "issue"): lambda w: {"user_id": w.signer, "password": USER_PASSWORD},
    ("identity", "user", "create"): lambda w: {"user_id": unique("new-user")},
    ("identity", "user", "delete"): lambda w: {"user_id": w.fresh_user()},
    ("identity", "user", "disable"): lambda w: {"user_id": w.fresh_user()},
    ("identity", "user", "enable"): lambda w: {"user_id": w.user},
    ("identity", "user", "get"): lambda w: {"user_id": w.user},
    ("identity", "user", "list"): lambda w: {},
    ("identity", "user", "stat"): _stat("user_id"),
    ("identity", "user", "update"): lambda w: {"user_id": w.user, "tags": {"t": "1"}},
    ("identity", "workspace", "create"): lambda w: {"name": unique("new-ws")},
    ("identity", "workspace", "delete"): lambda w: {"workspace_id": w.fresh_workspace()},
    ("identity", "workspace", "disable"): lambda w: {"workspace_id": w.fresh_workspace()},
    ("identity", "workspace", "enable"): lambda w: {"workspace_id": w.ws_a},
    ("identity", "workspace", "get"): lambda w: {"workspace_id": w.ws_a},
    ("identity", "workspace", "list"): lambda w: {},
    ("identity", "workspace", "stat"): _stat("workspace_id"),
    ("identity", "workspace", "update"): lambda w: {"workspace_id": w.ws_a, "tags": {"t": "1"}},
    ("inventory", "cloud-service", "analyze"): lambda w: {
        # grouped by id, so B's owner would show A's ids if it saw A's resources
        "query": {"group_by": ["cloud_service_id"], "fields": {"n": {"operator": "count"}}}
    },
    ("inventory", "cloud-service", "create"): lambda w: cloud_service_body(w.project),
    ("inventory", "cloud-service", "delete"): lambda w: {
        "cloud_service_id": w.fresh_cloud_service()
    },
    ("inventory", "cloud-service", "get"): lambda w: {"cloud_service_id": w.cloud_service},
    ("inventory", "cloud-service", "list"): lambda w: {},
    ("inventory", "cloud-service", "stat"): _stat("cloud_service_id"),
    ("inventory", "cloud-service", "update"): lambda w: {
        "cloud_service_id": w.cloud_service,
        "data": {"seen": "yes"},
        "tags": {"aws": {"t": "1"}},
    },
    ("inventory", "cloud-service-type", "create"): lambda w: cloud_service_type_body(
        w.ws_a, unique("NewType")
    ),
    ("inventory", "cloud-service-type", "delete"): lambda w: {
        "cloud_service_type_id": w.fresh_cloud_service_type()
    },
    ("inventory", "cloud-service-type", "get"): lambda w: {
        "cloud_service_type_id": w.cloud_service_type
    },
    ("inventory", "cloud-service-type", "list"): lambda w: {},
    ("inventory", "cloud-service-type", "stat"): _stat("cloud_service_type_id"),
    ("inventory", "cloud-service-type", "update"): lambda w: {
        "cloud_service_type_id": w.cloud_service_type,
        "labels": ["seen"],
    },
    ("inventory", "region", "create"): lambda w: {
        "name": unique("new-region"),
        "region_code": unique("xx-new"),
        "provider": "aws",
        "workspace_id": w.ws_a,
    },
    ("inventory", "region", "delete"): lambda w: {"region_id": w.fresh_region()},
    ("inventory", "region", "get"): lambda w: {"region_id": w.region},
    ("inventory", "region", "list"): lambda w: {},
    ("inventory", "region", "stat"): _stat("region_id"),
    ("inventory", "region", "update"): lambda w: {"region_id": w.region, "tags": {"t": "1"}},
    ("inventory", "collector", "collect"): lambda w: {"collector_id": w.collector},
    ("inventory", "collector", "create"): lambda w: collector_body(w.ws_a, unique("new-k")),
    ("inventory", "collector", "delete"): lambda w: {"collector_id": w.fresh_collector()},
    ("inventory", "collector", "get"): lambda w: {"collector_id": w.collector},
    ("inventory", "collector", "list"): lambda w: {},
    ("inventory", "collector", "stat"): _stat("collector_id"),
    ("inventory", "collector", "update"): lambda w: {
        "collector_id": w.collector,
        "tags": {"t": "1"},
    },
    ("inventory", "job", "cancel"): lambda w: {"job_id": w.fresh_job(finished=False)},
    ("inventory", "job", "delete"): lambda w: {"job_id": w.fresh_job(finished=True)},
    ("inventory", "job", "get"): lambda w: {"job_id": w.job},
    ("inventory", "job", "list"): lambda w: {},
    ("inventory", "job", "stat"): _stat("job_id"),
    ("inventory", "job-task", "get"): lambda w: {"job_task_id": w.job_task},
    ("inventory", "job-task", "list"): lambda w: {},
    ("inventory", "job-task", "stat"): _stat("job_task_id"),
    ("cost-analysis", "data-source", "register"): lambda w: feed_body(w.ws_a, unique("new-f")),
    ("cost-analysis", "data-source", "update"): lambda w: {
        "data_source_id": w.data_source,
        "tags": {"t": "1"},
    },
    ("cost-analysis", "data-source", "deregister"): lambda w: {
        "data_source_id": w.fresh_data_source()
    },
    ("cost-analysis", "data-source", "sync"): lambda w: {"data_source_id": w.feed},
    ("cost-analysis", "data-source", "get"): lambda w: {"data_source_id": w.data_source},
    ("cost-analysis", "data-source", "list"): lambda w: {},
    ("cost-analysis", "data-source", "stat"): _stat("data_source_id"),
    ("cost-analysis", "cost", "create"): lambda w: cost_body(w.data_source, w.project),
    ("cost-analysis", "cost", "delete"): lambda w: {"cost_id": w.fresh_cost()},
    ("cost-analysis", "cost", "get"): lambda w: {"cost_id": w.cost},
    ("cost-analysis", "cost", "list"): lambda w: {},
    ("cost-analysis", "cost", "stat"): _stat("cost_id"),
    ("cost-analysis", "cost", "analyze"): lambda w: {
        "query": {
            "group_by": ["workspace_id", "data_source_id"],
            "fields": {"cost": {"key": "cost", "operator": "sum"}},
        }
    },
    ("cost-analysis", "job", "get"): lambda w: {"job_id": w.cost_job},
    ("cost-analysis", "job", "list"): lambda w: {},
    ("cost-analysis", "job", "cancel"): lambda w: {"job_id": w.fresh_cost_job()},
    ("cost-analysis", "budget", "create"): lambda w: budget_body(w.ws_a, w.project),
    ("cost-analysis", "budget", "update"): lambda w: {"budget_id": w.budget, "tags": {"t": "1"}},
    ("cost-analysis", "budget", "delete"): lambda w: {"budget_id": w.fresh_budget()},
    ("cost-analysis", "budget", "get"): lambda w: {"budget_id": w.budget},
    ("cost-analysis", "budget", "list"): lambda w: {},
    ("cost-analysis", "budget-usage", "list"): lambda w: {},
    ("cost-analysis", "budget-usage", "analyze"): lambda w: {
        "query": {
            "group_by": ["budget_id", "workspace_id"],
            "fields": {"cost": {"key": "cost", "operator": "sum"}},
        }
    },
}


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def _expected(world: World, key: tuple[str, str, str], caller: str, body: dict) -> int:
    if ALLOWED[key] == PUBLIC:
        return 200
    if caller in UNAUTHENTICATED:
        return 401
    if USERS_AS.get(caller, caller) not in ALLOWED[key]:
        return 403
    if caller == OTHER_OWNER and _strings(body) & world.a_ids:
        return 404  # A's object is invisible to B's owner: the same answer as a missing id
    return 200


def _error_code(response: Any) -> str | None:
    try:
        return response.json()["detail"]["code"]
    except Exception:
        return None


ERROR_CODES = {
    401: "ERROR_AUTHENTICATE_FAILURE",
    403: "ERROR_PERMISSION_DENIED",
    404: "ERROR_NOT_FOUND",
}


def _leaks_of_a(world: World, answer: dict[str, Any]) -> list[str]:
    """What of workspace A an answer shows: A's ids anywhere, or a record of workspace A."""
    leaks = sorted(_strings(answer) & world.a_ids)
    for record in answer.get("results", []):
        if isinstance(record, dict) and record.get("workspace_id") == world.ws_a:
            leaks.append(f"record of workspace A: {record}")
    return leaks


def test_authorisation_matrix(env):
    world = build_world(env)
    failures: list[str] = []
    registry = build_registry()
    stale = sorted(ALLOWED.keys() - _registered())
    if stale:
        failures.append(f"rows in ALLOWED for verbs that are not registered: {stale}")

    for verb in registry:
        key = (verb.service, verb.resource, verb.verb)
        if key not in ALLOWED or key not in BODIES:
            failures.append(f"{verb.path}: registered without a row in ALLOWED and BODIES")
            continue
        for caller in CALLERS:
            body = BODIES[key](world)
            expected = _expected(world, key, caller, body)
            response = env.call(verb.path, body, world.tokens[caller])
            where = f"{verb.path} as {caller}"
            if response.status_code != expected:
                failures.append(
                    f"{where}: expected {expected}, got {response.status_code} "
                    f"{response.text[:200]}"
                )
                continue
            code = ERROR_CODES.get(expected)
            if code and _error_code(response) != code:
                failures.append(f"{where}: error code {_error_code(response)}, expected {code}")
            if expected in (401, 403, 404) and verb.verb == "delete":
                # a refused delete leaves its target in place
                still = env.call(f"/{verb.service}/{verb.resource}/get", body)
                # cloud services are soft-deleted: `get` still answers, with state DELETED
                if still.status_code != 200 or still.json().get("state") == "DELETED":
                    failures.append(f"{where}: refused, but the target is gone ({still.text})")
            if (
                caller == OTHER_OWNER
                and expected == 200
                and verb.verb in ("list", "stat", "analyze")
            ):
                answer = response.json()
                leaks = _leaks_of_a(world, answer)
                if leaks:
                    failures.append(f"{where}: shows workspace A: {leaks}")
                if verb.resource != "domain" and not answer.get("results"):
                    failures.append(f"{where}: B's owner sees none of B's own records")

    assert not failures, f"{len(failures)} matrix violations:\n" + "\n".join(failures)
