"""VPCs, subnets and security groups: the network records, and the one reading of security
group rules that both security-group and instance records show (so a rule reads the same in
either place)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.records import cloud_service, name_of, tag_dict
from skyatlas.plugins.aws.scope import RegionScope, instance_security_groups
from skyatlas.plugins.aws.types import EC2_SECURITY_GROUP, VPC_SUBNET, VPC_VPC

_PROTOCOLS = {"-1": "ALL", "tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmpv6": "ICMPv6"}


# -- security group rules ---------------------------------------------------------------------


def _protocol(perm: dict[str, Any]) -> str:
    raw = str(perm.get("IpProtocol", "-1"))
    return _PROTOCOLS.get(raw.lower(), raw.upper())


def _ports(perm: dict[str, Any]) -> tuple[int | None, int | None, str]:
    low, high = perm.get("FromPort"), perm.get("ToPort")
    if _protocol(perm) == "ALL" or low is None or low == -1:
        return low, high, "ALL"
    if high is None or high == low:
        return low, high, str(low)
    return low, high, f"{low}-{high}"


def _remotes(perm: dict[str, Any], names: dict[str, str], account: str) -> list[dict[str, str]]:
    """Each source (inbound) or destination (outbound) of a permission, with its description."""
    out = []
    for r in perm.get("IpRanges") or []:
        cidr = r.get("CidrIp", "")
        out.append(_remote("cidr", cidr, "", cidr, r.get("Description", "")))
    for r in perm.get("Ipv6Ranges") or []:
        cidr = r.get("CidrIpv6", "")
        out.append(_remote("cidr_ipv6", cidr, "", cidr, r.get("Description", "")))
    for r in perm.get("UserIdGroupPairs") or []:
        gid = r.get("GroupId", "")
        name = r.get("GroupName") or names.get(gid, "")
        display = f"{gid} ({name})" if name else gid
        owner = r.get("UserId")
        if owner and owner != account:
            display = f"{owner}/{display}"
        out.append(_remote("security_group", display, gid, "", r.get("Description", "")))
    for r in perm.get("PrefixListIds") or []:
        pid = r.get("PrefixListId", "")
        out.append(_remote("prefix_list", pid, pid, "", r.get("Description", "")))
    return out


def _remote(kind: str, display: str, rid: str, cidr: str, description: str) -> dict[str, str]:
    return {
        "remote_type": kind,
        "remote": display,
        "remote_id": rid,
        "remote_cidr": cidr,
        "description": description or "",
    }


def flat_rules(group: dict[str, Any], names: dict[str, str], account: str) -> list[dict[str, Any]]:
    """The group's rules, one per (permission, remote): inbound first, then outbound."""
    out: list[dict[str, Any]] = []
    for direction, key in (("inbound", "IpPermissions"), ("outbound", "IpPermissionsEgress")):
        for perm in group.get(key) or []:
            low, high, port = _ports(perm)
            for remote in _remotes(perm, names, account):
                out.append(
                    {
                        "direction": direction,
                        "security_group_id": group.get("GroupId", ""),
                        "security_group_name": group.get("GroupName", ""),
                        "protocol": _protocol(perm),
                        "port_range_min": low,
                        "port_range_max": high,
                        "port": port,
                        **remote,
                        "action": "allow",
                    }
                )
    return out


def _permissions(
    perms: list[dict[str, Any]], names: dict[str, str], account: str
) -> list[dict[str, Any]]:
    """Permissions as AWS lists them, with the console's display strings added."""
    out = []
    for perm in perms:
        low, high, port = _ports(perm)
        remotes = _remotes(perm, names, account)
        out.append(
            {
                "ip_protocol": str(perm.get("IpProtocol", "-1")),
                "from_port": low,
                "to_port": high,
                "ip_ranges": list(perm.get("IpRanges") or []),
                "ipv6_ranges": list(perm.get("Ipv6Ranges") or []),
                "user_id_group_pairs": list(perm.get("UserIdGroupPairs") or []),
                "prefix_list_ids": list(perm.get("PrefixListIds") or []),
                "protocol_display": _protocol(perm),
                "port_display": port,
                "source_display": ", ".join(r["remote"] for r in remotes),
            }
        )
    return out


def group_names(scope: RegionScope) -> dict[str, str]:
    return {gid: g.get("GroupName", "") for gid, g in scope.security_group_by_id().items()}


# -- security groups --------------------------------------------------------------------------


def _instance_entry(inst: dict[str, Any]) -> dict[str, Any]:
    """An instance using a group, in the shape of the seed's `data.instances` (a subset of
    EC2's own description plus `instance_id`/`instance_name`)."""
    tags = tag_dict(inst.get("Tags"))
    iid = inst.get("InstanceId", "")
    return {
        "instance_id": iid,
        "instance_name": name_of(tags, iid),
        "InstanceId": iid,
        "SubnetId": inst.get("SubnetId", ""),
        "VpcId": inst.get("VpcId", ""),
        "PrivateIpAddress": inst.get("PrivateIpAddress", ""),
        "PrivateDnsName": inst.get("PrivateDnsName", ""),
        "PublicIpAddress": inst.get("PublicIpAddress", ""),
        "PublicDnsName": inst.get("PublicDnsName", ""),
        "State": {"Name": (inst.get("State") or {}).get("Name", "")},
        "Architecture": inst.get("Architecture", ""),
        "SecurityGroups": [
            {"GroupName": name, "GroupId": gid} for gid, name in instance_security_groups(inst)
        ],
        "Tags": list(inst.get("Tags") or []),
    }


def collect_security_groups(scope: RegionScope) -> Iterator[dict[str, Any]]:
    groups = scope.security_groups()
    names = {g["GroupId"]: g.get("GroupName", "") for g in groups if g.get("GroupId")}
    vpcs = scope.vpc_by_id()
    users = scope.instances_by_security_group()
    region, account = scope.region, scope.account
    for group in groups:
        gid = group["GroupId"]
        tags = tag_dict(group.get("Tags"))
        vpc_id = group.get("VpcId", "")
        data = {
            "group_id": gid,
            "group_name": group.get("GroupName", ""),
            "description": group.get("Description", ""),
            "arn": group.get("SecurityGroupArn")
            or f"arn:{scope.session.partition}:ec2:{region}:{account}:security-group/{gid}",
            "vpc_id": vpc_id,
            "vpc_name": _vpc_name(vpcs.get(vpc_id)),
            "owner_id": group.get("OwnerId", ""),
            "ip_permissions": _permissions(group.get("IpPermissions") or [], names, account),
            "ip_permissions_egress": _permissions(
                group.get("IpPermissionsEgress") or [], names, account
            ),
            "rules": flat_rules(group, names, account),
            "instances": [_instance_entry(i) for i in users.get(gid, [])],
            "account": account,
        }
        yield cloud_service(
            EC2_SECURITY_GROUP,
            name=name_of(tags, group.get("GroupName") or gid),
            account=account,
            region=region,
            resource_id=gid,
            external_link=links.security_group(region, gid),
            data=data,
            tags=tags,
        )


# -- VPCs -------------------------------------------------------------------------------------


def _vpc_name(vpc: dict[str, Any] | None) -> str:
    if not vpc:
        return ""
    return tag_dict(vpc.get("Tags")).get("Name", "")


def _main_route_tables(scope: RegionScope) -> dict[str, dict[str, Any]]:
    out = {}
    for table in scope.route_tables():
        if any(a.get("Main") for a in table.get("Associations") or []):
            out[table.get("VpcId", "")] = table
    return out


def collect_vpcs(scope: RegionScope) -> Iterator[dict[str, Any]]:
    vpcs = scope.vpcs()
    region, account = scope.region, scope.account
    main_tables = _main_route_tables(scope)
    default_acls = {
        acl.get("VpcId", ""): acl.get("NetworkAclId", "")
        for acl in scope.network_acls()
        if acl.get("IsDefault")
    }
    gateways: dict[str, dict[str, str]] = {}
    for igw in scope.internet_gateways():
        for att in igw.get("Attachments") or []:
            gateways[att.get("VpcId", "")] = {
                "id": igw.get("InternetGatewayId", ""),
                "state": att.get("State", ""),
            }
    nats: dict[str, list[dict[str, Any]]] = {}
    for nat in scope.nat_gateways():
        if nat.get("State") in ("deleted", "deleting", "failed"):
            continue
        addresses = nat.get("NatGatewayAddresses") or [{}]
        nats.setdefault(nat.get("VpcId", ""), []).append(
            {
                "nat_gateway_id": nat.get("NatGatewayId", ""),
                "state": nat.get("State", ""),
                "public_ip": addresses[0].get("PublicIp", ""),
                "private_ip": addresses[0].get("PrivateIp", ""),
                "subnet_id": nat.get("SubnetId", ""),
                "connectivity_type": nat.get("ConnectivityType", "public"),
            }
        )
    flow_logs = scope.flow_log_resources()
    for vpc in vpcs:
        vid = vpc["VpcId"]
        tags = tag_dict(vpc.get("Tags"))
        data = {
            "vpc_id": vid,
            "name": tags.get("Name", ""),
            "arn": f"arn:{scope.session.partition}:ec2:{region}:{account}:vpc/{vid}",
            "cidr_block": vpc.get("CidrBlock", ""),
            "state": vpc.get("State", ""),
            "dhcp_options_id": vpc.get("DhcpOptionsId", ""),
            "instance_tenancy": vpc.get("InstanceTenancy", ""),
            "is_default": bool(vpc.get("IsDefault")),
            "owner_id": vpc.get("OwnerId", ""),
            "enable_dns_support": scope.vpc_attribute(vid, "enableDnsSupport"),
            "enable_dns_hostnames": scope.vpc_attribute(vid, "enableDnsHostnames"),
            "cidr_block_association_set": [
                {
                    "association_id": a.get("AssociationId", ""),
                    "cidr_block": a.get("CidrBlock", ""),
                    "cidr_block_state": {"state": (a.get("CidrBlockState") or {}).get("State")},
                }
                for a in vpc.get("CidrBlockAssociationSet") or []
            ],
            "ipv6_cidr_blocks": [
                a.get("Ipv6CidrBlock", "")
                for a in vpc.get("Ipv6CidrBlockAssociationSet") or []
                if a.get("Ipv6CidrBlock")
            ],
            "main_route_table_id": main_tables.get(vid, {}).get("RouteTableId", ""),
            "network_acl_id": default_acls.get(vid, ""),
            "internet_gateway": gateways.get(vid, {}),
            "nat_gateways": nats.get(vid, []),
            "flow_logs_enabled": vid in flow_logs,
            "account": account,
        }
        yield cloud_service(
            VPC_VPC,
            name=name_of(tags, vid),
            account=account,
            region=region,
            resource_id=vid,
            external_link=links.vpc(region, vid),
            data=data,
            tags=tags,
        )


# -- subnets ----------------------------------------------------------------------------------

_TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "NetworkInterfaceId",
    "InstanceId",
    "EgressOnlyInternetGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "CoreNetworkArn",
    "VpcEndpointId",
)


def _routes(table: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for route in table.get("Routes") or []:
        target = next((route[k] for k in _TARGETS if route.get(k)), "")
        out.append(
            {
                "destination_cidr_block": route.get("DestinationCidrBlock")
                or route.get("DestinationIpv6CidrBlock")
                or route.get("DestinationPrefixListId", ""),
                "gateway_id": target,
                "state": route.get("State", ""),
            }
        )
    return out


def _is_public(table: dict[str, Any]) -> bool:
    return any(
        str(r.get("GatewayId", "")).startswith("igw-") and r.get("State") != "blackhole"
        for r in table.get("Routes") or []
    )


def collect_subnets(scope: RegionScope) -> Iterator[dict[str, Any]]:
    subnets = scope.subnets()
    region, account = scope.region, scope.account
    vpcs = scope.vpc_by_id()
    tables = scope.route_tables()
    main_tables = _main_route_tables(scope)
    explicit = {
        a["SubnetId"]: table
        for table in tables
        for a in table.get("Associations") or []
        if a.get("SubnetId")
    }
    for sub in subnets:
        sid = sub["SubnetId"]
        tags = tag_dict(sub.get("Tags"))
        vpc_id = sub.get("VpcId", "")
        table = explicit.get(sid) or main_tables.get(vpc_id)
        # Without a readable route table, the launch default is the next best hint.
        public = _is_public(table) if table else bool(sub.get("MapPublicIpOnLaunch"))
        dns = sub.get("PrivateDnsNameOptionsOnLaunch") or {}
        data = {
            "subnet_id": sid,
            "subnet_name": tags.get("Name", ""),
            "subnet_arn": sub.get("SubnetArn")
            or f"arn:{scope.session.partition}:ec2:{region}:{account}:subnet/{sid}",
            "vpc_id": vpc_id,
            "vpc_name": _vpc_name(vpcs.get(vpc_id)),
            "cidr_block": sub.get("CidrBlock", ""),
            "ipv6_cidr_blocks": [
                a.get("Ipv6CidrBlock", "")
                for a in sub.get("Ipv6CidrBlockAssociationSet") or []
                if a.get("Ipv6CidrBlock")
            ],
            "availability_zone": sub.get("AvailabilityZone", ""),
            "availability_zone_id": sub.get("AvailabilityZoneId", ""),
            "available_ip_address_count": sub.get("AvailableIpAddressCount"),
            "default_for_az": bool(sub.get("DefaultForAz")),
            "map_public_ip_on_launch": bool(sub.get("MapPublicIpOnLaunch")),
            "state": sub.get("State", ""),
            "owner_id": sub.get("OwnerId", ""),
            "subnet_type": "public" if public else "private",
            "assign_ipv6_address_on_creation": bool(sub.get("AssignIpv6AddressOnCreation")),
            "ipv6_native": bool(sub.get("Ipv6Native")),
            "enable_dns64": bool(sub.get("EnableDns64")),
            "private_dns_name_options_on_launch": {
                "hostname_type": dns.get("HostnameType", ""),
                "enable_resource_name_dns_a_record": bool(dns.get("EnableResourceNameDnsARecord")),
                "enable_resource_name_dns_aaaa_record": bool(
                    dns.get("EnableResourceNameDnsAAAARecord")
                ),
            },
            "route_table": {
                "route_table_id": table.get("RouteTableId", "") if table else "",
                "routes": _routes(table) if table else [],
            },
            "account": account,
        }
        yield cloud_service(
            VPC_SUBNET,
            name=name_of(tags, sid),
            account=account,
            region=region,
            resource_id=sid,
            external_link=links.subnet(region, sid),
            data=data,
            tags=tags,
        )
