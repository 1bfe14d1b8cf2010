"""A deterministic, realistic multi-cloud inventory: the data of `serve --demo` and the benchmark.

The same stream feeds a demo of a few thousand resources and a benchmark of a million, so two
properties matter more than anything else:

* **Record i is a pure function of (seed, i).** Records are grouped in blocks of
  ``_BLOCK`` indices; each block gets ``_BLOCK * _R`` pseudo-random bytes from
  ``shake_128(b"skyatlas-generator/<seed>/<block>")`` and record ``i`` reads only its own
  ``_R``-byte slice of them, at fixed offsets. Nothing is consumed sequentially, so
  ``generate_cloud_services(n, start=k)`` yields exactly records ``k .. k+n-1`` of the full stream
  and a benchmark can split the work across processes. No global random state, no clock.
* **Resource ids are unique by construction**, not by luck: every id embeds ``u``, a bijective
  64-bit scramble of the index (or ``v``, a 32-bit one, where an id must stay short; IAM user
  names encode the index itself), so no two records of one stream share ``(provider, group,
  type, account, reference.resource_id)`` — the collection upsert key of the store — for the
  first 2**32 records.

Speed (the hot loop of a 1M-record benchmark): everything that does not depend on the record —
accounts, regions, their VPCs/subnets/security groups/images, console URL prefixes, timestamps'
day strings, weighted choice tables — is precomputed once (``_pools()``); a record is a handful of
byte look-ups into those tables plus the dict literals of its shape. Weighted choices are 256- or
65536-entry tables indexed by one or two random bytes, so no per-record arithmetic on weights.

Referential realism is local: an EC2 instance's VPC, subnet, security groups and AMI come from its
account/region's fixed pools (so many instances share them, as in a real account), but the VPC and
security-group *records* the stream emits have their own unique ids and are not those pool objects.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from functools import cache
from typing import Any

PROVIDERS = ("aws", "google_cloud", "azure", "kakaocloud")

_BLOCK = 1024  # records per block of random bytes
_R = 128  # random bytes per record; builders read r[0] .. r[_R - 1] only
_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1

# --------------------------------------------------------------------------------------------
# Static vocabularies
# --------------------------------------------------------------------------------------------

_ACCOUNTS: dict[str, tuple[str, ...]] = {
    # The first account of each provider matches the demo organisation's service accounts.
    "aws": (
        "123456789012",
        "210987654321",
        "345678901234",
        "456789012345",
        "567890123456",
        "678901234567",
        "789012345678",
        "890123456789",
    ),
    "google_cloud": (
        "skyatlas-data-prod",
        "skyatlas-web-prod",
        "skyatlas-ml-dev",
        "skyatlas-shared-vpc",
        "skyatlas-analytics-stg",
        "skyatlas-sandbox-4821",
    ),
    "azure": (
        "6f1c2a9e-3b7d-4c58-9e21-0d4b8a7c5e13",
        "0b9e4d27-8c1a-4f63-a5d2-7e3c9b1f6a08",
        "9a7d3e51-2f4b-4e86-b0c9-15d8e2a7f3c4",
        "c2e85f1a-7d39-4b0e-8f64-3a9c1d5b7e20",
        "e4b1a9c7-5d2f-4863-9a0e-8c7f3b2d1e56",
    ),
    "kakaocloud": (
        "kc-project-office",
        "3f8c2a1d9b7e4c6a8f0d2e4b6a8c0e12",
        "a91d4e7c2b5f4a8e9c3d1f6b8e0a2c47",
        "5c7e9a1b3d5f4e2a8c6b0d9f1e3a5c78",
    ),
}
# Relative weights of the accounts (a few big production accounts, a tail of small ones).
_ACCOUNT_WEIGHTS: dict[str, tuple[int, ...]] = {
    "aws": (30, 22, 14, 10, 8, 7, 5, 4),
    "google_cloud": (35, 25, 15, 12, 8, 5),
    "azure": (40, 25, 15, 12, 8),
    "kakaocloud": (40, 30, 20, 10),
}

_REGIONS: dict[str, tuple[tuple[str, str, int], ...]] = {
    # (region code, display name, weight)
    "aws": (
        ("ap-northeast-2", "Asia Pacific (Seoul)", 40),
        ("us-east-1", "US East (N. Virginia)", 20),
        ("us-west-2", "US West (Oregon)", 10),
        ("ap-northeast-1", "Asia Pacific (Tokyo)", 10),
        ("eu-west-1", "Europe (Ireland)", 8),
        ("eu-central-1", "Europe (Frankfurt)", 5),
        ("ap-southeast-1", "Asia Pacific (Singapore)", 7),
    ),
    "google_cloud": (
        ("asia-northeast3", "Seoul", 40),
        ("asia-northeast1", "Tokyo", 15),
        ("us-central1", "Iowa", 25),
        ("us-east1", "South Carolina", 10),
        ("europe-west1", "Belgium", 10),
    ),
    "azure": (
        ("koreacentral", "Korea Central", 45),
        ("koreasouth", "Korea South", 10),
        ("eastus", "East US", 20),
        ("westeurope", "West Europe", 12),
        ("japaneast", "Japan East", 8),
        ("southeastasia", "Southeast Asia", 5),
    ),
    "kakaocloud": (
        ("kr-central-2", "Korea Central 2", 85),
        ("kr-central-1", "Korea Central 1", 15),
    ),
}
_GLOBAL = ("global", "Global")  # where IAM lives (region-less resources)

# (app, owning team). Names read like real services: "<app>-<component>-<env>-07".
_APPS: tuple[tuple[str, str], ...] = (
    ("payments", "payments"),
    ("checkout", "payments"),
    ("billing", "payments"),
    ("ledger", "payments"),
    ("web-frontend", "web"),
    ("storefront", "web"),
    ("admin-portal", "web"),
    ("cms", "web"),
    ("identity", "platform"),
    ("api-gateway", "platform"),
    ("notification", "platform"),
    ("order", "platform"),
    ("inventory", "platform"),
    ("search", "growth"),
    ("recommendation", "growth"),
    ("campaign", "growth"),
    ("analytics", "data"),
    ("data-lake", "data"),
    ("etl", "data"),
    ("reporting", "data"),
    ("airflow", "data"),
    ("ml-training", "ml"),
    ("ml-serving", "ml"),
    ("feature-store", "ml"),
    ("monitoring", "sre"),
    ("logging", "sre"),
    ("ci-runner", "sre"),
    ("kafka", "sre"),
    ("vault", "security"),
    ("bastion", "security"),
    ("waf", "security"),
    ("siem", "security"),
)
_TEAMS = ("platform", "payments", "data", "ml", "web", "security", "sre", "growth")
_COST_CENTERS = {team: f"CC-{1001 + n}" for n, team in enumerate(_TEAMS)}
_COMPONENTS = ("api", "worker", "web", "batch", "cache", "db", "gateway", "consumer", "scheduler")
_CREATORS = (
    "terraform",
    "github-actions",
    "jhkim",
    "sjpark",
    "mlee",
    "yjchoi",
    "hyunjung",
    "dkang",
    "soyeon.lim",
    "minho",
    "ci-bot",
    "wonny",
)
_OWNERS = tuple(
    f"{n}@skyatlas.example"
    for n in ("jhkim", "sjpark", "mlee", "yjchoi", "hyunjung", "dkang", "soyeon.lim", "minho")
)
_SPECIAL_TAGS = (
    # keys with dots, slashes and colons: they stress `tags.<provider>.<key>` path handling
    ("kubernetes.io/cluster-name", "prod-eks-01"),
    ("kubernetes.io/cluster-name", "stage-eks-01"),
    ("app.kubernetes.io/managed-by", "Helm"),
    ("backup.policy/daily", "true"),
    ("compliance.pci", "in-scope"),
    ("karpenter.sh/nodepool", "default"),
    ("aws:cloudformation:stack-name", "network-baseline"),
    ("map-migrated", "mig42815"),
)
_FIRST = ("jisoo", "minji", "hyun", "seojun", "jiwoo", "daniel", "emma", "lucas", "yuna", "taeyang")
_LAST = ("kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon", "jang", "lim", "han", "oh")

_EC2_TYPES = (
    # (type, vCPU, memory GiB, arch)
    ("t3.micro", 2.0, 1.0, "x86_64"),
    ("t3.small", 2.0, 2.0, "x86_64"),
    ("t3.medium", 2.0, 4.0, "x86_64"),
    ("t3.large", 2.0, 8.0, "x86_64"),
    ("t3.xlarge", 4.0, 16.0, "x86_64"),
    ("m5.large", 2.0, 8.0, "x86_64"),
    ("m5.xlarge", 4.0, 16.0, "x86_64"),
    ("m5.2xlarge", 8.0, 32.0, "x86_64"),
    ("m6i.large", 2.0, 8.0, "x86_64"),
    ("c5.xlarge", 4.0, 8.0, "x86_64"),
    ("c6i.2xlarge", 8.0, 16.0, "x86_64"),
    ("r5.large", 2.0, 16.0, "x86_64"),
    ("r6i.2xlarge", 8.0, 64.0, "x86_64"),
    ("m6g.large", 2.0, 8.0, "arm64"),
    ("c6g.xlarge", 4.0, 8.0, "arm64"),
    ("t4g.medium", 2.0, 4.0, "arm64"),
    ("g4dn.xlarge", 4.0, 16.0, "x86_64"),
)
_EC2_OS = (
    # (os_distro, os_type, details, image name)
    ("amazonlinux", "LINUX", "Linux/UNIX", "al2023-ami-2023.5.20240805.0-kernel-6.1"),
    ("amazonlinux", "LINUX", "Linux/UNIX", "amzn2-ami-kernel-5.10-hvm-2.0.20231101.0"),
    ("ubuntu", "LINUX", "Linux/UNIX", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-20240207"),
    ("ubuntu", "LINUX", "Linux/UNIX", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-20250115"),
    ("rhel", "LINUX", "Red Hat Enterprise Linux", "RHEL-9.3.0_HVM-20240117-Hourly2-GP3"),
    ("windows", "WINDOWS", "Windows", "Windows_Server-2022-English-Full-Base-2024.02.14"),
    ("linux", "LINUX", "Linux/UNIX", "ec2-20231107-final"),
    ("amazonlinux", "LINUX", "Linux/UNIX", "amazon-eks-node-1.29-v20240307"),
)
_AWS_STATES = (("RUNNING", 200), ("STOPPED", 40), ("PENDING", 5), ("STOPPING", 4))
_AWS_STATES += (("SHUTTING-DOWN", 3), ("TERMINATED", 4))
_VOLUME_TYPES = (("gp3", 150), ("gp2", 60), ("io1", 15), ("io2", 10), ("st1", 12), ("sc1", 9))
_RDS_ENGINES = (
    ("mysql", "8.0.35", 3306),
    ("postgres", "15.5", 5432),
    ("postgres", "16.2", 5432),
    ("aurora-mysql", "8.0.mysql_aurora.3.05.2", 3306),
    ("aurora-postgresql", "15.4", 5432),
    ("mariadb", "10.11.6", 3306),
)
_RDS_CLASSES = (
    ("db.t3.medium", 2.0),
    ("db.t4g.large", 2.0),
    ("db.r6g.large", 2.0),
    ("db.r6g.xlarge", 4.0),
    ("db.m6g.2xlarge", 8.0),
    ("db.r5.4xlarge", 16.0),
)
_LAMBDA_RUNTIMES = ("python3.12", "python3.11", "nodejs20.x", "nodejs18.x", "java21", "go1.x")
_LAMBDA_FNS = ("handler", "processor", "ingest", "notify", "resize", "sync", "cron", "webhook")
_MANAGED_POLICIES = (
    "AmazonS3ReadOnlyAccess",
    "AmazonEC2ReadOnlyAccess",
    "CloudWatchAgentServerPolicy",
    "AmazonSSMManagedInstanceCore",
    "AWSLambdaBasicExecutionRole",
    "AmazonDynamoDBFullAccess",
    "ReadOnlyAccess",
    "AdministratorAccess",
)
_GCE_TYPES = (
    ("e2-micro", 2.0, 1.0),
    ("e2-small", 2.0, 2.0),
    ("e2-medium", 2.0, 4.0),
    ("e2-standard-4", 4.0, 16.0),
    ("n2-standard-2", 2.0, 8.0),
    ("n2-standard-8", 8.0, 32.0),
    ("n2d-highmem-4", 4.0, 32.0),
    ("c3-standard-4", 4.0, 16.0),
    ("g2-standard-8", 8.0, 32.0),
)
_GCE_IMAGES = (
    ("debian", "debian-12-bookworm-v20240213"),
    ("ubuntu", "ubuntu-2204-jammy-v20240319"),
    ("cos", "cos-109-17800-147-22"),
    ("rocky", "rocky-linux-9-v20240111"),
    ("windows", "windows-server-2022-dc-v20240214"),
)
_GCE_STATES = (("RUNNING", 210), ("TERMINATED", 36), ("STOPPING", 4), ("SUSPENDED", 6))
_CLOUDSQL_VERSIONS = ("POSTGRES_15", "POSTGRES_16", "MYSQL_8_0", "MYSQL_8_0_36", "SQLSERVER_2019")
_CLOUDSQL_TIERS = (("db-custom-2-7680", 2), ("db-custom-4-15360", 4), ("db-f1-micro", 1))
_CLOUDSQL_TIERS += (("db-n1-standard-8", 8), ("db-g1-small", 1))
_AZ_VM_SIZES = (
    ("Standard_B2s", 2.0, 4.0),
    ("Standard_B2ms", 2.0, 8.0),
    ("Standard_D2s_v5", 2.0, 8.0),
    ("Standard_D4s_v5", 4.0, 16.0),
    ("Standard_D8as_v5", 8.0, 32.0),
    ("Standard_E4s_v5", 4.0, 32.0),
    ("Standard_F4s_v2", 4.0, 8.0),
    ("Standard_NC6s_v3", 6.0, 112.0),
)
_AZ_IMAGES = (
    ("ubuntu", "LINUX", "Canonical 0001-com-ubuntu-server-jammy 22_04-lts-gen2"),
    ("rhel", "LINUX", "RedHat RHEL 9-lvm-gen2"),
    ("windows", "WINDOWS", "MicrosoftWindowsServer WindowsServer 2022-datacenter-azure-edition"),
    ("centos", "LINUX", "OpenLogic CentOS 7_9-gen2"),
)
_AZ_VM_STATES = (("RUNNING", 200), ("STOPPED", 25), ("DEALLOCATED", 26), ("STARTING", 5))
_AZ_DISK_SKUS = (
    ("Premium_LRS", "Premium"),
    ("StandardSSD_LRS", "Standard"),
    ("Standard_LRS", "Standard"),
    ("UltraSSD_LRS", "Ultra"),
    ("Premium_ZRS", "Premium"),
)
_AZ_SQL_SKUS = (
    ("GP_Gen5_2", "GeneralPurpose", 2),
    ("GP_Gen5_4", "GeneralPurpose", 4),
    ("BC_Gen5_8", "BusinessCritical", 8),
    ("S1", "Standard", 20),
    ("GP_S_Gen5_1", "GeneralPurpose", 1),
    ("HS_Gen5_4", "Hyperscale", 4),
)
_KC_FLAVORS = (
    ("t1i.small", 2.0, 2.0),
    ("t1i.medium", 2.0, 4.0),
    ("m2a.large", 2.0, 8.0),
    ("m2a.xlarge", 4.0, 16.0),
    ("m2a.2xlarge", 8.0, 32.0),
    ("c2a.xlarge", 4.0, 8.0),
    ("r2a.2xlarge", 8.0, 64.0),
    ("p2i.6xlarge", 24.0, 192.0),
)
_KC_IMAGES = (
    ("ubuntu", "Ubuntu 22.04"),
    ("ubuntu", "Ubuntu 24.04"),
    ("rocky", "Rocky Linux 8.10"),
    ("centos", "CentOS Stream 9"),
    ("windows", "Windows Server 2022"),
)
_KC_VM_STATES = (("ACTIVE", 215), ("SHUTOFF", 30), ("BUILD", 5), ("ERROR", 6))
_K8S_VERSIONS = ("1.28", "1.29", "1.30", "1.31")
_ENVS = (("prod", 115), ("dev", 64), ("stage", 46), ("qa", 31))  # skewed: mostly prod
_PUBLIC_PREFIXES = {
    "aws": ("3.34", "3.35", "13.124", "13.209", "43.200", "52.78", "52.79", "54.180"),
    "google_cloud": ("34.64", "34.22", "35.216", "34.47", "35.187"),
    "azure": ("20.41", "20.196", "40.82", "52.231", "4.230"),
    "kakaocloud": ("61.109", "210.109", "211.249"),
}


def _table(weighted: Sequence[tuple[Any, int]], size: int = 256) -> tuple[Any, ...]:
    """Expand (value, weight) pairs into a `size`-entry lookup table: one random byte → choice."""
    total = sum(w for _, w in weighted)
    out: list[Any] = []
    acc = 0
    for value, w in weighted:
        acc += w
        while len(out) < acc * size // total:
            out.append(value)
    return tuple(out)


_ENV_T = _table(_ENVS)
_CREATOR_T = _table([(c, 5 if c == "wonny" else 45 if c == "terraform" else 24) for c in _CREATORS])
_AWS_STATE_T = _table(_AWS_STATES)
_VOLUME_T = _table(_VOLUME_TYPES)
_GCE_STATE_T = _table(_GCE_STATES)
_AZ_VM_STATE_T = _table(_AZ_VM_STATES)
_KC_VM_STATE_T = _table(_KC_VM_STATES)

_FIRST_DAY = date(2022, 1, 1)
_DAYS = tuple(
    (_FIRST_DAY + timedelta(days=d)).isoformat()
    for d in range((date(2026, 10, 31) - _FIRST_DAY).days + 1)
)
_ND = len(_DAYS)
_HMS = tuple(f"{n // 171 % 24:02d}:{n * 7 % 60:02d}:{n * 13 % 60:02d}" for n in range(4096))


def _day(r: bytes, k: int) -> int:
    """Day index in 2022-01-01 .. 2026-10-31 from two bytes."""
    return (r[k] << 8 | r[k + 1]) % _ND


def _stamp(d: int, r: bytes, k: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` for day index d, time from bytes r[k], r[k+1] (seed's shape)."""
    return f"{_DAYS[d if d < _ND else _ND - 1]}T{_HMS[r[k] << 4 | r[k + 1] & 15]}"


def _pub(prov: str, r: bytes, k: int) -> str:
    """A public IP from the provider's real address space (3 bytes)."""
    pre = _PUBLIC_PREFIXES[prov]
    return f"{pre[r[k] % len(pre)]}.{r[k + 1]}.{r[k + 2] % 254 + 1}"


# --------------------------------------------------------------------------------------------
# Precomputed per-(provider, account, region) "sites": network pools and URL prefixes
# --------------------------------------------------------------------------------------------


_AZ_ID_WORDS = {"east": "e", "west": "w", "central": "c", "northeast": "ne", "southeast": "se"}
_SG_NAMES = ("default", "bastion-sg-01", "web-alb-sg", "eks-node-sg", "rds-sg", "vpn-sg")


class _Site:
    """One account in one region, with the shared resources many records of it refer to."""

    __slots__ = (
        "account",
        "amis",
        "azs",
        "console",
        "idx",
        "name",
        "provider",
        "region",
        "sgs",
        "short",
        "tenant",
        "vpcs",
    )

    def __init__(self, provider: str, account: str, idx: int, region: str, name: str) -> None:
        self.provider = provider
        self.account = account
        self.idx = idx  # global account number, to map accounts onto projects
        self.region = region
        self.name = name
        self.azs: tuple[str, ...] = ()
        #: (vpc_id, vpc_name, "10.12", "10.12.0.0/16",
        #:  subnets: ((subnet_id, subnet_name, az, "10.12.35", "10.12.35.0/24", is_public), ...))
        self.vpcs: tuple[tuple[Any, ...], ...] = ()
        self.sgs: tuple[tuple[str, str, str], ...] = ()  # (name, id, "name (id)")
        self.amis: tuple[tuple[str, int], ...] = ()  # (ami id, index into _EC2_OS)
        self.console = ""
        self.short = ""  # AWS zone-id prefix: ap-northeast-2 → apne2
        self.tenant = ""


def _hexid(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _uuid(rng: random.Random) -> str:
    h = _hexid(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def _build_site(provider: str, account: str, idx: int, region: str, name: str) -> _Site:
    """A site's pools come from a Random seeded by its name: fixed forever, whatever the seed."""
    s = _Site(provider, account, idx, region, name)
    rng = random.Random(f"skyatlas-site/{provider}/{account}/{region}")
    if provider == "aws":
        s.azs = tuple(f"{region}{z}" for z in "abc")
        s.console = f"https://{region}.console.aws.amazon.com/"
        s.amis = tuple((f"ami-0{_hexid(rng, 16)}", k) for k in range(len(_EC2_OS)))
        parts = region.split("-")
        if len(parts) == 3:
            s.short = f"{parts[0]}{_AZ_ID_WORDS[parts[1]]}{parts[2]}"
    elif provider == "azure":
        s.azs = ("1", "2", "3")
        s.tenant = "skyatlas.onmicrosoft.com"
    else:
        s.azs = tuple(f"{region}-{z}" for z in "abc")
    if region == _GLOBAL[0]:
        return s
    vpcs = []
    for n, label in enumerate(("main", "shared", "legacy")):
        prefix = f"10.{rng.randrange(256)}" if n < 2 else f"172.{16 + rng.randrange(16)}"
        vpc_name = f"vnet-{label}" if provider == "azure" else f"{label}-vpc"
        vpc_id = _net_id(provider, rng, "vpc", account, vpc_name, "")
        subnets = []
        for k in range(6):
            third = k * 16 + rng.randrange(16)
            public = k < 2
            az = s.azs[k % 3]
            subnet_name = f"{label}-{'public' if public else 'private'}-{az[-1]}"
            subnet_id = _net_id(provider, rng, "subnet", account, subnet_name, vpc_id)
            subnets.append(
                (subnet_id, subnet_name, az, f"{prefix}.{third}", f"{prefix}.{third}.0/24", public)
            )
        vpcs.append((vpc_id, vpc_name, prefix, f"{prefix}.0.0/16", tuple(subnets)))
    s.vpcs = tuple(vpcs)
    sgs = []
    for n in range(14):
        sg_name = _SG_NAMES[n] if n < len(_SG_NAMES) else f"{rng.choice(_APPS)[0]}-sg-{n:02d}"
        sg_id = _net_id(provider, rng, "sg", account, sg_name, "")
        sgs.append((sg_name, sg_id, f"{sg_name} ({sg_id})"))
    s.sgs = tuple(sgs)
    return s


def _net_id(
    provider: str, rng: random.Random, kind: str, account: str, name: str, parent: str
) -> str:
    """A VPC/subnet/security-group id in the provider's format (pool objects, not records)."""
    if provider == "aws":
        return f"{kind}-0{_hexid(rng, 16)}"
    if provider == "google_cloud":
        return str(rng.getrandbits(63))
    if provider == "azure":
        if kind == "subnet":
            return f"{parent}/subnets/{name}"
        rtype = "virtualNetworks" if kind == "vpc" else "networkSecurityGroups"
        return (
            f"/subscriptions/{account}/resourceGroups/rg-network/providers/"
            f"Microsoft.Network/{rtype}/{name}"
        )
    return _uuid(rng)


class _Pools:
    """Everything precomputed once: type spec table and per-spec site tables."""

    def __init__(self) -> None:
        self.sites: dict[str, tuple[tuple[_Site, ...], ...]] = {}
        self.global_sites: dict[str, tuple[tuple[_Site, ...], ...]] = {}
        idx = 0
        for prov in PROVIDERS:
            accts = _ACCOUNTS[prov]
            acct_t = _table(list(zip(range(len(accts)), _ACCOUNT_WEIGHTS[prov], strict=True)))
            region_t = _table([(n, w) for n, (_, _, w) in enumerate(_REGIONS[prov])])
            per_acct = []
            per_acct_global = []
            for a, acct in enumerate(accts):
                built = [
                    _build_site(prov, acct, idx + a, code, name) for code, name, _ in _REGIONS[prov]
                ]
                per_acct.append(tuple(built[n] for n in region_t))
                g = _build_site(prov, acct, idx + a, *_GLOBAL)
                per_acct_global.append(tuple(g for _ in range(256)))
            self.sites[prov] = tuple(per_acct[a] for a in acct_t)
            self.global_sites[prov] = tuple(per_acct_global[a] for a in acct_t)
            idx += len(accts)
        specs = []
        for spec in _SPECS:
            sites = self.global_sites if spec.region_global else self.sites
            specs.append((spec.provider, spec.group, spec.type, spec.build, sites[spec.provider]))
        weights = [(s, spec.weight) for s, spec in zip(specs, _SPECS, strict=True)]
        self.type_table = _table(weights, 65536)


@cache
def _pools() -> _Pools:
    return _Pools()


# --------------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------------


def _tags(r: bytes, name: str, app: str, env: str, team: str) -> dict[str, str]:
    """3 to 8 tags: Name (most), env, team, Created_by, cost-center, app, Owner, odd keys."""
    t = {"Name": name} if r[6] < 235 else {}
    t["env"] = env
    t["team"] = team
    if r[7] < 204:
        t["Created_by"] = _CREATOR_T[r[8]]
    if r[9] < 140 or len(t) < 3:
        t["cost-center"] = _COST_CENTERS[team]
    if r[10] < 90:
        t["app"] = app
    if r[11] < 64:
        t["Owner"] = _OWNERS[r[12] & 7]
    if r[13] < 20:
        k, val = _SPECIAL_TAGS[r[14] & 7]
        t[k] = val
    return t


# --------------------------------------------------------------------------------------------
# Builders. Each gets (i, r, u, v, s, app, env) — index, the record's _R random bytes,
# the 64- and 32-bit unique scrambles of i, its site, its app and env — and returns
# (name, instance_type, instance_size, ip_addresses, data, resource_id, external_link).
# Bytes r[0..19] are taken by the main loop and _tags; builders use r[20..127].
# --------------------------------------------------------------------------------------------

_Out = tuple[str, str | None, float | None, list[str], dict[str, Any], str, str]


def _cw(region: str, namespace: str, dim: str, value: str) -> dict[str, Any]:
    """Cloudforet's `data.cloudwatch` block for AWS resources."""
    return {
        "region_name": region,
        "metrics_info": [{"Namespace": namespace, "Dimensions": [{"Name": dim, "Value": value}]}],
    }


def _aws_ec2_instance(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    iid = f"i-0{u:016x}"
    vpc = s.vpcs[r[20] % 3]
    sub = vpc[4][r[21] % 6]
    ip = f"{sub[3]}.{r[22] % 250 + 4}"
    it = _EC2_TYPES[r[23] % 17]
    osi = r[24] & 7
    o = _EC2_OS[osi]
    state = _AWS_STATE_T[r[25]]
    if r[26] < 38:
        name = f"ip-{ip.replace('.', '-')}"
    else:
        name = f"{app}-{_COMPONENTS[r[27] % 9]}-{env}-{r[28] % 40 + 1:02d}"
    sgs = s.sgs
    b = r[29]
    group = [{"name": sgs[r[30] % 14][0], "id": sgs[r[30] % 14][1], "display": sgs[r[30] % 14][2]}]
    if b >= 150:
        g = sgs[r[31] % 14]
        group.append({"name": g[0], "id": g[1], "display": g[2]})
        if b >= 230:
            g = sgs[r[32] % 14]
            group.append({"name": g[0], "id": g[1], "display": g[2]})
    ips = [ip]
    if state == "RUNNING" and (sub[5] or r[33] < 40):
        ips.append(_pub("aws", r, 34))
    az = sub[2]
    acct = s.account
    region = s.region
    data = {
        "os": {"os_distro": o[0], "os_arch": it[3], "os_type": o[1], "details": o[2]},
        "aws": {
            "ami_id": s.amis[osi][0],
            "ami_launch_index": 0.0,
            "kernel_id": None,
            "monitoring_state": "enabled" if r[37] < 60 else "disabled",
            "ebs_optimized": r[38] < 200,
            "ena_support": True,
            "hypervisor": "nitro",
            "placement": {"GroupName": "", "Tenancy": "default", "AvailabilityZone": az},
            "iam_instance_profile": {
                "Arn": f"arn:aws:iam::{acct}:instance-profile/{app}-ec2-role",
                "Id": f"AIPA{r[39:47].hex().upper()[:17]}",
            },
            "root_volume_type": "gp3" if r[47] < 190 else "gp2",
        },
        "hardware": {"core": it[1], "memory": it[2]},
        "compute": {
            "keypair": f"{app}-key" if r[48] < 150 else "",
            "az": az,
            "instance_state": state,
            "instance_type": it[0],
            "launched_at": _stamp(_day(r, 49), r, 51),
            "instance_id": iid,
            "instance_name": name,
            "security_groups": group,
            "image": o[3],
            "account": acct,
        },
        "vpc": {"vpc_id": vpc[0], "vpc_name": vpc[1]},
        "subnet": {"subnet_id": sub[0], "subnet_name": sub[1]},
        "primary_ip_address": ip,
    }
    link = f"{s.console}ec2/v2/home?region={region}#Instances:instanceId={iid}"
    return name, it[0], it[1], ips, data, iid, link


def _aws_sg(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    gid = f"sg-0{u:016x}"
    vpc = s.vpcs[r[20] % 3]
    name = f"{app}-{_COMPONENTS[r[21] % 9]}-{env}-sg"
    port = (443, 80, 22, 5432, 3306, 6379, 8080, 9092)[r[22] & 7]
    cidr = ("0.0.0.0/0", vpc[3], "10.0.0.0/8", f"{vpc[2]}.0.0/20")[r[23] & 3]
    perms = [
        {
            "ip_protocol": "tcp",
            "from_port": port,
            "to_port": port,
            "ip_ranges": [{"CidrIp": cidr, "Description": f"{app} {env}"}],
            "protocol_display": "TCP",
            "port_display": str(port),
            "source_display": cidr,
        }
    ]
    if r[24] < 100:
        perms.append(
            {
                "ip_protocol": "tcp",
                "from_port": 22,
                "to_port": 22,
                "ip_ranges": [{"CidrIp": f"{vpc[2]}.0.0/24", "Description": "bastion"}],
                "protocol_display": "TCP",
                "port_display": "22",
                "source_display": f"{vpc[2]}.0.0/24",
            }
        )
    b = r[25]
    n = 0 if b < 128 else 1 if b < 200 else 2 if b < 232 else 3 + (b & 1)
    instances = []
    for k in range(n):
        o = 26 + k * 9
        sub = vpc[4][r[o] % 6]
        ip = f"{sub[3]}.{r[o + 1] % 250 + 4}"
        running = r[o + 2] < 215
        pub = _pub("aws", r, o + 3) if running and sub[5] else ""
        inst_name = f"{app}-{_COMPONENTS[r[o + 6] % 9]}-{env}-{r[o + 7] % 40 + 1:02d}"
        instances.append(
            {
                "SubnetId": sub[0],
                "PrivateIpAddress": ip,
                "PrivateDnsName": f"ip-{ip.replace('.', '-')}.{s.region}.compute.internal",
                "VpcId": vpc[0],
                "Tags": [{"Key": "Name", "Value": inst_name}],
                "Architecture": "arm64" if r[o + 8] < 40 else "x86_64",
                "InstanceId": f"i-0{r[o + 6 : o + 14].hex()}",
                "PublicDnsName": f"ec2-{pub.replace('.', '-')}.{s.region}.compute.amazonaws.com"
                if pub
                else "",
                "State": {"Name": "running" if running else "stopped"},
                "PublicIpAddress": pub,
                "instance_name": inst_name,
                "SecurityGroups": [{"GroupName": name, "GroupId": gid}],
            }
        )
    data = {
        "group_id": gid,
        "group_name": name,
        "description": f"Security group for {app} {env}",
        "vpc_id": vpc[0],
        "vpc_name": vpc[1],
        "owner_id": s.account,
        "ip_permissions": perms,
        "ip_permissions_egress": [
            {
                "ip_protocol": "-1",
                "ip_ranges": [{"CidrIp": "0.0.0.0/0"}],
                "protocol_display": "ALL",
                "port_display": "ALL",
                "source_display": "0.0.0.0/0",
            }
        ],
        "instances": instances,
        "account": s.account,
    }
    link = f"{s.console}ec2/v2/home?region={s.region}#SecurityGroup:groupId={gid}"
    return name, None, None, [], data, gid, link


def _aws_volume(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    vid = f"vol-0{u:016x}"
    vtype = _VOLUME_T[r[20]]
    size = (8, 20, 30, 50, 100, 200, 500, 1000)[r[21] & 7]
    attached = r[22] < 205
    az = s.azs[r[23] % 3]
    d = _day(r, 24)
    created = _stamp(d, r, 26) + ".000Z"
    name = f"{app}-{_COMPONENTS[r[28] % 9]}-{env}-{'root' if r[29] < 128 else 'data'}"
    iops = 3000 if vtype == "gp3" else size * 3 if vtype == "gp2" else 0
    data = {
        "volume_id": vid,
        "volume_name": name,
        "volume_type": vtype,
        "size": float(size),
        "state": "in-use" if attached else "available",
        "iops": iops,
        "throughput": 125 if vtype == "gp3" else 0,
        "encrypted": r[30] < 170,
        "kms_key_id": f"arn:aws:kms:{s.region}:{s.account}:key/{r[31:47].hex()}"
        if r[30] < 170
        else "",
        "snapshot_id": f"snap-0{r[47:55].hex()}" if r[55] < 100 else "",
        "availability_zone": az,
        "create_time": created,
        "multi_attach_enabled": False,
        "account": s.account,
        "attachments": [
            {
                "instance_id": f"i-0{r[56:64].hex()}",
                "device": "/dev/xvda" if r[29] < 128 else "/dev/sdf",
                "state": "attached",
                "attach_time": created,
                "delete_on_termination": r[29] < 128,
            }
        ]
        if attached
        else [],
        "cloudwatch": _cw(s.region, "AWS/EBS", "VolumeId", vid),
        "cloudtrail": {
            "region_name": s.region,
            "resource_type": "AWS::EC2::Volume",
            "resource_name": vid,
        },
    }
    link = f"{s.console}ec2/v2/home?region={s.region}#VolumeDetails:volumeId={vid}"
    return name, vtype, float(size), [], data, vid, link


def _aws_vpc(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    vid = f"vpc-0{u:016x}"
    second = r[20]
    pre = f"10.{second}" if r[21] < 200 else f"172.{16 + (second & 15)}"
    cidr = f"{pre}.0.0/16"
    name = f"{app}-{env}-vpc" if r[22] < 230 else "default"
    nat = [
        {
            "nat_gateway_id": f"nat-0{r[24 + k * 8 : 32 + k * 8].hex()}",
            "state": "available",
            "public_ip": _pub("aws", r, 40 + k * 3),
            "subnet_id": f"subnet-0{r[50 + k * 8 : 58 + k * 8].hex()}",
        }
        for k in range(1 + (r[23] < 80))
    ]
    data = {
        "vpc_id": vid,
        "name": name,
        "cidr_block": cidr,
        "state": "available",
        "dhcp_options_id": f"dopt-{r[66:74].hex()[:17]}",
        "instance_tenancy": "default",
        "is_default": name == "default",
        "owner_id": s.account,
        "enable_dns_support": True,
        "enable_dns_hostnames": r[74] < 200,
        "cidr_block_association_set": [
            {
                "association_id": f"vpc-cidr-assoc-0{r[75:83].hex()}",
                "cidr_block": cidr,
                "cidr_block_state": {"state": "associated"},
            }
        ],
        "main_route_table_id": f"rtb-0{r[83:91].hex()}",
        "network_acl_id": f"acl-0{r[91:99].hex()}",
        "internet_gateway": {"id": f"igw-0{r[99:107].hex()}", "state": "available"},
        "nat_gateways": nat,
        "flow_logs_enabled": r[107] < 100,
        "account": s.account,
    }
    link = f"{s.console}vpc/home?region={s.region}#VpcDetails:VpcId={vid}"
    return name, None, None, [], data, vid, link


def _aws_subnet(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    sid = f"subnet-0{u:016x}"
    vpc = s.vpcs[r[20] % 3]
    public = r[21] < 90
    az = s.azs[r[22] % 3]
    third = r[23]
    cidr = f"{vpc[2]}.{third}.0/24"
    tier = "public" if public else "private"
    name = f"{app}-{env}-{tier}-{az[-1]}"
    data = {
        "subnet_id": sid,
        "subnet_name": name,
        "subnet_arn": f"arn:aws:ec2:{s.region}:{s.account}:subnet/{sid}",
        "vpc_id": vpc[0],
        "vpc_name": vpc[1],
        "cidr_block": cidr,
        "availability_zone": az,
        "availability_zone_id": f"{s.short}-az{ord(az[-1]) - 96}",
        "available_ip_address_count": 251 - r[25],
        "default_for_az": False,
        "map_public_ip_on_launch": public,
        "state": "available",
        "owner_id": s.account,
        "subnet_type": tier,
        "assign_ipv6_address_on_creation": False,
        "ipv6_native": False,
        "enable_dns64": False,
        "private_dns_name_options_on_launch": {
            "hostname_type": "ip-name",
            "enable_resource_name_dns_a_record": r[26] < 60,
            "enable_resource_name_dns_aaaa_record": False,
        },
        "route_table": {
            "route_table_id": f"rtb-0{r[27:35].hex()}",
            "routes": [
                {"destination_cidr_block": vpc[3], "gateway_id": "local", "state": "active"},
                {
                    "destination_cidr_block": "0.0.0.0/0",
                    "gateway_id": f"igw-0{r[35:43].hex()}" if public else f"nat-0{r[35:43].hex()}",
                    "state": "active",
                },
            ],
        },
        "account": s.account,
    }
    link = f"{s.console}vpc/home?region={s.region}#SubnetDetails:subnetId={sid}"
    return name, None, None, [], data, sid, link


def _aws_s3(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    purpose = ("logs", "assets", "backup", "artifacts", "data", "static", "exports", "tfstate")[
        r[20] & 7
    ]
    name = f"skyatlas-{app}-{purpose}-{env}-{v:08x}"
    arn = f"arn:aws:s3:::{name}"
    objects = (r[21] << 8 | r[22]) * (r[23] + 1)
    size = float(objects * (r[24] + 1) * 4096)
    versioning = r[25] < 120
    kms = r[26] < 90
    lifecycle = (
        [
            {
                "id": f"{purpose}-expire",
                "status": "Enabled",
                "expiration_days": (30, 90, 365, 730)[r[27] & 3],
                "transition_days": 30,
                "storage_class": ("STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")[
                    r[28] & 3
                ],
            }
        ]
        if r[29] < 150
        else []
    )
    data = {
        "name": name,
        "arn": arn,
        "region_name": s.region,
        "creation_date": _stamp(_day(r, 30), r, 32) + "Z",
        "versioning": {
            "status": "Enabled" if versioning else "Suspended",
            "mfa_delete": "Disabled",
        },
        "encryption": {
            "sse_algorithm": "aws:kms" if kms else "AES256",
            "kms_master_key_id": f"arn:aws:kms:{s.region}:{s.account}:key/{r[34:50].hex()}"
            if kms
            else "",
            "bucket_key_enabled": kms,
        },
        "public_access_block": {
            "block_public_acls": r[50] < 240,
            "ignore_public_acls": r[50] < 240,
            "block_public_policy": r[50] < 240,
            "restrict_public_buckets": r[50] < 240,
        },
        "logging": {"target_bucket": f"skyatlas-logs-{s.account}", "target_prefix": f"{name}/"}
        if r[51] < 128
        else {},
        "lifecycle_rules": lifecycle,
        "object_lock_enabled": r[52] < 10,
        "object_count": objects,
        "object_total_size": size,
        "size": size,
        "website_hosting": purpose == "static",
        "ownership_controls": "BucketOwnerEnforced",
        "cloudwatch": _cw(s.region, "AWS/S3", "BucketName", name),
        "account": s.account,
    }
    link = f"https://s3.console.aws.amazon.com/s3/buckets/{name}?region={s.region}"
    return name, None, size, [], data, arn, link


def _aws_rds(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    eng, ver, port = _RDS_ENGINES[r[20] % 6]
    cls, cores = _RDS_CLASSES[r[21] % 6]
    name = f"{app}-{env}-{eng.split('-')[0]}-{v:08x}"
    arn = f"arn:aws:rds:{s.region}:{s.account}:db:{name}"
    vpc = s.vpcs[r[22] % 3]
    az = s.azs[r[23] % 3]
    multi = env == "prod" and r[24] < 180
    storage = (20, 50, 100, 200, 500, 1000)[r[25] % 6]
    sg = s.sgs[4]
    status = "available" if r[26] < 235 else ("stopped", "backing-up", "modifying")[r[26] % 3]
    data = {
        "db_instance_identifier": name,
        "db_instance_arn": arn,
        "db_instance_class": cls,
        "engine": eng,
        "engine_version": ver,
        "db_instance_status": status,
        "master_username": "admin" if "mysql" in eng or eng == "mariadb" else "postgres",
        "endpoint": {
            "address": f"{name}.c{r[27:33].hex()}.{s.region}.rds.amazonaws.com",
            "port": port,
            "hosted_zone_id": f"Z{r[33:40].hex().upper()}",
        },
        "allocated_storage": storage,
        "storage_type": "gp3" if r[40] < 180 else "io1",
        "storage_encrypted": r[41] < 220,
        "multi_az": multi,
        "availability_zone": az,
        "secondary_availability_zone": s.azs[(r[23] + 1) % 3] if multi else "",
        "publicly_accessible": r[42] < 8,
        "backup_retention_period": (1, 7, 14, 35)[r[43] & 3],
        "preferred_backup_window": "17:00-17:30",
        "preferred_maintenance_window": ("sun:18:00-sun:18:30", "sat:19:00-sat:19:30")[r[44] & 1],
        "db_subnet_group": {"name": f"{vpc[1]}-db-subnets", "vpc_id": vpc[0]},
        "vpc_security_groups": [{"vpc_security_group_id": sg[1], "status": "active"}],
        "auto_minor_version_upgrade": r[45] < 200,
        "deletion_protection": env == "prod",
        "performance_insights_enabled": r[46] < 100,
        "instance_create_time": _stamp(_day(r, 47), r, 49) + "Z",
        "license_model": "general-public-license" if "mysql" in eng else "postgresql-license",
        "ca_certificate_identifier": "rds-ca-rsa2048-g1",
        "account": s.account,
    }
    link = f"{s.console}rds/home?region={s.region}#database:id={name};is-cluster=false"
    return name, cls, cores, [], data, arn, link


def _aws_lambda(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    fn = _LAMBDA_FNS[r[20] & 7]
    name = f"{app}-{env}-{fn}-{v:08x}"
    arn = f"arn:aws:lambda:{s.region}:{s.account}:function:{name}"
    runtime = _LAMBDA_RUNTIMES[r[21] % 6]
    mem = (128, 256, 512, 1024, 2048)[r[22] % 5]
    vpc = s.vpcs[r[23] % 3]
    in_vpc = r[24] < 110
    arch = "arm64" if r[25] < 70 else "x86_64"
    data = {
        "function_name": name,
        "function_arn": arn,
        "runtime": runtime,
        "role": f"arn:aws:iam::{s.account}:role/{app}-{env}-lambda-role",
        "handler": "index.handler" if runtime.startswith("node") else f"{fn}.handler",
        "code_size": (r[26] << 12) + r[27] * 37 + 1024,
        "description": f"{fn} for {app} ({env})",
        "timeout": (3, 15, 30, 60, 300, 900)[r[28] % 6],
        "memory_size": mem,
        "last_modified": _stamp(_day(r, 29), r, 31) + ".000+0000",
        "code_sha256": r[33:57].hex(),
        "version": "$LATEST",
        "state": "Active",
        "last_update_status": "Successful" if r[57] < 250 else "Failed",
        "package_type": "Zip" if r[58] < 220 else "Image",
        "architectures": [arch],
        "tracing_config": {"mode": "Active" if r[59] < 60 else "PassThrough"},
        "vpc_config": {
            "vpc_id": vpc[0] if in_vpc else "",
            "subnet_ids": [vpc[4][2][0], vpc[4][3][0]] if in_vpc else [],
            "security_group_ids": [s.sgs[r[60] % 14][1]] if in_vpc else [],
        },
        "environment": {
            "variables": {"STAGE": env, "LOG_LEVEL": "INFO" if env == "prod" else "DEBUG"}
        },
        "ephemeral_storage": {"size": 512},
        "cloudwatch": _cw(s.region, "AWS/Lambda", "FunctionName", name),
        "account": s.account,
    }
    link = f"{s.console}lambda/home?region={s.region}#/functions/{name}"
    return name, runtime, float(mem), [], data, arn, link


def _aws_elb(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    alb = r[20] < 190
    kind = "app" if alb else "net"
    name = f"{app}-{env}-{'alb' if alb else 'nlb'}"[:32]
    arn = f"arn:aws:elasticloadbalancing:{s.region}:{s.account}:loadbalancer/{kind}/{name}/{u:016x}"
    internal = r[21] < 90
    vpc = s.vpcs[r[22] % 3]
    subs = vpc[4]
    dns = f"{'internal-' if internal else ''}{name}-{v}.{s.region}.elb.amazonaws.com"
    listeners = [
        {
            "port": 443 if alb else 6443,
            "protocol": "HTTPS" if alb else "TLS",
            "default_action_type": "forward",
            "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        }
    ]
    if alb and r[23] < 180:
        listeners.append(
            {"port": 80, "protocol": "HTTP", "default_action_type": "redirect", "ssl_policy": ""}
        )
    data = {
        "load_balancer_arn": arn,
        "load_balancer_name": name,
        "dns_name": dns,
        "canonical_hosted_zone_id": f"Z{r[24:31].hex().upper()}",
        "created_time": _stamp(_day(r, 31), r, 33) + ".000Z",
        "scheme": "internal" if internal else "internet-facing",
        "vpc_id": vpc[0],
        "state": {"code": "active" if r[35] < 250 else "provisioning"},
        "type": "application" if alb else "network",
        "ip_address_type": "ipv4",
        "availability_zones": [
            {"zone_name": subs[0][2], "subnet_id": subs[0][0]},
            {"zone_name": subs[1][2], "subnet_id": subs[1][0]},
        ],
        "security_groups": [s.sgs[2][1]] if alb else [],
        "listeners": listeners,
        "target_groups": [
            {
                "target_group_name": f"{app}-{env}-tg"[:32],
                "protocol": "HTTP" if alb else "TCP",
                "port": 8080,
                "target_type": "ip" if r[36] < 128 else "instance",
                "health_check_path": "/healthz" if alb else "",
            }
        ],
        "attributes": {
            "idle_timeout": 60,
            "deletion_protection": env == "prod",
            "access_logs_enabled": r[37] < 128,
        },
        "account": s.account,
    }
    link = f"{s.console}ec2/v2/home?region={s.region}#LoadBalancer:loadBalancerArn={arn}"
    return name, "application" if alb else "network", None, [], data, arn, link


def _aws_iam_user(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    if r[20] < 170:  # people: "minji.park17"; (first, last, number) is injective in the index i
        name = f"{_FIRST[i % 10]}.{_LAST[i // 10 % 12]}{i // 120 or ''}"
    else:
        name = f"svc-{app}-{env}-{v:08x}"
    arn = f"arn:aws:iam::{s.account}:user/{name}"
    created = _day(r, 64) // 2  # users are older than their keys: first half of the range
    keys = [
        {
            "access_key_id": f"AKIA{r[21 + k * 8 : 29 + k * 8].hex().upper()}",
            "status": "Active" if k == 0 else "Inactive",
            "create_date": _stamp(created + r[40 + k] * 3, r, 44) + "Z",
            "last_used_date": _stamp(created + r[40 + k] * 3 + r[46 + k], r, 50) + "Z",
        }
        for k in range(r[52] % 3)
    ]
    pol = [
        {
            "policy_name": _MANAGED_POLICIES[(r[53] + k) & 7],
            "policy_arn": f"arn:aws:iam::aws:policy/{_MANAGED_POLICIES[(r[53] + k) & 7]}",
        }
        for k in range(1 + (r[54] & 1))
    ]
    data = {
        "user_name": name,
        "user_id": f"AIDA{r[55:64].hex().upper()[:17]}",
        "arn": arn,
        "path": "/",
        "create_date": _stamp(created, r, 66) + "Z",
        "password_last_used": _stamp(created + r[68] * 4, r, 70) + "Z" if r[20] < 170 else "",
        "mfa_device_count": 1 if r[72] < 180 and r[20] < 170 else 0,
        "access_key_count": len(keys),
        "access_keys": keys,
        "attached_policies": pol,
        "groups": [f"{_TEAMS[r[73] & 7]}-engineers"],
        "console_login_enabled": r[20] < 170,
        "account": s.account,
    }
    link = f"https://console.aws.amazon.com/iam/home#/users/{name}"
    return name, None, None, [], data, arn, link


def _aws_iam_role(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    svc = ("ec2", "lambda", "ecs-tasks", "eks", "states", "events")[r[20] % 6]
    name = f"{app}-{env}-{svc}-role-{v:08x}"
    arn = f"arn:aws:iam::{s.account}:role/{name}"
    pol = [
        {
            "policy_name": _MANAGED_POLICIES[(r[21] + k) & 7],
            "policy_arn": f"arn:aws:iam::aws:policy/{_MANAGED_POLICIES[(r[21] + k) & 7]}",
        }
        for k in range(1 + r[22] % 3)
    ]
    data = {
        "role_name": name,
        "role_id": f"AROA{r[23:32].hex().upper()[:17]}",
        "arn": arn,
        "path": "/",
        "create_date": _stamp(_day(r, 32), r, 34) + "Z",
        "description": f"Assumed by {svc} for {app} ({env})",
        "max_session_duration": 3600,
        "trust_policy": {
            "version": "2012-10-17",
            "principal_service": f"{svc}.amazonaws.com",
            "action": "sts:AssumeRole",
        },
        "attached_policies": pol,
        "role_last_used": {
            "last_used_date": _stamp(_day(r, 36), r, 38) + "Z" if r[40] < 220 else "",
            "region": _REGIONS["aws"][r[41] % 7][0] if r[40] < 220 else "",
        },
        "permissions_boundary": "",
        "instance_profile": f"arn:aws:iam::{s.account}:instance-profile/{name}"
        if svc == "ec2"
        else "",
        "account": s.account,
    }
    link = f"https://console.aws.amazon.com/iam/home#/roles/{name}"
    return name, None, None, [], data, arn, link


def _gcp_instance(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    mt, core, mem = _GCE_TYPES[r[20] % 9]
    img = _GCE_IMAGES[r[21] % 5]
    zone = s.azs[r[22] % 3]
    gke = r[23] < 70
    if gke:
        name = f"gke-{app}-{env}-default-pool-{v:08x}"
    else:
        name = f"{app}-{_COMPONENTS[r[24] % 9]}-{env}-{v:08x}"
    net = s.vpcs[r[25] % 3]
    sub = net[4][r[26] % 6]
    ip = f"{sub[3]}.{r[27] % 250 + 2}"
    state = _GCE_STATE_T[r[28]]
    ips = [ip]
    nat = ""
    if state == "RUNNING" and r[29] < 90:
        nat = _pub("google_cloud", r, 30)
        ips.append(nat)
    project = s.account
    self_link = (
        f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/instances/{name}"
    )
    rid = str(u)
    data = {
        "os": {
            "os_distro": img[0],
            "os_arch": "x86_64",
            "os_type": "WINDOWS" if img[0] == "windows" else "LINUX",
            "details": img[1],
        },
        "google_cloud": {
            "self_link": self_link,
            "fingerprint": r[33:41].hex(),
            "deletion_protection": env == "prod" and not gke,
            "is_managed_instance": gke,
            "scheduling": {
                "on_host_maintenance": "MIGRATE",
                "automatic_restart": True,
                "preemptible": r[41] < 25,
            },
            "labels": [{"key": "env", "value": env}],
        },
        "hardware": {"core": core, "memory": mem, "cpu_platform": "Intel Cascade Lake"},
        "compute": {
            "az": zone,
            "instance_state": state,
            "instance_type": mt,
            "launched_at": _stamp(_day(r, 42), r, 44),
            "instance_id": rid,
            "instance_name": name,
            "image": img[1],
            "account": project,
        },
        "nics": [
            {
                "device_index": 0,
                "network": net[1],
                "subnetwork": sub[1],
                "ip_addresses": [ip],
                "nat_ip": nat,
            }
        ],
        "disks": [
            {
                "device_index": 0,
                "size": float((10, 20, 50, 100)[r[46] & 3]),
                "volume_type": "pd-balanced" if r[47] < 180 else "pd-ssd",
                "is_boot": True,
            }
        ],
        "primary_ip_address": ip,
    }
    link = (
        f"https://console.cloud.google.com/compute/instancesDetail/zones/{zone}/instances/"
        f"{name}?project={project}"
    )
    return name, mt, core, ips, data, rid, link


def _gcp_bucket(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    purpose = ("logs", "assets", "backup", "exports", "datasets", "models", "static", "tmp")[
        r[20] & 7
    ]
    name = f"{s.account}-{app}-{purpose}-{v:08x}"
    multi = r[21] < 60
    loc = ("US", "ASIA", "EU")[r[22] % 3] if multi else s.region.upper()
    objects = (r[23] << 8 | r[24]) * (r[25] + 1)
    size = float(objects * (r[26] + 1) * 2048)
    self_link = f"https://www.googleapis.com/storage/v1/b/{name}"
    data = {
        "name": name,
        "id": name,
        "self_link": self_link,
        "project": s.account,
        "location": loc,
        "location_type": "multi-region" if multi else "region",
        "default_storage_class": ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")[
            0 if r[27] < 180 else r[27] & 3
        ],
        "time_created": _stamp(_day(r, 28), r, 30) + ".000Z",
        "versioning_enabled": r[32] < 90,
        "public_access_prevention": "enforced" if r[33] < 200 else "inherited",
        "uniform_bucket_level_access": r[34] < 210,
        "requester_pays": False,
        "retention_policy": {
            "retention_period": (0, 86400, 2592000)[r[35] % 3],
            "is_locked": False,
        },
        "lifecycle_rule": [{"action_type": "Delete", "condition_age": (30, 90, 365)[r[36] % 3]}]
        if r[37] < 140
        else [],
        "encryption": {
            "default_kms_key_name": (
                f"projects/{s.account}/locations/{s.region}/keyRings/{app}/cryptoKeys/{purpose}"
            )
            if r[38] < 60
            else ""
        },
        "object_count": objects,
        "object_total_size": size,
        "size": size,
        "links": {
            "link_url": f"https://console.cloud.google.com/storage/browser/{name}",
            "gsutil_link": f"gs://{name}",
        },
        "iam_policy_binding": [
            {
                "role": "roles/storage.objectViewer",
                "members": [f"group:{app}-readers@skyatlas.example"],
            }
        ],
    }
    link = f"https://console.cloud.google.com/storage/browser/{name}?project={s.account}"
    return name, None, size, [], data, self_link, link


def _gcp_sql(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    ver = _CLOUDSQL_VERSIONS[r[20] % 5]
    tier, cores = _CLOUDSQL_TIERS[r[21] % 5]
    name = f"{app}-{env}-{ver.split('_')[0].lower()}-{v:08x}"
    project = s.account
    self_link = f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{name}"
    net = s.vpcs[r[22] % 3]
    ip = f"{net[4][2][3]}.{r[23] % 250 + 2}"
    public = r[24] < 50
    ips = [ip]
    addrs = [{"type": "PRIVATE", "ip_address": ip}]
    if public:
        pub = _pub("google_cloud", r, 25)
        ips.append(pub)
        addrs.append({"type": "PRIMARY", "ip_address": pub})
    data = {
        "name": name,
        "connection_name": f"{project}:{s.region}:{name}",
        "database_version": ver,
        "state": "RUNNABLE" if r[28] < 235 else ("SUSPENDED", "MAINTENANCE")[r[28] & 1],
        "region": s.region,
        "gce_zone": s.azs[r[29] % 3],
        "self_link": self_link,
        "project": project,
        "instance_type": "CLOUD_SQL_INSTANCE",
        "backend_type": "SECOND_GEN",
        "ip_addresses": addrs,
        "settings": {
            "tier": tier,
            "data_disk_size_gb": (10, 50, 100, 500)[r[30] & 3],
            "data_disk_type": "PD_SSD",
            "availability_type": "REGIONAL" if env == "prod" else "ZONAL",
            "pricing_plan": "PER_USE",
            "activation_policy": "ALWAYS",
            "storage_auto_resize": True,
            "backup_configuration": {
                "enabled": r[31] < 220,
                "start_time": f"{r[32] % 24:02d}:00",
                "point_in_time_recovery_enabled": env == "prod",
            },
            "ip_configuration": {
                "ipv4_enabled": public,
                "require_ssl": r[33] < 150,
                "private_network": f"projects/{project}/global/networks/{net[1]}",
            },
            "maintenance_window": {"day": r[34] % 7 + 1, "hour": r[35] % 24},
        },
        "create_time": _stamp(_day(r, 36), r, 38) + ".000Z",
        "service_account_email_address": (
            f"p{u % 10**12}-{r[40:43].hex()}@gcp-sa-cloud-sql.iam.gserviceaccount.com"
        ),
    }
    link = f"https://console.cloud.google.com/sql/instances/{name}/overview?project={project}"
    return name, tier, float(cores), ips, data, self_link, link


def _gcp_network(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    name = f"{app}-{env}-vpc" if r[20] < 230 else "default"
    rid = str(u)
    project = s.account
    self_link = f"https://www.googleapis.com/compute/v1/projects/{project}/global/networks/{name}"
    regions = _REGIONS["google_cloud"]
    subnets = [
        {
            "name": f"{name}-{regions[(r[21] + k) % 5][0]}",
            "region": regions[(r[21] + k) % 5][0],
            "ip_cidr_range": f"10.{r[22 + k]}.{k * 16}.0/20",
            "gateway_address": f"10.{r[22 + k]}.{k * 16}.1",
            "private_ip_google_access": r[26] < 180,
        }
        for k in range(1 + r[27] % 3)
    ]
    data = {
        "id": rid,
        "name": name,
        "self_link": self_link,
        "description": f"VPC for {app} ({env})",
        "project": project,
        "auto_create_subnetworks": name == "default",
        "routing_config": {"routing_mode": "GLOBAL" if r[28] < 60 else "REGIONAL"},
        "mtu": 1460,
        "creation_timestamp": _stamp(_day(r, 29), r, 31) + ".000-07:00",
        "subnetworks": subnets,
        "subnetwork_count": len(subnets),
        "firewall_rules_count": r[33] % 20 + 2,
        "peerings": [
            {
                "name": f"{name}-to-shared",
                "network": "projects/skyatlas-shared-vpc/global/networks/shared-vpc",
                "state": "ACTIVE",
                "export_custom_routes": False,
            }
        ]
        if r[34] < 80
        else [],
    }
    link = f"https://console.cloud.google.com/networking/networks/details/{name}?project={project}"
    return name, None, None, [], data, rid, link


def _az_rid(s: _Site, rg: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{s.account}/resourceGroups/{rg}/providers/{rtype}/{name}"


def _az_link(s: _Site, rid: str) -> str:
    return f"https://portal.azure.com/#@{s.tenant}/resource{rid}/overview"


def _az_vm(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    size, core, mem = _AZ_VM_SIZES[r[20] & 7]
    img = _AZ_IMAGES[r[21] & 3]
    name = f"vm-{app}-{env}-{v:08x}"
    rg = f"rg-{app}-{env}"
    rid = _az_rid(s, rg, "Microsoft.Compute/virtualMachines", name)
    vnet = s.vpcs[r[22] % 3]
    sub = vnet[4][r[23] % 6]
    ip = f"{sub[3]}.{r[24] % 250 + 4}"
    state = _AZ_VM_STATE_T[r[25]]
    ips = [ip]
    pub = ""
    if state == "RUNNING" and r[26] < 70:
        pub = _pub("azure", r, 27)
        ips.append(pub)
    nsg = s.sgs[r[30] % 14]
    data = {
        "os": {
            "os_distro": img[0],
            "os_arch": "x86_64",
            "os_type": img[1],
            "details": img[2],
        },
        "azure": {
            "ultra_ssd_enabled": False,
            "write_accelerator_enabled": False,
            "boot_diagnostics": r[31] < 150,
            "priority": "Spot" if r[32] < 15 else "Regular",
        },
        "hardware": {"core": core, "memory": mem},
        "compute": {
            "az": s.azs[r[33] % 3],
            "instance_state": state,
            "instance_type": size,
            "launched_at": _stamp(_day(r, 34), r, 36),
            "instance_id": rid,
            "instance_name": name,
            "security_groups": [{"display": nsg[0], "id": nsg[1], "name": nsg[0]}],
            "image": img[2],
            "account": s.account,
        },
        "resource_group": {
            "resource_group_name": rg,
            "resource_group_id": rid[: rid.index("/providers")],
        },
        "vnet": {"vnet_id": vnet[0], "vnet_name": vnet[1], "cidr": vnet[3]},
        "subnet": {"subnet_id": sub[0], "subnet_name": sub[1], "cidr": sub[4]},
        "nics": [{"device_index": 0, "ip_addresses": [ip], "public_ip_address": pub}],
        "subscription": {
            "subscription_id": s.account,
            "subscription_name": f"skyatlas-{('prod', 'shared', 'dev', 'data', 'ml')[s.idx % 5]}",
        },
        "primary_ip_address": ip,
    }
    return name, size, core, ips, data, rid, _az_link(s, rid)


def _az_disk(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    sku, tier = _AZ_DISK_SKUS[r[20] % 5]
    rg = f"rg-{app}-{env}"
    vm = f"vm-{app}-{env}-{r[21:25].hex()}"
    osdisk = r[26] < 150
    name = f"{vm}_OsDisk_1_{u:016x}{r[27:35].hex()}" if osdisk else f"disk-{app}-{env}-{v:08x}"
    rid = _az_rid(s, rg, "Microsoft.Compute/disks", name)
    size = (32, 64, 128, 256, 512, 1024)[r[35] % 6]
    attached = r[36] < 200
    data = {
        "name": name,
        "id": rid,
        "location": s.region,
        "resource_group": rg,
        "managed_by": _az_rid(s, rg, "Microsoft.Compute/virtualMachines", vm) if attached else "",
        "sku": {"name": sku, "tier": tier},
        "disk_size_gb": size,
        "size": float(size * 1024**3),
        "disk_iops_read_write": (120, 240, 500, 1100, 2300, 5000)[r[35] % 6],
        "disk_m_bps_read_write": (25, 50, 100, 125, 150, 200)[r[35] % 6],
        "disk_state": "Attached" if attached else "Unattached",
        "provisioning_state": "Succeeded",
        "time_created": _stamp(_day(r, 37), r, 39) + ".0000000+00:00",
        "os_type": ("Linux" if r[41] < 200 else "Windows") if osdisk else "",
        "creation_data": {"create_option": "FromImage" if osdisk else "Empty"},
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "network_access_policy": "AllowAll",
        "zones": [s.azs[r[42] % 3]],
        "hyper_v_generation": "V2" if osdisk else "",
        "tier": f"P{(4, 6, 10, 15, 20, 30)[r[35] % 6]}",
        "bursting_enabled": False,
        "unique_id": _ruuid(r, 43),
        "subscription_id": s.account,
        "subscription_name": f"skyatlas-{('prod', 'shared', 'dev', 'data', 'ml')[s.idx % 5]}",
    }
    return name, sku, float(size), [], data, rid, _az_link(s, rid)


def _az_storage(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    # storage account names: 3-24 lowercase letters and digits, globally unique
    name = f"st{app.replace('-', '')[:10]}{env[:4]}{v:08x}"
    rg = f"rg-{app}-{env}"
    rid = _az_rid(s, rg, "Microsoft.Storage/storageAccounts", name)
    sku = ("Standard_LRS", "Standard_GRS", "Standard_ZRS", "Premium_LRS", "Standard_RAGRS")[
        r[20] % 5
    ]
    kind = "StorageV2" if r[21] < 220 else "BlobStorage"
    base = f"https://{name}"
    data = {
        "name": name,
        "id": rid,
        "location": s.region,
        "resource_group": rg,
        "kind": kind,
        "sku": {"name": sku, "tier": sku.split("_")[0]},
        "access_tier": "Hot" if r[22] < 200 else "Cool",
        "provisioning_state": "Succeeded",
        "creation_time": _stamp(_day(r, 23), r, 25) + ".0000000Z",
        "primary_location": s.region,
        "status_of_primary": "available",
        "enable_https_traffic_only": True,
        "minimum_tls_version": "TLS1_2" if r[27] < 230 else "TLS1_0",
        "allow_blob_public_access": r[28] < 20,
        "is_hns_enabled": r[29] < 50,
        "encryption": {
            "key_source": "Microsoft.Storage" if r[30] < 220 else "Microsoft.Keyvault",
            "services": {"blob_enabled": True, "file_enabled": True},
        },
        "network_acls": {
            "default_action": "Deny" if r[31] < 120 else "Allow",
            "bypass": "AzureServices",
        },
        "primary_endpoints": {
            "blob": f"{base}.blob.core.windows.net/",
            "file": f"{base}.file.core.windows.net/",
            "queue": f"{base}.queue.core.windows.net/",
            "table": f"{base}.table.core.windows.net/",
            "dfs": f"{base}.dfs.core.windows.net/",
        },
        "container_count": r[32] % 40,
        "blob_count": (r[33] << 8 | r[34]) * (r[35] + 1),
        "subscription_id": s.account,
        "subscription_name": f"skyatlas-{('prod', 'shared', 'dev', 'data', 'ml')[s.idx % 5]}",
    }
    return name, sku, None, [], data, rid, _az_link(s, rid)


def _az_sql(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    sku, tier, cap = _AZ_SQL_SKUS[r[20] % 6]
    server = f"sql-{app}-{env}-{s.region}"
    name = f"sqldb-{app}-{env}-{v:08x}"
    rg = f"rg-{app}-{env}"
    rid = _az_rid(s, rg, f"Microsoft.Sql/servers/{server}/databases", name)
    created = _day(r, 21)
    data = {
        "name": name,
        "id": rid,
        "location": s.region,
        "resource_group": rg,
        "server_name": server,
        "sku": {"name": sku, "tier": tier, "capacity": cap},
        "status": "Online" if r[23] < 230 else "Paused",
        "database_id": _ruuid(r, 24),
        "collation": "SQL_Latin1_General_CP1_CI_AS" if r[40] < 200 else "Korean_Wansung_CI_AS",
        "max_size_bytes": (32, 250, 1024)[r[41] % 3] * 1024**3,
        "creation_date": _stamp(created, r, 42) + ".000Z",
        "earliest_restore_date": _stamp(created + 7, r, 42) + ".000Z",
        "current_service_objective_name": sku,
        "zone_redundant": env == "prod" and r[44] < 128,
        "read_scale": "Enabled" if tier == "BusinessCritical" else "Disabled",
        "default_secondary_location": "koreasouth" if s.region == "koreacentral" else "westus",
        "backup_storage_redundancy": "Geo" if env == "prod" else "Local",
        "auto_pause_delay": 60 if "_S_" in sku else -1,
        "license_type": "LicenseIncluded",
        "pricing_tier_display": f"{tier}: {sku} ({cap} vCores)",
        "server": {
            "fully_qualified_domain_name": f"{server}.database.windows.net",
            "version": "12.0",
            "administrator_login": "sqladmin",
        },
        "subscription_id": s.account,
        "subscription_name": f"skyatlas-{('prod', 'shared', 'dev', 'data', 'ml')[s.idx % 5]}",
    }
    return name, sku, float(cap), [], data, rid, _az_link(s, rid)


def _kc_id(u: int, r: bytes, k: int) -> str:
    """KakaoCloud (OpenStack) uuid: 8-4-4-4-12, the 64 bits of u spread over the last 16 digits."""
    x = f"{u:016x}"
    h = r[k : k + 8].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:]}-{x[:4]}-{x[4:]}"


def _ruuid(r: bytes, k: int) -> str:
    """A uuid-shaped string from 16 random bytes r[k : k + 16] (not unique: for references)."""
    h = r[k : k + 16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def _kc_link(kind: str, region: str, rid: str) -> str:
    return f"https://console.kakaocloud.com/service/{kind}/{rid}?region={region}"


def _kc_vm(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    fl, core, mem = _KC_FLAVORS[r[20] & 7]
    img = _KC_IMAGES[r[21] % 5]
    rid = _kc_id(u, r, 22)
    name = f"{app}-{_COMPONENTS[r[30] % 9]}-{env}-{r[31] % 40 + 1:02d}"
    vpc = s.vpcs[r[32] % 3]
    sub = vpc[4][r[33] % 6]
    ip = f"{sub[3]}.{r[34] % 250 + 4}"
    state = _KC_VM_STATE_T[r[35]]
    ips = [ip]
    fip = ""
    if state == "ACTIVE" and r[36] < 60:
        fip = _pub("kakaocloud", r, 37)
        ips.append(fip)
    sg = s.sgs[r[40] % 14]
    d = _day(r, 41)
    data = {
        "id": rid,
        "name": name,
        "status": state,
        "power_state": "Running" if state == "ACTIVE" else "Shutdown",
        "flavor": {"name": fl, "vcpus": core, "ram": mem, "disk": 0},
        "image": {
            "id": _ruuid(r, 43),
            "name": img[1],
        },
        "os": {"os_distro": img[0], "os_type": "WINDOWS" if img[0] == "windows" else "LINUX"},
        "availability_zone": sub[2],
        "key_name": f"{app}-keypair" if r[59] < 200 else "",
        "created_at": _stamp(d, r, 60) + "Z",
        "updated_at": _stamp(d + r[62] % 120, r, 63) + "Z",
        "addresses": [
            {
                "private_ip": ip,
                "public_ip": fip,
                "network_id": vpc[0],
                "subnet_id": sub[0],
                "subnet_name": sub[1],
            }
        ],
        "security_groups": [{"id": sg[1], "name": sg[0]}],
        "volumes": [
            {"id": _kc_id(u ^ 0x5A5A, r, 65), "size": (50, 100, 200)[r[73] % 3], "is_root": True}
        ],
        "hardware": {"core": core, "memory": mem},
        "is_hyperthreading": r[74] < 200,
        "project_id": s.account,
        "primary_ip_address": ip,
    }
    link = _kc_link("bcs/vm/instance", s.region, rid)
    return name, fl, core, ips, data, rid, link


def _kc_volume(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    rid = _kc_id(u, r, 20)
    size = (20, 50, 100, 200, 500, 1000, 2000)[r[28] % 7]
    attached = r[29] < 200
    boot = attached and r[30] < 140
    name = f"{app}-{env}-{'root' if boot else 'data'}-{r[31] % 40 + 1:02d}"
    d = _day(r, 32)
    vtype = "SSD" if r[34] < 200 else "HDD"
    data = {
        "id": rid,
        "name": name,
        "size": size,
        "status": "in-use" if attached else "available",
        "volume_type": vtype,
        "availability_zone": s.azs[r[35] % 3],
        "bootable": boot,
        "encrypted": r[36] < 120,
        "multiattach": False,
        "created_at": _stamp(d, r, 37) + "Z",
        "updated_at": _stamp(d + r[39] % 60, r, 40) + "Z",
        "attachments": [
            {
                "server_id": _ruuid(r, 42),
                "server_name": f"{app}-{_COMPONENTS[r[58] % 9]}-{env}-{r[59] % 40 + 1:02d}",
                "device": "/dev/vda" if boot else "/dev/vdb",
                "attached_at": _stamp(d, r, 37) + "Z",
            }
        ]
        if attached
        else [],
        "snapshot_id": "",
        "image_id": "",
        "iops": 3000 if vtype == "SSD" else 500,
        "throughput": 125 if vtype == "SSD" else 40,
        "description": f"{app} {env} volume",
        "project_id": s.account,
        "region": s.region,
    }
    link = _kc_link("bcs/volume", s.region, rid)
    return name, vtype, float(size), [], data, rid, link


def _kc_k8s(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    rid = _kc_id(u, r, 20)
    name = f"{app}-{env}-k8s-{v:08x}"
    vpc = s.vpcs[r[28] % 3]
    subs = vpc[4]
    ver = _K8S_VERSIONS[r[29] & 3]
    d = _day(r, 30)
    pools = [
        {
            "name": ("default-pool", "gpu-pool", "batch-pool")[k],
            "flavor": _KC_FLAVORS[(r[32 + k] & 7) if k != 1 else 7][0],
            "node_count": r[35 + k] % 10 + 1,
            "volume_size": 100,
            "status": "Running",
            "autoscaling": {"enabled": r[38 + k] < 128, "min_nodes": 1, "max_nodes": 10},
        }
        for k in range(1 + r[41] % 3)
    ]
    data = {
        "id": rid,
        "name": name,
        "status": "Provisioned" if r[42] < 240 else ("Provisioning", "Failed")[r[42] & 1],
        "version": ver,
        "created_at": _stamp(d, r, 43) + "Z",
        "description": f"{app} {env} cluster",
        "network": {
            "vpc_id": vpc[0],
            "subnets": [
                {"id": subs[2][0], "cidr": subs[2][4], "availability_zone": subs[2][2]},
                {"id": subs[3][0], "cidr": subs[3][4], "availability_zone": subs[3][2]},
            ],
            "pod_cidr": "172.16.0.0/16",
            "service_cidr": "172.17.0.0/16",
            "cni": "calico" if r[45] < 150 else "cilium",
        },
        "control_plane_endpoint": {
            "host": f"{rid[:8]}.k8s.{s.region}.kakaocloud.com",
            "port": 443,
        },
        "is_allocate_fip": r[46] < 40,
        "node_pools": pools,
        "node_count": sum(p["node_count"] for p in pools),
        "creator_info": {"id": r[47:55].hex(), "name": _CREATORS[r[55] % 11]},
        "project_id": s.account,
    }
    link = _kc_link("container-pack/kubernetes-engine/cluster", s.region, rid)
    return name, ver, float(data["node_count"]), [], data, rid, link


def _kc_bucket(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    purpose = ("logs", "assets", "backup", "archive", "data", "media", "static", "tmp")[r[20] & 7]
    name = f"{app}-{purpose}-{env}-{v:08x}"
    objects = (r[21] << 8 | r[22]) * (r[23] + 1)
    size = float(objects * (r[24] + 1) * 1024)
    enc = r[25] < 150
    data = {
        "name": name,
        "type": "STANDARD" if purpose != "archive" else "ARCHIVE",
        "created_at": _stamp(_day(r, 26), r, 28) + "Z",
        "bytes": size,
        "object_count": objects,
        "use_encryption": enc,
        "encryption_type": "SSE-S3" if enc else "",
        "acl": {"public_read": purpose in ("static", "media") and r[30] < 128, "allowed_ips": []},
        "versioning": r[31] < 60,
        "lifecycle": {"enabled": r[32] < 100, "expiration_days": (30, 90, 365)[r[33] % 3]},
        "replication": {"enabled": r[34] < 20, "target_region": "kr-central-1"},
        "owner": s.account,
        "region": s.region,
        "endpoint": f"https://objectstorage.{s.region}.kakaocloud.com/v1/{s.account}/{name}",
        "s3_endpoint": f"https://objectstorage.{s.region}.kakaocloud.com/{name}",
        "quota": {"max_bytes": 0, "max_objects": 0},
        "cors": {"enabled": purpose == "static", "allowed_origins": ["https://skyatlas.example"]},
        "project_id": s.account,
    }
    link = _kc_link("object-storage/bucket", s.region, name)
    return name, data["type"], size, [], data, name, link


def _kc_vpc(i: int, r: bytes, u: int, v: int, s: _Site, app: str, env: str) -> _Out:
    rid = _kc_id(u, r, 20)
    name = f"{app}-{env}-vpc"
    second = r[28]
    cidr = f"10.{second}.0.0/16"
    d = _day(r, 29)
    subnets = [
        {
            "id": _ruuid(r, 80 + k * 16),
            "name": f"{name}-{('public', 'private', 'db')[k]}",
            "cidr": f"10.{second}.{k * 16}.0/20",
            "availability_zone": s.azs[k],
            "status": "ACTIVE",
        }
        for k in range(1 + r[55] % 3)
    ]
    data = {
        "id": rid,
        "name": name,
        "cidr_block": cidr,
        "status": "ACTIVE",
        "is_default": r[56] < 20,
        "created_at": _stamp(d, r, 57) + "Z",
        "updated_at": _stamp(d + r[59] % 30, r, 60) + "Z",
        "subnets": subnets,
        "route_tables": [{"id": f"rt-{r[62:70].hex()}", "name": f"{name}-main", "is_main": True}],
        "internet_gateway": {"id": f"igw-{r[70:78].hex()}", "status": "AVAILABLE"},
        "nat_gateway_enabled": r[78] < 128,
        "project_id": s.account,
        "region": s.region,
    }
    link = _kc_link("vpc/vpc", s.region, rid)
    return name, None, None, [], data, rid, link


# --------------------------------------------------------------------------------------------
# Type catalogue
# --------------------------------------------------------------------------------------------


class _Spec:
    __slots__ = (
        "build",
        "group",
        "is_major",
        "is_primary",
        "labels",
        "provider",
        "region_global",
        "search",
        "type",
        "weight",
    )

    def __init__(
        self,
        provider: str,
        group: str,
        type_: str,
        weight: int,
        build: Callable[..., _Out],
        labels: list[str],
        search: list[tuple[str, str]],
        *,
        primary: bool = False,
        major: bool = False,
        region_global: bool = False,
    ) -> None:
        self.provider = provider
        self.group = group
        self.type = type_
        self.weight = weight  # per mille of all records
        self.build = build
        self.labels = labels
        self.search = search
        self.is_primary = primary
        self.is_major = major
        self.region_global = region_global


_VM_SEARCH = [
    ("data.compute.instance_state", "Instance State"),
    ("data.compute.instance_type", "Instance Type"),
    ("data.compute.az", "Availability Zone"),
    ("data.os.os_distro", "OS Distro"),
    ("data.primary_ip_address", "IP Address"),
]

_SPECS: tuple[_Spec, ...] = (
    _Spec("aws", "EC2", "Instance", 140, _aws_ec2_instance, ["Compute", "Server"],
          [*_VM_SEARCH, ("data.aws.ami_id", "AMI ID"), ("data.vpc.vpc_id", "VPC ID")],
          primary=True, major=True),
    _Spec("aws", "EC2", "SecurityGroup", 60, _aws_sg, ["Security", "Networking"],
          [("data.group_id", "Group ID"), ("data.group_name", "Group Name"),
           ("data.vpc_id", "VPC ID")]),
    _Spec("aws", "EC2", "Volume", 80, _aws_volume, ["Storage", "Block Storage"],
          [("data.volume_type", "Volume Type"), ("data.state", "State"), ("data.size", "Size"),
           ("data.encrypted", "Encrypted")], major=True),
    _Spec("aws", "VPC", "VPC", 15, _aws_vpc, ["Networking"],
          [("data.vpc_id", "VPC ID"), ("data.cidr_block", "CIDR"), ("data.state", "State")],
          primary=True),
    _Spec("aws", "VPC", "Subnet", 35, _aws_subnet, ["Networking"],
          [("data.subnet_id", "Subnet ID"), ("data.cidr_block", "CIDR"),
           ("data.availability_zone", "AZ"), ("data.subnet_type", "Subnet Type")]),
    _Spec("aws", "S3", "Bucket", 30, _aws_s3, ["Storage", "Object Storage"],
          [("data.region_name", "Region"), ("data.versioning.status", "Versioning"),
           ("data.object_count", "Object Count")], primary=True, major=True),
    _Spec("aws", "RDS", "Instance", 20, _aws_rds, ["Database"],
          [("data.engine", "Engine"), ("data.db_instance_status", "Status"),
           ("data.db_instance_class", "Class"), ("data.multi_az", "Multi AZ")],
          primary=True, major=True),
    _Spec("aws", "Lambda", "Function", 30, _aws_lambda, ["Compute", "Serverless"],
          [("data.runtime", "Runtime"), ("data.state", "State"), ("data.memory_size", "Memory")],
          primary=True),
    _Spec("aws", "ELB", "LoadBalancer", 15, _aws_elb, ["Networking"],
          [("data.type", "Type"), ("data.scheme", "Scheme"), ("data.state.code", "State"),
           ("data.dns_name", "DNS Name")], primary=True),
    _Spec("aws", "IAM", "User", 10, _aws_iam_user, ["Security"],
          [("data.user_name", "User Name"), ("data.mfa_device_count", "MFA Devices"),
           ("data.access_key_count", "Access Keys")], region_global=True),
    _Spec("aws", "IAM", "Role", 15, _aws_iam_role, ["Security"],
          [("data.role_name", "Role Name"),
           ("data.trust_policy.principal_service", "Trusted Service")], region_global=True),
    _Spec("google_cloud", "ComputeEngine", "Instance", 100, _gcp_instance, ["Compute", "Server"],
          [*_VM_SEARCH, ("data.google_cloud.is_managed_instance", "Managed Instance")],
          primary=True, major=True),
    _Spec("google_cloud", "CloudStorage", "Bucket", 50, _gcp_bucket, ["Storage"],
          [("data.location", "Location"), ("data.default_storage_class", "Storage Class"),
           ("data.object_count", "Object Count")], primary=True, major=True),
    _Spec("google_cloud", "CloudSQL", "Instance", 30, _gcp_sql, ["Database"],
          [("data.database_version", "Version"), ("data.state", "State"),
           ("data.settings.tier", "Tier")], primary=True, major=True),
    _Spec("google_cloud", "VPC", "Network", 20, _gcp_network, ["Networking"],
          [("data.routing_config.routing_mode", "Routing Mode"),
           ("data.subnetwork_count", "Subnetworks")], primary=True),
    _Spec("azure", "VirtualMachines", "Instance", 80, _az_vm, ["Compute", "Server"],
          [*_VM_SEARCH, ("data.resource_group.resource_group_name", "Resource Group")],
          primary=True, major=True),
    _Spec("azure", "Disks", "Disk", 60, _az_disk, ["Storage"],
          [("data.disk_state", "Disk State"), ("data.sku.name", "SKU"),
           ("data.disk_size_gb", "Size (GB)")], primary=True, major=True),
    _Spec("azure", "StorageAccounts", "StorageAccount", 35, _az_storage, ["Storage"],
          [("data.kind", "Kind"), ("data.sku.name", "SKU"), ("data.access_tier", "Access Tier")],
          primary=True),
    _Spec("azure", "SQLDatabases", "Database", 25, _az_sql, ["Database"],
          [("data.status", "Status"), ("data.sku.tier", "Tier"),
           ("data.server_name", "Server")], primary=True, major=True),
    _Spec("kakaocloud", "Virtual Machine", "Instance", 60, _kc_vm, ["Compute", "Server"],
          [("data.status", "Status"), ("data.flavor.name", "Flavor"),
           ("data.availability_zone", "Availability Zone"),
           ("data.primary_ip_address", "IP Address")], primary=True, major=True),
    _Spec("kakaocloud", "Virtual Machine", "Volume", 40, _kc_volume, ["Storage"],
          [("data.status", "Status"), ("data.volume_type", "Volume Type"), ("data.size", "Size")]),
    _Spec("kakaocloud", "Kubernetes Engine", "Cluster", 15, _kc_k8s, ["Container", "Compute"],
          [("data.status", "Status"), ("data.version", "Version"),
           ("data.node_count", "Nodes")], primary=True, major=True),
    _Spec("kakaocloud", "Object Storage", "Bucket", 20, _kc_bucket, ["Storage"],
          [("data.type", "Type"), ("data.object_count", "Object Count")], primary=True),
    _Spec("kakaocloud", "VPC", "VPC", 15, _kc_vpc, ["Networking"],
          [("data.cidr_block", "CIDR"), ("data.status", "Status")], primary=True),
)  # fmt: skip
assert sum(s.weight for s in _SPECS) == 1000


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def cloud_service_types() -> list[dict[str, Any]]:
    """Every (provider, group, type) the generator emits, as cloud-service-type create bodies.

    Registered before loading records so that the console can list types, show their search
    keys and labels; `metadata.search` only names keys every record of the type carries.
    """
    return [
        {
            "name": s.type,
            "group": s.group,
            "provider": s.provider,
            "is_primary": s.is_primary,
            "is_major": s.is_major,
            "resource_type": "inventory.CloudService",
            "metadata": {"search": [{"key": k, "name": n} for k, n in s.search]},
            "labels": list(s.labels),
            "tags": {},
        }
        for s in _SPECS
    ]


def accounts(provider: str) -> list[str]:
    """The provider's fixed account ids (AWS account ids, GCP project ids, Azure subscriptions,
    KakaoCloud project ids); the first of each is the demo organisation's service account."""
    return list(_ACCOUNTS[provider])


def regions(provider: str) -> list[tuple[str, str]]:
    """(region_code, display name) of every region the provider's records use, so a loader can
    create the region records first. AWS also lists `global`, where IAM resources live."""
    out = [(code, name) for code, name, _ in _REGIONS[provider]]
    if provider == "aws":
        out.append(_GLOBAL)
    return out


def _key(seed: int, salt: str, bits: int) -> int:
    h = hashlib.blake2b(f"{seed}/{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << bits) - 1)


def generate_cloud_services(
    count: int, *, seed: int = 0, project_ids: Sequence[str] = (), start: int = 0
) -> Iterator[dict[str, Any]]:
    """Yield `count` cloud-service create bodies, deterministic for (seed, index).

    Record i is always the same, so `generate_cloud_services(n, start=k)` yields records
    k .. k+n-1 of the same stream: a benchmark can split the work across processes.
    Resource ids are unique within a stream for the first 2**32 records.

    Each body is a fresh dict (callers may mutate it). `project_id` is only set when
    `project_ids` is given: an account's resources mostly go to one project (as a service
    account maps to a project), about 1 in 6 to another one.
    """
    if count < 0 or start < 0:
        raise ValueError("count and start must be >= 0")
    table = _pools().type_table
    projects = tuple(project_ids)
    n_projects = len(projects)
    k64 = _key(seed, "u64", 64)
    k32 = _key(seed, "u32", 32)
    apps = _APPS
    n_apps = len(apps)
    env_t = _ENV_T
    tags = _tags
    i = start
    end = start + count
    while i < end:
        block = i // _BLOCK
        base = block * _BLOCK
        blob = hashlib.shake_128(b"skyatlas-generator/%d/%d" % (seed, block)).digest(_BLOCK * _R)
        stop = min(end, base + _BLOCK)
        for j in range(i, stop):
            off = (j - base) * _R
            r = blob[off : off + _R]
            prov, group, typ, build, sites = table[r[0] << 8 | r[1]]
            s = sites[r[2]][r[3]]
            # bijective scrambles of j: unique ids without a registry of used ones
            u = ((j ^ k64) * 0x9E3779B97F4A7C15) & _M64
            u ^= u >> 31
            u = (u * 0xBF58476D1CE4E5B9) & _M64
            u ^= u >> 29
            v = ((j ^ k32) * 0x9E3779B1) & _M32
            v ^= v >> 15
            v = (v * 0x85EBCA6B) & _M32
            v ^= v >> 13
            app, team = apps[r[4] % n_apps]
            if r[15] < 20:  # shared services: a team also runs a few apps it does not own
                team = _TEAMS[r[16] & 7]
            env = env_t[r[5]]
            name, itype, isize, ips, data, rid, link = build(j, r, u, v, s, app, env)
            body: dict[str, Any] = {
                "provider": prov,
                "cloud_service_group": group,
                "cloud_service_type": typ,
                "name": name,
                "account": s.account,
            }
            if itype is not None:
                body["instance_type"] = itype
            if isize is not None:
                body["instance_size"] = isize
            body["ip_addresses"] = ips
            body["region_code"] = s.region
            body["data"] = data
            body["metadata"] = {}
            body["reference"] = {"resource_id": rid, "external_link": link}
            body["tags"] = {prov: tags(r, name, app, env, team)}
            if n_projects:
                pick = s.idx if r[17] >= 40 else s.idx + r[18]
                body["project_id"] = projects[pick % n_projects]
            yield body
        i = stop
