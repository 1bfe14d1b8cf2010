"""One region's reads, shared by the collectors that need them: an instance record wants its
VPC's and subnet's names, its security groups' rules and its load balancers; a security group
record wants the instances using it. Each list is read once per region (paginated) and looked
up in memory, instead of one call per resource.

Two kinds of read:

* the *primary* list of a type (`instances()`, `vpcs()`, ...): a failure raises, and the
  collector of that type reports it as a `CollectError`;
* *enrichment* (`vpc_by_id()`, `images()`, `termination_protections()`, ...): a failure is logged
  once and an empty answer used, so that a missing permission for a detail does not lose the
  resources themselves. A list read for one purpose is reused for the other: if `vpcs()` failed
  as enrichment first, the VPC collector still sees that failure (it is cached, not swallowed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from skyatlas.plugins.aws.errors import AWS_ERRORS, error_code
from skyatlas.plugins.aws.session import AwsSession

T = TypeVar("T")
A = TypeVar("A")
#: Concurrent calls for per-resource reads (clients are thread-safe; adaptive retries pace them).
WORKERS = 8
_CHUNK = 100  # ids per describe call that takes a list of ids or filter values
#: Codes after which the same per-resource call is not tried again in the region.
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of every page (page sizes are AWS's business). An operation this botocore
    has no paginator for (older releases lack some) is called once."""
    if not client.can_paginate(operation):
        return list(getattr(client, operation)(**kwargs).get(key) or [])
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key) or [])
    return out


def map_concurrently(
    fn: Callable[[A], T], items: Sequence[A]
) -> list[tuple[T | None, BaseException | None]]:
    """`fn` over the items, a few at a time, in the items' order: (result, None) or
    (None, the AWS error it raised). Per-resource calls are latency-bound; this hides it."""

    def run(item: A) -> tuple[T | None, BaseException | None]:
        try:
            return fn(item), None
        except AWS_ERRORS as exc:
            return None, exc

    if len(items) <= 1:
        return [run(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(run, items))


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class RegionScope:
    def __init__(self, session: AwsSession, region: str, log: logging.Logger) -> None:
        self.session = session
        self.region = region
        self.account = session.account_id
        self.log = log
        self._cache: dict[str, tuple[Any, BaseException | None]] = {}
        self._warned: set[str] = set()
        self._denied: set[str] = set()
        self._images: dict[str, dict[str, Any]] = {}
        self._instance_types: dict[str, dict[str, Any]] = {}

    def client(self, service: str) -> Any:
        return self.session.client(service, self.region)

    # -- caching ------------------------------------------------------------------------------

    def _load(self, key: str, fetch: Callable[[], T]) -> T:
        if key not in self._cache:
            try:
                self._cache[key] = (fetch(), None)
            except AWS_ERRORS as exc:
                self._cache[key] = (None, exc)
        value, exc = self._cache[key]
        if exc is not None:
            raise exc
        return value  # type: ignore[no-any-return]

    def _soft(self, key: str, fetch: Callable[[], T], default: T) -> T:
        try:
            return self._load(key, fetch)
        except AWS_ERRORS as exc:
            self._warn(key, exc)
            return default

    def _warn(self, what: str, exc: BaseException) -> None:
        if what not in self._warned:
            self._warned.add(what)
            self.log.warning(
                "aws %s: could not read %s (%s); records are collected without it",
                self.region,
                what,
                error_code(exc),
            )

    # -- primary lists ------------------------------------------------------------------------

    def instances(self) -> list[dict[str, Any]]:
        """EC2 instances that still exist (terminated ones are left out)."""

        def fetch() -> list[dict[str, Any]]:
            out = []
            for reservation in paginate(self.client("ec2"), "describe_instances", "Reservations"):
                for inst in reservation.get("Instances") or []:
                    if (inst.get("State") or {}).get("Name") != "terminated":
                        out.append(inst)
            return out

        return self._load("ec2:DescribeInstances", fetch)

    def vpcs(self) -> list[dict[str, Any]]:
        return self._load(
            "ec2:DescribeVpcs", lambda: paginate(self.client("ec2"), "describe_vpcs", "Vpcs")
        )

    def subnets(self) -> list[dict[str, Any]]:
        return self._load(
            "ec2:DescribeSubnets",
            lambda: paginate(self.client("ec2"), "describe_subnets", "Subnets"),
        )

    def security_groups(self) -> list[dict[str, Any]]:
        return self._load(
            "ec2:DescribeSecurityGroups",
            lambda: paginate(self.client("ec2"), "describe_security_groups", "SecurityGroups"),
        )

    def volumes(self) -> list[dict[str, Any]]:
        return self._load(
            "ec2:DescribeVolumes",
            lambda: paginate(self.client("ec2"), "describe_volumes", "Volumes"),
        )

    def load_balancers(self) -> list[dict[str, Any]]:
        return self._load(
            "elasticloadbalancing:DescribeLoadBalancers",
            lambda: paginate(self.client("elbv2"), "describe_load_balancers", "LoadBalancers"),
        )

    # -- enrichment ---------------------------------------------------------------------------

    def _by_id(self, key: str, fetch: Callable[[], list[dict[str, Any]]], id_key: str) -> Any:
        def build() -> dict[str, dict[str, Any]]:
            items = self._soft(key, fetch, [])
            return {item[id_key]: item for item in items if item.get(id_key)}

        return self._load(f"{key}/by-id", build)

    def instance_by_id(self) -> dict[str, dict[str, Any]]:
        return self._by_id("ec2:DescribeInstances", self.instances, "InstanceId")

    def vpc_by_id(self) -> dict[str, dict[str, Any]]:
        return self._by_id("ec2:DescribeVpcs", self.vpcs, "VpcId")

    def subnet_by_id(self) -> dict[str, dict[str, Any]]:
        return self._by_id("ec2:DescribeSubnets", self.subnets, "SubnetId")

    def security_group_by_id(self) -> dict[str, dict[str, Any]]:
        return self._by_id("ec2:DescribeSecurityGroups", self.security_groups, "GroupId")

    def volume_by_id(self) -> dict[str, dict[str, Any]]:
        return self._by_id("ec2:DescribeVolumes", self.volumes, "VolumeId")

    def instances_by_security_group(self) -> dict[str, list[dict[str, Any]]]:
        def build() -> dict[str, list[dict[str, Any]]]:
            out: dict[str, list[dict[str, Any]]] = {}
            for inst in self._soft("ec2:DescribeInstances", self.instances, []):
                for group_id, _ in instance_security_groups(inst):
                    out.setdefault(group_id, []).append(inst)
            return out

        return self._load("instances-by-security-group", build)

    def images(self, image_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The AMIs (of any owner) among these ids that are still visible, by id."""
        image_ids = list(image_ids)
        missing = {i for i in image_ids if i and i not in self._images}
        if missing and "ec2:DescribeImages" not in self._denied:
            ec2 = self.client("ec2")
            for chunk in _chunks(missing):
                try:
                    found = paginate(
                        ec2,
                        "describe_images",
                        "Images",
                        Filters=[{"Name": "image-id", "Values": chunk}],
                        IncludeDeprecated=True,
                    )
                except AWS_ERRORS as exc:
                    self._warn("ec2:DescribeImages", exc)
                    self._denied.add("ec2:DescribeImages")
                    break
                for image in found:
                    self._images[image["ImageId"]] = image
            for image_id in missing:
                self._images.setdefault(image_id, {})
        return {i: self._images.get(i, {}) for i in image_ids if i}

    def instance_types(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """vCPU and memory of these instance types, by name."""
        names = list(names)
        missing = {n for n in names if n and n not in self._instance_types}
        if missing and "ec2:DescribeInstanceTypes" not in self._denied:
            ec2 = self.client("ec2")
            for chunk in _chunks(missing):
                try:
                    found = paginate(
                        ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=chunk
                    )
                except AWS_ERRORS as exc:
                    self._warn("ec2:DescribeInstanceTypes", exc)
                    self._denied.add("ec2:DescribeInstanceTypes")
                    break
                for info in found:
                    self._instance_types[info["InstanceType"]] = info
            for name in missing:
                self._instance_types.setdefault(name, {})
        return {n: self._instance_types.get(n, {}) for n in names if n}

    def termination_protections(self, instance_ids: Sequence[str]) -> dict[str, bool | None]:
        """Whether each instance has termination protection (None: not readable). There is
        no batch call for it, so the per-instance calls run a few at a time; the client is
        taken here, as building clients is not thread-safe."""
        ec2 = self.client("ec2")
        ids = list(instance_ids)
        answers = map_concurrently(lambda iid: self._protection_of(ec2, iid), ids)
        return {iid: value for iid, (value, _) in zip(ids, answers, strict=True)}

    def _protection_of(self, ec2: Any, instance_id: str) -> bool | None:
        if "ec2:DescribeInstanceAttribute" in self._denied:
            return None
        try:
            answer = ec2.describe_instance_attribute(
                InstanceId=instance_id, Attribute="disableApiTermination"
            )
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in _DENIED:
                self._denied.add("ec2:DescribeInstanceAttribute")
                self._warn("ec2:DescribeInstanceAttribute", exc)
            return None  # e.g. terminated since it was listed
        return bool((answer.get("DisableApiTermination") or {}).get("Value"))

    def route_tables(self) -> list[dict[str, Any]]:
        return self._soft(
            "ec2:DescribeRouteTables",
            lambda: paginate(self.client("ec2"), "describe_route_tables", "RouteTables"),
            [],
        )

    def internet_gateways(self) -> list[dict[str, Any]]:
        return self._soft(
            "ec2:DescribeInternetGateways",
            lambda: paginate(self.client("ec2"), "describe_internet_gateways", "InternetGateways"),
            [],
        )

    def nat_gateways(self) -> list[dict[str, Any]]:
        return self._soft(
            "ec2:DescribeNatGateways",
            lambda: paginate(self.client("ec2"), "describe_nat_gateways", "NatGateways"),
            [],
        )

    def network_acls(self) -> list[dict[str, Any]]:
        return self._soft(
            "ec2:DescribeNetworkAcls",
            lambda: paginate(self.client("ec2"), "describe_network_acls", "NetworkAcls"),
            [],
        )

    def flow_log_resources(self) -> set[str]:
        """Ids of the resources (VPCs, subnets, ENIs) that have an active flow log."""

        def fetch() -> set[str]:
            logs = paginate(self.client("ec2"), "describe_flow_logs", "FlowLogs")
            return {f["ResourceId"] for f in logs if f.get("ResourceId")}

        return self._soft("ec2:DescribeFlowLogs", fetch, set())

    def vpc_attribute(self, vpc_id: str, attribute: str) -> bool | None:
        """`enableDnsSupport` / `enableDnsHostnames` of a VPC (None: not readable)."""
        key = f"ec2:DescribeVpcAttribute/{attribute}/{vpc_id}"
        answer_key = attribute[0].upper() + attribute[1:]

        def fetch() -> bool | None:
            answer = self.client("ec2").describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)
            value = (answer.get(answer_key) or {}).get("Value")
            return None if value is None else bool(value)

        if "ec2:DescribeVpcAttribute" in self._denied:
            return None
        try:
            return self._load(key, fetch)
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in _DENIED:
                self._denied.add("ec2:DescribeVpcAttribute")
            self._warn("ec2:DescribeVpcAttribute", exc)
            return None

    def target_groups(self) -> list[dict[str, Any]]:
        return self._soft(
            "elasticloadbalancing:DescribeTargetGroups",
            lambda: paginate(self.client("elbv2"), "describe_target_groups", "TargetGroups"),
            [],
        )

    def target_health(self, target_group_arn: str) -> list[dict[str, Any]]:
        key = "elasticloadbalancing:DescribeTargetHealth"
        if key in self._denied:
            return []
        try:
            return self._load(
                f"{key}/{target_group_arn}",
                lambda: (
                    self.client("elbv2")
                    .describe_target_health(TargetGroupArn=target_group_arn)
                    .get("TargetHealthDescriptions", [])
                ),
            )
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in _DENIED:
                self._denied.add(key)
            self._warn(key, exc)
            return []

    def load_balancers_by_instance(self) -> dict[str, list[dict[str, Any]]]:
        """For each instance registered in a target group: the load balancers in front of it."""

        def build() -> dict[str, list[dict[str, Any]]]:
            balancers = {
                lb["LoadBalancerArn"]: lb
                for lb in self._soft(
                    "elasticloadbalancing:DescribeLoadBalancers", self.load_balancers, []
                )
            }
            out: dict[str, list[dict[str, Any]]] = {}
            for tg in self.target_groups():
                if tg.get("TargetType", "instance") != "instance" or not tg.get("LoadBalancerArns"):
                    continue
                for target in self.target_health(tg["TargetGroupArn"]):
                    instance_id = (target.get("Target") or {}).get("Id")
                    if not instance_id:
                        continue
                    for lb_arn in tg["LoadBalancerArns"]:
                        lb = balancers.get(lb_arn, {})
                        entry = {
                            "type": lb.get("Type", ""),
                            "name": lb.get("LoadBalancerName", lb_arn.rsplit("/", 2)[-2]),
                            "arn": lb_arn,
                            "dns": lb.get("DNSName", ""),
                            "scheme": lb.get("Scheme", ""),
                            "target_group_name": tg.get("TargetGroupName", ""),
                            "port": (target.get("Target") or {}).get("Port") or tg.get("Port"),
                            "protocol": tg.get("Protocol", ""),
                            "health": (target.get("TargetHealth") or {}).get("State", ""),
                        }
                        if entry not in out.setdefault(instance_id, []):
                            out[instance_id].append(entry)
            return out

        return self._load("load-balancers-by-instance", build)


def instance_security_groups(inst: dict[str, Any]) -> list[tuple[str, str]]:
    """(group id, group name) of an instance: its own list and its network interfaces' groups
    (the latter is where secondary interfaces' groups show up), without repeats."""
    seen: dict[str, str] = {}
    groups = list(inst.get("SecurityGroups") or [])
    for eni in inst.get("NetworkInterfaces") or []:
        groups.extend(eni.get("Groups") or [])
    for group in groups:
        gid = group.get("GroupId")
        if gid and gid not in seen:
            seen[gid] = group.get("GroupName", "")
    return list(seen.items())
