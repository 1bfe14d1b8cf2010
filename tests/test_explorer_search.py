"""The Resource Explorer dialect's `POST /api/v1/resources/search`, pinned by tables and properties.

The contract is ../shared/spec/resource-explorer.md (sections Auth, KCRN, resources search,
Errors) and the seed's request examples. Resources are SpaceONE cloud services: service = cloud
service group, resource_type = cloud service type, resource_name = name, region = region_code
(`global` without one), resource_id = `reference.resource_id` (the cloud service id without one),
tags = provider tags shown as system tags.

Every table test builds the same hand-made catalog on its backend, runs its rows and collects
every mismatch before failing, so one run shows every broken row. The property test evaluates
random filters with a pure-Python reading of the spec written here (it never imports the
explorer package) and compares with what the server answers.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SEARCH = "/api/v1/resources/search"
TOP_KEYS = {"success", "resources", "count", "total_count"}
SPEC_RESOURCE_KEYS = {
    "kcrn",
    "project_id",
    "region",
    "resource_type",
    "service",
    "resource_id",
    "resource_name",
    "user_name",
    "tags",
}
EXTRA_RESOURCE_KEYS = {"provider", "cloud_service_id"}
TAG_KEYS = {"tag_id", "key", "value", "type"}
SORT_FIELDS = ("resource_name", "resource_id", "resource_type", "service")


# --- talking to the server ---------------------------------------------------------------------


def search(
    env: Any, body: Any = None, token: str | None = "admin", *, header: str = "x-auth-token"
):
    """POST the search; the explorer's own header (`X-Auth-Token`) unless told `bearer`."""
    return env.call(SEARCH, {} if body is None else body, token, header=header)


def found(env: Any, body: Any = None, token: str | None = "admin", **kw: Any) -> dict[str, Any]:
    """A search that must succeed, with the documented response shape."""
    response = search(env, body, token, **kw)
    assert response.status_code == 200, (body, response.status_code, response.text)
    data = response.json()
    assert set(data) == TOP_KEYS, data.keys()
    assert data["success"] is True
    assert data["count"] == len(data["resources"])
    assert isinstance(data["total_count"], int)
    for resource in data["resources"]:
        assert SPEC_RESOURCE_KEYS <= set(resource) <= SPEC_RESOURCE_KEYS | EXTRA_RESOURCE_KEYS, set(
            resource
        )
        for tag in resource["tags"]:
            assert set(tag) == TAG_KEYS, tag
    return data


def explorer_error(response: Any, status: int) -> dict[str, Any]:
    """`{"success": false, "error": {"code", "message"}}` with the given status."""
    assert response.status_code == status, (status, response.status_code, response.text)
    body = response.json()
    assert set(body) == {"success", "error"}, body
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def create(env: Any, token: str = "admin", **body: Any) -> dict[str, Any]:
    full = {"provider": "aws", "data": {}, **body}
    if full.get("project_id") is None:
        full.pop("project_id", None)
        full.setdefault("workspace_id", env.workspace_id)
    return env.ok("/inventory/cloud-service/create", full, token)


def project(env: Any, name: str, workspace_id: str | None = None) -> str:
    body = {"name": name, "workspace_id": workspace_id or env.workspace_id}
    return env.ok("/identity/project/create", body)["project_id"]


def app_secret(env: Any, name: str, role_id: str, workspace_id: str, **extra: Any) -> str:
    body = {"name": name, "role_id": role_id, "workspace_id": workspace_id, **extra}
    return env.ok("/identity/app/create", body)["client_secret"]


def app_name(env: Any, app_id: str) -> str:
    return env.ok("/identity/app/get", {"app_id": app_id})["name"]


# --- the catalog the tables run against --------------------------------------------------------

P, Q, NONE = "P", "Q", None
# label: (name, group, type, region_code, project, reference.resource_id, provider, tags)
# fmt: off
BASE: dict[str, tuple[Any, ...]] = {
    "web1": (
        "web-1", "EC2", "Instance", "ap-northeast-2", P, "i-0abc1", "aws",
        {"aws": {"Name": "web-1", "env": "prod"}},
    ),
    "web2": (
        "web-2", "EC2", "Instance", "ap-northeast-2", P, "i-0abc2", "aws",
        {"aws": {"env": "dev", "team": "prod"}},
    ),
    "web3": ("Web-3", "EC2", "Instance", "us-east-1", Q, "I-0ABC3", "aws", {}),
    "db": (
        "db-main", "RDS", "Database", "us-east-1", Q, "arn:aws:rds:us-east-1:123:db:main", "aws",
        {"aws": {"env": "prod"}},
    ),
    "arnvm": (
        "arn-vm", "EC2", "Instance", "us-east-1", P, "arn:aws:ec2:us-east-1:123:instance/i-1",
        "aws", {"aws": {"env": "Prod"}},
    ),
    "bucket": ("bucket", "S3", "Bucket", None, P, None, "aws", {"aws": {"owner": ""}}),
    "vm1": (
        "myResource", "Virtual Machine", "Instance", "kr-central-2", P,
        "63cbe932-3a14-4d39-a24e-ed2fa28cc410", "kakaocloud", {},
    ),
    "vm2": (
        "myResource-2", "Virtual Machine", "Instance", "kr-central-2", Q,
        "3a14beef-0000-4000-8000-000000000001", "kakaocloud", {"kakaocloud": {"env": "prod"}},
    ),
    "vol": (
        "vol-1", "Virtual Machine", "Volume", "kr-central-2", P,
        "00000000-0000-4000-8000-000000003a14", "kakaocloud", {},
    ),
    "noname": (None, "EC2", "Instance", "ap-northeast-2", P, "i-noname", "aws", {}),
    "orphan": (
        "orphan", "EC2", "SecurityGroup", None, NONE, "sg-1", "aws", {"aws": {"Name": "orphan"}},
    ),
    "multi": (
        "multi", "EC2", "Instance", "ap-northeast-1", P, "i-multi", "aws",
        {"aws": {"env": "prod"}, "google_cloud": {"team": "core"}},
    ),
}
# fmt: on
#: Names with the filter_string's own special characters and SQL/GLOB wildcards in them; "ab"
#: and "axb" are what a leaked `_`, `%`, `?` or `[...]` would wrongly match.
SPECIAL_NAMES = (
    "a&b",
    "a*b",
    "a=b",
    "-lead",
    "a\\b",
    "a%b",
    "a_b",
    "a?b",
    "a[b]",
    "ab",
    "axb",
    "a b",
)
DELETED = (
    "gone",
    "EC2",
    "Instance",
    "ap-northeast-2",
    P,
    "i-gone",
    "aws",
    {"aws": {"env": "prod"}},
)

SPECIAL = frozenset(SPECIAL_NAMES)
ALL = frozenset(BASE) | SPECIAL
KAKAO = frozenset({"vm1", "vm2", "vol"})
EC2 = frozenset({"web1", "web2", "web3", "arnvm", "noname", "orphan", "multi"})
INSTANCE = frozenset({"web1", "web2", "web3", "arnvm", "vm1", "vm2", "noname", "multi"})
IN_Q = frozenset({"web3", "db", "vm2"})
GLOBAL = frozenset({"bucket", "orphan"})
TAGGED = frozenset({"web1", "web2", "db", "arnvm", "bucket", "vm2", "orphan", "multi"})
ENV_KEY = frozenset({"web1", "web2", "db", "arnvm", "vm2", "multi"})
VALUE_PROD = frozenset({"web1", "web2", "db", "vm2", "multi"})
ENV_PROD = frozenset({"web1", "db", "vm2", "multi"})


@dataclass
class Catalog:
    env: Any
    p: str
    q: str
    ids: dict[str, str] = field(default_factory=dict)  # label -> cloud_service_id
    labels: dict[str, str] = field(default_factory=dict)  # cloud_service_id -> label
    rid: dict[str, str] = field(default_factory=dict)  # label -> the KCRN resource id
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def check(self) -> None:
        assert not self.failures, f"{len(self.failures)} mismatches:\n" + "\n".join(self.failures)

    def where_rid(self, test: Callable[[str], bool]) -> frozenset[str]:
        return frozenset(label for label in ALL if test(self.rid[label]))

    def labels_of(self, flt: dict[str, Any], token: str = "admin") -> set[str] | str:
        """The labels a filter finds, or a description of the error."""
        response = search(self.env, {"filter": flt, "limit": 500}, token)
        if response.status_code != 200:
            return f"HTTP {response.status_code} {response.text[:300]}"
        data = response.json()
        got = [
            self.labels.get(r["cloud_service_id"], "?" + r["cloud_service_id"])
            for r in data["resources"]
        ]
        if (
            data["total_count"] != len(got)
            or data["count"] != len(got)
            or len(set(got)) != len(got)
        ):
            return f"count {data['count']} / total_count {data['total_count']} for {got}"
        return set(got)

    def expect(self, flt: dict[str, Any], want: Iterable[str]) -> None:
        want = set(want)
        got = self.labels_of(flt)
        if got != want:
            extra = sorted(got - want) if isinstance(got, set) else got
            missing = sorted(want - got) if isinstance(got, set) else "-"
            self.fail(f"{flt!r}: unexpected {extra}, missing {missing}")

    def rows(self, rows: Iterable[tuple[str, Iterable[str]]]) -> None:
        for filter_string, want in rows:
            self.expect({"filter_string": filter_string}, want)


def _create_labelled(env: Any, pids: dict[str, str], spec: tuple[Any, ...]) -> dict[str, Any]:
    name, group, type_, region, proj, ref, provider, tags = spec
    body: dict[str, Any] = {
        "cloud_service_group": group,
        "cloud_service_type": type_,
        "provider": provider,
        "project_id": pids[proj] if proj else None,
        "tags": tags,
    }
    if name is not None:
        body["name"] = name
    if region is not None:
        body["region_code"] = region
    if ref is not None:
        body["reference"] = {"resource_id": ref}
    return create(env, **body)


def build_catalog(env: Any) -> Catalog:
    cat = Catalog(env=env, p=project(env, "P"), q=project(env, "Q"))
    pids = {P: cat.p, Q: cat.q}
    specs = dict(BASE)
    for name in SPECIAL_NAMES:
        specs[name] = (name, "Special", "Name", "xx-1", P, "id-" + name, "aws", {})
    specs["gone"] = DELETED
    for label, spec in specs.items():
        record = _create_labelled(env, pids, spec)
        cat.ids[label] = record["cloud_service_id"]
        cat.labels[record["cloud_service_id"]] = label
        cat.rid[label] = spec[5] or record["cloud_service_id"]
    env.ok("/inventory/cloud-service/delete", {"cloud_service_id": cat.ids["gone"]})
    return cat


# --- 1. the seed's request examples and the response shape -------------------------------------


def test_seed_examples_and_response_shape(env):
    cat = build_catalog(env)
    admin_name = app_name(env, env.admin_app_id)

    # {"filter": {"filter_kcrn": "kcrn:*:<project>:Virtual Machine:Instance:*"}}
    data = found(env, {"filter": {"filter_kcrn": f"kcrn:*:{cat.p}:Virtual Machine:Instance:*"}})
    assert data["count"] == data["total_count"] == 1
    assert data["resources"] == [
        {
            "kcrn": f"kcrn:kr-central-2:{cat.p}:Virtual Machine:Instance:"
            "63cbe932-3a14-4d39-a24e-ed2fa28cc410",
            "project_id": cat.p,
            "region": "kr-central-2",
            "resource_type": "Instance",
            "service": "Virtual Machine",
            "resource_id": "63cbe932-3a14-4d39-a24e-ed2fa28cc410",
            "resource_name": "myResource",
            "user_name": admin_name,
            "tags": [],
            "provider": "kakaocloud",
            "cloud_service_id": cat.ids["vm1"],
        }
    ]
    cat.expect({"filter_kcrn": f"kcrn:*:{cat.q}:Virtual Machine:Instance:*"}, {"vm2"})
    cat.rows(
        [
            ("service=Virtual Machine", KAKAO),
            ("-resource_name=myResource", ALL - {"vm1"}),
            ("resource_id=*3a14*", cat.where_rid(lambda r: "3a14" in r)),
            ("tag:none", ALL - TAGGED),
        ]
    )

    # every field, for a tagged resource, a global one and one without a project
    everything = {
        cat.labels[r["cloud_service_id"]]: r for r in found(env, {"limit": 500})["resources"]
    }
    assert set(everything) == ALL
    web1 = everything["web1"]
    assert web1["kcrn"] == f"kcrn:ap-northeast-2:{cat.p}:EC2:Instance:i-0abc1"
    assert sorted(web1["tags"], key=lambda t: t["key"]) == [
        {"tag_id": None, "key": "Name", "value": "web-1", "type": "system"},
        {"tag_id": None, "key": "env", "value": "prod", "type": "system"},
    ]
    multi = everything["multi"]
    assert sorted((t["key"], t["value"]) for t in multi["tags"]) == [
        ("env", "prod"),
        ("team", "core"),
    ]
    bucket = everything["bucket"]
    assert bucket["region"] == "global"
    assert bucket["resource_id"] == cat.ids["bucket"]
    assert bucket["kcrn"] == f"kcrn:global:{cat.p}:S3:Bucket:{cat.ids['bucket']}"
    assert bucket["tags"] == [{"tag_id": None, "key": "owner", "value": "", "type": "system"}]
    orphan = everything["orphan"]
    assert orphan["kcrn"] == "kcrn:global::EC2:SecurityGroup:sg-1"
    assert orphan["project_id"] in (None, "")
    assert everything["noname"]["resource_name"] is None
    assert everything["arnvm"]["kcrn"].endswith(
        ":EC2:Instance:arn:aws:ec2:us-east-1:123:instance/i-1"
    )
    for label, resource in everything.items():
        assert resource["user_name"] == admin_name, label
        assert resource["resource_id"] == cat.rid[label], label
        assert resource["kcrn"] == ":".join(
            [
                "kcrn",
                resource["region"],
                resource["project_id"] or "",
                resource["service"],
                resource["resource_type"],
                resource["resource_id"],
            ]
        )

    # count is the page, total_count every match
    body = {
        "filter": {"filter_string": "service=Virtual Machine"},
        "limit": 2,
        "sort": "+resource_id",
    }
    first = found(env, {**body, "offset": 0})
    rest = found(env, {**body, "offset": 2})
    assert (first["count"], first["total_count"], rest["count"], rest["total_count"]) == (
        2,
        3,
        1,
        3,
    )
    beyond = found(env, {**body, "offset": 50})
    assert (beyond["count"], beyond["total_count"], beyond["resources"]) == (0, 3, [])

    # an empty body, no body, an empty filter and an empty filter_string all list everything
    for empty in ({}, {"filter": None}, {"filter": {}}, {"filter": {"filter_string": ""}}):
        assert found(env, empty)["total_count"] == len(ALL), empty
    raw = env.client.post(SEARCH, content=b"", headers={"X-Auth-Token": env.admin_token})
    assert raw.status_code == 200 and raw.json()["total_count"] == len(ALL), raw.text
    # the SpaceONE header works here too
    assert found(env, {}, header="bearer")["total_count"] == len(ALL)
    cat.check()


# --- 2. every key, value form and negation -----------------------------------------------------


def test_filter_string_keys_forms_and_negations(env):
    cat = build_catalog(env)
    p, q = cat.p, cat.q
    cat.rows(
        [
            # resource_name: exact, contains, starts, ends, any, and each negated
            ("resource_name=myResource", {"vm1"}),
            ("-resource_name=myResource", ALL - {"vm1"}),
            ("resource_name=*Resource*", {"vm1", "vm2"}),
            ("-resource_name=*Resource*", ALL - {"vm1", "vm2"}),
            ("resource_name=my*", {"vm1", "vm2"}),
            ("-resource_name=my*", ALL - {"vm1", "vm2"}),
            ("resource_name=*-2", {"web2", "vm2"}),
            ("-resource_name=*-2", ALL - {"web2", "vm2"}),
            ("resource_name=*-1", {"web1", "vol"}),
            ("resource_name=*", ALL),
            ("resource_name=**", ALL),
            ("-resource_name=*", set()),
            ("resource_name=myResource-2", {"vm2"}),
            ("resource_name=my", set()),
            ("resource_name=", set()),
            # case-sensitive
            ("resource_name=web*", {"web1", "web2"}),
            ("resource_name=Web*", {"web3"}),
            ("resource_name=MYRESOURCE", set()),
            ("resource_name=*resource*", set()),
            ("resource_name=*RESOURCE", set()),
            # a resource without a name is "not named x", and never "contains x"
            ("-resource_name=x", ALL),
            ("resource_name=*x*", {"axb"}),
            ("-resource_name=*x*", ALL - {"axb"}),
            ("-resource_name=web*", ALL - {"web1", "web2"}),
            # region: exact, any, negation; global for resources without a region
            ("region=kr-central-2", KAKAO),
            ("-region=kr-central-2", ALL - KAKAO),
            ("region=us-east-1", {"web3", "db", "arnvm"}),
            ("region=global", GLOBAL),
            ("-region=global", ALL - GLOBAL),
            ("region=*", ALL),
            ("-region=*", set()),
            ("region=KR-CENTRAL-2", set()),
            ("region=kr-central", set()),
            # service
            ("service=Virtual Machine", KAKAO),
            ("-service=Virtual Machine", ALL - KAKAO),
            ("service=EC2", EC2),
            ("-service=EC2", ALL - EC2),
            ("service=Special", SPECIAL),
            ("service=ec2", set()),
            ("service=Virtual", set()),
            ("service=*", ALL),
            ("-service=*", set()),
            # resource_type
            ("resource_type=Instance", INSTANCE),
            ("-resource_type=Instance", ALL - INSTANCE),
            ("resource_type=SecurityGroup", {"orphan"}),
            ("resource_type=instance", set()),
            ("resource_type=*", ALL),
            ("-resource_type=*", set()),
            # the extension keys
            ("provider=kakaocloud", KAKAO),
            ("-provider=aws", KAKAO),
            ("provider=google_cloud", set()),
            ("provider=*", ALL),
            ("-provider=*", set()),
            (f"project_id={q}", IN_Q),
            (f"-project_id={p}", IN_Q | {"orphan"}),
            ("project_id=", {"orphan"}),
            ("project_id=*", ALL),
            ("-project_id=*", set()),
            # conditions AND
            ("service=EC2&region=ap-northeast-2", {"web1", "web2", "noname"}),
            (
                "service=EC2&-region=ap-northeast-2&resource_name=*",
                {"web3", "arnvm", "orphan", "multi"},
            ),
            ("service=EC2&-region=us-east-1&resource_name=web*&tag:all", {"web1", "web2"}),
            ("resource_type=Instance&-service=EC2", {"vm1", "vm2"}),
            ("resource_name=web-1&resource_name=web-2", set()),
            ("resource_name=web*&-resource_name=*2", {"web1"}),
            # deleted resources never appear
            ("resource_name=gone", set()),
            ("resource_id=i-gone", set()),
        ]
    )
    rid = cat.rid
    for filter_string, test in (
        ("resource_id=63cbe932-3a14-4d39-a24e-ed2fa28cc410", lambda r: r == rid["vm1"]),
        ("-resource_id=63cbe932-3a14-4d39-a24e-ed2fa28cc410", lambda r: r != rid["vm1"]),
        ("resource_id=*3a14*", lambda r: "3a14" in r),
        ("-resource_id=*3a14*", lambda r: "3a14" not in r),
        ("resource_id=3a14*", lambda r: r.startswith("3a14")),
        ("-resource_id=3a14*", lambda r: not r.startswith("3a14")),
        ("resource_id=*3a14", lambda r: r.endswith("3a14")),
        ("-resource_id=*3a14", lambda r: not r.endswith("3a14")),
        ("resource_id=*", lambda r: True),
        ("-resource_id=*", lambda r: False),
        ("resource_id=arn:aws:ec2:us-east-1:123:instance/i-1", lambda r: r == rid["arnvm"]),
        ("resource_id=arn:aws:*", lambda r: r.startswith("arn:aws:")),
        ("resource_id=*:db:main", lambda r: r.endswith(":db:main")),
        ("resource_id=I-0ABC*", lambda r: r.startswith("I-0ABC")),
        ("resource_id=i-0abc*", lambda r: r.startswith("i-0abc")),
        ("resource_id=*ABC*", lambda r: "ABC" in r),
        # a resource without reference.resource_id is found by its cloud service id
        (f"resource_id={cat.ids['bucket']}", lambda r: r == cat.ids["bucket"]),
        (f"-resource_id={cat.ids['bucket']}", lambda r: r != cat.ids["bucket"]),
    ):
        cat.expect({"filter_string": filter_string}, cat.where_rid(test))
    cat.check()


def test_escapes_and_literal_wildcards(env):
    cat = build_catalog(env)
    cat.rows(
        [
            # \& \* \= \- \\ stand for themselves
            (r"resource_name=a\&b", {"a&b"}),
            (r"resource_name=a\*b", {"a*b"}),
            (r"resource_name=a\=b", {"a=b"}),
            (r"resource_name=\-lead", {"-lead"}),
            ("resource_name=-lead", {"-lead"}),
            (r"-resource_name=\-lead", ALL - {"-lead"}),
            (r"resource_name=a\\b", {"a\\b"}),
            (r"resource_name=*\&*", {"a&b"}),
            (r"resource_name=*\**", {"a*b"}),
            (r"resource_name=\**", set()),
            (r"resource_name=*\=*", {"a=b"}),
            (r"resource_name=*\\*", {"a\\b"}),
            (r"resource_name=\-*", {"-lead"}),
            (r"resource_name=*\\b", {"a\\b"}),
            (r"resource_name=a\&b&service=Special", {"a&b"}),
            (r"resource_name=a\&*&-resource_name=a\*b", {"a&b"}),
            (r"resource_name=a\&b&tag:none", {"a&b"}),
            # SQL and GLOB wildcards are plain characters
            ("resource_name=a%b", {"a%b"}),
            ("resource_name=a_b", {"a_b"}),
            ("resource_name=a?b", {"a?b"}),
            ("resource_name=a[b]", {"a[b]"}),
            ("resource_name=*%*", {"a%b"}),
            ("resource_name=*_*", {"a_b"}),
            ("resource_name=*?*", {"a?b"}),
            ("resource_name=*[*", {"a[b]"}),
            ("resource_name=*]", {"a[b]"}),
            ("resource_name=a%*", {"a%b"}),
            ("resource_name=a_*", {"a_b"}),
            ("resource_name=a?*", {"a?b"}),
            ("resource_name=a[*", {"a[b]"}),
            ("resource_name=*%b", {"a%b"}),
            ("resource_name=*_b", {"a_b"}),
            ("resource_name=*?b", {"a?b"}),
            ("resource_name=*[b]", {"a[b]"}),
            ("resource_name=*[b]*", {"a[b]"}),
            ("-resource_name=*_*", ALL - {"a_b"}),
            ("-resource_name=*%*", ALL - {"a%b"}),
            ("resource_name=* *", {"a b"}),
            ("resource_name=a b", {"a b"}),
            ("resource_id=id-a%*", {"a%b"}),
            ("resource_id=id-a_*", {"a_b"}),
            ("resource_id=*?b", {"a?b"}),
            ("resource_id=*[b]", {"a[b]"}),
            (r"resource_id=id-a\\b", {"a\\b"}),
            (r"resource_id=id-a\&b", {"a&b"}),
        ]
    )
    cat.check()


def test_filter_kcrn(env):
    cat = build_catalog(env)
    p, q = cat.p, cat.q
    for pattern, want in (
        (f"kcrn:*:{p}:Virtual Machine:Instance:*", {"vm1"}),
        (f"kcrn:*:{q}:Virtual Machine:Instance:*", {"vm2"}),
        ("kcrn:*:*:Virtual Machine:*:*", KAKAO),
        (f"kcrn:kr-central-2:{p}:Virtual Machine:*:*", {"vm1", "vol"}),
        ("kcrn:*:*:*:*:*", ALL),
        ("kcrn:*:*:*:*:**", ALL),
        ("kcrn:global:*:*:*:*", GLOBAL),
        ("kcrn:*:*:ec2:*:*", set()),
        ("kcrn:*:*:EC2:instance:*", set()),
        ("kcrn:*:*:*:Inst*:*", INSTANCE),
        ("kcrn:*:*:*:*ance:*", INSTANCE),
        ("kcrn:*:*:Virtual*Machine:*:*", KAKAO),
        ("kcrn:*-1:*:*:*:*", {"web3", "db", "arnvm", "multi"} | SPECIAL),
        ("kcrn:ap-*:*:EC2:*:i-0*", {"web1", "web2"}),
        ("kcrn:ap-*:*:EC2:*:i-*", {"web1", "web2", "noname", "multi"}),
        # resource ids with ':' (ARNs): the sixth segment takes the rest, whole
        ("kcrn:*:*:*:*:arn:aws:*", {"db", "arnvm"}),
        ("kcrn:*:*:*:*:arn:aws:ec2:us-east-1:123:instance/i-1", {"arnvm"}),
        (f"kcrn:us-east-1:{p}:EC2:Instance:arn:aws:ec2:us-east-1:123:instance/i-1", {"arnvm"}),
        ("kcrn:*:*:*:*:arn:*:db:*", {"db"}),
        ("kcrn:*:*:*:*:arn:aws:ec2", set()),
        ("kcrn:*:*:*:*:*-4000-*", {"vm2", "vol"}),
        # the empty project segment of a resource without a project
        ("kcrn:global::EC2:SecurityGroup:sg-1", {"orphan"}),
        ("kcrn:*:*:*:*:sg-*", {"orphan"}),
        # resources without reference.resource_id are named by their cloud service id
        (f"kcrn:global:{p}:S3:Bucket:{cat.ids['bucket']}", {"bucket"}),
        # GLOB/LIKE characters are literal in a segment; `*` is the only wildcard
        ("kcrn:*:*:Special:*:id-a_*", {"a_b"}),
        ("kcrn:*:*:Special:*:id-a%*", {"a%b"}),
        ("kcrn:*:*:Special:*:id-a?*", {"a?b"}),
        ("kcrn:*:*:Special:*:id-a[*", {"a[b]"}),
        ("kcrn:*:*:*:*:*]", {"a[b]"}),
        ("kcrn:*:*:*:*:id-a\\b", {"a\\b"}),
        ("kcrn:xx-1:*:Special:Name:id-a&b", {"a&b"}),
        ("kcrn:*:*:*:*:id-a*b", SPECIAL - {"a[b]", "-lead"}),
        # deleted resources never appear
        ("kcrn:*:*:*:*:i-gone", set()),
    ):
        cat.expect({"filter_kcrn": pattern}, want)
    cat.expect({"filter_kcrn": "kcrn:*:*:*:*:*3a14*"}, cat.where_rid(lambda r: "3a14" in r))
    # both filters given: both apply
    for pattern, filter_string, want in (
        ("kcrn:*:*:Virtual Machine:*:*", "resource_type=Instance", {"vm1", "vm2"}),
        ("kcrn:*:*:Virtual Machine:*:*", "-resource_name=myResource", {"vm2", "vol"}),
        ("kcrn:*:*:*:*:arn:aws:*", "tag.key=env&tag.value=prod", {"db"}),
        ("kcrn:*:*:EC2:*:*", "region=global", {"orphan"}),
        ("kcrn:global:*:*:*:*", "service=S3", {"bucket"}),
        (f"kcrn:*:{q}:*:*:*", "resource_name=web*", set()),
        ("kcrn:*:*:*:*:*", "", ALL),
    ):
        cat.expect({"filter_kcrn": pattern, "filter_string": filter_string}, want)
    # every resource's own KCRN finds it (and only it, unless its id holds a `*`)
    for resource in found(cat.env, {"limit": 500})["resources"]:
        label = cat.labels[resource["cloud_service_id"]]
        got = cat.labels_of({"filter_kcrn": resource["kcrn"]})
        ok = label in got if "*" in resource["kcrn"] else got == {label}
        if not (isinstance(got, set) and ok):
            cat.fail(f"own kcrn of {label} ({resource['kcrn']!r}) found {got}")
    cat.check()


# --- 3. tags ------------------------------------------------------------------------------------


def test_tag_semantics(env):
    cat = build_catalog(env)
    cat.rows(
        [
            ("tag:all", TAGGED),
            ("tag:none", ALL - TAGGED),
            ("tag:all&tag:none", set()),
            ("tag.key=*", TAGGED),
            ("tag.value=*", TAGGED),
            ("-tag.key=*", ALL - TAGGED),
            ("-tag.value=*", ALL - TAGGED),
            ("tag.key=env", ENV_KEY),
            ("-tag.key=env", ALL - ENV_KEY),
            ("tag.value=prod", VALUE_PROD),
            ("-tag.value=prod", ALL - VALUE_PROD),
            # key and value must hold for one and the same tag: web2 has env=dev and team=prod
            ("tag.key=env&tag.value=prod", ENV_PROD),
            ("tag.value=prod&tag.key=env", ENV_PROD),
            ("tag.key=team&tag.value=prod", {"web2"}),
            ("tag.key=env&tag.value=dev", {"web2"}),
            ("tag.key=env&tag.key=team", set()),
            ("tag.key=env&tag.value=prod&tag.value=dev", set()),
            ("tag.key=*&tag.value=prod", VALUE_PROD),
            ("tag.key=env&tag.value=*", ENV_KEY),
            # a negated tag condition: no tag of the resource matches it
            ("tag.key=env&-tag.key=team", {"web1", "db", "arnvm", "vm2"}),
            ("tag.key=env&-tag.value=prod", {"arnvm"}),
            ("-tag.key=env&tag:all", {"bucket", "orphan"}),
            ("-tag.key=env&-tag.key=Name", ALL - ENV_KEY - {"orphan"}),
            ("tag.key=env&tag:none", set()),
            ("tag.key=env&tag.value=prod&tag:all", ENV_PROD),
            # case-sensitive keys and values
            ("tag.value=Prod", {"arnvm"}),
            ("tag.key=ENV", set()),
            ("tag.key=Name", {"web1", "orphan"}),
            ("tag.key=Name&tag.value=web-1", {"web1"}),
            ("tag.key=Name&tag.value=orphan&service=EC2", {"orphan"}),
            # an empty value is a value
            ("tag.value=", {"bucket"}),
            ("tag.key=owner&tag.value=", {"bucket"}),
            # tags from two providers on one resource (aws env=prod, google_cloud team=core)
            ("tag.key=team", {"web2", "multi"}),
            ("tag.value=core", {"multi"}),
            ("tag.key=team&tag.value=core", {"multi"}),
            ("tag.key=env&tag.value=core", set()),
            ("tag.key=env&-tag.key=team&service=EC2", {"web1", "arnvm"}),
            # combined with resource fields
            ("service=EC2&tag.key=env&tag.value=prod", {"web1", "multi"}),
            ("service=Virtual Machine&tag:all", {"vm2"}),
            # deleted resources never appear (gone is tagged env=prod)
            ("tag.key=env&tag.value=prod&resource_name=gone", set()),
        ]
    )
    cat.check()


# --- 4. errors ----------------------------------------------------------------------------------

#: (filter_string, the part of it the message must quote)
BAD_FILTERS: list[tuple[str, str]] = [
    ("colour=red", "colour=red"),
    ("service=EC2&colour=red", "colour=red"),
    ("Resource_Name=x", "Resource_Name=x"),
    ("tag.type=system", "tag.type=system"),
    ("=x", "=x"),
    ("-=x", "-=x"),
    ("resource_name", "resource_name"),
    ("service=EC2&resource_name", "resource_name"),
    ("-", "-"),
    ("tag:any", "tag:any"),
    ("tag:ALL", "tag:ALL"),
    ("resource_name=a&&service=EC2", "resource_name=a&&service=EC2"),
    ("service=EC2&", "service=EC2&"),
    ("&service=EC2", "&service=EC2"),
    ("&", "&"),
    ("-tag:all", "-tag:all"),
    ("-tag:none", "-tag:none"),
    ("resource_name=abc\\", "resource_name=abc\\"),
    ("\\", "\\"),
    ("resource_name=\\a", "resource_name=\\a"),
    ("resource_name=a\\:b", "resource_name=a\\:b"),
    ("resource_name=a=b", "resource_name=a=b"),
    ("tag.key=env=prod", "tag.key=env=prod"),
    # a `*` inside a value, or a form the key does not take
    ("resource_name=a*b", "resource_name=a*b"),
    ("resource_id=*a*b*", "resource_id=*a*b*"),
    ("region=kr-*", "region=kr-*"),
    ("region=*central*", "region=*central*"),
    ("-region=*-2", "-region=*-2"),
    ("region=kr*central", "region=kr*central"),
    ("service=Virtual*", "service=Virtual*"),
    ("resource_type=*stance", "resource_type=*stance"),
    ("tag.key=en*", "tag.key=en*"),
    ("tag.value=*rod*", "tag.value=*rod*"),
    ("-tag.value=p*", "-tag.value=p*"),
    ("provider=aw*", "provider=aw*"),
    ("project_id=project-*", "project_id=project-*"),
]


#: Each message also says what is allowed: the keys and bare words, a key's value forms, the
#: escapes, or how to write the character that was misplaced.
ALLOWED_HINTS = ("keys are", "values only", "the escapes are", "only \\&", "write \\", "joined by")


def test_invalid_filter_strings_are_400_naming_the_condition(env):
    create(env, name="x", cloud_service_group="EC2", cloud_service_type="Instance")
    problems = []
    for filter_string, quoted in BAD_FILTERS:
        response = search(env, {"filter": {"filter_string": filter_string}})
        try:
            error = explorer_error(response, 400)
            assert error["code"] == "ERROR_INVALID_FILTER", error
            assert quoted in error["message"], error["message"]
            assert any(hint in error["message"] for hint in ALLOWED_HINTS), error["message"]
        except AssertionError as exc:
            problems.append(f"{filter_string!r}: {exc}")
    assert not problems, "\n".join(problems)


def test_invalid_bodies_and_kcrns_are_400(env):
    problems = []

    def bad(body: Any, *must_mention: str, code: str | None = None) -> None:
        response = search(env, body)
        try:
            error = explorer_error(response, 400)
            for word in must_mention:
                assert word in error["message"], (word, error["message"])
            if code:
                assert error["code"] == code, error
        except AssertionError as exc:
            problems.append(f"{body!r}: {exc}")

    for limit in (0, 501, -1, "10", 1.5, True, 10**12):
        bad({"limit": limit}, "limit")
    for offset in (-1, "0", 0.5):
        bad({"offset": offset}, "offset")
    bad({"query": {}})
    bad({"filter": {"filter_string": "service=EC2", "keyword": "x"}})
    bad({"filter": "service=EC2"})
    bad({"filter": {"filter_string": 3}})
    bad({"filter": {"filter_kcrn": ["kcrn:*:*:*:*:*"]}})
    bad({"sort": 1})
    for sort in ("+name", "created_at", "-kcrn", "+", "++resource_name", "+Resource_Name", "*"):
        bad({"sort": sort}, f'"{sort}"', *SORT_FIELDS)
    for pattern in (
        "crn:*:*:*:*:*",
        "*:*:*:*:*:*",
        "KCRN:*:*:*:*:*",
        "kcrn",
        "kcrn:",
        "kcrn:*:*:*:*",
        "",
        " kcrn:*:*:*:*:*",
    ):
        bad({"filter": {"filter_kcrn": pattern}}, f'"{pattern}"', code="ERROR_INVALID_FILTER")
    for raw in (b"[]", b'"x"', b"{", b"null"):
        response = env.client.post(
            SEARCH,
            content=raw,
            headers={"X-Auth-Token": env.admin_token, "Content-Type": "application/json"},
        )
        try:
            explorer_error(response, 400)
        except AssertionError as exc:
            problems.append(f"raw body {raw!r}: {exc}")
    assert not problems, "\n".join(problems)
    # the edges that are allowed
    for body in ({"limit": 1}, {"limit": 500}, {"offset": 0}, {"offset": 10**6}):
        found(env, body)
    for sort in (*SORT_FIELDS, *(s + f for s in "+-" for f in SORT_FIELDS)):
        found(env, {"sort": sort})


def test_authentication_is_401_in_the_explorer_shape(env):
    doomed = env.ok(
        "/identity/app/create",
        {"name": "doomed", "role_id": "managed-workspace-owner", "workspace_id": env.workspace_id},
    )
    env.ok("/identity/app/delete", {"app_id": doomed["app_id"]})
    for token, header in (
        (None, "x-auth-token"),
        ("not-a-token", "x-auth-token"),
        ("not-a-token", "bearer"),
        (env.admin_token + "x", "x-auth-token"),
        (doomed["client_secret"], "x-auth-token"),
        (doomed["client_secret"], "bearer"),
    ):
        explorer_error(search(env, {}, token, header=header), 401)
    explorer_error(search(env, {"limit": 0}, None), 401)  # authentication comes first
    explorer_error(env.client.post(SEARCH, json={}, headers={"X-Auth-Token": ""}), 401)
    found(env, {}, header="x-auth-token")
    found(env, {}, header="bearer")


# --- 5. sorting and paging ----------------------------------------------------------------------

PAGING_N = 42


def _paging_body(i: int, projects: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cloud_service_group": ("EC2", "RDS", "S3")[i % 3],
        "cloud_service_type": ("Instance", "Volume")[(i // 3) % 2],
        "project_id": projects[i % len(projects)],
    }
    if i % 7:
        body["name"] = ("alpha", "beta", "gamma", "beta")[i % 4]
    if i % 5:
        body["region_code"] = ("ap-northeast-1", "ap-northeast-2")[i % 2]
    if i % 4:
        body["reference"] = {"resource_id": f"r-{(i * 17) % PAGING_N:02d}"}
    return body


def _check_order(records: list[dict[str, Any]], sort: str | None) -> str | None:
    """None if `records` are in the documented order for `sort`; else what is wrong."""
    by_kcrn = sorted(records, key=lambda r: r["kcrn"])
    if not sort:
        return None if records == by_kcrn else "default order is not kcrn ascending"
    desc = sort.startswith("-")
    key = sort.lstrip("+-")
    nonnull = [r for r in by_kcrn if r[key] is not None]
    nulls = [r for r in by_kcrn if r[key] is None]
    nonnull.sort(key=lambda r: r[key], reverse=desc)  # stable: ties stay in kcrn order
    # where resources without a name go is not specified; they must be together, in kcrn order
    if records not in (nonnull + nulls, nulls + nonnull):
        return f"{sort}: not ordered by {key} with ties by kcrn"
    return None


def test_sorting_and_paging_never_repeat_or_skip(env):
    projects = [project(env, "pa"), project(env, "pb"), None]
    created = [create(env, **_paging_body(i, projects)) for i in range(PAGING_N)]
    all_ids = {r["cloud_service_id"] for r in created}
    problems = []
    for sort in (
        None,
        "+resource_name",
        "-resource_name",
        "resource_name",
        "+resource_id",
        "-resource_id",
        "+resource_type",
        "-resource_type",
        "+service",
        "-service",
    ):
        base = {"sort": sort} if sort else {}
        everything = found(env, {**base, "limit": 500})
        ids = [r["cloud_service_id"] for r in everything["resources"]]
        if set(ids) != all_ids or len(ids) != PAGING_N or everything["total_count"] != PAGING_N:
            problems.append(f"{sort}: the full list is not every resource once")
        wrong = _check_order(everything["resources"], sort)
        if wrong:
            problems.append(wrong)
        for limit in (1, 7) if sort in (None, "-resource_name") else (6,):
            walked: list[str] = []
            for offset in range(0, PAGING_N + limit, limit):
                page = found(env, {**base, "limit": limit, "offset": offset})
                if page["total_count"] != PAGING_N:
                    problems.append(f"{sort} offset {offset}: total_count {page['total_count']}")
                if page["count"] != min(limit, max(0, PAGING_N - offset)):
                    problems.append(f"{sort} offset {offset}: count {page['count']}")
                walked += [r["cloud_service_id"] for r in page["resources"]]
            if walked != ids:
                repeats = len(walked) - len(set(walked))
                skipped = len(all_ids - set(walked))
                problems.append(
                    f"{sort} limit {limit}: pages differ from the full list "
                    f"({repeats} repeated, {skipped} skipped)"
                )
    assert not problems, "\n".join(problems)


def test_default_order_is_the_kcrn_string_ascending(env):
    """By the KCRN string, not segment by segment: `kcrn:r:p:EC2 Classic:…` < `kcrn:r:p:EC2:…`
    because ' ' < ':'. (Ordering by the segments' tuple, as commit b60c14a did, puts them the
    other way round.)"""
    pid = project(env, "order")
    for group in ("EC2", "EC2 Classic", "Compute", "Compute Engine", "EC2-x"):
        create(
            env,
            name=group,
            cloud_service_group=group,
            cloud_service_type="Instance",
            region_code="ap-1",
            project_id=pid,
        )
    kcrns = [r["kcrn"] for r in found(env, {})["resources"]]
    assert kcrns == sorted(kcrns)


LARGE_N = 2400  # past the size where a default-order page walks the KCRN index


def test_large_result_sets_in_kcrn_order(env):
    """More than 2,000 matches in the default order take a different plan (the KCRN index is
    walked and tag conditions only probe): same answers, same order, exact pages."""
    from skyatlas.inventory import service
    from skyatlas.store import statistics

    projects = [project(env, "big-a"), project(env, "big-b"), None]
    bodies = []
    for i in range(LARGE_N):
        body: dict[str, Any] = {
            "provider": "aws",
            "cloud_service_group": ("EC2", "EC2 Classic", "RDS")[i % 3],
            "cloud_service_type": ("Instance", "Volume")[i % 2],
            "name": f"big-{i % 13}",
            "reference": {"resource_id": f"r-{(i * 7919) % LARGE_N:05d}"},
            "data": {},
        }
        if i % 4:
            body["region_code"] = ("ap-1", "ap-1a", "ap-2")[i % 3]
        if projects[i % 3]:
            body["project_id"] = projects[i % 3]
        if i % 50:
            env_value, team = ("prod", "core") if i % 10 else ("dev", "prod")
            body["tags"] = {"aws": {"env": env_value, "team": team}}
        bodies.append(body)
    with env.runtime.store.begin() as conn:
        service.write_batch(
            conn,
            domain_id=env.domain_id,
            workspace_id=env.workspace_id,
            bodies=bodies,
            upsert=False,
            created_by="import",
        )
        statistics.refresh(conn)  # as the importer does after a bulk write

    def kcrn_of(body: dict[str, Any]) -> str:
        return ":".join(
            [
                "kcrn",
                body.get("region_code") or "global",
                body.get("project_id") or "",
                body["cloud_service_group"],
                body["cloud_service_type"],
                body["reference"]["resource_id"],
            ]
        )

    tagged = [b for b in bodies if b.get("tags")]
    for filter_string, want in (
        ("", bodies),
        ("tag:all", tagged),
        ("tag.value=prod", tagged),
        # one and the same tag: env=dev with team=prod does not match
        ("tag.key=env&tag.value=prod", [b for b in tagged if b["tags"]["aws"]["env"] == "prod"]),
        (
            "-tag.key=nothing&-tag.value=dev",
            [b for b in bodies if not b.get("tags") or b["tags"]["aws"]["env"] == "prod"],
        ),
    ):
        assert len(want) > 2000, filter_string
        expected = sorted(kcrn_of(b) for b in want)
        walked: list[str] = []
        for offset in range(0, len(want) + 1, 500):
            page = found(env, {"filter": {"filter_string": filter_string}, "offset": offset})
            assert page["total_count"] == len(want), filter_string
            assert page["count"] == min(500, len(want) - offset), (filter_string, offset)
            walked += [r["kcrn"] for r in page["resources"]]
        assert walked == expected, filter_string
        tail = found(env, {"filter": {"filter_string": filter_string}, "offset": 2001, "limit": 7})
        assert [r["kcrn"] for r in tail["resources"]] == expected[2001:2008], filter_string
        # the same matches in another order
        by_id = found(
            env,
            {"filter": {"filter_string": filter_string}, "sort": "-resource_id", "limit": 500},
        )
        assert by_id["total_count"] == len(want)
        ids = [r["resource_id"] for r in by_id["resources"]]
        assert ids == sorted((b["reference"]["resource_id"] for b in want), reverse=True)[:500]
    sample = found(env, {"limit": 3})["resources"]
    assert {r["user_name"] for r in sample} == {"import"}


# --- 6. roles and scoping -----------------------------------------------------------------------


def test_roles_and_scoping(env):
    ws_a = env.workspace_id
    p, q = project(env, "P"), project(env, "Q")
    for i in range(3):
        create(
            env,
            name=f"a-p-{i}",
            cloud_service_group="EC2",
            cloud_service_type="Instance",
            project_id=p,
            reference={"resource_id": f"i-p{i}"},
        )
    for i in range(2):
        create(
            env,
            name=f"a-q-{i}",
            cloud_service_group="EC2",
            cloud_service_type="Instance",
            project_id=q,
            reference={"resource_id": f"i-q{i}"},
        )
    create(env, name="a-none", cloud_service_group="EC2", cloud_service_type="Instance")
    gone = create(
        env, name="a-p-gone", cloud_service_group="EC2", cloud_service_type="Instance", project_id=p
    )
    env.ok("/inventory/cloud-service/delete", {"cloud_service_id": gone["cloud_service_id"]})

    ws_b = env.ok("/identity/workspace/create", {"name": "B"})["workspace_id"]
    pb = project(env, "PB", ws_b)
    create(env, name="b-1", cloud_service_group="EC2", cloud_service_type="Instance", project_id=pb)

    member_role = "managed-workspace-member"
    member = app_secret(
        env, "member-bot", member_role, ws_a, resource_group="PROJECT", project_id=p
    )
    by_member = create(
        env,
        member,
        name="a-p-member",
        cloud_service_group="EC2",
        cloud_service_type="Instance",
        project_id=p,
    )
    reader_role = env.ok(
        "/identity/role/create",
        {"name": "Reader", "role_type": "WORKSPACE_OWNER", "permissions": ["*.read"]},
    )["role_id"]
    reader = app_secret(env, "reader-bot", reader_role, ws_a)
    no_inventory_role = env.ok(
        "/identity/role/create",
        {
            "name": "Projects",
            "role_type": "WORKSPACE_OWNER",
            "permissions": ["identity:Project.read"],
        },
    )["role_id"]
    no_inventory = app_secret(env, "projects-bot", no_inventory_role, ws_a)
    owner_a = app_secret(env, "owner-a", "managed-workspace-owner", ws_a)
    owner_b = app_secret(env, "owner-b", "managed-workspace-owner", ws_b)

    def names(body: dict[str, Any], token: str, header: str = "x-auth-token") -> tuple[set, int]:
        data = found(env, body, token, header=header)
        return {r["resource_name"] for r in data["resources"]}, data["total_count"]

    in_a = {"a-p-0", "a-p-1", "a-p-2", "a-q-0", "a-q-1", "a-none", "a-p-member"}
    in_p = {"a-p-0", "a-p-1", "a-p-2", "a-p-member"}
    assert names({}, "admin") == (in_a | {"b-1"}, len(in_a) + 1)
    assert names({}, owner_a) == (in_a, len(in_a))
    assert names({}, reader) == (in_a, len(in_a))
    assert names({}, reader, "bearer") == (in_a, len(in_a))
    assert names({}, member) == (in_p, len(in_p))
    assert names({}, owner_b) == ({"b-1"}, 1)

    # members: total_count counts only their projects, and no filter reaches beyond them
    assert found(env, {"limit": 1}, member)["total_count"] == len(in_p)
    for flt in (
        {"filter_string": f"project_id={q}"},
        {"filter_string": "resource_name=a-q-*"},
        {"filter_string": "resource_id=i-q0"},
        {"filter_kcrn": f"kcrn:*:{q}:*:*:*"},
        {"filter_kcrn": "kcrn:*::*:*:*", "filter_string": "resource_name=a-none"},
        {"filter_string": "-project_id=" + p},
    ):
        assert names({"filter": flt}, member) == (set(), 0), flt
    assert names({"filter": {"filter_string": "resource_id=i-p1"}}, member) == ({"a-p-1"}, 1)
    # another workspace's owner sees nothing of this one
    for flt in (
        {"filter_string": "resource_name=a-*"},
        {"filter_kcrn": f"kcrn:*:{p}:*:*:*"},
        {"filter_string": f"project_id={p}"},
    ):
        assert names({"filter": flt}, owner_b) == (set(), 0), flt
    # deleted resources never appear, for anyone
    for token in ("admin", owner_a, reader, member):
        assert names({"filter": {"filter_string": "resource_name=a-p-gone"}}, token) == (set(), 0)
    # a role without inventory read may not search
    explorer_error(search(env, {}, no_inventory), 403)
    # user_name is who created it
    everything = found(env, {"limit": 500})["resources"]
    users = {r["resource_name"]: r["user_name"] for r in everything}
    assert users["a-p-member"] == "member-bot"
    assert users["a-p-0"] == app_name(env, env.admin_app_id)
    assert by_member["cloud_service_id"] in {r["cloud_service_id"] for r in everything}


# --- edge cases that were (or are) bugs -----------------------------------------------------------


def test_an_empty_kcrn_segment_matches_only_empty_values(env):
    """An empty glob matches only the empty value: `kcrn:*::*:*:*` is the resources without a
    project. (At commit b60c14a, sqlmatch.glob_parts('') was [] and so matched everything.)"""
    cat = build_catalog(env)
    cat.expect({"filter_kcrn": "kcrn:*::*:*:*"}, {"orphan"})
    cat.expect({"filter_kcrn": "kcrn:*:*::*:*"}, set())
    cat.expect({"filter_kcrn": "kcrn:*:*:*::*"}, set())
    cat.check()


def test_a_region_filter_counts_what_it_pages(env):
    """`region=global` is every resource shown with the region `global`: none, or `global`
    itself. The count reads the region column (and the kept counts), the page walks
    the KCRN index; both give the same resources, with and without other conditions."""
    shown = {}
    for i, region in enumerate([None, "global", "global-2", "us-east-1", "eu-central-1"]):
        body = {"cloud_service_group": "EC2", "cloud_service_type": "Instance", "name": f"r{i}"}
        made = create(env, **body, **({} if region is None else {"region_code": region}))
        shown[made["cloud_service_id"]] = region or "global"
    for flt, want in (
        ("region=global", {"global"}),
        ("region=eu-central-1", {"eu-central-1"}),
        ("region=global&service=EC2&resource_type=Instance", {"global"}),
        ("-region=global", {"global-2", "us-east-1", "eu-central-1"}),
    ):
        for limit in (1, 500):
            pages, offset = [], 0
            while True:
                data = found(
                    env, {"filter": {"filter_string": flt}, "offset": offset, "limit": limit}
                )
                pages += [r["cloud_service_id"] for r in data["resources"]]
                offset += limit
                if offset >= data["total_count"]:
                    break
            expected = {cid for cid, region in shown.items() if region in want}
            assert set(pages) == expected and len(pages) == len(expected), flt
            assert data["total_count"] == len(expected), flt


def test_a_resource_is_found_by_the_resource_id_it_is_shown_with(env):
    """`reference.resource_id: ""` is shown (and KCRN-named) with the cloud service id, so that id
    must find it. (At commit b60c14a, RESOURCE_ID was coalesce(resource_id, cloud_service_id),
    which is '' for it, while render/Kcrn.of used `or`.)"""
    pid = project(env, "P")
    create(
        env,
        name="empty-ref",
        cloud_service_group="EC2",
        cloud_service_type="Instance",
        project_id=pid,
        reference={"resource_id": ""},
    )
    (shown,) = found(env, {"filter": {"filter_string": "resource_name=empty-ref"}})["resources"]
    problems = []
    for flt in (
        {"filter_string": f"resource_id={shown['resource_id']}"},
        {"filter_string": f"resource_id={shown['resource_id'][:6]}*"},
        {"filter_kcrn": shown["kcrn"]},
    ):
        if found(env, {"filter": flt})["total_count"] != 1:
            problems.append(flt)
    assert not problems, problems


def test_a_kcrn_prefix_ending_in_the_last_code_points_is_not_a_500(env):
    create(env, name="x", cloud_service_group="EC2", cloud_service_type="Instance")
    statuses = {
        pattern: search(env, {"filter": {"filter_kcrn": pattern}}).status_code
        for pattern in (
            "kcrn:a:b:c:d:\U0010ffff",
            "kcrn:a:b:c:d:\ud7ff",
            "kcrn:a\ud7ff*:*:*:*:*",
            "kcrn:\U0010ffff*:*:*:*:*",
        )
    }
    assert set(statuses.values()) == {200}, statuses


# --- 7. properties ------------------------------------------------------------------------------

#: Small alphabets, so random values overlap, with the filter's own special characters, SQL and
#: GLOB wildcards, upper and lower case and spaces.
CHARS = "abAB&*=-\\%_?[ "


@dataclass(frozen=True)
class Res:
    csid: str
    name: str | None
    region: str  # `global` without a region code
    project: str  # "" without a project
    service: str
    resource_type: str
    provider: str
    rid: str
    tags: tuple[tuple[str, str], ...]

    def field(self, key: str) -> str | None:
        return {
            "resource_name": self.name,
            "resource_id": self.rid,
            "region": self.region,
            "service": self.service,
            "resource_type": self.resource_type,
            "provider": self.provider,
            "project_id": self.project,
        }[key]


def _text(rng: random.Random, lo: int, hi: int, alphabet: str = CHARS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def build_random_world(env: Any, n: int = 30, seed: int = 20250611) -> list[Res]:
    """~30 resources drawn once (a fixed seed), created through the API."""
    rng = random.Random(seed)
    pids = [project(env, f"prop-{i}") for i in range(3)]
    out = []
    for i in range(n):
        provider = rng.choice(["aws", "AWS", "kakaocloud", "x_y", "x%y"])
        name = rng.choice([None, "", *(_text(rng, 1, 3) for _ in range(8))])
        group = rng.choice(["EC2", "ec2", "EC2 x", "a&b", "a*b", "a_b", "axb", "a%b", "-x", "a\\b"])
        type_ = rng.choice(
            ["Instance", "instance", "Inst", "a?b", "ab", "a[b", "a[b]", "=eq", "x y"]
        )
        region = rng.choice(
            [None, None, "global", "kr-central-2", "r*1", "r_1", "rx1", "r%1", "-r"]
        )
        proj = rng.choice([*pids, None])
        ref = rng.choice(
            [
                None,
                f"{_text(rng, 0, 3)}#{i}",
                f"{i}#{_text(rng, 0, 3)}",
                f"arn:aws:{_text(rng, 0, 2)}:{i}",
            ]
        )
        tags: dict[str, dict[str, str]] = {}
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            prov = rng.choice([provider, provider, "other"])
            key = rng.choice(
                ["env", "Env", "team", "a&b", "k*", "k_", "kx", "-k", "k=v", "k\\", " "]
            )
            tags.setdefault(prov, {})[key] = rng.choice(
                ["prod", "Prod", "", "p%", "p_", "px", "p*", "\\", "a&b", "-", "prod "]
            )
        body: dict[str, Any] = {
            "provider": provider,
            "cloud_service_group": group,
            "cloud_service_type": type_,
            "project_id": proj,
            "tags": tags,
        }
        if name is not None:
            body["name"] = name
        if region is not None:
            body["region_code"] = region
        if ref is not None:
            body["reference"] = {"resource_id": ref}
        csid = create(env, **body)["cloud_service_id"]
        out.append(
            Res(
                csid=csid,
                name=name,
                region=region or "global",
                project=proj or "",
                service=group,
                resource_type=type_,
                provider=provider,
                rid=ref or csid,
                tags=tuple((k, v) for pairs in tags.values() for k, v in pairs.items()),
            )
        )
    return out


# The filter AST: ("word", "tag:all") or ("cond", key, form, text, negated).
ALL_FORM_KEYS = ("resource_name", "resource_id")
EXACT_KEYS = (
    "region",
    "service",
    "resource_type",
    "tag.key",
    "tag.value",
    "provider",
    "project_id",
)
FORMS = ("exact", "prefix", "suffix", "contains", "any")


def escape_value(text: str) -> str:
    """The spec's escapes: `\\&`, `\\*`, `\\=`, `\\\\`, and `\\-` for a leading `-`."""
    out = "".join("\\" + ch if ch in "&*=\\" else ch for ch in text)
    return "\\" + out if out.startswith("-") else out


def render(conds: list[tuple[Any, ...]]) -> str:
    parts = []
    for cond in conds:
        if cond[0] == "word":
            parts.append(cond[1])
            continue
        _, key, form, text, negated = cond
        value = {
            "exact": escape_value(text),
            "prefix": escape_value(text) + "*",
            "suffix": "*" + escape_value(text),
            "contains": "*" + escape_value(text) + "*",
            "any": "*",
        }[form]
        parts.append(("-" if negated else "") + f"{key}={value}")
    return "&".join(parts)


def form_matches(form: str, text: str, value: str | None) -> bool:
    if form == "any":
        return True
    if value is None:
        return False
    return {
        "exact": value == text,
        "prefix": value.startswith(text),
        "suffix": value.endswith(text),
        "contains": text in value,
    }[form]


def glob_matches(pattern: str, value: str) -> bool:
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _tag_matches(cond: tuple[Any, ...], tag: tuple[str, str]) -> bool:
    _, key, form, text, _ = cond
    return form_matches(form, text, tag[0] if key == "tag.key" else tag[1])


def spec_matches(res: Res, conds: list[tuple[Any, ...]], kcrn: str | None) -> bool:
    """The spec's semantics, read independently of the implementation."""
    if kcrn is not None:
        segments = kcrn[len("kcrn:") :].split(":", 4)
        values = (res.region, res.project, res.service, res.resource_type, res.rid)
        if not all(glob_matches(s, v) for s, v in zip(segments, values, strict=True)):
            return False
    positive_tag: list[tuple[Any, ...]] = []
    for cond in conds:
        if cond[0] == "word":
            if (cond[1] == "tag:all") != bool(res.tags):
                return False
            continue
        _, key, form, text, negated = cond
        if key.startswith("tag."):
            if not negated:
                positive_tag.append(cond)
            elif any(_tag_matches(cond, tag) for tag in res.tags):
                return False
            continue
        if form_matches(form, text, res.field(key)) == negated:
            return False
    if positive_tag:
        return any(all(_tag_matches(c, tag) for c in positive_tag) for tag in res.tags)
    return True


def filter_strategy(world: list[Res]) -> Any:
    """(conditions, filter_kcrn or None), with values mostly drawn from the world's own."""
    pools: dict[str, list[str]] = {
        key: sorted({v for r in world if (v := r.field(key)) is not None})
        for key in ("resource_name", "resource_id", "region", "service", "resource_type")
    }
    pools["provider"] = sorted({r.provider for r in world})
    pools["project_id"] = sorted({r.project for r in world})
    pools["tag.key"] = sorted({k for r in world for k, _ in r.tags})
    pools["tag.value"] = sorted({v for r in world for _, v in r.tags})
    # a resource's own tags, and the key of one with the value of another: the pairs that tell
    # "one and the same tag" from "some tag has the key and some tag has the value"
    tag_pairs = sorted({(k, v) for r in world for k, _ in r.tags for _, v in r.tags})

    @st.composite
    def value_text(draw: Any, key: str, form: str) -> str:
        how = draw(st.sampled_from(["random", "value", "value", "swapcase", "part", "part"]))
        if how == "random":
            return draw(st.text(alphabet=CHARS, max_size=3))
        value = draw(st.sampled_from(pools[key]))
        if how == "swapcase":
            return value.swapcase()
        if how == "value" or len(value) < 2:
            return value
        cut = draw(st.integers(1, len(value) - 1))
        return {
            "exact": value[:cut],
            "prefix": value[:cut],
            "suffix": value[cut:],
            "contains": value[cut - 1 : cut + 1],
        }[form]

    @st.composite
    def conditions(draw: Any) -> list[tuple[Any, ...]]:
        kind = draw(
            st.sampled_from(
                ["word", "tag pair", "tag pair", *ALL_FORM_KEYS * 3, *EXACT_KEYS]  # biased
            )
        )
        if kind == "word":
            return [("word", draw(st.sampled_from(["tag:all", "tag:none"])))]
        if kind == "tag pair" and draw(st.booleans()):
            key, value = draw(st.sampled_from(tag_pairs))
            return [
                ("cond", "tag.key", "exact", key, False),
                ("cond", "tag.value", "exact", value, False),
            ]
        keys = ["tag.key", "tag.value"] if kind == "tag pair" else [kind]
        out = []
        for key in keys:
            forms = FORMS if key in ALL_FORM_KEYS else ("exact", "exact", "exact", "any")
            form = draw(st.sampled_from(forms))
            text = "" if form == "any" else draw(value_text(key, form))
            if form != "exact" and text == "":
                form = "any"  # `*`, `**`: any value
            negated = draw(st.sampled_from([False, False, True])) if kind != "tag pair" else False
            out.append(("cond", key, form, text, negated))
        return out

    @st.composite
    def kcrn_segment(draw: Any, values: list[str]) -> str:
        values = [v for v in values if v and ":" not in v] or ["*"]
        value = draw(st.sampled_from(values))
        shape = draw(st.sampled_from(["*", "*", "exact", "prefix", "suffix", "contains", "inner"]))
        if shape == "*" or len(value) < 2:
            return "*" if shape == "*" else value
        cut = draw(st.integers(1, len(value) - 1))
        return {
            "exact": value,
            "prefix": value[:cut] + "*",
            "suffix": "*" + value[cut:],
            "contains": "*" + value[cut - 1 : cut + 1] + "*",
            "inner": value[: cut - 1] + "*" + value[cut:],
        }[shape]

    @st.composite
    def kcrn_pattern(draw: Any) -> str:
        segments = [
            draw(kcrn_segment(pools["region"])),
            draw(kcrn_segment(pools["project_id"])),
            draw(kcrn_segment(pools["service"])),
            draw(kcrn_segment(pools["resource_type"])),
        ]
        rid = draw(st.sampled_from(pools["resource_id"]))
        cut = draw(st.integers(0, len(rid)))
        segments.append(draw(st.sampled_from(["*", rid, rid[:cut] + "*", "*" + rid[cut:]])))
        return "kcrn:" + ":".join(segments)

    conds = st.lists(conditions(), max_size=3).map(lambda groups: [c for g in groups for c in g])
    return st.tuples(conds, st.none() | st.none() | kcrn_pattern())


def test_random_filters_agree_with_the_spec(env):
    """Both backends: SQLite matches with GLOB, PostgreSQL with LIKE and its escapes."""
    world = build_random_world(env)

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(case=filter_strategy(world))
    def check(case: tuple[list[tuple[Any, ...]], str | None]) -> None:
        conds, kcrn = case
        flt: dict[str, Any] = {"filter_string": render(conds)}
        if kcrn is not None:
            flt["filter_kcrn"] = kcrn
        data = found(env, {"filter": flt})
        got = {r["cloud_service_id"] for r in data["resources"]}
        want = {r.csid for r in world if spec_matches(r, conds, kcrn)}
        assert got == want, (flt, sorted(got - want), sorted(want - got))
        assert data["total_count"] == len(want)

    check()


# fmt: off
FILTER_TOKENS = [
    "resource_name", "resource_id", "region", "service", "resource_type", "tag.key",
    "tag.value", "provider", "project_id", "tag:all", "tag:none", "=", "&", "-", "*", "\\", ":",
    "a", "%", "_", "?", "[", " ", "\x00", "é", "kcrn",
]
# fmt: on


def test_arbitrary_filters_are_answered_200_or_400(sqlite_env):
    env = sqlite_env
    for i, name in enumerate(["a%b", "a_b", "x", None]):
        tags = {"aws": {"k": str(i)}} if i % 2 else {}
        create(env, name=name, cloud_service_group="EC2", cloud_service_type="Instance", tags=tags)
    kcrn_tokens = ["kcrn", ":", "*", "a", "%", "_", "\\", "["]

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        filter_string=st.none()
        | st.text(max_size=30)
        | st.lists(st.sampled_from(FILTER_TOKENS), max_size=12).map("".join),
        filter_kcrn=st.none()
        | st.text(max_size=20)
        | st.lists(st.sampled_from(kcrn_tokens), max_size=14).map("".join),
        sort=st.none()
        | st.sampled_from(["+resource_name", "-service", "name"])
        | st.text(max_size=6),
    )
    def check(filter_string: str | None, filter_kcrn: str | None, sort: str | None) -> None:
        flt = {"filter_string": filter_string, "filter_kcrn": filter_kcrn}
        body: dict[str, Any] = {"filter": flt}
        if sort is not None:
            body["sort"] = sort
        response = search(env, body)
        assert response.status_code in (200, 400), (body, response.status_code, response.text)
        if response.status_code == 200:
            data = response.json()
            assert set(data) == TOP_KEYS and data["count"] == len(data["resources"])
        else:
            explorer_error(response, 400)

    check()


# --- 8. OpenAPI ---------------------------------------------------------------------------------


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def test_openapi_documents_the_search(sqlite_env):
    response = sqlite_env.client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    op = doc["paths"]["/api/v1/resources/search"]["post"]
    assert op.get("summary") and op.get("description")
    assert "filter_string" in op["description"] and "filter_kcrn" in op["description"]
    request = _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
    assert {"filter", "offset", "limit", "sort"} <= set(request["properties"])
    assert request["properties"]["limit"].get("maximum") == 500
    assert request["properties"]["limit"].get("minimum") == 1
    assert request["properties"]["offset"].get("minimum") == 0
    options = request["properties"]["filter"].get("anyOf", [request["properties"]["filter"]])
    flt_schema = next(_resolve(doc, o) for o in options if "$ref" in o or "properties" in o)
    assert {"filter_kcrn", "filter_string"} <= set(flt_schema["properties"])
    ok = _resolve(doc, op["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(ok["properties"]) >= TOP_KEYS
    resource = _resolve(doc, ok["properties"]["resources"]["items"])
    assert set(resource["properties"]) >= SPEC_RESOURCE_KEYS
    tag = _resolve(doc, resource["properties"]["tags"]["items"])
    assert set(tag["properties"]) >= TAG_KEYS
    for status in ("400", "401"):
        error = _resolve(doc, op["responses"][status]["content"]["application/json"]["schema"])
        assert {"success", "error"} <= set(error["properties"])
    schemes = doc["components"]["securitySchemes"]
    assert any(
        s.get("in") == "header" and s.get("name") == "X-Auth-Token" for s in schemes.values()
    )
