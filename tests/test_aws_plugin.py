"""The built-in `aws` collector against moto: what it yields for a known account, and how it fails.

The account is seeded once for the module (`aws_moto.seed`, ~300 resources over us-east-1 and
ap-northeast-2); most tests read one full collection of it and compare with the seed's summary
exactly. Failures are produced the way AWS produces them: moto's IAM authentication for bad keys
and denied services, a proxy answering AccessDenied for one service in one region.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import aws_moto
import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from pydantic import ValidationError

from skyatlas.plugins.aws import AwsOptions, collector, plugin, types
from skyatlas.plugins.base import (
    CollectContext,
    CollectError,
    PluginError,
    RegionRecord,
    ServiceAccountView,
)

# moto keeps its accounts per process, and this module seeds once and reads many times: keep its
# tests (and other moto modules of the same group) in one xdist worker, one module at a time.
pytestmark = pytest.mark.xdist_group("moto")

REGIONS = list(aws_moto.REGIONS)
EXPECTED_TYPES = {
    ("EC2", "Instance"),
    ("EC2", "SecurityGroup"),
    ("EC2", "Volume"),
    ("VPC", "VPC"),
    ("VPC", "Subnet"),
    ("S3", "Bucket"),
    ("RDS", "Instance"),
    ("Lambda", "Function"),
    ("ELB", "LoadBalancer"),
    ("IAM", "User"),
    ("IAM", "Role"),
}
SECRET_VALUES = ("AKIAWRONGWRONGWRONG1", "wrong-secret-0123456789abcdefghijklmnopq")


# ------------------------------------------------------------------------------------------------
# Helpers and fixtures
# ------------------------------------------------------------------------------------------------


def make_ctx(
    options: Mapping[str, Any],
    secret: Mapping[str, Any] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    account_data: Mapping[str, Any] | None = None,
) -> CollectContext:
    return CollectContext(
        options=dict(options),
        secret=dict(aws_moto.CREDENTIALS if secret is None else secret),
        account=ServiceAccountView(
            service_account_id="sa-test",
            name="moto",
            provider="aws",
            data=dict(account_data or {}),
            project_id=None,
            workspace_id="workspace-test",
        ),
        cancelled=cancelled,
    )


def collect(options: Mapping[str, Any], secret: Mapping[str, Any] | None = None) -> list[Any]:
    return list(plugin.collect(make_ctx(options, secret)))


def records(items: list[Any]) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)]


def errors(items: list[Any]) -> list[CollectError]:
    return [i for i in items if isinstance(i, CollectError)]


def regions_of(items: list[Any]) -> list[RegionRecord]:
    return [i for i in items if isinstance(i, RegionRecord)]


def ids_by_type(items: list[Any]) -> dict[str, dict[str, list[str]]]:
    """Like the seed summary's `resources`: "Group.Type" → region → sorted resource ids."""
    out: dict[str, dict[str, list[str]]] = {}
    for r in records(items):
        label = f"{r['cloud_service_group']}.{r['cloud_service_type']}"
        out.setdefault(label, {}).setdefault(r["region_code"], []).append(
            r["reference"]["resource_id"]
        )
    return {k: {region: sorted(ids) for region, ids in v.items()} for k, v in out.items()}


def nonempty(resources: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    return {
        k: {r: ids for r, ids in v.items() if ids} for k, v in resources.items() if any(v.values())
    }


def by_id(items: list[Any]) -> dict[str, dict[str, Any]]:
    return {r["reference"]["resource_id"]: r for r in records(items)}


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, dict[str, Any]]]:
    """(endpoint URL, seed summary) of a freshly seeded moto."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        with aws_moto.moto_server() as endpoint:
            aws_moto.reset(endpoint)
            summary = aws_moto.seed(endpoint)
            yield endpoint, summary
            aws_moto.reset(endpoint)


@pytest.fixture(scope="module")
def endpoint(moto: tuple[str, dict[str, Any]]) -> str:
    return moto[0]


@pytest.fixture(scope="module")
def summary(moto: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return moto[1]


@pytest.fixture(scope="module")
def full(endpoint: str) -> list[Any]:
    """Everything one collection of both regions yields, in order."""
    options = {"endpoint_url": endpoint, "regions": REGIONS}
    ctx = make_ctx(options, account_data={"account_id": aws_moto.ACCOUNT_ID})
    return list(plugin.collect(ctx))


# ------------------------------------------------------------------------------------------------
# Metadata and options
# ------------------------------------------------------------------------------------------------


def test_metadata_declares_every_type_with_data_search_keys() -> None:
    meta = plugin.metadata
    assert (meta.plugin_id, meta.kind, meta.provider) == ("aws", "collector", "aws")
    assert meta.needs_service_account is True
    assert meta.options_model is AwsOptions
    specs = {(s.group, s.name): s for s in meta.cloud_service_types}
    assert set(specs) == EXPECTED_TYPES
    assert len(meta.cloud_service_types) == len(EXPECTED_TYPES)
    for spec in meta.cloud_service_types:
        assert spec.provider == "aws"
        assert spec.search, spec
        for entry in spec.search:
            assert set(entry) == {"key", "name"}
            assert entry["key"].startswith("data.") and entry["name"]
    assert specs[("EC2", "Instance")].is_primary and specs[("EC2", "Instance")].is_major
    assert "data.compute.instance_state" in {e["key"] for e in specs[("EC2", "Instance")].search}
    schema = meta.options_schema()
    assert set(schema["properties"]) == {"regions", "resource_types", "endpoint_url"}
    assert schema["additionalProperties"] is False


def test_options_are_validated() -> None:
    ok = AwsOptions.model_validate(
        {"regions": ["us-east-1", "us-east-1"], "resource_types": ["EC2.Instance", "IAM.User"]}
    )
    assert ok.regions == ["us-east-1"]
    assert [k.label for k in ok.wanted()] == ["EC2.Instance", "IAM.User"]
    assert len(AwsOptions().wanted()) == len(EXPECTED_TYPES)
    with pytest.raises(ValidationError, match=r"EC2\.Instances"):
        AwsOptions.model_validate({"resource_types": ["EC2.Instances"]})
    with pytest.raises(ValidationError):
        AwsOptions.model_validate({"regoins": ["us-east-1"]})
    with pytest.raises(ValidationError):
        AwsOptions.model_validate({"regions": ["US East"]})
    with pytest.raises(ValidationError):
        AwsOptions.model_validate({"endpoint_url": "127.0.0.1:5000"})
    # Through collect: a PluginError before any call to AWS.
    with pytest.raises(PluginError, match=r"resource_types.*S3\.Buckets"):
        collect({"resource_types": ["S3.Buckets"]})


def test_a_secret_without_keys_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="no aws_access_key_id or aws_secret_access_key"):
        collect({"regions": ["us-east-1"]}, secret={})
    with pytest.raises(PluginError, match="no aws_secret_access_key"):
        collect({"regions": ["us-east-1"]}, secret={"aws_access_key_id": "AKIAEXAMPLE"})


# ------------------------------------------------------------------------------------------------
# One full collection compared with the seed
# ------------------------------------------------------------------------------------------------


def test_full_collection_yields_exactly_what_exists(
    full: list[Any], summary: dict[str, Any]
) -> None:
    assert errors(full) == []
    assert summary["created_count"] >= 300
    assert ids_by_type(full) == nonempty(summary["resources"])
    counts = Counter(
        (r["cloud_service_group"], r["cloud_service_type"], r["region_code"]) for r in records(full)
    )
    for label, per_region in summary["resources"].items():
        group, type_ = label.split(".")
        for region, ids in per_region.items():
            assert counts[(group, type_, region)] == len(ids), (label, region)
    assert {(r["cloud_service_group"], r["cloud_service_type"]) for r in records(full)} == (
        EXPECTED_TYPES
    )
    # No resource twice.
    keys = [
        (r["cloud_service_group"], r["cloud_service_type"], r["reference"]["resource_id"])
        for r in records(full)
    ]
    assert len(keys) == len(set(keys))


def test_regions_are_yielded_with_readable_names(full: list[Any]) -> None:
    assert regions_of(full) == [
        RegionRecord("aws", "us-east-1", "US East (N. Virginia)"),
        RegionRecord("aws", "ap-northeast-2", "Asia Pacific (Seoul)"),
        RegionRecord("aws", "global", "Global"),
    ]
    # Each region's record comes before its resources.
    seen: set[str] = set()
    for item in full:
        if isinstance(item, RegionRecord):
            seen.add(item.region_code)
        elif isinstance(item, dict):
            assert item["region_code"] in seen


def test_every_record_has_the_common_fields(full: list[Any], summary: dict[str, Any]) -> None:
    for r in records(full):
        rid = r["reference"]["resource_id"]
        assert r["provider"] == "aws"
        assert r["account"] == summary["account_id"] == "123456789012"
        assert r["region_code"] in (*REGIONS, "global")
        assert r["name"] == summary["names"][rid], rid
        assert r["tags"] == summary["tags"][rid], rid
        assert isinstance(r["data"], dict) and r["data"]
        assert r["reference"]["external_link"].startswith("https://")
        assert all(isinstance(v, str) for v in r["tags"].values())
        json.dumps(r)  # plain JSON values only


def test_search_keys_are_scalars_present_in_every_record(full: list[Any]) -> None:
    specs = {(s.group, s.name): s for s in plugin.metadata.cloud_service_types}
    for r in records(full):
        spec = specs[(r["cloud_service_group"], r["cloud_service_type"])]
        for entry in spec.search:
            node: Any = r
            for part in entry["key"].split("."):
                assert isinstance(node, dict) and part in node, (entry["key"], r["name"])
                node = node[part]
            assert node is None or isinstance(node, str | int | float | bool), entry["key"]


def test_instances_have_the_seed_shape(full: list[Any], summary: dict[str, Any]) -> None:
    stopped = {i for ids in summary["stopped"].values() for i in ids}
    protected = set(summary["termination_protected"])
    lbs = summary["load_balancers_by_instance"]
    instances = [r for r in records(full) if r["cloud_service_type"] == "Instance"]
    instances = [r for r in instances if r["cloud_service_group"] == "EC2"]
    assert instances
    for r in instances:
        iid = r["reference"]["resource_id"]
        region = r["region_code"]
        data = r["data"]
        compute = data["compute"]
        assert set(data) >= {
            "os",
            "aws",
            "hardware",
            "compute",
            "vpc",
            "subnet",
            "load_balancer",
            "security_group",
            "primary_ip_address",
        }
        assert compute["instance_id"] == iid
        assert compute["instance_name"] == r["name"]
        assert compute["instance_state"] == ("STOPPED" if iid in stopped else "RUNNING")
        assert compute["account"] == "123456789012"
        assert compute["az"].startswith(region)
        assert compute["instance_type"] == r["instance_type"]
        assert compute["launched_at"] and "T" in compute["launched_at"]
        assert compute["security_groups"]
        for sg in compute["security_groups"]:
            assert sg["display"] == f"{sg['name']} ({sg['id']})"
        assert r["reference"]["external_link"] == (
            f"https://{region}.console.aws.amazon.com/ec2/v2/home?region={region}"
            f"#Instances:instanceId={iid}"
        )
        assert data["aws"]["ami_id"].startswith("ami-")
        assert data["aws"]["termination_protection"] is (iid in protected)
        assert data["aws"]["lifecycle"] == "normal"
        assert data["vpc"]["vpc_name"] in ("main-vpc", "shared-vpc")
        assert data["primary_ip_address"] == r["ip_addresses"][0]
        assert sorted(lb["name"] for lb in data["load_balancer"]) == lbs.get(iid, [])
        # The security group rules of its groups, with their direction.
        assert data["security_group"]
        assert {rule["security_group_id"] for rule in data["security_group"]} <= {
            sg["id"] for sg in compute["security_groups"]
        }
        assert {rule["direction"] for rule in data["security_group"]} <= {"inbound", "outbound"}
    # Seeded instance types and AMIs show through.
    one = next(r for r in instances if r["instance_type"] == "t3.micro")
    assert one["data"]["hardware"]["core"] == 2.0
    assert one["data"]["hardware"]["memory"] == 1.0
    assert one["instance_size"] == 2.0
    distros = {r["data"]["os"]["os_distro"] for r in instances}
    assert distros == {"amazonlinux", "ubuntu", "windows"}
    windows = next(r for r in instances if r["data"]["os"]["os_distro"] == "windows")
    assert windows["data"]["os"]["os_type"] == "WINDOWS"
    linux = next(r for r in instances if r["data"]["os"]["os_distro"] == "amazonlinux")
    assert linux["data"]["os"]["os_type"] == "LINUX"
    assert linux["data"]["compute"]["image"].startswith("amzn-ami-hvm")
    public = [
        r
        for r in instances
        if r["data"]["compute"]["instance_state"] == "RUNNING"
        and r["data"]["subnet"]["subnet_name"] == "main-public-a"
    ]
    assert public
    for r in public:  # private first, then public
        assert len(r["ip_addresses"]) == 2 and r["ip_addresses"][0].startswith("10.")
        assert not r["ip_addresses"][1].startswith("10.")
    assert any(r["data"]["compute"]["keypair"] == "skyatlas-key" for r in instances)
    assert any(r["data"]["aws"]["iam_instance_profile"] for r in instances)
    untagged = [r for r in instances if "Name" not in r["tags"]]
    assert untagged and all(r["name"] == r["reference"]["resource_id"] for r in untagged)
    wonny = [r for r in instances if r["tags"].get("Created_by") == "wonny"]
    assert wonny  # the seed's 3rd use case: filter on tags.aws.Created_by


def test_terminated_instances_are_not_yielded(full: list[Any], summary: dict[str, Any]) -> None:
    found = by_id(full)
    terminated = [i for ids in summary["terminated"].values() for i in ids]
    assert terminated
    assert not set(terminated) & set(found)


def test_describe_instances_pages_are_all_followed(
    endpoint: str, full: list[Any], summary: dict[str, Any]
) -> None:
    ec2 = boto3.client(
        "ec2", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
    )
    first = ec2.describe_instances()
    assert first.get("NextToken"), "precondition: moto answers in more than one page"
    collected = ids_by_type(full)["EC2.Instance"]["us-east-1"]
    assert collected == summary["resources"]["EC2.Instance"]["us-east-1"]
    on_first_page = {i["InstanceId"] for res in first["Reservations"] for i in res["Instances"]}
    assert set(collected) - on_first_page  # some came from later pages


def test_security_groups_list_the_instances_using_them(
    full: list[Any], summary: dict[str, Any]
) -> None:
    groups = [r for r in records(full) if r["cloud_service_type"] == "SecurityGroup"]
    users = summary["instances_by_security_group"]
    in_use = 0
    for g in groups:
        gid = g["reference"]["resource_id"]
        listed = g["data"]["instances"]
        assert sorted(i["instance_id"] for i in listed) == users.get(gid, []), g["name"]
        for entry in listed:
            assert entry["InstanceId"] == entry["instance_id"]
            assert entry["instance_name"]
            assert entry["State"]["Name"] in ("running", "stopped")
            assert gid in {sg["GroupId"] for sg in entry["SecurityGroups"]}
        in_use += bool(listed)
        assert g["data"]["group_id"] == gid
        assert g["reference"]["external_link"].endswith(f"#SecurityGroup:groupId={gid}")
    assert in_use == len([g for g in users.values() if g])
    assert any(not g["data"]["instances"] for g in groups)  # the seed's not_in [null, []]

    web = next(g for g in groups if g["data"]["group_name"] == "web-sg")
    inbound = [r for r in web["data"]["rules"] if r["direction"] == "inbound"]
    assert sorted((r["protocol"], r["port"], r["remote"]) for r in inbound) == [
        ("TCP", "443", "0.0.0.0/0"),
        ("TCP", "80", "0.0.0.0/0"),
    ]
    assert [r["direction"] for r in web["data"]["rules"]].count("outbound") >= 1
    assert web["data"]["ip_permissions"][0]["protocol_display"] == "TCP"
    app = next(
        g
        for g in groups
        if g["data"]["group_name"] == "app-sg" and g["region_code"] == web["region_code"]
    )
    (rule,) = [r for r in app["data"]["rules"] if r["direction"] == "inbound"]
    assert rule["remote_type"] == "security_group"
    assert rule["remote_id"] == web["reference"]["resource_id"]
    assert rule["remote"] == f"{web['reference']['resource_id']} (web-sg)"
    ipv6 = next(g for g in groups if g["data"]["group_name"] == "unused-sg-3")
    (rule,) = [r for r in ipv6["data"]["rules"] if r["direction"] == "inbound"]
    assert (rule["port"], rule["remote_type"]) == ("8000-8100", "cidr_ipv6")


def test_volumes_vpcs_and_subnets(full: list[Any], summary: dict[str, Any]) -> None:
    rs = records(full)
    volumes = [r for r in rs if r["cloud_service_type"] == "Volume"]
    assert {v["data"]["volume_type"] for v in volumes} >= {"gp3", "gp2", "io1", "st1", "sc1"}
    attached = [v for v in volumes if v["data"]["attachments"]]
    assert attached
    for v in attached:
        att = v["data"]["attachments"][0]
        assert att["instance_name"] == summary["names"][att["instance_id"]]
    assert all(v["instance_size"] == v["data"]["size"] for v in volumes)

    vpcs = [r for r in rs if r["cloud_service_type"] == "VPC"]
    default = [v for v in vpcs if v["data"]["is_default"]]
    assert len(default) == len(REGIONS)
    main = next(v for v in vpcs if v["name"] == "main-vpc" and v["region_code"] == "us-east-1")
    assert main["data"]["internet_gateway"]["id"].startswith("igw-")
    assert main["data"]["cidr_block"] == "10.20.0.0/16"

    subnets = [r for r in rs if r["cloud_service_type"] == "Subnet"]
    public = next(s for s in subnets if s["name"] == "main-public-a")
    private = next(s for s in subnets if s["name"] == "main-private-b")
    assert public["data"]["subnet_type"] == "public"
    assert private["data"]["subnet_type"] == "private"
    assert public["data"]["vpc_name"] == "main-vpc"
    assert any(
        route["gateway_id"].startswith("igw-") for route in public["data"]["route_table"]["routes"]
    )


def test_buckets_are_filed_under_their_own_region(full: list[Any]) -> None:
    buckets = [r for r in records(full) if r["cloud_service_type"] == "Bucket"]
    assert buckets
    for b in buckets:
        name = b["data"]["name"]
        region = "us-east-1" if name.startswith("skyatlas-us-east-1-") else "ap-northeast-2"
        assert b["region_code"] == b["data"]["region_name"] == region  # us-east-1: null location
        assert b["reference"]["resource_id"] == f"arn:aws:s3:::{name}"
        assert b["reference"]["external_link"] == (
            f"https://s3.console.aws.amazon.com/s3/buckets/{name}?region={region}"
        )
    status = {
        b["data"]["name"].rsplit("-", 1)[1]: b["data"]["versioning"]["status"] for b in buckets
    }
    assert status["logs"] == "Enabled" and status["assets"] == "Disabled"
    tfstate = [b for b in buckets if b["data"]["name"].endswith("-tfstate")]
    assert tfstate and all(b["tags"] == {} for b in tfstate)
    logs = next(b for b in buckets if b["data"]["name"].endswith("-logs"))
    assert logs["data"]["encryption"]["sse_algorithm"] == "AES256"


def test_rds_lambda_and_load_balancers(full: list[Any]) -> None:
    rs = records(full)
    dbs = [r for r in rs if r["cloud_service_group"] == "RDS"]
    assert {d["data"]["engine"] for d in dbs} == {"postgres", "mysql"}
    for d in dbs:
        assert d["instance_type"] == d["data"]["db_instance_class"]
        assert d["reference"]["resource_id"].startswith(f"arn:aws:rds:{d['region_code']}:")
        assert "#database:id=" in d["reference"]["external_link"]

    fns = [r for r in rs if r["cloud_service_group"] == "Lambda"]
    for f in fns:
        assert f["data"]["state"] == "Active"
        assert f["data"]["environment"] == {"variable_names": ["DB_PASSWORD", "STAGE"]}
        assert f["instance_size"] == float(f["data"]["memory_size"])
    # Environment values are often credentials: never collected.
    assert "hunter2" not in json.dumps(rs)

    lbs = [r for r in rs if r["cloud_service_group"] == "ELB"]
    assert {lb["data"]["type"] for lb in lbs} == {"application", "network"}
    web = next(lb for lb in lbs if lb["data"]["load_balancer_name"] == "web-alb")
    (tg,) = web["data"]["target_groups"]
    assert tg["target_group_name"] == "web-tg" and len(tg["targets"]) == 3
    assert web["data"]["listeners"][0]["port"] == 80


def test_iam_users_and_roles_are_global(full: list[Any]) -> None:
    rs = records(full)
    users = [
        r for r in rs if r["cloud_service_group"] == "IAM" and r["cloud_service_type"] == "User"
    ]
    roles = [
        r for r in rs if r["cloud_service_group"] == "IAM" and r["cloud_service_type"] == "Role"
    ]
    assert users and roles
    for u in users:
        name = u["data"]["user_name"]  # user00.skyatlas .. user07.skyatlas, svc-deploy-08 ..
        n = int(re.findall(r"\d\d", name)[0])
        assert u["region_code"] == "global"
        assert u["data"]["access_key_count"] == len(u["data"]["access_keys"]) == n % 3
        assert u["data"]["console_login_enabled"] is name.startswith("user")
        assert u["reference"]["external_link"] == (
            f"https://console.aws.amazon.com/iam/home#/users/{name}"
        )
    lam = next(r for r in roles if r["data"]["role_name"] == "skyatlas-lambda-role")
    assert lam["data"]["trust_policy"]["principal_service"] == "lambda.amazonaws.com"
    assert lam["data"]["description"] == "Assumed by lambda"
    ec2 = next(r for r in roles if r["data"]["role_name"] == "skyatlas-ec2-role")
    assert ec2["data"]["instance_profile"].endswith(":instance-profile/skyatlas-ec2-profile")


# ------------------------------------------------------------------------------------------------
# Options in action
# ------------------------------------------------------------------------------------------------


def test_regions_and_resource_types_limit_the_run(endpoint: str, summary: dict[str, Any]) -> None:
    items = collect(
        {
            "endpoint_url": endpoint,
            "regions": ["ap-northeast-2"],
            "resource_types": ["VPC.VPC", "S3.Bucket"],
        }
    )
    assert errors(items) == []
    assert regions_of(items) == [RegionRecord("aws", "ap-northeast-2", "Asia Pacific (Seoul)")]
    expected = {
        "VPC.VPC": {"ap-northeast-2": summary["resources"]["VPC.VPC"]["ap-northeast-2"]},
        "S3.Bucket": {"ap-northeast-2": summary["resources"]["S3.Bucket"]["ap-northeast-2"]},
    }
    assert ids_by_type(items) == expected


def test_all_enabled_regions_by_default(endpoint: str, summary: dict[str, Any]) -> None:
    ec2 = boto3.client(
        "ec2", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
    )
    enabled = sorted(r["RegionName"] for r in ec2.describe_regions(AllRegions=False)["Regions"])
    assert len(enabled) > len(REGIONS)
    items = collect({"endpoint_url": endpoint, "resource_types": ["Lambda.Function"]})
    assert errors(items) == []
    assert sorted(r.region_code for r in regions_of(items)) == enabled
    assert ids_by_type(items) == nonempty(
        {"Lambda.Function": summary["resources"]["Lambda.Function"]}
    )


def test_endpoint_from_the_environment(
    endpoint: str, summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    items = collect({"regions": REGIONS, "resource_types": ["RDS.Instance", "IAM.Role"]})
    assert errors(items) == []
    assert ids_by_type(items) == {
        "RDS.Instance": summary["resources"]["RDS.Instance"],
        "IAM.Role": summary["resources"]["IAM.Role"],
    }


def test_cancellation_stops_between_types(endpoint: str, summary: dict[str, Any]) -> None:
    stop = threading.Event()
    options = {
        "endpoint_url": endpoint,
        "regions": REGIONS,
        "resource_types": ["VPC.VPC", "VPC.Subnet", "S3.Bucket", "IAM.User"],
    }
    seen: list[Any] = []
    for item in plugin.collect(make_ctx(options, cancelled=stop.is_set)):
        seen.append(item)
        if isinstance(item, dict):
            stop.set()
    # The type under way finishes; nothing after it.
    assert ids_by_type(seen) == {
        "VPC.VPC": {"us-east-1": summary["resources"]["VPC.VPC"]["us-east-1"]}
    }
    assert regions_of(seen) == [RegionRecord("aws", "us-east-1", "US East (N. Virginia)")]


def test_assumed_role_collects_the_roles_account(endpoint: str) -> None:
    secret = {
        **aws_moto.CREDENTIALS,
        "role_arn": "arn:aws:iam::210987654321:role/skyatlas-collector",
        "external_id": "external-id-1234",
    }
    items = collect(
        {"endpoint_url": endpoint, "regions": ["us-east-1"], "resource_types": ["VPC.VPC"]}, secret
    )
    assert errors(items) == []
    vpcs = records(items)
    # moto gives each account its own resources: only that account's default VPC.
    assert len(vpcs) == 1 and vpcs[0]["data"]["is_default"] is True
    assert vpcs[0]["account"] == "210987654321"


# ------------------------------------------------------------------------------------------------
# Failures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collector_keys(endpoint: str) -> dict[str, dict[str, str]]:
    """Access keys of moto IAM users: `all` may do anything but RDS; `none` may assume a role."""
    iam = boto3.client(
        "iam", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
    )
    out: dict[str, dict[str, str]] = {}
    policies = {
        "all": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "rds:*", "Resource": "*"},
        ],
        "none": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    }
    for name, statements in policies.items():
        user = f"collector-{name}"
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        iam.put_user_policy(
            UserName=user,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        out[name] = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
            "arn": arn,
        }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": out["none"]["arn"]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "right-external-id"}},
            }
        ],
    }
    role = iam.create_role(RoleName="collector-target", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="collector-target",
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [policies["all"][0]]}),
    )
    out["role"] = {"arn": role["Role"]["Arn"]}
    return out


def _no_secret_in(text: str, *secrets: str) -> None:
    for value in (*SECRET_VALUES, *secrets):
        assert value not in text


def test_unknown_keys_are_a_plugin_error(
    endpoint: str, collector_keys: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="skyatlas.plugins")
    options = {"endpoint_url": endpoint, "regions": ["us-east-1"]}
    good = collector_keys["all"]
    with aws_moto.iam_auth(endpoint):
        with pytest.raises(PluginError) as unknown:
            collect(
                options,
                {"aws_access_key_id": SECRET_VALUES[0], "aws_secret_access_key": SECRET_VALUES[1]},
            )
        with pytest.raises(PluginError) as wrong_secret:
            collect(
                options,
                {
                    "aws_access_key_id": good["aws_access_key_id"],
                    "aws_secret_access_key": SECRET_VALUES[1],
                },
            )
    assert unknown.value.message == (
        "AWS rejected the credentials of this service account: InvalidClientTokenId"
    )
    assert wrong_secret.value.message == (
        "AWS rejected the credentials of this service account: SignatureDoesNotMatch"
    )
    for exc in (unknown.value, wrong_secret.value):
        _no_secret_in(str(exc), good["aws_access_key_id"])
    _no_secret_in(caplog.text, good["aws_access_key_id"], good["aws_secret_access_key"])


def test_a_denied_service_is_a_collect_error_per_region(
    endpoint: str,
    summary: dict[str, Any],
    collector_keys: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="skyatlas.plugins")
    keys = collector_keys["all"]
    secret = {k: keys[k] for k in ("aws_access_key_id", "aws_secret_access_key")}
    options = {
        "endpoint_url": endpoint,
        "regions": REGIONS,
        "resource_types": ["RDS.Instance", "VPC.Subnet"],
    }
    with aws_moto.iam_auth(endpoint):
        items = collect(options, secret)
    errs = errors(items)
    assert [(e.cloud_service_group, e.cloud_service_type) for e in errs] == [
        ("RDS", "Instance"),
        ("RDS", "Instance"),
    ]
    assert [e.additional["region_code"] for e in errs] == REGIONS
    for e in errs:
        assert e.additional["aws_error_code"] == "AccessDenied"
        assert "AccessDenied" in e.message and e.additional["region_code"] in e.message
        _no_secret_in(e.message, *secret.values())
    assert ids_by_type(items) == {"VPC.Subnet": summary["resources"]["VPC.Subnet"]}
    _no_secret_in(caplog.text, *secret.values())


def test_a_role_with_the_wrong_external_id_cannot_be_assumed(
    endpoint: str, collector_keys: dict[str, Any]
) -> None:
    keys = collector_keys["none"]
    base = {k: keys[k] for k in ("aws_access_key_id", "aws_secret_access_key")}
    options = {"endpoint_url": endpoint, "regions": ["us-east-1"], "resource_types": ["VPC.VPC"]}
    role_arn = collector_keys["role"]["arn"]
    with aws_moto.iam_auth(endpoint):
        with pytest.raises(PluginError) as denied:
            collect(options, {**base, "role_arn": role_arn, "external_id": "wrong-external-id"})
        items = collect(options, {**base, "role_arn": role_arn, "external_id": "right-external-id"})
    assert "could not assume the role_arn" in denied.value.message
    assert "AccessDenied" in denied.value.message
    assert "wrong-external-id" not in denied.value.message
    assert errors(items) == []
    assert len(records(items)) == 3  # the default VPC and the seed's two


def test_one_service_failing_in_one_region(endpoint: str, summary: dict[str, Any]) -> None:
    types = ["VPC.Subnet", "RDS.Instance", "ELB.LoadBalancer"]
    with aws_moto.failing_proxy(endpoint, service="rds", region="ap-northeast-2") as proxy:
        items = collect({"endpoint_url": proxy, "regions": REGIONS, "resource_types": types})
    (err,) = errors(items)
    assert (err.cloud_service_group, err.cloud_service_type) == ("RDS", "Instance")
    assert err.additional["region_code"] == "ap-northeast-2"
    assert err.additional["aws_error_code"] == "AccessDenied"
    assert err.message.startswith("could not read RDS.Instance in ap-northeast-2: AccessDenied")
    expected = {t: summary["resources"][t] for t in types}
    expected["RDS.Instance"] = {"us-east-1": summary["resources"]["RDS.Instance"]["us-east-1"]}
    assert ids_by_type(items) == expected
    # The failure sits where it happened, between the region's types before and after it.
    kinds = [
        (i.cloud_service_type, "error")
        if isinstance(i, CollectError)
        else (i["cloud_service_type"], i["region_code"])
        for i in items
        if not isinstance(i, RegionRecord)
    ]
    at = kinds.index(("Instance", "error"))
    assert kinds[at - 1] == ("Subnet", "ap-northeast-2")
    assert kinds[at + 1] == ("LoadBalancer", "ap-northeast-2")


def test_keys_of_another_account_are_refused(endpoint: str) -> None:
    ctx = make_ctx(
        {"endpoint_url": endpoint, "regions": ["us-east-1"]},
        account_data={"account_id": "999999999999"},
    )
    with pytest.raises(PluginError) as refused:
        list(plugin.collect(ctx))
    assert refused.value.message == (
        "the credentials of this service account belong to AWS account 123456789012, "
        "not to its account_id 999999999999"
    )


def test_a_region_not_enabled_is_reported_per_type(endpoint: str, summary: dict[str, Any]) -> None:
    items = collect(
        {
            "endpoint_url": endpoint,
            "regions": ["xx-nowhere-1", "us-east-1"],
            "resource_types": ["VPC.VPC", "RDS.Instance"],
        }
    )
    assert [(e.cloud_service_type, e.additional["region_code"]) for e in errors(items)] == [
        ("VPC", "xx-nowhere-1"),
        ("Instance", "xx-nowhere-1"),
    ]
    assert all("not enabled in this account" in e.message for e in errors(items))
    assert [r.region_code for r in regions_of(items)] == ["us-east-1"]
    assert ids_by_type(items) == {
        "VPC.VPC": {"us-east-1": summary["resources"]["VPC.VPC"]["us-east-1"]},
        "RDS.Instance": {"us-east-1": summary["resources"]["RDS.Instance"]["us-east-1"]},
    }


def test_a_region_that_does_not_answer_is_not_retried_per_type(
    endpoint: str, summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def dead(scope: Any) -> Iterator[dict[str, Any]]:
        calls.append(scope.region)
        if scope.region == "us-east-1":
            raise EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com/")
        return iter(())

    monkeypatch.setitem(collector.REGIONAL, types.VPC_VPC, dead)
    items = collect(
        {
            "endpoint_url": endpoint,
            "regions": REGIONS,
            "resource_types": ["VPC.VPC", "VPC.Subnet", "RDS.Instance"],
        }
    )
    assert calls == REGIONS
    assert [(e.cloud_service_type, e.additional["region_code"]) for e in errors(items)] == [
        ("VPC", "us-east-1"),
        ("Subnet", "us-east-1"),
        ("Instance", "us-east-1"),
    ]
    first, *skipped = errors(items)
    assert "EndpointConnectionError" in first.message
    assert all("skipped, the region did not answer" in e.message for e in skipped)
    assert ids_by_type(items) == {
        "VPC.Subnet": {"ap-northeast-2": summary["resources"]["VPC.Subnet"]["ap-northeast-2"]},
        "RDS.Instance": {"ap-northeast-2": summary["resources"]["RDS.Instance"]["ap-northeast-2"]},
    }


def test_an_unreachable_endpoint_is_a_plugin_error() -> None:
    started = time.monotonic()
    with pytest.raises(PluginError, match=r"could not reach AWS \(sts:GetCallerIdentity\)"):
        collect({"endpoint_url": "http://127.0.0.1:9", "regions": ["us-east-1"]})
    assert time.monotonic() - started < 20


def test_terminate_helper_and_recollection(endpoint: str, summary: dict[str, Any]) -> None:
    """Runs last: it changes the seeded account."""
    region = "ap-northeast-2"
    protected = set(summary["termination_protected"])
    victim = next(i for i in summary["resources"]["EC2.Instance"][region] if i not in protected)
    aws_moto.terminate(endpoint, region, [victim])
    items = collect(
        {"endpoint_url": endpoint, "regions": [region], "resource_types": ["EC2.Instance"]}
    )
    collected = ids_by_type(items)["EC2.Instance"][region]
    assert victim not in collected
    assert collected == [i for i in summary["resources"]["EC2.Instance"][region] if i != victim]
