"""The kinds of resource the collector produces, declared once so that the options, the
registration of types and the dispatch of collectors all agree on the same names.

Search keys name only `data.*` paths every record of the type carries (a scalar, possibly
null), and they are the keys the demo inventory declares for the same types, so a workspace
holding both kinds of record indexes each path once.
"""

from __future__ import annotations

from dataclasses import dataclass

from skyatlas.plugins.base import CloudServiceTypeSpec

PROVIDER = "aws"
GLOBAL_REGION = "global"


@dataclass(frozen=True)
class TypeKey:
    group: str
    name: str
    #: Collected once per region (False: once per account, e.g. IAM, or listed globally, S3).
    regional: bool = True

    @property
    def label(self) -> str:
        return f"{self.group}.{self.name}"


EC2_INSTANCE = TypeKey("EC2", "Instance")
EC2_SECURITY_GROUP = TypeKey("EC2", "SecurityGroup")
EC2_VOLUME = TypeKey("EC2", "Volume")
VPC_VPC = TypeKey("VPC", "VPC")
VPC_SUBNET = TypeKey("VPC", "Subnet")
S3_BUCKET = TypeKey("S3", "Bucket", regional=False)
RDS_INSTANCE = TypeKey("RDS", "Instance")
LAMBDA_FUNCTION = TypeKey("Lambda", "Function")
ELB_LOAD_BALANCER = TypeKey("ELB", "LoadBalancer")
IAM_USER = TypeKey("IAM", "User", regional=False)
IAM_ROLE = TypeKey("IAM", "Role", regional=False)

#: In collection order (within a region: the order of this tuple).
ALL_TYPES: tuple[TypeKey, ...] = (
    EC2_INSTANCE,
    EC2_SECURITY_GROUP,
    EC2_VOLUME,
    VPC_VPC,
    VPC_SUBNET,
    S3_BUCKET,
    RDS_INSTANCE,
    LAMBDA_FUNCTION,
    ELB_LOAD_BALANCER,
    IAM_USER,
    IAM_ROLE,
)
BY_LABEL: dict[str, TypeKey] = {k.label: k for k in ALL_TYPES}


def _spec(
    key: TypeKey,
    search: list[tuple[str, str]],
    labels: tuple[str, ...],
    *,
    primary: bool = False,
    major: bool = False,
) -> CloudServiceTypeSpec:
    return CloudServiceTypeSpec(
        provider=PROVIDER,
        group=key.group,
        name=key.name,
        is_primary=primary,
        is_major=major,
        search=tuple({"key": k, "name": n} for k, n in search),
        labels=labels,
    )


CLOUD_SERVICE_TYPES: tuple[CloudServiceTypeSpec, ...] = (
    _spec(
        EC2_INSTANCE,
        [
            ("data.compute.instance_state", "Instance State"),
            ("data.compute.instance_type", "Instance Type"),
            ("data.compute.az", "Availability Zone"),
            ("data.os.os_distro", "OS Distro"),
            ("data.primary_ip_address", "IP Address"),
            ("data.aws.ami_id", "AMI ID"),
            ("data.vpc.vpc_id", "VPC ID"),
        ],
        ("Compute", "Server"),
        primary=True,
        major=True,
    ),
    _spec(
        EC2_SECURITY_GROUP,
        [
            ("data.group_id", "Group ID"),
            ("data.group_name", "Group Name"),
            ("data.vpc_id", "VPC ID"),
        ],
        ("Security", "Networking"),
    ),
    _spec(
        EC2_VOLUME,
        [
            ("data.volume_type", "Volume Type"),
            ("data.state", "State"),
            ("data.size", "Size"),
            ("data.encrypted", "Encrypted"),
        ],
        ("Storage", "Block Storage"),
        major=True,
    ),
    _spec(
        VPC_VPC,
        [("data.vpc_id", "VPC ID"), ("data.cidr_block", "CIDR"), ("data.state", "State")],
        ("Networking",),
        primary=True,
    ),
    _spec(
        VPC_SUBNET,
        [
            ("data.subnet_id", "Subnet ID"),
            ("data.cidr_block", "CIDR"),
            ("data.availability_zone", "AZ"),
            ("data.subnet_type", "Subnet Type"),
        ],
        ("Networking",),
    ),
    _spec(
        S3_BUCKET,
        [
            ("data.region_name", "Region"),
            ("data.versioning.status", "Versioning"),
            ("data.object_count", "Object Count"),
        ],
        ("Storage", "Object Storage"),
        primary=True,
        major=True,
    ),
    _spec(
        RDS_INSTANCE,
        [
            ("data.engine", "Engine"),
            ("data.db_instance_status", "Status"),
            ("data.db_instance_class", "Class"),
            ("data.multi_az", "Multi AZ"),
        ],
        ("Database",),
        primary=True,
        major=True,
    ),
    _spec(
        LAMBDA_FUNCTION,
        [("data.runtime", "Runtime"), ("data.state", "State"), ("data.memory_size", "Memory")],
        ("Compute", "Serverless"),
        primary=True,
    ),
    _spec(
        ELB_LOAD_BALANCER,
        [
            ("data.type", "Type"),
            ("data.scheme", "Scheme"),
            ("data.state.code", "State"),
            ("data.dns_name", "DNS Name"),
        ],
        ("Networking",),
        primary=True,
    ),
    _spec(
        IAM_USER,
        [
            ("data.user_name", "User Name"),
            ("data.mfa_device_count", "MFA Devices"),
            ("data.access_key_count", "Access Keys"),
        ],
        ("Security",),
    ),
    _spec(
        IAM_ROLE,
        [
            ("data.role_name", "Role Name"),
            ("data.trust_policy.principal_service", "Trusted Service"),
        ],
        ("Security",),
    ),
)
