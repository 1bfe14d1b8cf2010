"""Resource Explorer custom tags and their asynchronous operations (spec: resource-explorer.md,
"Auth", "Tags", "Operations", "Errors").

Create, delete and attach/detach are checked in full when accepted (a bad request is 400 and
queues nothing), answered 202 with an `operation_id`, and applied by a worker in acceptance order.
The tests either poll `GET /api/v1/operations/{id}` (workers running) or stop the workers and
`drain()` the queue for determinism. Custom tags also show in the SpaceONE dialect as
`tags.custom.<key>`.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from skyatlas.store.tables import custom_tag_links, custom_tags, jobs

TERMINAL = ("SUCCEEDED", "FAILED")
_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


# --- small HTTP helpers -------------------------------------------------------------------------


def hdr(token: str | None) -> dict[str, str]:
    return {"X-Auth-Token": token} if token else {}


def assert_error(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    """The Explorer error body: `{"success": false, "error": {"code", "message"}}`."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["success"] is False, body
    assert set(body) == {"success", "error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"].startswith("ERROR_")
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    for fragment in fragments:
        assert fragment in body["error"]["message"], (fragment, body)
    return body


def post_create(env: Any, token: str, tags: list[dict[str, Any]], project_id: str | None) -> Any:
    body: dict[str, Any] = {"tags": tags}
    if project_id is not None:
        body["project_id"] = project_id
    return env.client.post("/api/v1/tags", json=body, headers=hdr(token))


def post_delete(env: Any, token: str, tag_ids: list[Any]) -> Any:
    return env.client.post(
        "/console/api/v1/tags/delete", json={"tag_ids": tag_ids}, headers=hdr(token)
    )


def patch(env: Any, token: str, kcrns: list[Any], connect: list[Any], disconnect: list[Any]) -> Any:
    body = {"kcrns": kcrns, "connect_tag_ids": connect, "disconnect_tag_ids": disconnect}
    return env.client.patch("/api/v1/tags", json=body, headers=hdr(token))


def accepted(response: Any) -> str:
    assert response.status_code == 202, (response.status_code, response.text)
    body = response.json()
    assert body["success"] is True
    assert isinstance(body["operation_id"], str) and body["operation_id"]
    return body["operation_id"]


def get_op(env: Any, token: str, op_id: str) -> Any:
    return env.client.get(f"/api/v1/operations/{op_id}", headers=hdr(token))


def wait_op(env: Any, token: str, op_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll the operation until it is SUCCEEDED or FAILED."""
    deadline = time.monotonic() + timeout
    while True:
        response = get_op(env, token, op_id)
        assert response.status_code == 200, response.text
        op = response.json()["operation"]
        if op["state"] in TERMINAL:
            return op
        assert op["state"] in ("PENDING", "RUNNING"), op
        assert time.monotonic() < deadline, f"operation {op_id} still {op['state']}"
        time.sleep(0.02)


def wait_ok(env: Any, token: str, op_id: str) -> dict[str, Any]:
    op = wait_op(env, token, op_id)
    assert op["state"] == "SUCCEEDED", op
    assert op["error"] is None
    return op


def tag_search(env: Any, token: str, filter_string: str | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = dict(extra)
    if filter_string is not None:
        body["filter"] = {"filter_string": filter_string}
    response = env.client.post("/api/v1/tags/search", json=body, headers=hdr(token))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["success"] is True and out["count"] == len(out["tags"])
    return out


def custom_tag_rows(env: Any, token: str) -> dict[str, dict[str, Any]]:
    """Visible custom tags by id."""
    return {t["tag_id"]: t for t in tag_search(env, token, "tag.type=custom")["tags"]}


def get_tag(env: Any, token: str, tag_id: str) -> Any:
    return env.client.get(f"/api/v1/tags/search/{tag_id}", headers=hdr(token))


def resources(env: Any, token: str, filter_string: str | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {}
    if filter_string is not None:
        body["filter"] = {"filter_string": filter_string}
    response = env.client.post("/api/v1/resources/search", json=body, headers=hdr(token))
    assert response.status_code == 200, response.text
    return response.json()["resources"]


def custom_on(env: Any, token: str) -> dict[str, set[str]]:
    """kcrn → ids of the custom tags the caller sees on it (resources search)."""
    out: dict[str, set[str]] = {}
    for r in resources(env, token):
        ids = set()
        for t in r["tags"]:
            if t["type"] == "custom":
                assert t["tag_id"], t
                ids.add(t["tag_id"])
        out[r["kcrn"]] = ids
    return out


@dataclass(frozen=True)
class Snapshot:
    tags: frozenset[tuple[str, str, str, str]]
    links: frozenset[tuple[str, str]]
    jobs: int


def snapshot(env: Any) -> Snapshot:
    """The store's custom tags, links and job count, read directly."""
    with env.runtime.store.begin(write=False) as conn:
        tags = frozenset(
            (r.tag_id, r.project_id, r.key, r.value) for r in conn.execute(select(custom_tags))
        )
        links = frozenset(
            (r.tag_id, r.cloud_service_id)
            for r in conn.execute(
                select(custom_tag_links.c.tag_id, custom_tag_links.c.cloud_service_id)
            )
        )
        count = conn.execute(select(func.count()).select_from(jobs)).scalar_one()
    return Snapshot(tags, links, count)


def settled(env: Any) -> Snapshot:
    """Apply anything still queued, then snapshot (so a later comparison is not racy)."""
    env.runtime.workers.drain()
    return snapshot(env)


# --- the world ----------------------------------------------------------------------------------


@dataclass
class Resource:
    cloud_service_id: str
    kcrn: str
    project_id: str


@dataclass
class World:
    env: Any
    p: str
    q: str
    admin: str
    owner: str  # managed-workspace-owner of the workspace
    member: str  # managed-workspace-member bound to P
    member_q: str  # managed-workspace-member bound to Q
    reader: str  # custom read-only role of type WORKSPACE_OWNER
    member_reader: str  # custom read-only role of type WORKSPACE_MEMBER, bound to P
    rp: list[Resource] = field(default_factory=list)  # resources of P
    rq: list[Resource] = field(default_factory=list)  # resources of Q

    def create(self, pairs: list[tuple[str, str]], project: str, token: str | None = None) -> Any:
        tags = [{"key": k, "value": v} for k, v in pairs]
        return post_create(self.env, token or self.admin, tags, project)

    def tags(self, pairs: list[tuple[str, str]], project: str) -> list[str]:
        """Create tags and wait until they apply; their ids in order."""
        response = self.create(pairs, project)
        wait_ok(self.env, self.admin, accepted(response))
        return [t["tag_id"] for t in response.json()["tags"]]

    def attach(self, kcrns: list[str], connect: list[str], disconnect: list[str] = ()) -> None:
        op = accepted(patch(self.env, self.admin, list(kcrns), list(connect), list(disconnect)))
        wait_ok(self.env, self.admin, op)


def kcrn_of(record: dict[str, Any]) -> str:
    region = record.get("region_code") or "global"
    rid = (record.get("reference") or {}).get("resource_id") or record["cloud_service_id"]
    return ":".join(
        (
            "kcrn",
            region,
            record["project_id"] or "",
            record["cloud_service_group"],
            record["cloud_service_type"],
            rid,
        )
    )


def make_resource(env: Any, project: str, **body: Any) -> Resource:
    full = {
        "name": unique("vm"),
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "region_code": "ap-northeast-2",
        "project_id": project,
        "data": {},
        **body,
    }
    record = env.ok("/inventory/cloud-service/create", full)
    return Resource(record["cloud_service_id"], kcrn_of(record), project)


def app(env: Any, role_id: str, **extra: Any) -> str:
    body = {"name": unique("app"), "role_id": role_id, "workspace_id": env.workspace_id, **extra}
    return env.ok("/identity/app/create", body)["client_secret"]


def build(env: Any, n_p: int = 3) -> World:
    project = lambda name: env.ok(  # noqa: E731
        "/identity/project/create", {"name": name, "workspace_id": env.workspace_id}
    )["project_id"]
    p, q = project("P"), project("Q")
    read_owner = env.ok(
        "/identity/role/create",
        {"name": "Reader", "role_type": "WORKSPACE_OWNER", "permissions": ["*.read"]},
    )["role_id"]
    read_member = env.ok(
        "/identity/role/create",
        {"name": "MemberReader", "role_type": "WORKSPACE_MEMBER", "permissions": ["*.read"]},
    )["role_id"]
    world = World(
        env=env,
        p=p,
        q=q,
        admin=env.admin_token,
        owner=app(env, "managed-workspace-owner", resource_group="WORKSPACE"),
        member=app(env, "managed-workspace-member", resource_group="PROJECT", project_id=p),
        member_q=app(env, "managed-workspace-member", resource_group="PROJECT", project_id=q),
        reader=app(env, read_owner, resource_group="WORKSPACE"),
        member_reader=app(env, read_member, resource_group="PROJECT", project_id=p),
    )
    # P: a regional instance with a provider id (and an ARN-like one), a global resource that has
    # no provider id (its KCRN ends in the cloud service id), then plain instances.
    world.rp.append(
        make_resource(env, p, reference={"resource_id": "i-0001"}, tags={"Name": "web"})
    )
    world.rp.append(
        make_resource(
            env,
            p,
            cloud_service_group="S3",
            cloud_service_type="Bucket",
            region_code=None,
            reference={"resource_id": "arn:aws:s3:::logs"},
        )
    )
    world.rp.append(
        make_resource(
            env, p, cloud_service_group="IAM", cloud_service_type="Role", region_code=None
        )
    )
    for _ in range(n_p - 3):
        world.rp.append(make_resource(env, p))
    world.rq.append(make_resource(env, q, reference={"resource_id": "i-q"}, tags={"Name": "web"}))
    # the KCRNs the tests compute are the ones the search answers with
    assert {r.kcrn for r in world.rp + world.rq} == set(custom_on(env, world.admin))
    return world


# --- 1. create ----------------------------------------------------------------------------------


def test_create_is_accepted_then_applied_and_visible(env):
    w = build(env)
    response = w.create([("env", "prod"), ("team", "")], w.p)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"success", "tags", "operation_id"}
    assert [(t["key"], t["value"]) for t in body["tags"]] == [("env", "prod"), ("team", "")]
    ids = [t["tag_id"] for t in body["tags"]]
    assert len(set(ids)) == 2 and all(isinstance(i, str) and i for i in ids)

    op = wait_ok(env, w.admin, body["operation_id"])
    assert op["operation_id"] == body["operation_id"]
    assert op["kind"] == "tag.create"
    assert op["created_at"].endswith("Z") and op["finished_at"].endswith("Z")
    assert op["created_at"] <= op["finished_at"]

    found = custom_tag_rows(env, w.admin)
    assert set(found) == set(ids)
    for tag_id, (key, value) in zip(ids, [("env", "prod"), ("team", "")], strict=True):
        row = found[tag_id]
        assert (row["key"], row["value"], row["type"], row["resource_count"]) == (
            key,
            value,
            "custom",
            0,
        )
        assert row["created_at"].endswith("Z")
        got = get_tag(env, w.admin, tag_id)
        assert got.status_code == 200, got.text
        assert got.json() == {
            "success": True,
            "tag": {
                "tag_id": tag_id,
                "project_id": w.p,
                "key": key,
                "value": value,
                "type": "custom",
                "created_at": row["created_at"],
            },
        }
    assert tag_search(env, w.admin, "tag.key=env&tag.value=prod")["tags"][0]["tag_id"] == ids[0]
    assert tag_search(env, w.admin, "tag:not_in_use&tag.type=custom")["total_count"] == 2
    check_a_pending_create_is_invisible_until_it_applies(env, w)


def check_a_pending_create_is_invisible_until_it_applies(env: Any, w: World) -> None:
    env.runtime.workers.stop()
    response = w.create([("stage", "beta")], w.p)
    op_id = accepted(response)
    tag_id = response.json()["tags"][0]["tag_id"]
    op = get_op(env, w.admin, op_id).json()["operation"]
    assert (op["state"], op["finished_at"], op["error"]) == ("PENDING", None, None)
    assert_error(get_tag(env, w.admin, tag_id), 404, tag_id)
    assert tag_search(env, w.admin, "tag.key=stage")["total_count"] == 0

    assert env.runtime.workers.drain() == 1
    assert get_op(env, w.admin, op_id).json()["operation"]["state"] == "SUCCEEDED"
    assert get_tag(env, w.admin, tag_id).status_code == 200
    assert env.runtime.workers.drain() == 0  # nothing runs twice


def check_create_limits_at_the_edges_are_accepted(env: Any, w: World) -> None:
    pairs = [("k" * 128, "v" * 256), ("환경", "운영 서버"), ("a", ""), ("sp ace", " x ")]
    pairs += [(f"bulk-{i}", str(i)) for i in range(100 - len(pairs))]
    before = {(t["key"], t["value"]) for t in custom_tag_rows(env, w.admin).values()}
    assert not before & set(pairs)
    response = w.create(pairs, w.p)
    wait_ok(env, w.admin, accepted(response))
    rows = custom_tag_rows(env, w.admin)
    assert sorted((t["key"], t["value"]) for t in rows.values()) == sorted([*before, *pairs])


INVALID_CREATE = [
    ("empty key", {"tags": [{"key": "", "value": "v"}]}),
    ("key of 129", {"tags": [{"key": "k" * 129, "value": "v"}]}),
    ("value of 257", {"tags": [{"key": "k", "value": "v" * 257}]}),
    ("newline in key", {"tags": [{"key": "a\nb", "value": "v"}]}),
    ("tab in value", {"tags": [{"key": "k", "value": "a\tb"}]}),
    ("NUL in value", {"tags": [{"key": "k", "value": "a\x00b"}]}),
    ("DEL in key", {"tags": [{"key": "a\x7f", "value": "v"}]}),
    ("C1 control in value", {"tags": [{"key": "k", "value": "a\x85b"}]}),
    ("escape in key", {"tags": [{"key": "\x1b[31m", "value": "v"}]}),
    ("no tags", {"tags": []}),
    ("101 tags", {"tags": [{"key": f"k{i}", "value": "v"} for i in range(101)]}),
    ("tags missing", {}),
    ("tags not a list", {"tags": {"key": "k", "value": "v"}}),
    ("key missing", {"tags": [{"value": "v"}]}),
    ("value null", {"tags": [{"key": "k", "value": None}]}),
    ("key a number", {"tags": [{"key": 1, "value": "v"}]}),
    ("unknown field", {"tags": [{"key": "k", "value": "v", "type": "system"}]}),
    ("unknown top field", {"tags": [{"key": "k", "value": "v"}], "extra": 1}),
    (
        "pair twice",
        {"tags": [{"key": "k", "value": "v"}, {"key": "x"}, {"key": "k", "value": "v"}]},
    ),
]


def test_invalid_creates_are_400_and_queue_nothing(env):
    w = build(env)
    w.tags([("k", "v0")], w.p)  # something there already, to see it stays as it is
    before = settled(env)
    for label, body in INVALID_CREATE:
        full = {**body, "project_id": w.p}
        response = env.client.post("/api/v1/tags", json=full, headers=hdr(w.admin))
        assert response.status_code == 400, (label, response.status_code, response.text)
        assert_error(response, 400)
        assert snapshot(env) == before, label
    # a duplicate pair names the pair
    twice = INVALID_CREATE[-1][1]
    assert_error(
        env.client.post("/api/v1/tags", json={**twice, "project_id": w.p}, headers=hdr(w.admin)),
        400,
        "k=v",
    )
    assert settled(env) == before
    check_create_limits_at_the_edges_are_accepted(env, w)


def test_an_existing_or_pending_pair_is_409_and_nothing_is_created(env):
    w = build(env)
    w.tags([("env", "prod")], w.p)
    before = settled(env)
    # exists: 409, and the new pair in the same request is not created either
    response = w.create([("fresh", "1"), ("env", "prod")], w.p)
    assert_error(response, 409, "env=prod")
    assert settled(env) == before

    # pending in an earlier accepted create
    env.runtime.workers.stop()
    accepted(w.create([("later", "x")], w.p))
    pending = snapshot(env)
    assert_error(w.create([("other", "y"), ("later", "x")], w.p), 409, "later=x")
    assert snapshot(env) == pending

    # the same pair in another project is another tag; unique per project only
    q_op = accepted(w.create([("env", "prod"), ("later", "x")], w.q))
    env.runtime.workers.drain()
    assert get_op(env, w.admin, q_op).json()["operation"]["state"] == "SUCCEEDED"
    after = snapshot(env)
    assert {(p, k, v) for _, p, k, v in after.tags} == {
        (w.p, "env", "prod"),
        (w.p, "later", "x"),
        (w.q, "env", "prod"),
        (w.q, "later", "x"),
    }


def test_the_project_of_new_tags(env):
    w = build(env)
    before = settled(env)
    # domain admin and workspace owner must name the project
    for token in (w.admin, w.owner):
        assert_error(post_create(env, token, [{"key": "k", "value": "v"}], None), 400, "project_id")
    # invisible or unknown project → 404
    assert_error(post_create(env, w.member, [{"key": "k"}], w.q), 404, w.q)
    assert_error(post_create(env, w.admin, [{"key": "k"}], "project-nope"), 404, "project-nope")
    ws_b = env.ok("/identity/workspace/create", {"name": "B"})["workspace_id"]
    other_owner = env.ok(
        "/identity/app/create",
        {"name": "ob", "role_id": "managed-workspace-owner", "workspace_id": ws_b},
    )["client_secret"]
    assert_error(post_create(env, other_owner, [{"key": "k"}], w.p), 404, w.p)
    assert settled(env) == before

    # a project-bound member uses its own project; owner and admin name one
    mine = post_create(env, w.member, [{"key": "by", "value": "member"}], None)
    theirs = post_create(env, w.owner, [{"key": "by", "value": "owner"}], w.q)
    named = post_create(env, w.member, [{"key": "by", "value": "named"}], w.p)
    for response in (mine, theirs, named):
        wait_ok(env, w.admin, accepted(response))
    projects = {(k, v): p for _, p, k, v in snapshot(env).tags}
    assert projects == {("by", "member"): w.p, ("by", "owner"): w.q, ("by", "named"): w.p}


# --- 2. delete ----------------------------------------------------------------------------------


def test_delete_removes_the_tags_and_detaches_them_everywhere(env):
    w = build(env)
    t1, t2, t3 = w.tags([("a", "1"), ("b", "2"), ("c", "3")], w.p)
    kcrns = [r.kcrn for r in w.rp]
    w.attach(kcrns, [t1, t2, t3])
    assert all(custom_on(env, w.admin)[k] == {t1, t2, t3} for k in kcrns)

    response = post_delete(env, w.member, [t1, t2, t1])  # a repeated id is fine
    assert set(response.json()) == {"success", "operation_id"}
    op = wait_ok(env, w.member, accepted(response))
    assert op["kind"] == "tag.delete"

    for gone in (t1, t2):
        assert_error(get_tag(env, w.admin, gone), 404, gone)
    assert set(custom_tag_rows(env, w.admin)) == {t3}
    assert custom_tag_rows(env, w.admin)[t3]["resource_count"] == len(kcrns)
    assert all(custom_on(env, w.admin)[k] == {t3} for k in kcrns)
    assert {t for t, _ in snapshot(env).links} == {t3}
    assert resources(env, w.admin, "tag.key=a") == []


def test_delete_with_an_unknown_id_deletes_nothing(env):
    w = build(env)
    t1, t2 = w.tags([("a", "1"), ("b", "2")], w.p)
    (tq,) = w.tags([("q", "1")], w.q)
    w.attach([w.rp[0].kcrn], [t1])
    before = settled(env)
    for body, named in (
        ([t1, "tag-unknown", t2], ["tag-unknown"]),
        (["tag-x", t1, "tag-y"], ["tag-x", "tag-y"]),
        ([""], []),
    ):
        body_err = assert_error(post_delete(env, w.admin, body), 400, *named)
        assert t1 not in body_err["error"]["message"]
    # a tag of another project is invisible to a member: the same as unknown
    assert_error(post_delete(env, w.member, [t1, tq]), 400, tq)
    for body in ([], [f"tag-{i}" for i in range(101)], [None], "tag", [1]):
        assert_error(post_delete(env, w.admin, body), 400)
    assert_error(env.client.post("/console/api/v1/tags/delete", json={}, headers=hdr(w.admin)), 400)
    assert settled(env) == before


# --- 3. attach / detach -------------------------------------------------------------------------


def test_attach_and_detach(env):
    w = build(env, n_p=4)
    env_prod, team_a = w.tags([("env", "prod"), ("team", "a")], w.p)
    r1, r2, r3, r4 = w.rp
    op = accepted(patch(env, w.member, [r1.kcrn, r2.kcrn, r3.kcrn], [env_prod, team_a], []))
    got = wait_ok(env, w.member, op)
    assert got["kind"] == "tag.attach"

    found = resources(env, w.admin, "tag.key=env&tag.value=prod")
    assert sorted(r["kcrn"] for r in found) == sorted([r1.kcrn, r2.kcrn, r3.kcrn])
    first = next(r for r in found if r["kcrn"] == r1.kcrn)
    assert {"tag_id": env_prod, "key": "env", "value": "prod", "type": "custom"} in first["tags"]
    assert {"tag_id": None, "key": "Name", "value": "web", "type": "system"} in first["tags"]
    assert [t["type"] for t in first["tags"]] == ["custom", "custom", "system"]
    assert resources(env, w.admin, "tag.key=env&tag.value=dev") == []
    assert len(resources(env, w.admin, "tag.key=team&-tag.value=b")) == 3
    rows = custom_tag_rows(env, w.admin)
    assert rows[env_prod]["resource_count"] == 3 and rows[team_a]["resource_count"] == 3

    # detach from one resource; attach and detach in one request (a KCRN named twice is fine)
    wait_ok(env, w.admin, accepted(patch(env, w.admin, [r1.kcrn], [], [env_prod])))
    wait_ok(env, w.admin, accepted(patch(env, w.admin, [r4.kcrn, r4.kcrn], [team_a], [env_prod])))
    on = custom_on(env, w.admin)
    assert on == {
        r1.kcrn: {team_a},
        r2.kcrn: {env_prod, team_a},
        r3.kcrn: {env_prod, team_a},
        r4.kcrn: {team_a},
        w.rq[0].kcrn: set(),
    }
    rows = custom_tag_rows(env, w.admin)
    assert rows[env_prod]["resource_count"] == 2 and rows[team_a]["resource_count"] == 4
    assert sorted(r["kcrn"] for r in resources(env, w.admin, "tag.key=env&tag.value=prod")) == (
        sorted([r2.kcrn, r3.kcrn])
    )
    # attaching what is attached, detaching what is not: no error, no change
    wait_ok(env, w.admin, accepted(patch(env, w.admin, [r2.kcrn], [team_a], [])))
    wait_ok(env, w.admin, accepted(patch(env, w.admin, [r1.kcrn], [], [env_prod])))
    assert custom_on(env, w.admin) == on
    # `tag:none` counts custom tags too (rp[1:] have no provider tags)
    assert sorted(r["kcrn"] for r in resources(env, w.admin, f"tag:none&project_id={w.p}")) == []


def test_invalid_attach_requests_apply_nothing(env):
    w = build(env)
    tp, tp2 = w.tags([("env", "prod"), ("env", "dev")], w.p)
    (tq,) = w.tags([("env", "prod")], w.q)
    w.attach([w.rp[0].kcrn], [tp2])
    good = w.rp[0].kcrn
    missing_kcrn = f"kcrn:ap-northeast-2:{w.p}:EC2:Instance:i-nope"
    before = settled(env)
    cases: list[tuple[str, Any, tuple[str, ...]]] = [
        ("unknown kcrn", {"kcrns": [good, missing_kcrn]}, (missing_kcrn,)),
        ("kcrn of project Q with P's tag", {"kcrns": [good, w.rq[0].kcrn]}, (tp, w.q)),
        ("not a kcrn", {"kcrns": ["arn:aws:ec2:x"]}, ("kcrn",)),
        ("five segments", {"kcrns": [f"kcrn:global:{w.p}:EC2:Instance"]}, ()),
        ("unknown tag", {"connect_tag_ids": [tp, "tag-nope"]}, ("tag-nope",)),
        ("unknown tag to detach", {"disconnect_tag_ids": ["tag-nope"]}, ("tag-nope",)),
        ("tag of another project", {"connect_tag_ids": [tp, tq]}, (tq,)),
        ("system tag as empty id", {"connect_tag_ids": [""]}, ()),
        ("system tag as null", {"connect_tag_ids": [None]}, ()),
        ("system tag detached as null", {"disconnect_tag_ids": [None]}, ()),
        ("no kcrns", {"kcrns": []}, ()),
        ("101 kcrns", {"kcrns": [good] * 101}, ()),
        ("both lists empty", {"connect_tag_ids": [], "disconnect_tag_ids": []}, ()),
        ("same tag both ways", {"connect_tag_ids": [tp], "disconnect_tag_ids": [tp]}, (tp,)),
        ("kcrns not a list", {"kcrns": good}, ()),
        ("unknown field", {"extra": True}, ()),
    ]
    base = {"kcrns": [good], "connect_tag_ids": [tp], "disconnect_tag_ids": [tp2]}
    for key in base:
        cases.append((f"{key} missing", {key: ...}, ()))
    for label, change, fragments in cases:
        body = {**base, **change}
        body = {k: v for k, v in body.items() if v is not ...}
        response = env.client.patch("/api/v1/tags", json=body, headers=hdr(w.admin))
        assert response.status_code == 400, (label, response.status_code, response.text)
        assert_error(response, 400, *fragments)
        assert snapshot(env) == before, label
    # a member cannot reach project Q's tag nor its resources: 400, nothing applied
    assert_error(patch(env, w.member, [good], [tq], []), 400, tq)
    assert_error(patch(env, w.member, [w.rq[0].kcrn], [tp], []), 400, w.rq[0].kcrn)
    assert settled(env) == before
    assert custom_on(env, w.admin)[good] == {tp2}


def test_create_then_attach_back_to_back(env):
    w = build(env)
    r1, r2, _ = w.rp
    # Workers running, no waiting between the two requests (the look-ahead reads pending
    # operations before the table, so a create applied in between is never missed).
    runs = []
    for i in range(5):
        created = w.create([("fresh", f"run-{i}")], w.p)
        tag_id = created.json()["tags"][0]["tag_id"]
        attach_op = accepted(patch(env, w.admin, [r1.kcrn], [tag_id], []))
        create_op = wait_ok(env, w.admin, accepted(created))
        attached = wait_ok(env, w.admin, attach_op)
        assert create_op["finished_at"] <= attached["finished_at"]
        assert tag_id in custom_on(env, w.admin)[r1.kcrn]
        runs.append(tag_id)
    assert custom_on(env, w.admin)[r1.kcrn] == set(runs)
    wait_ok(env, w.admin, accepted(patch(env, w.admin, [r1.kcrn], [], runs)))
    (tag_id,) = w.tags([("fresh", "1")], w.p)
    w.attach([r1.kcrn], [tag_id])

    # workers stopped: both wait, in order; a member's look-ahead works the same way
    env.runtime.workers.stop()
    created = post_create(env, w.member, [{"key": "fresh", "value": "2"}], None)
    second = created.json()["tags"][0]["tag_id"]
    ops = [
        accepted(created),
        accepted(patch(env, w.member, [r2.kcrn], [second], [])),
        accepted(patch(env, w.member, [r1.kcrn], [second], [tag_id])),
    ]
    assert [get_op(env, w.member, o).json()["operation"]["state"] for o in ops] == ["PENDING"] * 3
    assert env.runtime.workers.drain() == 3
    assert [get_op(env, w.member, o).json()["operation"]["state"] for o in ops] == (
        ["SUCCEEDED"] * 3
    )
    on = custom_on(env, w.admin)
    assert on[r1.kcrn] == {second} and on[r2.kcrn] == {second}


# --- 4. ordering and exactly once ---------------------------------------------------------------


def replay(
    ops: list[tuple[str, Any]], tags: dict[str, str], links: set[tuple[str, str]]
) -> list[str]:
    """The pure model: apply operations one by one; each is all or nothing. Returns states."""
    states = []
    for kind, arg in ops:
        if kind == "create":
            tags.update(arg)
            states.append("SUCCEEDED")
        elif kind == "delete":
            for t in arg:
                tags.pop(t, None)
            links -= {(t, c) for t, c in links if t in arg}
            states.append("SUCCEEDED")
        else:
            ids, connect, disconnect = arg
            if any(t not in tags for t in [*connect, *disconnect]):
                states.append("FAILED")
                continue
            links -= {(t, c) for t in disconnect for c in ids}
            links |= {(t, c) for t in connect for c in ids}
            states.append("SUCCEEDED")
    return states


def test_operations_apply_in_acceptance_order_exactly_once(env):
    w = build(env)
    r1, r2, r3 = w.rp
    (keep,) = w.tags([("keep", "1")], w.p)
    w.attach([r3.kcrn], [keep])
    start = settled(env)
    model_tags = {t: p for t, p, _, _ in start.tags}
    model_links = set(start.links)

    env.runtime.workers.stop()
    created = w.create([("doomed", "1")], w.p)
    doomed = created.json()["tags"][0]["tag_id"]
    ops = [
        accepted(created),
        accepted(patch(env, w.admin, [r1.kcrn, r2.kcrn], [doomed], [])),
        accepted(post_delete(env, w.admin, [doomed])),
        # accepted: the tag still exists when this is checked; it is gone when it applies
        accepted(patch(env, w.admin, [r1.kcrn, r3.kcrn], [keep, doomed], [])),
        accepted(patch(env, w.admin, [r3.kcrn], [], [keep])),
    ]
    model = [
        ("create", {doomed: w.p}),
        ("attach", ([r1.cloud_service_id, r2.cloud_service_id], [doomed], [])),
        ("delete", [doomed]),
        ("attach", ([r1.cloud_service_id, r3.cloud_service_id], [keep, doomed], [])),
        ("attach", ([r3.cloud_service_id], [], [keep])),
    ]
    assert len(set(ops)) == len(ops)
    assert snapshot(env).tags == start.tags and snapshot(env).links == start.links

    assert env.runtime.workers.drain() == len(ops)
    got = [get_op(env, w.admin, o).json()["operation"] for o in ops]
    expected = replay(model, model_tags, model_links)
    assert expected == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert [o["state"] for o in got] == expected
    assert [o["kind"] for o in got] == ["tag.create", "tag.attach", "tag.delete"] + [
        "tag.attach"
    ] * 2
    failed = got[3]
    assert isinstance(failed["error"], str) and doomed in failed["error"], failed
    assert failed["finished_at"] is not None
    assert all(o["error"] is None for i, o in enumerate(got) if i != 3)
    finished = [o["finished_at"] for o in got]
    assert finished == sorted(finished)

    # the FAILED attach attached nothing (not even `keep` on r1), the rest is the model's
    final = snapshot(env)
    assert {t for t, *_ in final.tags} == set(model_tags)
    assert final.links == model_links
    assert (keep, r1.cloud_service_id) not in final.links
    assert custom_on(env, w.admin) == {
        r1.kcrn: set(),
        r2.kcrn: set(),
        r3.kcrn: set(),
        w.rq[0].kcrn: set(),
    }
    # exactly once: nothing is left to run, and running again changes nothing
    assert env.runtime.workers.drain() == 0
    assert snapshot(env) == final
    assert [get_op(env, w.admin, o).json()["operation"] for o in ops] == got
    check_accepted_operations_survive_a_restart(env, w)


def check_accepted_operations_survive_a_restart(env: Any, w: World) -> None:
    from skyatlas.explorer.custom_tags import HANDLERS
    from skyatlas.jobs.worker import Workers
    from skyatlas.runtime import Runtime

    env.runtime.workers.stop()
    created = w.create([("survivor", "1")], w.p)
    tag_id = created.json()["tags"][0]["tag_id"]
    ops = [accepted(created), accepted(patch(env, w.admin, [w.rp[0].kcrn], [tag_id], []))]
    # another process on the same store picks the work up
    other = Runtime.open(env.settings)
    try:
        assert Workers(other.store, HANDLERS).drain() == 2
    finally:
        other.close()
    assert [get_op(env, w.admin, o).json()["operation"]["state"] for o in ops] == ["SUCCEEDED"] * 2
    assert custom_on(env, w.admin)[w.rp[0].kcrn] == {tag_id}


# --- 5. concurrency -----------------------------------------------------------------------------


def test_concurrent_attach_detach_equals_replay_in_acceptance_order(env):
    w = build(env, n_p=6)
    tag_ids = w.tags([("c", str(i)) for i in range(6)], w.p)
    by_kcrn = {r.kcrn: r.cloud_service_id for r in w.rp}
    kcrns = sorted(by_kcrn)
    start = settled(env)
    results: list[tuple[str, list[str], list[str], list[str]]] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        token = w.member if seed % 2 else w.admin
        try:
            barrier.wait(timeout=30)
            for _ in range(3):
                chosen = rng.sample(kcrns, rng.randint(1, 3))
                picked = rng.sample(tag_ids, rng.randint(1, 4))
                split = rng.randint(0, len(picked))
                connect, disconnect = picked[:split], picked[split:]
                response = patch(env, token, chosen, connect, disconnect)
                if response.status_code != 202:
                    with lock:
                        errors.append(f"{response.status_code} {response.text}")
                    continue
                with lock:
                    results.append((response.json()["operation_id"], chosen, connect, disconnect))
        except Exception as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    assert len(results) == 60

    for op_id, *_ in results:
        wait_ok(env, w.admin, op_id)
    with env.runtime.store.begin(write=False) as conn:
        rows = conn.execute(
            select(jobs.c.job_id, jobs.c.seq).where(jobs.c.job_id.in_([r[0] for r in results]))
        )
        seq = {r.job_id: r.seq for r in rows}
    assert len(seq) == 60  # none lost
    model_links = set(start.links)
    model_tags = {t: p for t, p, _, _ in start.tags}
    ordered = sorted(results, key=lambda r: seq[r[0]])
    states = replay(
        [
            ("attach", (sorted({by_kcrn[k] for k in chosen}), connect, disconnect))
            for _, chosen, connect, disconnect in ordered
        ],
        model_tags,
        model_links,
    )
    assert states == ["SUCCEEDED"] * 60
    final = snapshot(env)
    assert final.links == model_links
    assert final.jobs == start.jobs + 60
    counts = {t: sum(1 for lt, _ in model_links if lt == t) for t in tag_ids}
    rows = custom_tag_rows(env, w.admin)
    assert {t: rows[t]["resource_count"] for t in tag_ids} == counts


def test_several_workers_apply_two_projects_in_acceptance_order(env):
    """Four worker threads over work queued in two projects: each project's operations finish
    in the order they were accepted, and the result is their one-by-one replay."""
    from skyatlas.explorer.custom_tags import HANDLERS
    from skyatlas.jobs.worker import Workers

    w = build(env, n_p=5)
    w.rq += [make_resource(env, w.q) for _ in range(2)]
    tags_of = {w.p: w.tags([("n", str(i)) for i in range(3)], w.p)}
    tags_of[w.q] = w.tags([("n", str(i)) for i in range(2)], w.q)
    ids_of = {r.kcrn: r.cloud_service_id for r in w.rp + w.rq}
    start = settled(env)
    env.runtime.workers.stop()
    rng = random.Random(7)
    queued: list[tuple[str, str]] = []  # (operation id, project), in acceptance order
    model = []
    for i in range(40):
        project, pool = (w.p, w.rp) if i % 2 else (w.q, w.rq)
        chosen = [r.kcrn for r in rng.sample(pool, rng.randint(1, len(pool)))]
        picked = rng.sample(tags_of[project], rng.randint(1, len(tags_of[project])))
        split = rng.randint(0, len(picked))
        connect, disconnect = picked[:split], picked[split:]
        queued.append((accepted(patch(env, w.admin, chosen, connect, disconnect)), project))
        model.append(("attach", (sorted(ids_of[k] for k in chosen), connect, disconnect)))

    workers = Workers(env.runtime.store, HANDLERS, threads=4, poll_seconds=0.01)
    workers.start()
    try:
        done = [wait_ok(env, w.admin, op) for op, _ in queued]
    finally:
        workers.stop()
    for project in (w.p, w.q):
        mine = [o for o, (_, p) in zip(done, queued, strict=True) if p == project]
        finished = [o["finished_at"] for o in mine]
        assert finished == sorted(finished), project
    links = set(start.links)
    assert replay(model, {t: p for t, p, _, _ in start.tags}, links) == ["SUCCEEDED"] * 40
    assert snapshot(env).links == links


# --- 6. roles -----------------------------------------------------------------------------------


def test_read_only_roles_read_but_never_write(env):
    w = build(env)
    (tp,) = w.tags([("env", "prod")], w.p)
    w.attach([w.rp[0].kcrn], [tp])
    before = settled(env)
    for reader in (w.reader, w.member_reader):
        assert_error(post_create(env, reader, [{"key": "r", "value": "1"}], w.p), 403)
        assert_error(post_delete(env, reader, [tp]), 403)
        assert_error(patch(env, reader, [w.rp[1].kcrn], [tp], []), 403)
        assert_error(patch(env, reader, [w.rp[0].kcrn], [], [tp]), 403)
        assert get_tag(env, reader, tp).status_code == 200
        assert custom_tag_rows(env, reader)[tp]["resource_count"] == 1
        assert custom_on(env, reader)[w.rp[0].kcrn] == {tp}
    assert settled(env) == before
    # no token / a bad token: 401 on every route
    for token in (None, "not-a-token"):
        assert_error(post_create(env, token, [{"key": "r"}], w.p), 401)
        assert_error(post_delete(env, token, [tp]), 401)
        assert_error(patch(env, token, [w.rp[1].kcrn], [tp], []), 401)
        assert_error(get_tag(env, token, tp), 401)
        assert_error(get_op(env, token, "op-x"), 401)
        response = env.client.post("/api/v1/tags/search", json={}, headers=hdr(token))
        assert_error(response, 401)
    # the SpaceONE header works here too
    response = env.client.post(
        "/api/v1/tags/search", json={}, headers={"Authorization": f"Bearer {w.member}"}
    )
    assert response.status_code == 200


def test_a_member_never_sees_another_projects_tags(env):
    w = build(env)
    tp, shared_p = w.tags([("env", "prod"), ("shared", "x")], w.p)
    tq, shared_q = w.tags([("env", "qa"), ("shared", "x")], w.q)
    w.attach([w.rp[0].kcrn, w.rp[1].kcrn], [tp, shared_p])
    w.attach([w.rq[0].kcrn], [tq, shared_q])

    rows = custom_tag_rows(env, w.member)
    assert set(rows) == {tp, shared_p}
    assert rows[shared_p]["resource_count"] == 2
    assert tag_search(env, w.member, "tag.key=env")["total_count"] == 1
    assert_error(get_tag(env, w.member, tq), 404, tq)
    assert get_tag(env, w.member_q, tq).status_code == 200
    assert_error(get_tag(env, w.member_q, tp), 404)
    assert set(custom_tag_rows(env, w.member_q)) == {tq, shared_q}
    # admins and owners see both projects
    assert set(custom_tag_rows(env, w.owner)) == {tp, shared_p, tq, shared_q}
    assert custom_tag_rows(env, w.admin)[shared_q]["resource_count"] == 1
    # resources search: the member sees its project's resources, with its project's tags only
    assert set(custom_on(env, w.member)) == {r.kcrn for r in w.rp}
    assert resources(env, w.member, "tag.key=env&tag.value=qa") == []
    # system tags are counted over visible resources only (Name=web is on one P and one Q)
    system = tag_search(env, w.member, "tag.type=system&tag.key=Name")["tags"]
    assert [(t["value"], t["resource_count"]) for t in system] == [("web", 1)]
    assert (
        tag_search(env, w.admin, "tag.type=system&tag.key=Name")["tags"][0]["resource_count"] == 2
    )

    before = settled(env)
    assert_error(patch(env, w.member, [w.rp[2].kcrn], [tq], []), 400, tq)
    assert_error(patch(env, w.member, [w.rp[0].kcrn], [], [shared_q]), 400, shared_q)
    assert settled(env) == before
    check_operations_are_visible_to_their_app_and_admins(env, w)


def check_operations_are_visible_to_their_app_and_admins(env: Any, w: World) -> None:
    mine = post_create(env, w.member, [{"key": "m", "value": "1"}], None)
    op_id = accepted(mine)
    wait_ok(env, w.member, op_id)
    assert get_op(env, w.admin, op_id).status_code == 200
    assert_error(get_op(env, w.member_q, op_id), 404, op_id)
    ws_b = env.ok("/identity/workspace/create", {"name": "B"})["workspace_id"]
    other_owner = env.ok(
        "/identity/app/create",
        {"name": "ob", "role_id": "managed-workspace-owner", "workspace_id": ws_b},
    )["client_secret"]
    assert_error(get_op(env, other_owner, op_id), 404)
    admins_op = accepted(w.create([("a", "1")], w.q))
    wait_ok(env, w.admin, admins_op)
    assert_error(get_op(env, w.member, admins_op), 404)
    for token in (w.admin, w.member):
        assert_error(get_op(env, token, "op-doesnotexist"), 404, "op-doesnotexist")


# --- 7. the SpaceONE dialect --------------------------------------------------------------------


def test_custom_tags_in_the_spaceone_dialect(env):
    w = build(env)
    env_prod, team_a = w.tags([("env", "prod"), ("team", "a")], w.p)
    r1, r2, _ = w.rp
    w.attach([r1.kcrn], [env_prod, team_a])
    w.attach([r2.kcrn], [team_a])

    record = env.ok("/inventory/cloud-service/get", {"cloud_service_id": r1.cloud_service_id})
    assert record["tags"] == {"aws": {"Name": "web"}, "custom": {"env": "prod", "team": "a"}}
    as_member = env.ok(
        "/inventory/cloud-service/get", {"cloud_service_id": r1.cloud_service_id}, w.member
    )
    assert as_member["tags"]["custom"] == {"env": "prod", "team": "a"}
    listed = env.ok("/inventory/cloud-service/list", {"query": {}})["results"]
    by_id = {r["cloud_service_id"]: r for r in listed}
    assert by_id[r2.cloud_service_id]["tags"].get("custom") == {"team": "a"}
    assert "custom" not in (by_id[w.rp[2].cloud_service_id].get("tags") or {})

    def names(*conditions: dict[str, Any]) -> set[str]:
        query = {"filter": list(conditions)}
        out = env.ok("/inventory/cloud-service/list", {"query": query})["results"]
        return {r["cloud_service_id"] for r in out}

    c = lambda k, o, v: {"k": k, "v": v, "o": o}  # noqa: E731
    assert names(c("tags.custom.env", "eq", "prod")) == {r1.cloud_service_id}
    assert names(c("tags.custom.team", "eq", "a")) == {r1.cloud_service_id, r2.cloud_service_id}
    assert names(c("tags.custom.env", "eq", "dev")) == set()
    assert names(c("tags.custom.env", "in", ["prod", "dev"])) == {r1.cloud_service_id}
    assert r1.cloud_service_id not in names(c("tags.custom.env", "not", "prod"))
    # a custom tag is not a provider tag, and vice versa
    assert names(c("tags.aws.env", "eq", "prod")) == set()
    assert names(c("tags.custom.Name", "eq", "web")) == set()

    # detached → gone from the record and the filter
    w.attach([r1.kcrn], [], [env_prod])
    record = env.ok("/inventory/cloud-service/get", {"cloud_service_id": r1.cloud_service_id})
    assert record["tags"]["custom"] == {"team": "a"}
    assert names(c("tags.custom.env", "eq", "prod")) == set()


def test_tags_custom_cannot_be_written_through_cloud_service_verbs(env):
    w = build(env)
    (t,) = w.tags([("env", "prod")], w.p)
    r1 = w.rp[0]
    w.attach([r1.kcrn], [t])
    sneaky = {"custom": {"env": "sneaky"}}
    body = {
        "name": "x",
        "provider": "aws",
        "cloud_service_group": "EC2",
        "cloud_service_type": "Instance",
        "project_id": w.p,
        "data": {},
        "tags": sneaky,
    }
    response = env.call("/inventory/cloud-service/create", body)
    assert response.status_code == 400, response.text
    assert "custom" in response.json()["detail"]["message"]
    response = env.call(
        "/inventory/cloud-service/update",
        {"cloud_service_id": r1.cloud_service_id, "tags": sneaky},
    )
    assert response.status_code == 400, response.text
    response = env.call(
        "/inventory/cloud-service/update",
        {"cloud_service_id": r1.cloud_service_id, "tags": {"aws": {"Name": "x"}, **sneaky}},
    )
    assert response.status_code == 400, response.text
    record = env.ok("/inventory/cloud-service/get", {"cloud_service_id": r1.cloud_service_id})
    assert record["tags"] == {"aws": {"Name": "web"}, "custom": {"env": "prod"}}


# --- 8. system tags -----------------------------------------------------------------------------


def test_system_tags_are_grouped_and_read_only(env):
    w = build(env)
    make_resource(env, w.p, tags={"Name": "web", "env": "prod"})
    make_resource(env, w.q, provider="google_cloud", tags={"Name": "web"})
    make_resource(env, w.p, tags={"Name": "db"})
    (custom_web,) = w.tags([("Name", "web")], w.p)
    w.attach([w.rp[1].kcrn], [custom_web])

    found = tag_search(env, w.admin, "tag.type=system&tag.value=web")
    assert found["total_count"] == 1
    (row,) = found["tags"]
    assert {k: row[k] for k in ("tag_id", "key", "value", "type", "resource_count")} == {
        "tag_id": None,
        "key": "Name",
        "value": "web",
        "type": "system",
        "resource_count": 4,  # rp[0], rq[0], and the two above; providers grouped
    }
    assert row["created_at"].endswith("Z")
    both = tag_search(env, w.admin, "tag.value=web", sort="+tag.type")["tags"]
    assert [(t["type"], t["tag_id"], t["resource_count"]) for t in both] == [
        ("custom", custom_web, 1),
        ("system", None, 4),
    ]
    names = tag_search(env, w.admin, "tag.type=system&tag.key=Name", sort="-tag.value")["tags"]
    assert [(t["value"], t["resource_count"]) for t in names] == [("web", 4), ("db", 1)]
    assert len(resources(env, w.admin, "tag.key=Name&tag.value=web")) == 5

    before = settled(env)
    for ids in ([None], [""], [custom_web, None]):
        assert_error(post_delete(env, w.admin, ids), 400)
        assert_error(patch(env, w.admin, [w.rp[0].kcrn], ids, []), 400)
        assert_error(patch(env, w.admin, [w.rp[0].kcrn], [], ids), 400)
    assert settled(env) == before


def test_tags_search_as_the_seed_describes(env):
    """The seed's example sent word for word, then each filter, sort and paging it lists."""
    w = build(env)
    for _ in range(2):
        make_resource(env, w.p, tags={"Service": "Kubernetes Engine"})
    make_resource(env, w.p, tags={"Service": "Kubernetes"})
    in_use, _, _ = w.tags([("team", "a"), ("team", "b"), ("Service", "Kubernetes Engine")], w.p)
    w.attach([w.rp[0].kcrn], [in_use])

    verbatim = b'{"filter": {"filter_string": "tag.type=system&tag.value=Kubernetes Engine"}}'
    response = env.client.post("/api/v1/tags/search", content=verbatim, headers=hdr(w.admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "total_count", "count", "tags"}
    assert (body["success"], body["total_count"], body["count"]) == (True, 1, 1)
    (row,) = body["tags"]
    # the seed's fields, and the tag's project (none for a system tag): custom tags are project
    # entities, and an admin sees several projects' tags at once
    documented = {"tag_id", "key", "value", "type", "created_at", "resource_count"}
    assert set(row) == documented | {"project_id"} and row["project_id"] is None
    assert (row["key"], row["value"], row["type"], row["resource_count"]) == (
        "Service",
        "Kubernetes Engine",
        "system",
        2,
    )

    def pairs(filter_string: str, **extra: Any) -> list[tuple[str, str, str]]:
        return [
            (t["type"], t["key"], t["value"])
            for t in tag_search(env, w.admin, filter_string, **extra)["tags"]
        ]

    everything = pairs("tag.type=*", sort="+tag.key")
    assert sorted(everything, key=lambda t: t[1]) == everything
    assert set(everything) == {
        ("system", "Name", "web"),
        ("system", "Service", "Kubernetes Engine"),
        ("system", "Service", "Kubernetes"),
        ("custom", "team", "a"),
        ("custom", "team", "b"),
        ("custom", "Service", "Kubernetes Engine"),
    }
    # in use: attached to a resource (a system tag always is); not in use: attached to none
    assert set(pairs("tag.type=custom&tag:in_use")) == {("custom", "team", "a")}
    assert set(pairs("tag:not_in_use")) == {
        ("custom", "team", "b"),
        ("custom", "Service", "Kubernetes Engine"),
    }
    assert set(pairs("tag:in_use")) == set(everything) - set(pairs("tag:not_in_use"))
    assert {t[0] for t in pairs("-tag.type=custom")} == {"system"}
    assert set(pairs("-tag.key=Service&-tag.value=web")) == {
        ("custom", "team", "a"),
        ("custom", "team", "b"),
    }
    newest_first = tag_search(env, w.admin, "tag.type=custom", sort="-tag.created_at")["tags"]
    stamps = [t["created_at"] for t in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    # paging: two at a time, the same total on every page, no repeat and no gap
    walked = []
    for offset in range(0, 8, 2):
        page = tag_search(env, w.admin, "tag.type=*", sort="-tag.value", offset=offset, limit=2)
        assert page["total_count"] == len(everything)
        walked += [(t["type"], t["key"], t["value"]) for t in page["tags"]]
    assert walked == pairs("tag.type=*", sort="-tag.value")
    assert [v for _, _, v in walked] == sorted((v for _, _, v in walked), reverse=True)
    for bad in ({"limit": 501}, {"limit": 0}, {"offset": -1}, {"sort": "+tag.colour"}):
        response = env.client.post("/api/v1/tags/search", json=bad, headers=hdr(w.admin))
        assert_error(response, 400, next(iter(bad)))


def test_a_hundred_at_once_is_accepted_and_a_hundred_and_one_is_not(env):
    """The limits of delete (100 tag ids) and attach (100 KCRNs) at their edges, with distinct
    ids: a hundred apply, a hundred and one apply nothing."""
    w = build(env)
    kcrns = [r.kcrn for r in w.rp] + [make_resource(env, w.p).kcrn for _ in range(101 - 3)]
    assert len(set(kcrns)) == 101
    (tag,) = w.tags([("wave", "1")], w.p)
    before = settled(env)
    assert_error(patch(env, w.admin, kcrns, [tag], []), 400, "100")
    assert settled(env) == before
    w.attach(kcrns[:100], [tag])
    assert len(resources(env, w.admin, "tag.key=wave&tag.value=1")) == 100

    ids = w.tags([(f"bulk-{i}", "x") for i in range(100)], w.p)
    before = settled(env)
    assert_error(post_delete(env, w.admin, [*ids, tag]), 400, "100")
    assert settled(env) == before
    wait_ok(env, w.admin, accepted(post_delete(env, w.admin, ids)))
    assert set(custom_tag_rows(env, w.admin)) == {tag}


# --- 9. error bodies ----------------------------------------------------------------------------


def test_error_bodies_on_the_tag_routes(sqlite_env):
    env = sqlite_env
    w = build(env)
    (t,) = w.tags([("env", "prod")], w.p)
    checks = [
        (env.client.post("/api/v1/tags", content=b"{nope", headers=hdr(w.admin)), 400),
        (env.client.post("/api/v1/tags", content=b"[]", headers=hdr(w.admin)), 400),
        (env.client.patch("/api/v1/tags", content=b"null", headers=hdr(w.admin)), 400),
        (post_create(env, w.admin, [{"key": "env", "value": "prod"}], w.p), 409),
        (post_create(env, w.reader, [{"key": "x"}], w.p), 403),
        (post_create(env, None, [{"key": "x"}], w.p), 401),
        (get_tag(env, w.admin, "tag-nope"), 404),
        (get_op(env, w.admin, "op-nope"), 404),
        (post_delete(env, w.admin, ["tag-nope"]), 400),
        (patch(env, w.admin, [], [t], []), 400),
        (
            env.client.post(
                "/api/v1/tags/search",
                json={"filter": {"filter_string": "x=y"}},
                headers=hdr(w.admin),
            ),
            400,
        ),
        (env.client.post("/api/v1/tags/search", json={"limit": 0}, headers=hdr(w.admin)), 400),
        (env.client.post("/api/v1/tags/search", json={"sort": "+x"}, headers=hdr(w.admin)), 400),
    ]
    for response, status in checks:
        assert_error(response, status)
        assert "Traceback" not in response.text


# --- bugs found while writing these tests -------------------------------------------------------


def test_spaces_and_joiners_are_not_control_characters(sqlite_env):
    w = build(sqlite_env)
    pairs = [("nbsp", "a\u00a0b"), ("ideographic", "서울\u30001"), ("family", "👨\u200d👩\u200d👧")]
    response = w.create(pairs, w.p)
    assert response.status_code == 202, response.text


def test_another_workspace_cannot_delete_a_pending_tag(sqlite_env):
    env = sqlite_env
    w = build(env)
    ws_b = env.ok("/identity/workspace/create", {"name": "B"})["workspace_id"]
    other_owner = env.ok(
        "/identity/app/create",
        {"name": "ob", "role_id": "managed-workspace-owner", "workspace_id": ws_b},
    )["client_secret"]
    env.runtime.workers.stop()
    created = w.create([("mine", "1")], w.p)
    tag_id = created.json()["tags"][0]["tag_id"]
    accepted(created)
    response = post_delete(env, other_owner, [tag_id])
    env.runtime.workers.drain()
    assert get_tag(env, w.admin, tag_id).status_code == 200
    assert_error(response, 400, tag_id)


def test_moving_a_resource_does_not_show_the_old_projects_tags(sqlite_env):
    env = sqlite_env
    w = build(env)
    (tq,) = w.tags([("secret", "q")], w.q)
    moved = w.rq[0]
    w.attach([moved.kcrn], [tq])
    env.ok(
        "/inventory/cloud-service/update",
        {"cloud_service_id": moved.cloud_service_id, "project_id": w.p},
    )
    seen = [
        t
        for r in resources(env, w.member)
        if r["cloud_service_id"] == moved.cloud_service_id
        for t in r["tags"]
    ]
    record = env.ok(
        "/inventory/cloud-service/get", {"cloud_service_id": moved.cloud_service_id}, w.member
    )
    assert tq not in {t["tag_id"] for t in seen}
    assert "custom" not in record["tags"]


def test_flat_tags_of_a_custom_provider_cannot_write_tags_custom(sqlite_env):
    env = sqlite_env
    w = build(env)
    body = {
        "name": "x",
        "provider": "custom",
        "cloud_service_group": "G",
        "cloud_service_type": "T",
        "project_id": w.p,
        "data": {},
        "tags": {"env": "sneaky"},
    }
    response = env.call("/inventory/cloud-service/create", body)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("backend", ["postgres"])  # SQLite serialises writers: no window
@pytest.mark.parametrize("second", ["attach", "create"])
def test_look_ahead_does_not_miss_a_create_applied_meanwhile(env, monkeypatch, second):
    from skyatlas.jobs import queue

    w = build(env)
    env.runtime.workers.stop()
    created = w.create([("racy", "1")], w.p)
    tag_id = created.json()["tags"][0]["tag_id"]
    create_op = accepted(created)
    original = queue.pending_payloads
    fired = []

    def worker_commits_first(conn: Any, q: str, kind: str) -> Any:
        if not fired:  # the worker applies the create between the look-ahead's two reads
            fired.append(True)
            t = threading.Thread(target=env.runtime.workers.drain)
            t.start()
            t.join(10)
        return original(conn, q, kind)

    monkeypatch.setattr(queue, "pending_payloads", worker_commits_first)
    if second == "attach":
        response = patch(env, w.admin, [w.rp[0].kcrn], [tag_id], [])
    else:
        response = w.create([("racy", "1")], w.p)
    monkeypatch.undo()
    assert fired
    assert get_op(env, w.admin, create_op).json()["operation"]["state"] == "SUCCEEDED"
    assert get_tag(env, w.admin, tag_id).status_code == 200  # the tag does exist
    if second == "attach":
        accepted(response)  # got: 400 "no such custom tag(s)"
    else:
        assert_error(response, 409, "racy=1")  # got: 202, and the operation then FAILED
