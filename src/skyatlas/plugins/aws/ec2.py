"""EC2 instances and EBS volumes, in the shape of the seed's reference instance record
(`data.os`, `data.aws`, `data.hardware`, `data.compute`, ...), so the seed's queries — by
instance state, by the `Created_by` tag, by security group — work on collected data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.network import flat_rules, group_names
from skyatlas.plugins.aws.records import cloud_service, iso, name_of, tag_dict
from skyatlas.plugins.aws.scope import RegionScope, instance_security_groups
from skyatlas.plugins.aws.types import EC2_INSTANCE, EC2_VOLUME

#: (substring of the AMI's name/description, distro) — first match wins.
_DISTROS = (
    ("windows", "windows"),
    ("ubuntu", "ubuntu"),
    ("amzn", "amazonlinux"),
    ("amazon linux", "amazonlinux"),
    ("al2023", "amazonlinux"),
    ("bottlerocket", "bottlerocket"),
    ("rhel", "redhat"),
    ("red hat", "redhat"),
    ("suse", "suse"),
    ("sles", "suse"),
    ("debian", "debian"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("fedora", "fedora"),
    ("oracle", "oraclelinux"),
)


def _os(inst: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    windows = str(inst.get("Platform") or image.get("Platform") or "").lower() == "windows"
    text = f"{image.get('Name', '')} {image.get('Description', '')}".lower()
    distro = "windows" if windows else "linux"
    for needle, name in _DISTROS:
        if needle in text:
            distro = name
            break
    details = inst.get("PlatformDetails") or image.get("PlatformDetails")
    return {
        "os_distro": distro,
        "os_arch": inst.get("Architecture") or image.get("Architecture") or "",
        "os_type": "WINDOWS" if windows else "LINUX",
        "details": details or ("Windows" if windows else "Linux/UNIX"),
    }


def _hardware(info: dict[str, Any]) -> dict[str, Any]:
    cpu = info.get("VCpuInfo") or {}
    mib = (info.get("MemoryInfo") or {}).get("SizeInMiB")
    vcpus = cpu.get("DefaultVCpus")
    return {
        "core": float(vcpus) if vcpus is not None else None,
        "memory": round(mib / 1024, 3) if mib is not None else None,
        "cpu_cores": cpu.get("DefaultCores"),
        "threads_per_core": cpu.get("DefaultThreadsPerCore"),
    }


def _root_volume(inst: dict[str, Any]) -> str | None:
    """The root device's volume; the only volume when no device carries the root's name."""
    mappings = inst.get("BlockDeviceMappings") or []
    root = inst.get("RootDeviceName")
    for mapping in mappings:
        if mapping.get("DeviceName") == root:
            return (mapping.get("Ebs") or {}).get("VolumeId")
    if len(mappings) == 1:
        return (mappings[0].get("Ebs") or {}).get("VolumeId")
    return None


def _disks(inst: dict[str, Any], volumes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for index, mapping in enumerate(inst.get("BlockDeviceMappings") or []):
        ebs = mapping.get("Ebs") or {}
        vol = volumes.get(ebs.get("VolumeId", ""), {})
        out.append(
            {
                "device_index": index,
                "device": mapping.get("DeviceName", ""),
                "volume_id": ebs.get("VolumeId", ""),
                "volume_type": vol.get("VolumeType"),
                "size": float(vol["Size"]) if vol.get("Size") is not None else None,
                "iops": vol.get("Iops"),
                "throughput": vol.get("Throughput"),
                "encrypted": vol.get("Encrypted"),
                "delete_on_termination": ebs.get("DeleteOnTermination"),
            }
        )
    return out


def _nics(inst: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for eni in sorted(
        inst.get("NetworkInterfaces") or [],
        key=lambda e: (e.get("Attachment") or {}).get("DeviceIndex", 0),
    ):
        out.append(
            {
                "device_index": (eni.get("Attachment") or {}).get("DeviceIndex"),
                "network_interface_id": eni.get("NetworkInterfaceId", ""),
                "subnet_id": eni.get("SubnetId", ""),
                "mac_address": eni.get("MacAddress", ""),
                "ip_addresses": [
                    p.get("PrivateIpAddress", "") for p in eni.get("PrivateIpAddresses") or []
                ],
                "ipv6_addresses": [
                    a.get("Ipv6Address", "") for a in eni.get("Ipv6Addresses") or []
                ],
                "public_ip_address": (eni.get("Association") or {}).get("PublicIp", ""),
                "public_dns": (eni.get("Association") or {}).get("PublicDnsName", ""),
            }
        )
    return out


def _ip_addresses(inst: dict[str, Any]) -> list[str]:
    """Private addresses (the primary one first), then public ones, then IPv6."""
    private: list[str] = [inst.get("PrivateIpAddress") or ""]
    public: list[str] = [inst.get("PublicIpAddress") or ""]
    ipv6: list[str] = []
    for eni in inst.get("NetworkInterfaces") or []:
        for p in eni.get("PrivateIpAddresses") or []:
            private.append(p.get("PrivateIpAddress") or "")
            public.append((p.get("Association") or {}).get("PublicIp") or "")
        ipv6.extend(a.get("Ipv6Address") or "" for a in eni.get("Ipv6Addresses") or [])
    return [ip for ip in dict.fromkeys([*private, *public, *ipv6]) if ip]


def collect_instances(scope: RegionScope) -> Iterator[dict[str, Any]]:
    instances = scope.instances()
    if not instances:
        return
    region, account = scope.region, scope.account
    images = scope.images(i.get("ImageId", "") for i in instances)
    types = scope.instance_types(i.get("InstanceType", "") for i in instances)
    vpcs = scope.vpc_by_id()
    subnets = scope.subnet_by_id()
    groups = scope.security_group_by_id()
    names = group_names(scope)
    volumes = scope.volume_by_id()
    balancers = scope.load_balancers_by_instance()
    protection = scope.termination_protections([i["InstanceId"] for i in instances])
    for inst in instances:
        iid = inst["InstanceId"]
        tags = tag_dict(inst.get("Tags"))
        name = name_of(tags, iid)
        image = images.get(inst.get("ImageId", ""), {})
        hardware = _hardware(types.get(inst.get("InstanceType", ""), {}))
        sg_refs = instance_security_groups(inst)
        vpc = vpcs.get(inst.get("VpcId", ""), {})
        subnet = subnets.get(inst.get("SubnetId", ""), {})
        root = volumes.get(_root_volume(inst) or "", {})
        placement = inst.get("Placement") or {}
        rules: list[dict[str, Any]] = []
        for gid, _ in sg_refs:
            if gid in groups:
                rules.extend(flat_rules(groups[gid], names, account))
        data = {
            "os": _os(inst, image),
            "aws": {
                "ami_id": inst.get("ImageId", ""),
                "ami_launch_index": inst.get("AmiLaunchIndex"),
                "kernel_id": inst.get("KernelId"),
                "monitoring_state": (inst.get("Monitoring") or {}).get("State", ""),
                "ebs_optimized": bool(inst.get("EbsOptimized")),
                "ena_support": bool(inst.get("EnaSupport")),
                "hypervisor": inst.get("Hypervisor", ""),
                "placement": placement,
                "iam_instance_profile": inst.get("IamInstanceProfile"),
                "root_volume_type": root.get("VolumeType"),
                "root_device_name": inst.get("RootDeviceName", ""),
                "root_device_type": inst.get("RootDeviceType", ""),
                "virtualization_type": inst.get("VirtualizationType", ""),
                "termination_protection": protection.get(iid),
                "lifecycle": inst.get("InstanceLifecycle") or "normal",
                "source_dest_check": inst.get("SourceDestCheck"),
                "metadata_http_tokens": (inst.get("MetadataOptions") or {}).get("HttpTokens"),
            },
            "hardware": hardware,
            "compute": {
                "keypair": inst.get("KeyName", ""),
                "az": placement.get("AvailabilityZone", ""),
                "instance_state": str((inst.get("State") or {}).get("Name", "")).upper(),
                "instance_type": inst.get("InstanceType", ""),
                "launched_at": iso(inst.get("LaunchTime"), zone=False),
                "instance_id": iid,
                "instance_name": name,
                "security_groups": [
                    {"id": gid, "name": gname, "display": f"{gname} ({gid})" if gname else gid}
                    for gid, gname in sg_refs
                ],
                "image": image.get("Name", ""),
                "account": account,
                "region_name": region,
            },
            "vpc": {
                "vpc_id": inst.get("VpcId", ""),
                "vpc_name": tag_dict(vpc.get("Tags")).get("Name", ""),
                "cidr": vpc.get("CidrBlock", ""),
            },
            "subnet": {
                "subnet_id": inst.get("SubnetId", ""),
                "subnet_name": tag_dict(subnet.get("Tags")).get("Name", ""),
                "cidr": subnet.get("CidrBlock", ""),
            },
            "load_balancer": balancers.get(iid, []),
            "security_group": rules,
            "disk": _disks(inst, volumes),
            "nic": _nics(inst),
            "primary_ip_address": inst.get("PrivateIpAddress", ""),
        }
        yield cloud_service(
            EC2_INSTANCE,
            name=name,
            account=account,
            region=region,
            resource_id=iid,
            external_link=links.ec2_instance(region, iid),
            data=data,
            tags=tags,
            instance_type=inst.get("InstanceType"),
            instance_size=hardware["core"],
            ip_addresses=_ip_addresses(inst),
        )


def collect_volumes(scope: RegionScope) -> Iterator[dict[str, Any]]:
    volumes = scope.volumes()
    if not volumes:
        return
    region, account = scope.region, scope.account
    partition = scope.session.partition
    instances = scope.instance_by_id()
    for vol in volumes:
        vid = vol["VolumeId"]
        tags = tag_dict(vol.get("Tags"))
        size = vol.get("Size")
        data = {
            "volume_id": vid,
            "volume_name": tags.get("Name", ""),
            "arn": f"arn:{partition}:ec2:{region}:{account}:volume/{vid}",
            "volume_type": vol.get("VolumeType", ""),
            "size": float(size) if size is not None else None,
            "state": vol.get("State", ""),
            "iops": vol.get("Iops"),
            "throughput": vol.get("Throughput"),
            "encrypted": bool(vol.get("Encrypted")),
            "kms_key_id": vol.get("KmsKeyId", ""),
            "snapshot_id": vol.get("SnapshotId", ""),
            "availability_zone": vol.get("AvailabilityZone", ""),
            "create_time": iso(vol.get("CreateTime")),
            "multi_attach_enabled": bool(vol.get("MultiAttachEnabled")),
            "account": account,
            "attachments": [
                {
                    "instance_id": att.get("InstanceId", ""),
                    "instance_name": name_of(
                        tag_dict(instances.get(att.get("InstanceId", ""), {}).get("Tags")),
                        att.get("InstanceId", ""),
                    ),
                    "device": att.get("Device", ""),
                    "state": att.get("State", ""),
                    "attach_time": iso(att.get("AttachTime")),
                    "delete_on_termination": bool(att.get("DeleteOnTermination")),
                }
                for att in vol.get("Attachments") or []
            ],
            "cloudwatch": {
                "region_name": region,
                "metrics_info": [
                    {"Namespace": "AWS/EBS", "Dimensions": [{"Name": "VolumeId", "Value": vid}]}
                ],
            },
        }
        yield cloud_service(
            EC2_VOLUME,
            name=name_of(tags, vid),
            account=account,
            region=region,
            resource_id=vid,
            external_link=links.volume(region, vid),
            data=data,
            tags=tags,
            instance_type=vol.get("VolumeType"),
            instance_size=float(size) if size is not None else None,
        )
