"""The synthetic inventory generator: deterministic, sliceable, realistic, true to its types."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import orjson
import pytest

from skyatlas.inventory.generator import (
    PROVIDERS,
    accounts,
    cloud_service_types,
    generate_cloud_services,
    regions,
)

N = 20_000
_MISSING = object()


@cache
def _sample() -> tuple[dict[str, Any], ...]:
    """20k records of seed 1, generated once for the whole module (read-only in tests)."""
    return tuple(generate_cloud_services(N, seed=1))


def _leaves(x: Any) -> int:
    if isinstance(x, dict):
        return sum(_leaves(v) for v in x.values())
    if isinstance(x, list):
        return sum(_leaves(v) for v in x)
    return 1


def _get(record: dict[str, Any], dotted: str) -> Any:
    cur: Any = record
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r["provider"], r["cloud_service_group"], r["cloud_service_type"])


def test_same_seed_and_index_give_the_same_record() -> None:
    a = list(generate_cloud_services(1500, seed=3))
    b = list(generate_cloud_services(1500, seed=3))
    assert a == b
    other = list(generate_cloud_services(1500, seed=4))
    assert sum(x == y for x, y in zip(a, other, strict=True)) == 0


@pytest.mark.parametrize(("start", "count"), [(0, 7), (1000, 24), (1023, 2), (1500, 1100)])
def test_start_slices_the_same_stream(start: int, count: int) -> None:
    full = list(generate_cloud_services(2600, seed=5, project_ids=["p-a", "p-b"]))
    part = list(generate_cloud_services(count, seed=5, project_ids=["p-a", "p-b"], start=start))
    assert part == full[start : start + count]


def test_empty_and_invalid_counts() -> None:
    assert list(generate_cloud_services(0)) == []
    with pytest.raises(ValueError):
        list(generate_cloud_services(-1))
    with pytest.raises(ValueError):
        list(generate_cloud_services(1, start=-1))


def test_provider_mix() -> None:
    counts = Counter(r["provider"] for r in _sample())
    expected = {"aws": 0.45, "google_cloud": 0.20, "azure": 0.20, "kakaocloud": 0.15}
    assert set(counts) == set(PROVIDERS)
    for provider, share in expected.items():
        assert abs(counts[provider] / N - share) < 0.02, (provider, counts[provider])


def test_records_are_valid_create_bodies() -> None:
    region_codes = {p: {code for code, _ in regions(p)} for p in PROVIDERS}
    account_ids = {p: set(accounts(p)) for p in PROVIDERS}
    for r in _sample():
        assert orjson.loads(orjson.dumps(r)) == r
        for field in ("provider", "cloud_service_group", "cloud_service_type", "name", "data"):
            assert r[field], field
        assert isinstance(r["data"], dict)
        assert r["metadata"] == {}
        assert "project_id" not in r
        provider = r["provider"]
        assert r["account"] in account_ids[provider]
        assert r["region_code"] in region_codes[provider]
        assert isinstance(r["reference"]["resource_id"], str) and r["reference"]["resource_id"]
        assert r["reference"]["external_link"].startswith("https://")
        assert list(r["tags"]) == [provider]
        tags = r["tags"][provider]
        assert 3 <= len(tags) <= 8
        assert tags["env"] in {"prod", "stage", "dev", "qa"}
        assert all(isinstance(v, str) for v in tags.values())
        if "instance_size" in r:
            assert isinstance(r["instance_size"], float)
        for ip in r["ip_addresses"]:
            ipaddress.ip_address(ip)
        if r["ip_addresses"]:
            first = ipaddress.ip_address(r["ip_addresses"][0])
            assert first in ipaddress.ip_network("10.0.0.0/8") or first in ipaddress.ip_network(
                "172.16.0.0/12"
            )


def test_resource_id_formats() -> None:
    patterns = {
        ("aws", "EC2", "Instance"): r"i-[0-9a-f]{17}",
        ("aws", "EC2", "SecurityGroup"): r"sg-[0-9a-f]{17}",
        ("aws", "EC2", "Volume"): r"vol-[0-9a-f]{17}",
        ("aws", "VPC", "VPC"): r"vpc-[0-9a-f]{17}",
        ("aws", "VPC", "Subnet"): r"subnet-[0-9a-f]{17}",
        ("aws", "S3", "Bucket"): r"arn:aws:s3:::[a-z0-9.-]{3,63}",
        ("aws", "RDS", "Instance"): r"arn:aws:rds:[a-z0-9-]+:\d{12}:db:[a-z0-9-]+",
        ("aws", "Lambda", "Function"): r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+",
        ("aws", "ELB", "LoadBalancer"): r"arn:aws:elasticloadbalancing:.+:loadbalancer/.+",
        ("aws", "IAM", "User"): r"arn:aws:iam::\d{12}:user/[\w.-]+",
        ("aws", "IAM", "Role"): r"arn:aws:iam::\d{12}:role/[\w.-]+",
        ("google_cloud", "ComputeEngine", "Instance"): r"\d{1,20}",
        ("google_cloud", "VPC", "Network"): r"\d{1,20}",
        ("google_cloud", "CloudStorage", "Bucket"): r"https://www\.googleapis\.com/storage/.+",
        ("google_cloud", "CloudSQL", "Instance"): r"https://sqladmin\.googleapis\.com/.+",
        ("kakaocloud", "Virtual Machine", "Instance"): r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}",
    }
    seen = set()
    for r in _sample():
        rid = r["reference"]["resource_id"]
        key = _key(r)
        if key in patterns:
            assert re.fullmatch(patterns[key], rid), (key, rid)
            seen.add(key)
        if r["provider"] == "azure":
            assert rid.startswith(f"/subscriptions/{r['account']}/resourceGroups/"), rid
        if r["cloud_service_group"] == "IAM":
            assert r["region_code"] == "global"
    assert seen == set(patterns)


def test_upsert_keys_are_unique() -> None:
    keys = {
        (*_key(r), r["account"], r["reference"]["resource_id"])
        for r in generate_cloud_services(N, seed=0, start=N * 3)
    }
    assert len(keys) == N


def test_names_are_mostly_unique() -> None:
    names = Counter(r["name"] for r in _sample()[:3000])
    assert len(names) > 0.9 * 3000


def test_security_groups_with_and_without_instances() -> None:
    groups = [r for r in _sample() if _key(r) == ("aws", "EC2", "SecurityGroup")]
    sizes = Counter(len(r["data"]["instances"]) for r in groups)
    empty = sizes[0] / len(groups)
    assert 0.35 < empty < 0.65
    assert sum(n for k, n in sizes.items() if k >= 2) > 0
    group = next(r for r in groups if r["data"]["instances"])
    inst = group["data"]["instances"][0]
    for field in ("InstanceId", "PrivateIpAddress", "VpcId", "SubnetId", "State", "instance_name"):
        assert field in inst
    assert inst["SecurityGroups"][0]["GroupId"] == group["reference"]["resource_id"]
    assert inst["VpcId"] == group["data"]["vpc_id"]


def test_ec2_instance_has_the_seed_shape() -> None:
    r = next(r for r in _sample() if _key(r) == ("aws", "EC2", "Instance"))
    data = r["data"]
    assert set(data["os"]) == {"os_distro", "os_arch", "os_type", "details"}
    assert {"ami_id", "placement", "iam_instance_profile", "root_volume_type"} <= set(data["aws"])
    assert set(data["hardware"]) == {"core", "memory"}
    compute = data["compute"]
    for field in ("az", "instance_state", "instance_type", "launched_at", "instance_id", "image"):
        assert compute[field] not in (None, "")
    assert compute["instance_id"] == r["reference"]["resource_id"]
    assert compute["instance_type"] == r["instance_type"]
    assert set(compute["security_groups"][0]) == {"name", "id", "display"}
    states = Counter(
        x["data"]["compute"]["instance_state"]
        for x in _sample()
        if _key(x) == ("aws", "EC2", "Instance")
    )
    assert states.most_common(1)[0][0] == "RUNNING" and "STOPPED" in states


def test_timestamps_fall_in_2022_to_2026() -> None:
    for r in _sample():
        if _key(r) == ("aws", "EC2", "Instance"):
            launched = r["data"]["compute"]["launched_at"]
            assert re.fullmatch(r"20(2[2-6])-\d\d-\d\dT\d\d:\d\d:\d\d", launched), launched


def test_wonny_creates_a_few_aws_resources() -> None:
    aws = [r for r in _sample() if r["provider"] == "aws"]
    wonny = sum(r["tags"]["aws"].get("Created_by") == "wonny" for r in aws)
    assert 0.005 < wonny / len(aws) < 0.03


def test_tag_vocabulary() -> None:
    tags = [t for r in _sample() for t in r["tags"].values()]
    envs = Counter(t["env"] for t in tags)
    assert envs["prod"] > envs["dev"] > envs["stage"] > envs["qa"] > 0
    assert len({t["team"] for t in tags}) == 8
    assert len({t["Created_by"] for t in tags if "Created_by" in t}) == 12
    assert sum("Name" in t for t in tags) > 0.85 * len(tags)
    assert any("." in k or "/" in k for t in tags for k in t)
    for key in ("cost-center", "app", "Owner"):
        assert any(key in t for t in tags)


def test_about_thirty_data_leaves() -> None:
    per_type: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for r in _sample():
        per_type[_key(r)].append(_leaves(r["data"]))
    total = [n for counts in per_type.values() for n in counts]
    assert 27 <= sum(total) / len(total) <= 33
    for key, counts in per_type.items():
        assert 15 <= sum(counts) / len(counts) <= 45, key
    ec2 = per_type[("aws", "EC2", "Instance")]
    assert sum(ec2) / len(ec2) > 30


def test_cloud_service_types_cover_the_records() -> None:
    types = cloud_service_types()
    declared = {(t["provider"], t["group"], t["name"]): t for t in types}
    assert len(declared) == len(types)
    assert set(declared) == {_key(r) for r in _sample()}
    for t in types:
        assert t["resource_type"] == "inventory.CloudService"
        assert t["labels"] and isinstance(t["is_primary"], bool) and isinstance(t["is_major"], bool)
        assert t["metadata"]["search"]
    for r in _sample():
        for item in declared[_key(r)]["metadata"]["search"]:
            assert _get(r, item["key"]) is not _MISSING, (_key(r), item["key"])


def test_project_ids_are_chosen_deterministically() -> None:
    projects = [f"project-{n:012x}" for n in range(5)]
    a = list(generate_cloud_services(3000, seed=2, project_ids=projects))
    assert [r["project_id"] for r in a] == [
        r["project_id"] for r in generate_cloud_services(3000, seed=2, project_ids=projects)
    ]
    used = Counter(r["project_id"] for r in a)
    assert set(used) == set(projects)
    by_account: dict[str, Counter[str]] = defaultdict(Counter)
    for r in a:
        by_account[r["account"]][r["project_id"]] += 1
    # an account's resources mostly land in one project
    for counts in by_account.values():
        assert counts.most_common(1)[0][1] > 0.6 * sum(counts.values())


def test_accounts_and_regions() -> None:
    assert all(re.fullmatch(r"\d{12}", a) for a in accounts("aws"))
    assert all(re.fullmatch(r"[0-9a-f-]{36}", a) for a in accounts("azure"))
    for provider in PROVIDERS:
        assert len(set(accounts(provider))) == len(accounts(provider)) >= 3
        assert regions(provider)
    assert ("ap-northeast-2", "Asia Pacific (Seoul)") in regions("aws")
    assert ("kr-central-2", "Korea Central 2") in regions("kakaocloud")
    with pytest.raises(KeyError):
        accounts("oracle")
