"""Application, network and gateway load balancers (elbv2). Tags come in batches of 20 ARNs,
target groups once per region, listeners and attributes per load balancer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.errors import AWS_ERRORS
from skyatlas.plugins.aws.records import cloud_service, iso, name_of, tag_dict
from skyatlas.plugins.aws.scope import RegionScope, paginate
from skyatlas.plugins.aws.types import ELB_LOAD_BALANCER

_TAG_BATCH = 20  # DescribeTags takes at most 20 ARNs


def _tags(client: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), _TAG_BATCH):
        answer = client.describe_tags(ResourceArns=arns[start : start + _TAG_BATCH])
        for desc in answer.get("TagDescriptions") or []:
            out[desc["ResourceArn"]] = tag_dict(desc.get("Tags"))
    return out


def _attributes(client: Any, arn: str) -> dict[str, Any]:
    try:
        answer = client.describe_load_balancer_attributes(LoadBalancerArn=arn)
    except AWS_ERRORS:
        return {}
    raw = {a.get("Key"): a.get("Value") for a in answer.get("Attributes") or []}

    def flag(key: str) -> bool | None:
        return None if raw.get(key) is None else str(raw[key]).lower() == "true"

    timeout = raw.get("idle_timeout.timeout_seconds")
    return {
        "idle_timeout": int(timeout) if timeout and str(timeout).isdigit() else None,
        "deletion_protection": flag("deletion_protection.enabled"),
        "access_logs_enabled": flag("access_logs.s3.enabled"),
        "cross_zone_load_balancing": flag("load_balancing.cross_zone.enabled"),
    }


def _listeners(client: Any, arn: str) -> list[dict[str, Any]]:
    try:
        listeners = paginate(client, "describe_listeners", "Listeners", LoadBalancerArn=arn)
    except AWS_ERRORS:
        return []
    return [
        {
            "listener_arn": lis.get("ListenerArn", ""),
            "port": lis.get("Port"),
            "protocol": lis.get("Protocol", ""),
            "default_action_type": ((lis.get("DefaultActions") or [{}])[0]).get("Type", ""),
            "ssl_policy": lis.get("SslPolicy", ""),
        }
        for lis in listeners
    ]


def collect_load_balancers(scope: RegionScope) -> Iterator[dict[str, Any]]:
    balancers = scope.load_balancers()
    if not balancers:
        return
    client = scope.client("elbv2")
    region, account = scope.region, scope.account
    tags_by_arn = _tags(client, [lb["LoadBalancerArn"] for lb in balancers])
    groups_by_lb: dict[str, list[dict[str, Any]]] = {}
    for tg in scope.target_groups():
        for lb_arn in tg.get("LoadBalancerArns") or []:
            groups_by_lb.setdefault(lb_arn, []).append(tg)
    for lb in balancers:
        arn = lb["LoadBalancerArn"]
        name = lb.get("LoadBalancerName", "")
        tags = tags_by_arn.get(arn, {})
        data = {
            "load_balancer_arn": arn,
            "load_balancer_name": name,
            "dns_name": lb.get("DNSName", ""),
            "canonical_hosted_zone_id": lb.get("CanonicalHostedZoneId", ""),
            "created_time": iso(lb.get("CreatedTime")),
            "scheme": lb.get("Scheme", ""),
            "vpc_id": lb.get("VpcId", ""),
            "state": {"code": (lb.get("State") or {}).get("Code", "")},
            "type": lb.get("Type", ""),
            "ip_address_type": lb.get("IpAddressType", ""),
            "availability_zones": [
                {"zone_name": az.get("ZoneName", ""), "subnet_id": az.get("SubnetId", "")}
                for az in lb.get("AvailabilityZones") or []
            ],
            "security_groups": list(lb.get("SecurityGroups") or []),
            "listeners": _listeners(client, arn),
            "target_groups": [
                {
                    "target_group_name": tg.get("TargetGroupName", ""),
                    "target_group_arn": tg.get("TargetGroupArn", ""),
                    "protocol": tg.get("Protocol", ""),
                    "port": tg.get("Port"),
                    "target_type": tg.get("TargetType", ""),
                    "health_check_path": tg.get("HealthCheckPath", ""),
                    "targets": [
                        {
                            "id": (t.get("Target") or {}).get("Id", ""),
                            "port": (t.get("Target") or {}).get("Port"),
                            "health": (t.get("TargetHealth") or {}).get("State", ""),
                        }
                        for t in scope.target_health(tg["TargetGroupArn"])
                    ],
                }
                for tg in groups_by_lb.get(arn, [])
            ],
            "attributes": _attributes(client, arn),
            "account": account,
        }
        yield cloud_service(
            ELB_LOAD_BALANCER,
            name=name_of(tags, name),
            account=account,
            region=region,
            resource_id=arn,
            external_link=links.load_balancer(region, arn),
            data=data,
            tags=tags,
            instance_type=lb.get("Type"),
        )
