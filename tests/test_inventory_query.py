"""Cloud-service query semantics, pinned by tables, identical on SQLite and PostgreSQL.

Every test builds the same hand-made resources through the API on its backend, runs a table of
queries and collects every mismatch before failing, so one run shows every broken row at once.
The resources cover each JSON type (string, int, float, bool, null), nested objects, lists of
scalars, lists of objects, empty lists, missing fields and provider tags (also a key with dots).
`deleted-vm` is soft-deleted: every row also checks that it stays hidden unless the query
mentions `state`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from skyatlas.store.tables import cloud_services

LIST = "/inventory/cloud-service/list"
STAT = "/inventory/cloud-service/stat"

# --- the resources -----------------------------------------------------------------------------

WEB1, WEB2, DB1, BUCKET = "web-1", "web-2", "db-1", "bucket-logs"
GCP, AZURE, EMPTY, FN = "gcp-vm", "azure-vm", "empty-data", "fn_50%off"
SG_USED, SG_UNUSED, SG_NULL, SG_BARE = "sg-used", "sg-unused", "sg-null", "sg-bare"
DELETED = "deleted-vm"

ALL = frozenset(
    {WEB1, WEB2, DB1, BUCKET, GCP, AZURE, EMPTY, FN, SG_USED, SG_UNUSED, SG_NULL, SG_BARE}
)
SGS = frozenset({SG_USED, SG_UNUSED, SG_NULL, SG_BARE})
IN_Q = frozenset({DB1, GCP, AZURE})  # project Q; everything else (and DELETED) is in P
IN_P = ALL - IN_Q
ACCOUNT = "111111111111"

WEB1_INSTANCES = [{"id": "i-1", "state": "running"}]


def _aws(name: str, group: str, type_: str, **body: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "aws",
        "cloud_service_group": group,
        "cloud_service_type": type_,
        "account": ACCOUNT,
        **body,
    }


RECORDS: list[dict[str, Any]] = [
    _aws(
        WEB1,
        "EC2",
        "Instance",
        region_code="ap-northeast-2",
        instance_type="t3.micro",
        instance_size=1.0,
        ip_addresses=["10.0.0.1", "54.180.0.1"],
        reference={"resource_id": "i-web1"},
        tags={"aws": {"Name": WEB1, "env": "prod", "kubernetes.io/name": "web"}},
        data={
            "state": "RUNNING",
            "count": 3,
            "ratio": 0.5,
            "enabled": True,
            "nothing": None,
            "note": "Hello World",
            "hardware": {"core": 2, "memory": 4.0},
            "compute": {
                "az": "ap-northeast-2a",
                "security_groups": [{"id": "sg-1", "name": "web"}, {"id": "sg-2", "name": "ssh"}],
            },
            "labels": ["red", "blue"],
            "ports": [80, 443],
            "instances": WEB1_INSTANCES,
            "launched_at": "2024-01-10T05:00:00",
        },
    ),
    _aws(
        WEB2,
        "EC2",
        "Instance",
        region_code="ap-northeast-2",
        instance_type="t3.large",
        instance_size=2.0,
        ip_addresses=["10.0.0.2"],
        reference={"resource_id": "i-web2"},
        tags={"aws": {"Name": WEB2, "env": "staging"}},
        data={
            "state": "STOPPED",
            "count": 10,
            "ratio": 1.5,
            "enabled": False,
            "hardware": {"core": 4},
            "compute": {
                "az": "ap-northeast-2c",
                "security_groups": [{"id": "sg-2", "name": "ssh"}],
            },
            "labels": ["green"],
            "ports": [22],
            "instances": [],
            "launched_at": "2024-03-01T00:00:00",
        },
    ),
    _aws(
        DB1,
        "RDS",
        "Database",
        region_code="us-east-1",
        reference={"resource_id": "arn:aws:rds:db-1"},
        tags={"aws": {"Name": DB1, "env": "prod"}},
        data={
            "state": "running",
            "count": 0,
            "ratio": -2.25,
            "enabled": True,
            "hardware": {"core": 8},
            "compute": {"security_groups": []},
            "labels": [],
            "instances": None,
            "engine": "postgres",
        },
    ),
    _aws(
        BUCKET,
        "S3",
        "Bucket",
        region_code="us-east-1",
        reference={"resource_id": "bucket-logs"},
        tags={"aws": {"env": "dev", "owner": ""}},
        data={
            "count": "10",
            "enabled": "true",
            "labels": "red",
            "versioning": {"status": "Enabled"},
        },
    ),
    {
        "name": GCP,
        "provider": "google_cloud",
        "cloud_service_group": "ComputeEngine",
        "cloud_service_type": "Instance",
        "account": "proj-1",
        "region_code": "asia-northeast3",
        "instance_type": "e2-medium",
        "instance_size": 4.0,
        "ip_addresses": ["10.1.0.5"],
        "reference": {"resource_id": "1234567890"},
        "tags": {"google_cloud": {"Name": GCP, "kubernetes.io/name": "api"}},
        "data": {
            "state": "RUNNING",
            "hardware": {"core": 2},
            "compute": {"security_groups": [{"id": "fw-1", "name": "default"}, {"id": "fw-2"}]},
            "instances": [{"id": "i-9", "state": "stopped"}, {"id": "i-10", "state": "running"}],
            "launched_at": "2024-02-15 10:00:00",
            "nested": {"list": [{"deep": [{"x": 1}, {"x": 2}]}, {"deep": []}]},
        },
    },
    {
        "name": AZURE,
        "provider": "azure",
        "cloud_service_group": "VirtualMachines",
        "cloud_service_type": "Instance",
        "region_code": "koreacentral",
        "instance_size": 8.0,
        "ip_addresses": ["20.0.0.1"],
        "reference": {"resource_id": "/subscriptions/s-1/vm/azure-vm"},
        "tags": {"azure": {"Name": AZURE, "env": "Prod"}},
        "data": {
            "state": "Running",
            "count": 3.0,
            "ratio": 0.5,
            "hardware": {"core": 16},
            "labels": ["Red"],
        },
    },
    _aws(EMPTY, "EC2", "Instance", data={}),
    _aws(
        SG_USED,
        "EC2",
        "SecurityGroup",
        region_code="ap-northeast-2",
        reference={"resource_id": "sg-aaa"},
        data={"instances": [{"InstanceId": "i-1", "State": {"Name": "running"}}]},
    ),
    _aws(
        SG_UNUSED,
        "EC2",
        "SecurityGroup",
        region_code="ap-northeast-2",
        reference={"resource_id": "sg-bbb"},
        data={"instances": []},
    ),
    _aws(
        SG_NULL,
        "EC2",
        "SecurityGroup",
        region_code="ap-northeast-2",
        reference={"resource_id": "sg-ccc"},
        data={"instances": None},
    ),
    _aws(
        SG_BARE,
        "EC2",
        "SecurityGroup",
        region_code="ap-northeast-2",
        reference={"resource_id": "sg-ddd"},
        # the keys below also appear nested, so no text prefilter can decide a top-level path
        data={"vpc_id": "vpc-1", "meta": {"labels": ["x"], "instances": [], "state": "RUNNING"}},
    ),
    _aws(
        FN,
        "Lambda",
        "Function",
        region_code="us-west-2",
        reference={"resource_id": "arn:aws:lambda:fn"},
        tags={"aws": {"Name": "fn", "dot.key": "x"}},
        data={"text": "100% sure_thing", "labels": ["a%b", "c_d"]},
    ),
    _aws(
        DELETED,
        "EC2",
        "Instance",
        region_code="ap-northeast-2",
        ip_addresses=["10.0.0.9"],
        reference={"resource_id": "i-dead"},
        tags={"aws": {"Name": DELETED, "env": "prod"}},
        data={
            "state": "TERMINATED",
            "hardware": {"core": 2},
            "instances": [{"id": "i-dead", "state": "running"}],
            "labels": ["red"],
        },
    ),
]


@dataclass
class World:
    env: Any
    p: str
    q: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def id(self, name: str) -> str:
        return self.records[name]["cloud_service_id"]

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def check(self) -> None:
        assert not self.failures, f"{len(self.failures)} mismatches:\n" + "\n".join(self.failures)


def build(env: Any) -> World:
    """The resources above through the API, then `deleted-vm` soft-deleted."""
    project = lambda name: env.ok(  # noqa: E731
        "/identity/project/create", {"name": name, "workspace_id": env.workspace_id}
    )["project_id"]
    world = World(env=env, p=project("P"), q=project("Q"))
    for body in RECORDS:
        body = {**body, "project_id": world.q if body["name"] in IN_Q else world.p}
        world.records[body["name"]] = env.ok("/inventory/cloud-service/create", body)
    env.ok("/inventory/cloud-service/delete", {"cloud_service_id": world.id(DELETED)})
    return world


def c(key: str, op: str, value: Any) -> dict[str, Any]:
    return {"k": key, "o": op, "v": value}


def f(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"filter": list(conditions)}


def _label(body: Any) -> str:
    text = json.dumps(body, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


def list_names(
    world: World, body: dict[str, Any], token: str = "admin"
) -> tuple[set[str], dict[str, Any]] | None:
    """The names a list answers (None, with a failure noted, when it is not a 200 answer)."""
    response = world.env.call(LIST, body, token)
    if response.status_code != 200:
        world.fail(f"{_label(body)}: HTTP {response.status_code} {response.text[:300]}")
        return None
    answer = response.json()
    names = [r.get("name") for r in answer["results"]]
    if len(names) != len(set(names)):
        world.fail(f"{_label(body)}: a record appears twice: {sorted(names)}")
    return set(names), answer


def expect_names(
    world: World, body: dict[str, Any], expected: frozenset[str] | set[str], token: str = "admin"
) -> None:
    got = list_names(world, body, token)
    if got is None:
        return
    names, answer = got
    if names != set(expected):
        world.fail(
            f"{_label(body)}: missing {sorted(set(expected) - names)}, "
            f"unexpected {sorted(names - set(expected))}"
        )
    if "page" not in body.get("query", {}) and answer["total_count"] != len(names):
        world.fail(f"{_label(body)}: total_count {answer['total_count']} != {len(names)}")


def run_rows(world: World, rows: list[tuple[dict[str, Any], frozenset[str] | set[str]]]) -> None:
    for query, expected in rows:
        expect_names(world, {"query": query}, expected)


# --- conditions ------------------------------------------------------------------------------


def core_rows(world: World) -> list[tuple[dict[str, Any], frozenset[str] | set[str]]]:
    created = {name: world.records[name]["created_at"] for name in ALL}
    pivot = created[DB1]

    def when(test: Any) -> set[str]:
        return {n for n, ts in created.items() if test(ts)}

    E: frozenset[str] = frozenset()
    return [
        (f(c("name", "eq", WEB1)), {WEB1}),
        ({"filter": [{"key": "name", "value": WEB1}]}, {WEB1}),  # `o` defaults to eq
        ({"filter": [{"key": "name", "value": WEB1, "operator": "not"}]}, ALL - {WEB1}),
        (f(c("name", "not", WEB1)), ALL - {WEB1}),
        (f(c("name", "eq", None)), E),
        (f(c("name", "not", None)), ALL),
        (f(c("region_code", "eq", None)), {EMPTY}),
        (f(c("region_code", "not", None)), ALL - {EMPTY}),
        (f(c("region_code", "not", "us-east-1")), ALL - {DB1, BUCKET}),
        (f(c("name", "lt", "c")), {AZURE, BUCKET}),
        (f(c("name", "lte", BUCKET)), {AZURE, BUCKET}),
        (f(c("name", "gt", SG_NULL)), {SG_UNUSED, SG_USED, WEB1, WEB2}),
        (f(c("name", "gte", WEB2)), {WEB2}),
        (f(c("name", "lt", "Z")), E),  # code-point order: upper case sorts before lower case
        (f(c("instance_size", "gt", 1.5)), {WEB2, GCP, AZURE}),
        (f(c("instance_size", "lte", 1)), {WEB1}),
        (f(c("instance_size", "eq", 4)), {GCP}),
        (f(c("instance_size", "not", 4)), ALL - {GCP}),
        (f(c("instance_size", "eq", None)), ALL - {WEB1, WEB2, GCP, AZURE}),
        (f(c("name", "in", [WEB1, DB1, "nope"])), {WEB1, DB1}),
        (f(c("name", "in", [])), E),
        (f(c("name", "not_in", [])), ALL),
        (f(c("name", "not_in", [WEB1, WEB2])), ALL - {WEB1, WEB2}),
        (f(c("region_code", "in", [None, "us-east-1"])), {EMPTY, DB1, BUCKET}),
        (f(c("region_code", "not_in", ["ap-northeast-2"])), {DB1, BUCKET, GCP, AZURE, EMPTY, FN}),
        (f(c("region_code", "not_in", [None, "ap-northeast-2"])), {DB1, BUCKET, GCP, AZURE, FN}),
        (f(c("name", "contain", "WEB")), {WEB1, WEB2}),
        (f(c("name", "contain", "%")), {FN}),
        (f(c("name", "contain", "_")), {FN}),
        (f(c("name", "contain", "0%O")), {FN}),
        (f(c("name", "contain", "n_5")), {FN}),
        (f(c("name", "contain", "s_")), E),  # `_` is no wildcard
        (f(c("name", "contain", "g%u")), E),  # `%` is no wildcard
        (f(c("name", "not_contain", "sg")), ALL - SGS),
        (f(c("name", "contain_in", ["web", "GCP"])), {WEB1, WEB2, GCP}),
        (f(c("name", "contain_in", [])), E),
        (f(c("name", "not_contain_in", ["web", "sg"])), ALL - SGS - {WEB1, WEB2}),
        (f(c("name", "not_contain_in", [])), ALL),
        (f(c("region_code", "not_contain", "north")), {DB1, BUCKET, AZURE, EMPTY, FN}),
        (f(c("region_code", "contain_in", ["us-e", "WEST"])), {DB1, BUCKET, FN}),
        (f(c("region_code", "not_contain_in", ["us-e", "west"])), ALL - {DB1, BUCKET, FN}),
        (f(c("region_code", "exists", True)), ALL - {EMPTY}),
        (f(c("region_code", "exists", False)), {EMPTY}),
        (f(c("name", "regex", "^sg-u")), {SG_UNUSED, SG_USED}),
        (f(c("name", "regex", "WEB-[12]$")), {WEB1, WEB2}),
        (f(c("name", "regex_in", ["^db", "^gcp"])), {DB1, GCP}),
        (f(c("name", "regex_in", [])), E),
        (f(c("account", "eq", "proj-1")), {GCP}),
        (f(c("account", "exists", False)), {AZURE}),
        (f(c("instance_type", "in", ["t3.micro", "e2-medium"])), {WEB1, GCP}),
        (f(c("cloud_service_type", "eq", "Instance")), {WEB1, WEB2, GCP, AZURE, EMPTY}),
        (f(c("provider", "not", "aws")), {GCP, AZURE}),
        (f(c("project_id", "eq", world.q)), IN_Q),
        (f(c("project_id", "in", [world.p])), IN_P),
        (f(c("cloud_service_id", "eq", world.id(GCP))), {GCP}),
        (f(c("workspace_id", "eq", world.env.workspace_id)), ALL),
        (f(c("created_at", "eq", pivot)), when(lambda ts: ts == pivot)),
        (f(c("created_at", "lt", pivot)), when(lambda ts: ts < pivot)),
        (f(c("created_at", "datetime_lt", pivot)), when(lambda ts: ts < pivot)),
        (f(c("created_at", "datetime_lte", pivot)), when(lambda ts: ts <= pivot)),
        (f(c("created_at", "datetime_gt", pivot)), when(lambda ts: ts > pivot)),
        (f(c("created_at", "datetime_gte", pivot)), when(lambda ts: ts >= pivot)),
        (f(c("created_at", "timediff_gt", "now-1d")), ALL),
        (f(c("created_at", "timediff_lt", "now-1d")), E),
        (f(c("created_at", "timediff_lte", "now+1h")), ALL),
        (f(c("created_at", "timediff_gte", "now - 1h")), ALL),
        (f(c("updated_at", "datetime_gt", "2000-01-01")), ALL),
        (f(c("collection_info.collector_id", "exists", False)), ALL),
    ]


def state_rows(world: World) -> list[tuple[dict[str, Any], frozenset[str] | set[str]]]:
    return [
        (f(c("state", "eq", "DELETED")), {DELETED}),
        (f(c("state", "in", ["ACTIVE", "DELETED"])), ALL | {DELETED}),
        (f(c("state", "not", "DELETED")), ALL),
        (f(c("state", "exists", True)), ALL | {DELETED}),
        (f(c("deleted_at", "exists", True)), set()),  # `state` not mentioned: hidden
        (f(c("state", "eq", "DELETED"), c("deleted_at", "exists", True)), {DELETED}),
        ({"filter_or": [c("name", "eq", WEB1), c("state", "eq", "DELETED")]}, {WEB1, DELETED}),
        (f(c("data.state", "eq", "TERMINATED")), set()),
        (f(c("data.state", "eq", "TERMINATED"), c("state", "not", "ACTIVE")), {DELETED}),
        (f(c("name", "contain", "vm")), {GCP, AZURE}),
        (f(c("tags.aws.env", "eq", "prod")), {WEB1, DB1}),
        (f(c("ip_addresses", "eq", "10.0.0.9")), set()),
    ]


def data_rows() -> list[tuple[dict[str, Any], frozenset[str] | set[str]]]:
    E: frozenset[str] = frozenset()
    has_instances = {WEB1, WEB2, GCP, SG_USED, SG_UNUSED}  # present and not null ([] counts)
    has_labels = {WEB1, WEB2, DB1, BUCKET, AZURE, FN}
    sg = "data.compute.security_groups"
    return [
        (f(c("data.state", "eq", "RUNNING")), {WEB1, GCP}),
        (f(c("data.state", "not", "RUNNING")), ALL - {WEB1, GCP}),
        (f(c("data.state", "contain", "run")), {WEB1, DB1, GCP, AZURE}),
        (f(c("data.state", "not_contain", "run")), ALL - {WEB1, DB1, GCP, AZURE}),
        (f(c("data.state", "contain_in", ["stop", "RUNNING"])), {WEB1, WEB2, DB1, GCP, AZURE}),
        (f(c("data.state", "not_contain_in", ["run"])), ALL - {WEB1, DB1, GCP, AZURE}),
        (f(c("data.state", "regex", "^run")), {WEB1, DB1, GCP, AZURE}),
        (f(c("data.state", "regex_in", ["^stop", "ning$"])), {WEB1, WEB2, DB1, GCP, AZURE}),
        (f(c("data.state", "in", ["RUNNING", "running"])), {WEB1, GCP, DB1}),
        (f(c("data.state", "not_in", ["RUNNING", "running"])), ALL - {WEB1, GCP, DB1}),
        (f(c("data.state", "lt", "S")), {WEB1, GCP, AZURE}),
        (f(c("data.state", "gte", "r")), {DB1}),
        (f(c("data.state", "exists", True)), {WEB1, WEB2, DB1, GCP, AZURE}),
        # numbers and strings are different values; 3 == 3.0
        (f(c("data.count", "eq", 3)), {WEB1, AZURE}),
        (f(c("data.count", "eq", 10)), {WEB2}),
        (f(c("data.count", "eq", "10")), {BUCKET}),
        (f(c("data.count", "gt", 2)), {WEB1, WEB2, AZURE}),
        (f(c("data.count", "lte", 0)), {DB1}),
        (f(c("data.count", "gte", "1")), {BUCKET}),
        (f(c("data.count", "in", [0, "10"])), {DB1, BUCKET}),
        (f(c("data.count", "exists", True)), {WEB1, WEB2, DB1, BUCKET, AZURE}),
        (f(c("data.count", "contain", "1")), {BUCKET}),  # numbers hold no substrings
        (f(c("data.ratio", "lt", 0)), {DB1}),
        (f(c("data.ratio", "eq", 0.5)), {WEB1, AZURE}),
        (f(c("data.ratio", "gte", 1.5)), {WEB2}),
        (f(c("data.ratio", "lt", 0.75)), {WEB1, DB1, AZURE}),
        # booleans are neither numbers nor strings
        (f(c("data.enabled", "eq", True)), {WEB1, DB1}),
        (f(c("data.enabled", "eq", False)), {WEB2}),
        (f(c("data.enabled", "eq", "true")), {BUCKET}),
        (f(c("data.enabled", "eq", 1)), E),
        (f(c("data.enabled", "not", True)), ALL - {WEB1, DB1}),
        (f(c("data.enabled", "in", [True, "true"])), {WEB1, DB1, BUCKET}),
        (f(c("data.enabled", "exists", False)), ALL - {WEB1, WEB2, DB1, BUCKET}),
        # null and missing
        (f(c("data.nothing", "eq", None)), ALL),
        (f(c("data.nothing", "in", [None])), ALL),
        (f(c("data.nothing", "not", None)), E),
        (f(c("data.nothing", "exists", True)), E),
        (f(c("data.engine", "exists", True)), {DB1}),
        (f(c("data.instances", "exists", True)), has_instances),
        (f(c("data.instances", "exists", False)), ALL - has_instances),
        (f(c("data.instances", "eq", None)), ALL - has_instances),
        (f(c("data.instances", "not", None)), has_instances),
        (f(c("data.instances", "in", [None, []])), ALL - {WEB1, GCP, SG_USED}),
        (f(c("data.instances", "not_in", [None, []])), {WEB1, GCP, SG_USED}),
        (f(c("data.instances", "in", [[]])), {WEB2, SG_UNUSED}),
        (f(c("data.instances", "not_in", [[]])), ALL - {WEB2, SG_UNUSED}),
        (f(c("data.instances", "not_in", ["x", []])), ALL - {WEB2, SG_UNUSED}),
        (f(c("data.labels", "not_in", [[]])), ALL - {DB1}),
        (f(c(sg, "not_in", [[]])), ALL - {DB1}),
        # lists of objects: `match` wants one element satisfying every pair
        (f(c("data.instances", "match", {"state": "running"})), {WEB1, GCP}),
        (f(c("data.instances", "match", {"id": "i-9", "state": "stopped"})), {GCP}),
        (f(c("data.instances", "match", {"id": "i-9", "state": "running"})), E),
        (f(c("data.instances", "match", {"InstanceId": "i-1"})), {SG_USED}),
        (f(c("data.instances", "match", {"id": "i-1"})), {WEB1}),
        # ... while separate conditions may be met by different elements
        (f(c("data.instances.id", "eq", "i-9"), c("data.instances.state", "eq", "running")), {GCP}),
        (f(c("data.instances.state", "eq", "stopped")), {GCP}),
        (f(c("data.instances.state", "not", "running")), ALL - {WEB1, GCP}),
        (f(c("data.instances.id", "in", ["i-1", "i-10"])), {WEB1, GCP}),
        (f(c("data.instances.State.Name", "eq", "running")), {SG_USED}),
        (f(c("data.instances.id", "exists", True)), {WEB1, GCP}),
        (f(c(f"{sg}.id", "eq", "sg-1")), {WEB1}),
        (f(c(f"{sg}.id", "eq", "sg-2")), {WEB1, WEB2}),
        (f(c(f"{sg}.id", "not", "sg-2")), ALL - {WEB1, WEB2}),
        (f(c(f"{sg}.id", "contain", "SG-")), {WEB1, WEB2}),
        (f(c(f"{sg}.id", "in", ["fw-1", "sg-1"])), {GCP, WEB1}),
        (f(c(f"{sg}.id", "not_in", ["sg-2"])), ALL - {WEB1, WEB2}),
        (f(c(f"{sg}.id", "exists", True)), {WEB1, WEB2, GCP}),
        (f(c(f"{sg}.id", "regex", "^fw")), {GCP}),
        # an element without the key adds no candidate: gcp-vm's second group has no name
        (f(c(f"{sg}.name", "eq", None)), ALL - {WEB1, WEB2, GCP}),
        (f(c(f"{sg}.name", "not", None)), {WEB1, WEB2, GCP}),
        (f(c(f"{sg}.name", "in", [None, "nope"])), ALL - {WEB1, WEB2, GCP}),
        (f(c(sg, "exists", True)), {WEB1, WEB2, DB1, GCP}),
        (f(c(sg, "in", [[]])), {DB1}),
        (f(c(sg, "match", {"id": "sg-2", "name": "ssh"})), {WEB1, WEB2}),
        (f(c(sg, "match", {"id": "sg-1", "name": "ssh"})), E),
        (f(c("data.compute.az", "regex", "2A$")), {WEB1}),
        # lists of scalars: any element; a scalar where others have a list counts as one
        (f(c("data.labels", "eq", "red")), {WEB1, BUCKET}),
        (f(c("data.labels", "contain", "RED")), {WEB1, BUCKET, AZURE}),
        (f(c("data.labels", "in", ["green", "blue"])), {WEB1, WEB2}),
        (f(c("data.labels", "not_in", ["red"])), ALL - {WEB1, BUCKET}),
        (f(c("data.labels", "in", [[]])), {DB1}),
        (f(c("data.labels", "not_in", [None, []])), has_labels - {DB1}),
        (f(c("data.labels", "eq", None)), ALL - has_labels),
        (f(c("data.labels", "exists", True)), has_labels),
        (f(c("data.labels", "contain", "a%b")), {FN}),
        (f(c("data.labels", "contain", "c%d")), E),
        (f(c("data.labels", "contain", "a_b")), E),
        (f(c("data.labels", "contain_in", ["c_d", "GREEN"])), {FN, WEB2}),
        (f(c("data.labels", "not_contain_in", ["e"])), ALL - {WEB1, WEB2, BUCKET, AZURE}),
        (f(c("data.labels", "regex", "^r")), {WEB1, BUCKET, AZURE}),
        (f(c("data.labels.x", "exists", True)), E),
        (f(c("data.ports", "eq", 443)), {WEB1}),
        (f(c("data.ports", "gt", 100)), {WEB1}),
        (f(c("data.ports", "lt", 50)), {WEB2}),
        (f(c("data.ports", "eq", "80")), E),
        (f(c("data.ports", "not", 80)), ALL - {WEB1}),
        # nested objects
        (f(c("data.hardware.core", "gte", 8)), {DB1, AZURE}),
        (f(c("data.hardware.core", "lt", 4)), {WEB1, GCP}),
        (f(c("data.hardware.core", "eq", 2)), {WEB1, GCP}),
        (f(c("data.hardware.core", "eq", 2.0)), {WEB1, GCP}),
        (f(c("data.hardware.memory", "eq", 4)), {WEB1}),
        (f(c("data.hardware", "exists", True)), {WEB1, WEB2, DB1, GCP, AZURE}),
        (f(c("data.versioning.status", "eq", "Enabled")), {BUCKET}),
        (f(c("data.state.deeper", "exists", True)), E),
        (f(c("data.nested.list.deep.x", "eq", 2)), {GCP}),
        (f(c("data.nested.list.deep.x", "gt", 1)), {GCP}),
        (f(c("data.nested.list.deep.x", "lt", 1)), E),
        (f(c("data.nested.list.deep", "in", [[]])), {GCP}),
        (f(c("data.vpc_id", "eq", "vpc-1")), {SG_BARE}),
        # timestamps inside data (a space instead of `T` is accepted)
        (f(c("data.launched_at", "datetime_gt", "2024-02-01")), {WEB2, GCP}),
        (f(c("data.launched_at", "datetime_lte", "2024-01-10T05:00:00Z")), {WEB1}),
        (f(c("data.launched_at", "datetime_lt", "2024-01-10T05:00:00Z")), E),
        (f(c("data.launched_at", "datetime_gte", "2024-02-15T10:00:00Z")), {WEB2, GCP}),
        (f(c("data.launched_at", "timediff_lt", "now")), {WEB1, WEB2, GCP}),
        (f(c("data.launched_at", "timediff_gt", "now")), E),
        (f(c("data.launched_at", "timediff_lte", "now/d")), {WEB1, WEB2, GCP}),
        (f(c("data.launched_at", "timediff_gte", "now-1w")), E),
        # strings: eq is exact, contain is case-insensitive and literal
        (f(c("data.note", "contain", "hello w")), {WEB1}),
        (f(c("data.note", "eq", "hello world")), E),
        (f(c("data.note", "regex", "world$")), {WEB1}),
        (f(c("data.text", "contain", "100% s")), {FN}),
        (f(c("data.text", "contain", "e_t")), {FN}),
        (f(c("data.text", "contain", "e%t")), E),
        (f(c("metadata.anything", "exists", True)), E),
    ]


def tag_rows() -> list[tuple[dict[str, Any], frozenset[str] | set[str]]]:
    E: frozenset[str] = frozenset()
    aws_env = {WEB1, WEB2, DB1, BUCKET}
    return [
        (f(c("tags.aws.Name", "eq", WEB1)), {WEB1}),
        (f(c("tags.aws.Name", "not", WEB1)), ALL - {WEB1}),
        (f(c("tags.aws.Name", "eq", GCP)), E),  # gcp-vm's Name is a google_cloud tag
        (f(c("tags.aws.env", "eq", "prod")), {WEB1, DB1}),
        (f(c("tags.aws.env", "in", ["prod", "staging"])), {WEB1, WEB2, DB1}),
        (f(c("tags.aws.env", "not_in", ["prod"])), ALL - {WEB1, DB1}),
        (f(c("tags.aws.env", "in", ["dev", None])), ALL - {WEB1, WEB2, DB1}),
        (f(c("tags.aws.env", "not_in", ["dev", None])), {WEB1, WEB2, DB1}),
        (f(c("tags.aws.Name", "in", [])), E),
        (f(c("tags.aws.Name", "not_in", [])), ALL),
        (f(c("tags.aws.env", "exists", True)), aws_env),
        (f(c("tags.aws.env", "exists", False)), ALL - aws_env),
        (f(c("tags.aws.env", "contain", "PRO")), {WEB1, DB1}),
        (f(c("tags.aws.env", "not_contain", "prod")), ALL - {WEB1, DB1}),
        (f(c("tags.aws.env", "contain_in", ["stag", "dev"])), {WEB2, BUCKET}),
        (f(c("tags.aws.env", "not_contain_in", ["prod"])), ALL - {WEB1, DB1}),
        (f(c("tags.aws.env", "eq", None)), ALL - aws_env),
        (f(c("tags.aws.env", "not", None)), aws_env),
        (f(c("tags.azure.env", "eq", "Prod")), {AZURE}),
        (f(c("tags.azure.env", "eq", "prod")), E),
        (f(c("tags.aws.kubernetes.io/name", "eq", "web")), {WEB1}),
        (f(c("tags.aws.kubernetes.io/name", "exists", True)), {WEB1}),
        (f(c("tags.google_cloud.kubernetes.io/name", "eq", "api")), {GCP}),
        (f(c("tags.aws.dot.key", "eq", "x")), {FN}),
        (f(c("tags.aws.owner", "eq", "")), {BUCKET}),
        (f(c("tags.aws.owner", "exists", True)), {BUCKET}),
        (f(c("tags.aws.Name", "regex", "^web")), {WEB1, WEB2}),
        (f(c("tags.aws.Name", "regex_in", ["^db", "^FN$"])), {DB1, FN}),
        (f(c("tags.aws.Name", "lt", "db-2")), {DB1}),
        (f(c("tags.aws.Name", "gt", "fn")), {WEB1, WEB2}),
        (f(c("tags.gcp.Name", "exists", True)), E),
    ]


def ip_and_reference_rows() -> list[tuple[dict[str, Any], frozenset[str] | set[str]]]:
    with_ips = {WEB1, WEB2, GCP, AZURE}
    return [
        (f(c("ip_addresses", "eq", "10.0.0.1")), {WEB1}),
        (f(c("ip_addresses", "eq", "54.180.0.1")), {WEB1}),
        (f(c("ip_addresses", "contain", "10.0.")), {WEB1, WEB2}),
        (f(c("ip_addresses", "in", ["20.0.0.1", "10.1.0.5"])), {AZURE, GCP}),
        (f(c("ip_addresses", "not", "10.0.0.1")), ALL - {WEB1}),
        (f(c("ip_addresses", "in", [[]])), ALL - with_ips),
        (f(c("ip_addresses", "not_in", [None, []])), with_ips),
        (f(c("ip_addresses", "regex", r"^54\.")), {WEB1}),
        (f(c("ip_addresses", "lt", "10.0.0.5")), {WEB1, WEB2}),
        (f(c("reference.resource_id", "eq", "i-web1")), {WEB1}),
        (f(c("reference.resource_id", "contain", "ARN:AWS")), {DB1, FN}),
        (f(c("reference.resource_id", "exists", False)), {EMPTY}),
        (f(c("reference.resource_id", "in", ["sg-aaa", "sg-bbb"])), {SG_USED, SG_UNUSED}),
        (f(c("reference.resource_id", "not_in", [None])), ALL - {EMPTY}),
        (f(c("reference.resource_id", "regex", "^sg-")), SGS),
        (f(c("reference.resource_id", "gte", "sg-ccc")), {SG_NULL, SG_BARE}),
    ]


def combination_rows(world: World) -> list[tuple[dict[str, Any], frozenset[str] | set[str]]]:
    gcp_id = world.id(GCP)
    return [
        (
            {
                "filter": [c("provider", "eq", "aws")],
                "filter_or": [c("name", "contain", "web"), c("data.count", "gt", 5)],
            },
            {WEB1, WEB2},
        ),
        (
            {
                "filter": [c("data.state", "exists", True)],
                "filter_or": [c("tags.aws.env", "eq", "prod"), c("provider", "eq", "azure")],
            },
            {WEB1, DB1, AZURE},
        ),
        ({"filter_or": [c("name", "eq", WEB1), c("name", "eq", DB1)]}, {WEB1, DB1}),
        ({"filter_or": [c("name", "eq", "nope")]}, set()),
        (
            {
                "filter_or": [
                    c("data.instances", "match", {"state": "stopped"}),
                    c("ip_addresses", "eq", "20.0.0.1"),
                ]
            },
            {GCP, AZURE},
        ),
        # keyword: case-insensitive substrings of name, ids, IPs, group, type, resource id
        ({"keyword": "WEB"}, {WEB1, WEB2}),
        ({"keyword": "10.0.0"}, {WEB1, WEB2}),
        ({"keyword": "web 10.0.0.2"}, {WEB2}),  # tokens AND together
        ({"keyword": "  web   10.0.0.2 "}, {WEB2}),
        ({"keyword": "securitygroup"}, SGS),
        ({"keyword": "S3"}, {BUCKET}),
        ({"keyword": "arn:AWS"}, {DB1, FN}),
        ({"keyword": "sg- unused"}, {SG_UNUSED}),
        ({"keyword": "vm"}, {GCP, AZURE}),
        ({"keyword": "%"}, {FN}),
        ({"keyword": "_"}, {FN}),
        ({"keyword": gcp_id.upper()}, {GCP}),
        ({"keyword": "prod"}, set()),  # tags are not keyword fields
        ({"keyword": "e2-medium"}, set()),  # nor is instance_type
        ({"keyword": "   "}, ALL),
        ({"keyword": "deleted"}, set()),
        ({"keyword": "deleted", "filter": [c("state", "eq", "DELETED")]}, {DELETED}),
        ({"keyword": "web", "filter": [c("data.state", "eq", "STOPPED")]}, {WEB2}),
        # keyword is its own group, never ORed into filter_or
        (
            {"keyword": "web", "filter_or": [c("name", "eq", DB1), c("name", "eq", WEB1)]},
            {WEB1},
        ),
    ]


def test_conditions(env):
    """Every operator on core fields, data paths, tags, IPs and the reference; state hiding;
    filter_or; keyword."""
    world = build(env)
    run_rows(world, core_rows(world))
    run_rows(world, state_rows(world))
    run_rows(world, data_rows())
    run_rows(world, tag_rows())
    run_rows(world, ip_and_reference_rows())
    run_rows(world, combination_rows(world))
    world.check()


# --- value-type errors -----------------------------------------------------------------------

BAD_CONDITIONS: list[dict[str, Any]] = [
    c("name", "eq", 5),
    c("name", "eq", ["a"]),
    c("name", "eq", {"a": 1}),
    c("region_code", "eq", True),
    c("instance_size", "gt", "big"),
    c("instance_size", "eq", "2"),
    c("instance_size", "contain", "1"),
    c("created_at", "eq", 5),
    c("created_at", "datetime_gt", "yesterday"),
    c("created_at", "datetime_gt", 5),
    c("created_at", "timediff_lt", "soon"),
    c("name", "datetime_gt", "2024-01-01"),
    c("name", "in", "a"),
    c("name", "in", [{"a": 1}]),
    c("name", "contain", 5),
    c("name", "contain_in", ["a", 1]),
    c("name", "not_contain_in", "a"),
    c("name", "exists", "yes"),
    c("name", "exists", None),
    c("name", "match", {"a": 1}),
    c("name", "lt", None),
    c("name", "regex", "("),
    c("name", "regex_in", ["ok", "["]),
    c("data.instances", "match", []),
    c("data.instances", "match", {}),
    c("data.instances", "match", {"a": [1]}),
    c("data.x", "eq", {"a": 1}),
    c("data.x", "in", [[1]]),
    c("data.x", "regex", 5),
    c("data.x", "datetime_gt", 5),
    c("data.x", "timediff_gt", "tomorrow"),
    c("tags.aws.Name", "eq", 5),
    c("tags.aws.Name", "match", {"a": "b"}),
    c("ip_addresses", "contain", 5),
    c("bogus", "eq", "x"),
    c("tags.aws", "eq", "x"),
    c("data..x", "eq", "x"),
    c("data.x.", "eq", "x"),
    c("name", "like", "x"),
    {"k": "name"},
    {"k": "name", "v": "x", "o": "eq", "extra": 1},
    {"v": "x"},
]


def test_value_type_errors_are_400_naming_the_condition(env):
    failures = []
    for bad in BAD_CONDITIONS:
        for where, query in (
            ("query.filter[1]", {"filter": [c("provider", "eq", "aws"), bad]}),
            ("query.filter_or[0]", {"filter_or": [bad]}),
        ):
            for path in (LIST, STAT):
                body = {"query": query}
                if path == STAT:
                    body = {"query": {**query, "distinct": "name"}}
                response = env.call(path, body)
                label = f"{path} {_label(query)}"
                if response.status_code != 400:
                    failures.append(f"{label}: HTTP {response.status_code} {response.text[:200]}")
                    continue
                detail = response.json()["detail"]
                if detail["code"] != "ERROR_INVALID_PARAMETER" or where not in detail["message"]:
                    failures.append(f"{label}: the error does not name {where}: {detail}")
    assert not failures, f"{len(failures)} mismatches:\n" + "\n".join(failures)


# --- the shape of list answers ---------------------------------------------------------------


def test_list_shape_only_minimal_count_and_params(env):
    world = build(env)
    records = world.records

    def results(body: dict[str, Any]) -> list[dict[str, Any]] | None:
        response = env.call(LIST, body)
        if response.status_code != 200:
            world.fail(f"{_label(body)}: HTTP {response.status_code} {response.text[:300]}")
            return None
        return response.json()["results"]

    def expect(body: dict[str, Any], want: Any) -> None:
        got = results(body)
        if got is not None and got != want:
            world.fail(f"{_label(body)}:\n  expected {want}\n  got      {got}")

    by_name = {"filter": [c("name", "eq", WEB1)]}
    expect(
        {"query": {**by_name, "only": ["name", "data.instances"]}},
        [{"name": WEB1, "data": {"instances": WEB1_INSTANCES}}],
    )
    expect(
        {"query": {"filter": [c("name", "eq", SG_NULL)], "only": ["name", "data.instances"]}},
        [{"name": SG_NULL, "data": {"instances": None}}],
    )
    expect(
        {"query": {**by_name, "only": ["tags.aws.Name", "tags.aws.kubernetes.io/name"]}},
        [{"tags": {"aws": {"Name": WEB1, "kubernetes.io/name": "web"}}}],
    )
    expect(
        {"query": {**by_name, "only": ["reference.resource_id", "data.hardware.core", "state"]}},
        [
            {
                "reference": {"resource_id": "i-web1"},
                "data": {"hardware": {"core": 2}},
                "state": "ACTIVE",
            }
        ],
    )
    expect(
        {"query": {**by_name, "only": ["data.compute.az", "data.hardware"]}},
        [{"data": {"compute": {"az": "ap-northeast-2a"}, "hardware": {"core": 2, "memory": 4.0}}}],
    )
    # a path through a list of objects keeps the nesting of every element (as MongoDB does)
    expect(
        {"query": {**by_name, "only": ["data.compute.security_groups.id"]}},
        [{"data": {"compute": {"security_groups": [{"id": "sg-1"}, {"id": "sg-2"}]}}}],
    )
    names_sorted = sorted(ALL)
    expect(
        {"query": {"only": ["name"], "sort": [{"key": "name"}], "page": {"start": 1, "limit": 3}}},
        [{"name": n} for n in names_sorted[:3]],
    )
    expect(
        {"query": {"only": ["name"], "sort": {"key": "name", "desc": True}, "page": {"start": 2}}},
        [{"name": n} for n in sorted(ALL, reverse=True)[1:]],
    )
    web1 = records[WEB1]
    expect(
        {"query": {**by_name, "minimal": True}},
        [
            {
                "cloud_service_id": web1["cloud_service_id"],
                "name": WEB1,
                "cloud_service_group": "EC2",
                "cloud_service_type": "Instance",
                "provider": "aws",
                "reference": {"resource_id": "i-web1"},
                "region_code": "ap-northeast-2",
                "project_id": world.p,
            }
        ],
    )
    full = results({"query": by_name})
    if full is not None and full != [web1]:
        world.fail(f"a full record differs from what create answered: {full} != {web1}")

    # total_count counts every match, whatever the page; count_only answers no records
    for body, total in (
        ({"query": {"count_only": True}}, len(ALL)),
        ({"query": {"count_only": True, "filter": [c("provider", "eq", "aws")]}}, 10),
        ({"query": {"count_only": True, "filter": [c("state", "eq", "DELETED")]}}, 1),
        ({"query": {"page": {"start": 3, "limit": 2}}, "provider": "aws"}, 10),
        ({"query": {"page": {"start": 50, "limit": 2}}}, len(ALL)),
    ):
        response = env.call(LIST, body)
        if response.status_code != 200:
            world.fail(f"{_label(body)}: HTTP {response.status_code} {response.text[:300]}")
            continue
        answer = response.json()
        page = body["query"].get("page")
        want_len = 0 if page is None else max(0, min(page["limit"], total - page["start"] + 1))
        if answer["total_count"] != total or len(answer["results"]) != want_len:
            world.fail(f"{_label(body)}: {answer['total_count']=} {len(answer['results'])=}")

    # top-level params: eq for a value, in for a list, ANDed with the query
    for params, want in (
        ({"provider": "google_cloud"}, {GCP}),
        ({"provider": ["azure", "google_cloud"]}, {GCP, AZURE}),
        ({"cloud_service_group": "EC2", "cloud_service_type": "SecurityGroup"}, SGS),
        ({"cloud_service_type": ["Bucket", "Function"]}, {BUCKET, FN}),
        ({"region_code": ["us-east-1", "koreacentral"]}, {DB1, BUCKET, AZURE}),
        ({"region_code": "us-east-1", "query": {"filter": [c("name", "eq", DB1)]}}, {DB1}),
        ({"region_code": "us-east-1", "query": {"filter": [c("name", "eq", WEB1)]}}, set()),
        ({"project_id": world.q}, IN_Q),
        ({"project_id": [world.p, world.q]}, ALL),
        ({"account": "proj-1"}, {GCP}),
        ({"instance_type": ["t3.micro", "t3.large"]}, {WEB1, WEB2}),
        ({"name": FN}, {FN}),
        ({"cloud_service_id": [world.id(WEB1), world.id(DB1)]}, {WEB1, DB1}),
        ({"state": "DELETED"}, {DELETED}),
        ({"state": "ACTIVE"}, ALL),
        ({"workspace_id": env.workspace_id}, ALL),
    ):
        body = {"query": {}, **params}
        expect_names(world, body, want)

    # a soft-deleted resource: hidden from list, still answered by get, with deleted_at
    got = env.call("/inventory/cloud-service/get", {"cloud_service_id": world.id(DELETED)})
    if got.status_code != 200 or got.json()["state"] != "DELETED" or not got.json()["deleted_at"]:
        world.fail(f"get of a deleted resource: {got.status_code} {got.text[:300]}")

    # an update keeps the tag index and the keyword text in step
    env.ok(
        "/inventory/cloud-service/update",
        {"cloud_service_id": world.id(WEB2), "name": "renamed", "tags": {"aws": {"env": "prod"}}},
    )
    expect_names(
        world, {"query": {"filter": [c("tags.aws.env", "eq", "prod")]}}, {WEB1, DB1, "renamed"}
    )
    expect_names(world, {"query": {"filter": [c("tags.aws.env", "eq", "staging")]}}, set())
    expect_names(world, {"query": {"keyword": "renamed"}}, {"renamed"})
    expect_names(world, {"query": {"keyword": WEB2}}, set())
    world.check()


# --- stat -------------------------------------------------------------------------------------


def test_stat_distinct_and_aggregate(env):
    world = build(env)

    def expect(query: dict[str, Any], results: Any, total: int | None = None) -> None:
        response = env.call(STAT, {"query": query})
        if response.status_code != 200:
            world.fail(f"{_label(query)}: HTTP {response.status_code} {response.text[:300]}")
            return
        answer = response.json()
        got = answer["results"]
        if got != results:
            world.fail(f"{_label(query)}:\n  expected {results}\n  got      {got}")
        want_total = len(results) if total is None else total
        if answer["total_count"] != want_total:
            world.fail(f"{_label(query)}: total_count {answer['total_count']} != {want_total}")

    regions = ["ap-northeast-2", "asia-northeast3", "koreacentral", "us-east-1", "us-west-2"]
    expect({"distinct": "provider"}, ["aws", "azure", "google_cloud"])
    expect({"distinct": "region_code"}, regions)
    expect({"distinct": "region_code", "page": {"start": 2, "limit": 2}}, regions[1:3], 5)
    expect(
        {"distinct": "name", "filter": [c("data.instances", "not_in", [None, []])]},
        sorted([WEB1, GCP, SG_USED]),
    )
    expect({"distinct": "name", "keyword": "sg"}, sorted(SGS))
    expect({"distinct": "name", "filter": [c("state", "eq", "DELETED")]}, [DELETED])
    expect(
        {"distinct": "name", "filter_or": [c("name", "eq", WEB1), c("provider", "eq", "azure")]},
        [AZURE, WEB1],
    )
    expect({"distinct": "tags.aws.env"}, ["dev", "prod", "staging"])
    expect({"distinct": "data.state"}, ["RUNNING", "Running", "STOPPED", "running"])
    expect({"distinct": "data.hardware.core"}, [2, 4, 8, 16])
    expect(
        {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "data.state", "name": "state"}],
                        "fields": [{"name": "n", "operator": "count"}],
                    }
                }
            ]
        },
        [
            {"state": None, "n": 7},
            {"state": "RUNNING", "n": 2},
            {"state": "Running", "n": 1},
            {"state": "STOPPED", "n": 1},
            {"state": "running", "n": 1},
        ],
    )

    by_provider_type = {
        "group": {
            "keys": [
                {"key": "provider", "name": "provider"},
                {"key": "cloud_service_type", "name": "type"},
            ],
            "fields": [{"name": "n", "operator": "count"}],
        }
    }
    rows = [
        {"provider": "aws", "type": "Bucket", "n": 1},
        {"provider": "aws", "type": "Database", "n": 1},
        {"provider": "aws", "type": "Function", "n": 1},
        {"provider": "aws", "type": "Instance", "n": 3},
        {"provider": "aws", "type": "SecurityGroup", "n": 4},
        {"provider": "azure", "type": "Instance", "n": 1},
        {"provider": "google_cloud", "type": "Instance", "n": 1},
    ]
    expect({"aggregate": [by_provider_type]}, rows)
    expect(
        {"aggregate": [by_provider_type, {"sort": [{"key": "n", "desc": True}]}, {"limit": 2}]},
        rows[4:2:-1],
    )
    expect(
        {"aggregate": [by_provider_type], "filter": [c("cloud_service_type", "eq", "Instance")]},
        [r for r in rows if r["type"] == "Instance"],
    )
    expect(
        {"aggregate": [by_provider_type], "filter": [c("state", "exists", True)]},
        [
            {**r, "n": r["n"] + 1} if r["type"] == "Instance" and r["provider"] == "aws" else r
            for r in rows
        ],
    )
    expect(
        {
            "aggregate": [
                {"match": {"filter": [c("provider", "eq", "aws")]}},
                {"count": {"name": "n"}},
            ]
        },
        [{"n": 10}],
        1,
    )
    expect(
        {"aggregate": [{"count": {"name": "n"}}], "filter": [c("state", "eq", "DELETED")]},
        [{"n": 1}],
        1,
    )
    expect(
        {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "provider", "name": "provider"}],
                        "fields": [{"key": "instance_size", "name": "size", "operator": "sum"}],
                    }
                }
            ]
        },
        [
            {"provider": "aws", "size": 3.0},
            {"provider": "azure", "size": 8.0},
            {"provider": "google_cloud", "size": 4.0},
        ],
    )
    response = env.call(
        STAT,
        {
            "query": {
                "aggregate": [
                    {
                        "group": {
                            "keys": [{"key": "cloud_service_group", "name": "group"}],
                            "fields": [{"key": "name", "name": "names", "operator": "add_to_set"}],
                        }
                    }
                ],
                "filter": [c("provider", "eq", "aws")],
            }
        },
    )
    if response.status_code != 200:
        world.fail(f"add_to_set: HTTP {response.status_code} {response.text[:300]}")
    else:
        got = {r["group"]: sorted(r["names"]) for r in response.json()["results"]}
        want = {
            "EC2": sorted({WEB1, WEB2, EMPTY} | SGS),
            "RDS": [DB1],
            "S3": [BUCKET],
            "Lambda": [FN],
        }
        if got != want:
            world.fail(f"add_to_set: expected {want}, got {got}")
    world.check()


# --- a member sees its projects only -----------------------------------------------------------


def test_member_sees_only_its_projects(env):
    world = build(env)
    member = env.ok(
        "/identity/app/create",
        {
            "name": "member",
            "role_id": "managed-workspace-member",
            "resource_group": "PROJECT",
            "workspace_id": env.workspace_id,
            "project_id": world.p,
        },
    )["client_secret"]

    for query, want in (
        ({}, IN_P),
        ({"filter": [c("provider", "eq", "google_cloud")]}, set()),
        ({"filter": [c("project_id", "eq", world.q)]}, set()),
        ({"keyword": "vm"}, set()),
        ({"filter": [c("data.state", "exists", True)]}, {WEB1, WEB2}),
        ({"filter_or": [c("name", "eq", GCP), c("name", "eq", WEB1)]}, {WEB1}),
        ({"filter": [c("state", "eq", "DELETED")]}, {DELETED}),
    ):
        expect_names(world, {"query": query}, want, member)
    expect_names(world, {"query": {}, "project_id": world.q}, set(), member)

    response = env.call(LIST, {"query": {"count_only": True}}, member)
    if response.status_code != 200 or response.json()["total_count"] != len(IN_P):
        world.fail(f"member count_only: {response.status_code} {response.text[:200]}")

    for name, status in ((WEB1, 200), (GCP, 404), (DB1, 404)):
        got = env.call("/inventory/cloud-service/get", {"cloud_service_id": world.id(name)}, member)
        if got.status_code != status:
            world.fail(f"member get {name}: expected {status}, got {got.status_code}")
    for verb, body in (
        ("update", {"cloud_service_id": world.id(GCP), "name": "stolen"}),
        ("delete", {"cloud_service_id": world.id(GCP)}),
    ):
        got = env.call(f"/inventory/cloud-service/{verb}", body, member)
        if got.status_code != 404:
            world.fail(f"member {verb} of Q's resource: {got.status_code} {got.text[:200]}")
    still = env.ok("/inventory/cloud-service/get", {"cloud_service_id": world.id(GCP)})
    if still["name"] != GCP or still["state"] != "ACTIVE":
        world.fail(f"Q's resource changed by the member: {still}")

    for query, want in (
        ({"distinct": "provider"}, ["aws"]),
        ({"distinct": "name"}, sorted(IN_P)),
        ({"distinct": "project_id"}, [world.p]),
        (
            {
                "aggregate": [
                    {
                        "group": {
                            "keys": [{"key": "provider", "name": "provider"}],
                            "fields": [{"name": "n", "operator": "count"}],
                        }
                    }
                ]
            },
            [{"provider": "aws", "n": len(IN_P)}],
        ),
        ({"aggregate": [{"count": {"name": "n"}}]}, [{"n": len(IN_P)}]),
    ):
        response = env.call(STAT, {"query": query}, member)
        if response.status_code != 200 or response.json()["results"] != want:
            world.fail(f"member stat {_label(query)}: {response.status_code} {response.text[:300]}")
    world.check()


# --- paging never repeats or skips -----------------------------------------------------------

PAGING_N = 40


def _paging_body(i: int, project: str) -> dict[str, Any]:
    # JSON null, absent, equal numbers, and a string among numbers
    core: list[Any] = [None, "missing", 2, 2.0, 8, 4, "8"]
    hardware: dict[str, Any] = {}
    value = core[i % len(core)]
    if value != "missing":
        hardware["core"] = value
    return {
        "name": f"n{i % 4}",
        "provider": ["aws", "azure", "google_cloud"][i % 3],
        "cloud_service_group": "G",
        "cloud_service_type": ["A", "B"][i % 2],
        "project_id": project,
        "data": {"hardware": hardware} if i % 5 else {},
    }


def _core(record: dict[str, Any]) -> Any:
    return (record["data"].get("hardware") or {}).get("core")


def test_paging_walks_every_record_once(env):
    project = env.ok(
        "/identity/project/create", {"name": "paging", "workspace_id": env.workspace_id}
    )
    created = [
        env.ok("/inventory/cloud-service/create", _paging_body(i, project["project_id"]))
        for i in range(PAGING_N)
    ]
    all_ids = {r["cloud_service_id"] for r in created}
    failures: list[str] = []
    sorts: dict[str, list[dict[str, Any]]] = {
        "name": [{"key": "name"}],
        "-created_at": [{"key": "created_at", "desc": True}],
        "provider,name": [{"key": "provider"}, {"key": "name"}],
        "-data.hardware.core": [{"key": "data.hardware.core", "desc": True}],
        "data.hardware.core": [{"key": "data.hardware.core"}],
        "cloud_service_type,-name": [{"key": "cloud_service_type"}, {"key": "name", "desc": True}],
    }
    for label, sort in sorts.items():
        full = env.ok(LIST, {"query": {"sort": sort}})["results"]
        full_ids = [r["cloud_service_id"] for r in full]
        if sorted(full_ids) != sorted(all_ids):
            failures.append(f"sort {label}: the unpaged list is not every record once")
            continue
        for limit in range(1, 8):
            walked: list[str] = []
            start = 1
            while True:
                answer = env.ok(
                    LIST, {"query": {"sort": sort, "page": {"start": start, "limit": limit}}}
                )
                if answer["total_count"] != PAGING_N:
                    failures.append(f"sort {label} limit {limit}: total {answer['total_count']}")
                page = [r["cloud_service_id"] for r in answer["results"]]
                walked.extend(page)
                if len(page) < limit:
                    break
                start += limit
            if walked != full_ids:
                dupes = len(walked) - len(set(walked))
                skipped = len(all_ids - set(walked))
                failures.append(
                    f"sort {label} limit {limit}: pages differ from the unpaged order "
                    f"({dupes} repeated, {skipped} skipped)"
                )
    assert not failures, f"{len(failures)} paging failures:\n" + "\n".join(failures)


def _mongo_rank(value: Any) -> tuple[int, Any]:
    """MongoDB's sort order across types: null and missing < numbers < strings."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    return (2, value)


def _shown(record: dict[str, Any]) -> Any:
    hardware = record["data"].get("hardware")
    return "<missing>" if hardware is None or "core" not in hardware else hardware["core"]


def _expected_order(records: list[dict[str, Any]], desc: bool) -> list[str]:
    present = sorted(
        (r for r in records if _core(r) is not None),
        key=lambda r: (_mongo_rank(_core(r)), r["cloud_service_id"]),
    )
    if desc:  # descending by value (a stable sort keeps ties in id order)
        present = sorted(present, key=lambda r: _mongo_rank(_core(r)), reverse=True)
    nulls = sorted((r for r in records if _core(r) is None), key=lambda r: r["cloud_service_id"])
    return [r["cloud_service_id"] for r in (present + nulls if desc else nulls + present)]


def test_sort_order_is_the_same_on_both_backends(env):
    """Sorted by a data path: numbers numerically, JSON null and a missing field alike (first
    ascending, last descending), ties by id, strings after numbers (MongoDB's order, which
    SQLite's typed values also give) — the same sequence on either backend."""
    project = env.ok(
        "/identity/project/create", {"name": "sorting", "workspace_id": env.workspace_id}
    )
    created = []
    for i in range(21):
        body = _paging_body(i, project["project_id"])
        # group "mixed" holds the records whose core is a string
        body["cloud_service_group"] = "mixed" if isinstance(_core(body), str) else "numbers"
        created.append(env.ok("/inventory/cloud-service/create", body))
    by_id = {r["cloud_service_id"]: r for r in created}
    failures = []
    for label, query_filter, records in (
        (
            "numbers, null and missing",
            [c("cloud_service_group", "eq", "numbers")],
            [r for r in created if r["cloud_service_group"] == "numbers"],
        ),
        ("strings among numbers", [], created),
    ):
        for desc in (False, True):
            sort = [{"key": "data.hardware.core", "desc": desc}]
            got = env.ok(LIST, {"query": {"filter": query_filter, "sort": sort}})["results"]
            got_ids = [r["cloud_service_id"] for r in got]
            want_ids = _expected_order(records, desc)
            if got_ids != want_ids:
                failures.append(
                    f"{label}, desc={desc}:\n"
                    f"  expected {[_shown(by_id[i]) for i in want_ids]}\n"
                    f"  got      {[_shown(by_id[i]) for i in got_ids]}"
                )
    assert not failures, "\n".join(failures)


# --- hostile keys and values -------------------------------------------------------------------

DROP = "'); DROP TABLE cloud_services; --"
WEIRD_DATA = {
    'a"b': 'q"v',
    "it's": "o'k",
    "$": "dollar",
    "%": "pct",
    "_": "under",
    "名前": "値",
    "ünï": "ÇA",
    "back\\slash": "x\\y",
    "emoji": "😀",
    "items": [{"it's": "o'k", 'a"b': 1}],
}
WEIRD_TAGS = {"aws": {'quo"te': "v'1", "kubernetes.io/name": "%_", DROP: DROP}}


def test_hostile_input_is_400_or_literal(env):
    project = env.ok(
        "/identity/project/create", {"name": "hostile", "workspace_id": env.workspace_id}
    )
    pid = project["project_id"]
    for i in range(3):
        env.ok(
            "/inventory/cloud-service/create",
            {
                "name": f"plain-{i}",
                "provider": "aws",
                "cloud_service_group": "EC2",
                "cloud_service_type": "Instance",
                "project_id": pid,
                "data": {"x": i, "a": {"b": "plain"}},
            },
        )
    weird = env.ok(
        "/inventory/cloud-service/create",
        {
            "name": DROP,
            "provider": "aws",
            "cloud_service_group": "EC2",
            "cloud_service_type": "Instance",
            "project_id": pid,
            "data": WEIRD_DATA,
            "tags": WEIRD_TAGS,
        },
    )
    with env.runtime.store.read() as conn:
        before = conn.execute(select(func.count()).select_from(cloud_services)).scalar_one()
    only_weird = {DROP}
    nothing: set[str] = set()
    big = "k" * 10_000
    NO_CHECK = None  # 400 or 200, results not checked
    cases: list[tuple[dict[str, Any], set[str] | None]] = [
        (f(c("name", "eq", DROP)), only_weird),
        (f(c("name", "contain", "drop table")), only_weird),
        (f(c("name", "eq", "x' OR '1'='1")), nothing),
        (f(c("name", "contain", "%")), nothing),
        (f(c("name", "contain", "_")), only_weird),  # cloud_services
        (f(c("name", "contain", "d_s")), only_weird),
        (f(c("name", "contain", "e%s")), nothing),
        (f(c("name", "in", [DROP, "x' OR 1=1 --"])), only_weird),
        (f(c("name", "regex", "drop table")), only_weird),
        (f(c("name", "regex", DROP)), NO_CHECK),  # an unbalanced `)`: 400
        ({"keyword": "'); drop"}, only_weird),
        ({"keyword": "%"}, nothing),
        ({"keyword": "_"}, only_weird),
        ({"keyword": "d%s"}, nothing),
        ({"keyword": "x' OR '1'='1"}, nothing),
        # Path segments and match keys with quotes or backslashes are refused (400) on both
        # backends: SQLite's JSON path syntax cannot spell them.
        (f(c('data.a"b', "eq", 'q"v')), NO_CHECK),
        (f(c("data.it's", "eq", "o'k")), only_weird),
        (f(c("data.$", "eq", "dollar")), only_weird),
        (f(c("data.%", "eq", "pct")), only_weird),
        (f(c("data._", "eq", "under")), only_weird),
        (f(c("data.%", "exists", True)), only_weird),
        (f(c("data._", "contain", "UNDER")), only_weird),
        (f(c("data.名前", "eq", "値")), only_weird),
        (f(c("data.ünï", "contain", "çA")), only_weird),
        (f(c("data.back\\slash", "eq", "x\\y")), NO_CHECK),
        (f(c("data.emoji", "eq", "😀")), only_weird),
        (f(c("data.items", "match", {"it's": "o'k"})), only_weird),
        (f(c("data.items", "match", {'a"b': 1})), NO_CHECK),
        (f(c("data.items.it's", "eq", "o'k")), only_weird),
        (f(c("data.x", "eq", DROP)), nothing),
        (f(c("data.x", "eq", "') OR 1=1 --")), nothing),
        (f(c(f"data.{DROP}", "eq", 1)), nothing),
        (f(c(f"data.{DROP}", "exists", False)), None),
        (f(c("data.$.$", "eq", "x")), nothing),
        (f(c("data.x", "eq", 2**70)), nothing),
        (f(c("data.x", "lt", 2**70)), {"plain-0", "plain-1", "plain-2"}),
        (f(c("data.x", "gt", -(2**70))), {"plain-0", "plain-1", "plain-2"}),
        (f(c("data.x", "eq", 1e300)), nothing),
        (f(c("data.x", "eq", 1e-7)), nothing),
        (f(c("data.x", "in", [2**70, 1])), {"plain-1"}),
        (f(c("instance_size", "gt", 2**70)), nothing),
        (f(c("instance_size", "lt", 1e308)), nothing),
        (f(c('tags.aws.quo"te', "eq", "v'1")), only_weird),
        (f(c("tags.aws.kubernetes.io/name", "eq", "%_")), only_weird),
        (f(c("tags.aws.kubernetes.io/name", "contain", "%")), only_weird),
        (f(c("tags.aws.kubernetes.io/name", "contain", "_")), only_weird),
        (f(c(f"tags.aws.{DROP}", "eq", DROP)), only_weird),
        (f(c(f"tags.{DROP}.{DROP}", "exists", True)), nothing),
        (f(c("data.a..b", "eq", "x")), NO_CHECK),
        (f(c("data..", "eq", "x")), NO_CHECK),
        (f(c("..", "eq", "x")), NO_CHECK),
        (f(c("$", "eq", "x")), NO_CHECK),
        (f(c("$.name", "eq", "x")), NO_CHECK),
        (f(c(DROP, "eq", "x")), NO_CHECK),
        (f(c("name", "eq", "a\x00b")), NO_CHECK),
        (f(c("data.a\x00b", "eq", "x")), NO_CHECK),
        (f(c("data.x", "in", ["a\x00b"])), NO_CHECK),
        ({"keyword": "a\x00b"}, NO_CHECK),
        (f(c(f"data.{big}", "eq", "x")), NO_CHECK),
        (f(c(f"tags.aws.{big}", "eq", "x")), NO_CHECK),
        (f(c("name", "eq", big)), nothing),
        (f(c("name", "contain", big)), nothing),
        ({"keyword": big}, nothing),
        ({"sort": [{"key": "name; DROP TABLE cloud_services; --"}]}, NO_CHECK),
        ({"sort": [{"key": 'data.a"b'}]}, None),
        ({"sort": [{"key": f"data.{DROP}", "desc": True}]}, None),
        ({"sort": [{"key": 'tags.aws.quo"te'}]}, None),
        ({"sort": [{"key": "data.名前"}]}, None),
        ({"sort": [{"key": big}]}, NO_CHECK),
        ({"sort": [{"key": "name\x00"}]}, NO_CHECK),
        ({"only": [DROP, 'data.a"b', "data.$", big]}, NO_CHECK),
    ]
    failures: list[str] = []
    everything = {f"plain-{i}" for i in range(3)} | only_weird
    for query, want in cases:
        body = {"query": query}
        response = env.call(LIST, body)
        label = _label(query)
        if response.status_code not in (200, 400):
            failures.append(f"{label}: HTTP {response.status_code} {response.text[:200]}")
            continue
        if response.status_code == 200 and "sort" in query:
            names = [r["name"] for r in response.json()["results"]]
            if sorted(names) != sorted(everything):
                failures.append(f"{label}: a sort changed the records: {names}")
        if want is not None:
            if response.status_code != 200:
                failures.append(f"{label}: expected a literal match, got 400 {response.text[:200]}")
                continue
            names = {r["name"] for r in response.json()["results"]}
            if names != want:
                failures.append(f"{label}: expected {sorted(want)}, got {sorted(names)}")

    for query in (
        {"distinct": DROP},
        {"distinct": 'data.a"b'},
        {"distinct": f"data.{DROP}"},
        {"distinct": big},
        {"aggregate": [{"group": {"keys": [{"key": DROP, "name": "k"}]}}]},
        {"aggregate": [{"group": {"keys": [{"key": 'data.a"b', "name": DROP}]}}]},
        {
            "aggregate": [
                {"group": {"fields": [{"key": "name", "name": DROP, "operator": "count"}]}}
            ]
        },
    ):
        response = env.call(STAT, {"query": query})
        if response.status_code not in (200, 400):
            failures.append(
                f"stat {_label(query)}: HTTP {response.status_code} {response.text[:200]}"
            )

    # a raw body with a lone surrogate escape (valid JSON, not valid Unicode text)
    for raw in (
        '{"query": {"filter": [{"k": "name", "v": "\\ud800"}]}}',
        '{"query": {"filter": [{"k": "data.\\udfff", "v": "x"}]}}',
        '{"query": {"keyword": "\\ud800"}}',
    ):
        response = env.client.post(
            LIST,
            content=raw.encode(),
            headers={
                "Authorization": f"Bearer {env.admin_token}",
                "Content-Type": "application/json",
            },
        )
        if response.status_code not in (200, 400):
            failures.append(f"raw {raw}: HTTP {response.status_code} {response.text[:200]}")

    with env.runtime.store.read() as conn:
        after = conn.execute(select(func.count()).select_from(cloud_services)).scalar_one()
    if after != before:
        failures.append(f"the table changed: {before} rows before, {after} after")
    got = env.ok("/inventory/cloud-service/get", {"cloud_service_id": weird["cloud_service_id"]})
    if got["data"] != WEIRD_DATA or got["tags"] != WEIRD_TAGS:
        failures.append(f"the hostile record did not round-trip: {got['data']} {got['tags']}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
