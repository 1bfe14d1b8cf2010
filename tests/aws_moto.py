"""A fake AWS account for tests: moto's server on 127.0.0.1 plus a deterministic inventory.

Tests of the `aws` collector (and end-to-end tests of collection) need a cloud that answers like
AWS, holds a few hundred resources across two regions and can be told exactly what it holds, so
that a test compares what was collected against what exists instead of against a guess.

moto keeps its state per *process*, not per server: every server started in one process (and
every `mock_aws` there) sees the same accounts. `reset` wipes all of it; `seed` assumes a wiped
state. Under pytest-xdist each worker is its own process, so workers do not see each other.

API (everything else here is private):

* ``moto_server()`` — context manager; starts a server on a free port of 127.0.0.1, yields its
  endpoint URL (``http://127.0.0.1:<port>``), stops it on exit.
* ``reset(endpoint_url)`` — forget every resource of every account.
* ``seed(endpoint_url, regions=REGIONS)`` — create the inventory; returns a summary (see `seed`).
* ``terminate(endpoint_url, region, instance_ids)`` — terminate instances (to test the reconcile).
* ``iam_auth(endpoint_url)`` — context manager; inside it moto checks credentials and IAM
  policies (only keys created in moto's IAM work then, not ``CREDENTIALS``).
* ``failing_proxy(endpoint_url, *, service, region, code="AccessDenied")`` — context manager;
  yields the URL of a proxy to moto that fails every call of one service in one region.
* Constants: ``ACCOUNT_ID`` (moto's default account), ``REGIONS`` (the seeded regions),
  ``CREDENTIALS`` (a secret moto accepts, in the collector's key names), ``TYPES`` (the
  ``"Group.Type"`` keys of the summary).

A collector secret for moto is ``CREDENTIALS``; point the collector at the server with its
``endpoint_url`` option (or the ``AWS_ENDPOINT_URL`` environment variable).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import socket
import threading
import zipfile
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

ACCOUNT_ID = "123456789012"  # moto's default account
REGIONS = ("us-east-1", "ap-northeast-2")
#: Credentials moto accepts while IAM authentication is off (its default).
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# AMIs moto ships in every region (moto/ec2/resources/amis.json.gz).
_AMIS = {
    "linux": "ami-760aaa0f",  # amzn-ami-hvm-2017.09.1...
    "ubuntu": "ami-785db401",  # ubuntu/images/hvm-ssd/ubuntu-xenial-16.04...
    "windows": "ami-03cf127a",  # Windows_Server-2016-English-Nano-Base...
}
_APPS = ("billing", "search", "checkout", "catalog", "auth")
_COMPONENTS = ("api", "worker", "web", "batch", "cache")
_ENVS = ("prod", "dev", "stage")
_TEAMS = ("platform", "payments", "data", "growth")
_CREATORS = ("terraform", "wonny", "minji", "cdk")
_INSTANCE_TYPES = ("t3.micro", "t3.small", "m5.large", "c5.xlarge", "r5.large")
#: Instances per region: (single-instance reservations, three-instance reservations). More than
#: 100 reservations in us-east-1 makes moto return describe_instances in several pages.
_RESERVATIONS = {"us-east-1": (112, 2), "ap-northeast-2": (40, 2)}
_VOLUMES_PER_REGION = 20


def _client(service: str, region: str, endpoint_url: str) -> Any:
    config = Config(retries={"mode": "standard", "max_attempts": 3})
    return boto3.client(
        service, region_name=region, endpoint_url=endpoint_url, config=config, **CREDENTIALS
    )


def _http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never send 127.0.0.1 through a proxy from the environment
    return session


# ----------------------------------------------------------------------------------------------
# Server
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1 for the duration of the block; yields
    ``http://127.0.0.1:<port>``. Port 0 lets the OS pick, so parallel workers never collide."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset(endpoint_url: str) -> None:
    """Forget every resource of every account (moto's state is per process)."""
    _http().post(f"{endpoint_url}/moto-api/reset", timeout=30).raise_for_status()


@contextlib.contextmanager
def iam_auth(endpoint_url: str) -> Iterator[None]:
    """Inside the block moto authenticates every request (unknown access key →
    InvalidClientTokenId/AuthFailure, wrong secret → SignatureDoesNotMatch) and enforces the
    IAM policies of the caller; only access keys created in moto's IAM work. Restored after."""
    url = f"{endpoint_url}/moto-api/reset-auth"
    answer = _http().post(url, data=b"0", timeout=30)
    answer.raise_for_status()
    previous = answer.json().get("PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT", "inf")
    try:
        yield
    finally:
        _http().post(url, data=str(previous).encode(), timeout=30).raise_for_status()


# ----------------------------------------------------------------------------------------------
# A proxy that fails one service in one region
# ----------------------------------------------------------------------------------------------


def _error_response(service: str, code: str, message: str) -> tuple[dict[str, str], bytes]:
    """An error body in the wire protocol the service speaks, so botocore parses the code."""
    if service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            "</Errors><RequestID>skyatlas-test</RequestID></Response>"
        )
        return {"Content-Type": "text/xml"}, body.encode()
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        return {"Content-Type": "application/xml"}, body.encode()
    if service == "lambda":
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
        return headers, json.dumps({"message": message}).encode()
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
        "</Message></Error><RequestId>skyatlas-test</RequestId></ErrorResponse>"
    )
    return {"Content-Type": "text/xml"}, body.encode()


@contextlib.contextmanager
def failing_proxy(
    endpoint_url: str, *, service: str, region: str, code: str = "AccessDenied"
) -> Iterator[str]:
    """A proxy in front of moto that answers HTTP 403 `code` to every request signed for
    `service` in `region` (read from the SigV4 credential scope) and forwards everything else.
    Yields its endpoint URL. Use it as the collector's endpoint to test a per-region failure."""
    target = urlsplit(endpoint_url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and
            # the client's delayed ACK stall every kept-alive response by ~40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            scope = self.headers.get("Authorization", "").split("Credential=", 1)[-1]
            parts = scope.split(",", 1)[0].split("/")
            if len(parts) >= 4 and parts[2] == region and parts[3] == service:
                headers, payload = _error_response(service, code, "denied by failing_proxy")
                self.send_response(403)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                fwd = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=fwd)
                answer = conn.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ----------------------------------------------------------------------------------------------
# Seed
# ----------------------------------------------------------------------------------------------

#: (group.type) keys of the summary, in the collector's order.
TYPES = (
    "EC2.Instance",
    "EC2.SecurityGroup",
    "EC2.Volume",
    "VPC.VPC",
    "VPC.Subnet",
    "S3.Bucket",
    "RDS.Instance",
    "Lambda.Function",
    "ELB.LoadBalancer",
    "IAM.User",
    "IAM.Role",
)


def _tags(name: str | None, n: int) -> list[dict[str, str]]:
    """Name (unless None), env, team, Created_by; the values cycle with n."""
    tags = [
        {"Key": "env", "Value": _ENVS[n % len(_ENVS)]},
        {"Key": "team", "Value": _TEAMS[n % len(_TEAMS)]},
        {"Key": "Created_by", "Value": _CREATORS[n % len(_CREATORS)]},
    ]
    if name is not None:
        tags.insert(0, {"Key": "Name", "Value": name})
    return tags


def _flat(tags: Sequence[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _tag_spec(resource_type: str, tags: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": list(tags)}]


def _perm(
    proto: str,
    port: int | None,
    to: int | None = None,
    *,
    cidr: str | None = None,
    cidr_v6: str | None = None,
    group: str | None = None,
    desc: str | None = None,
) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": proto}
    if port is not None:
        perm["FromPort"] = port
        perm["ToPort"] = to if to is not None else port
    if cidr:
        perm["IpRanges"] = [{"CidrIp": cidr, **({"Description": desc} if desc else {})}]
    if cidr_v6:
        perm["Ipv6Ranges"] = [{"CidrIpv6": cidr_v6}]
    if group:
        perm["UserIdGroupPairs"] = [{"GroupId": group}]
    return perm


def _lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", "def handler(event, context):\n    return {'ok': True}\n")
    return buf.getvalue()


class _Seeder:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.created: dict[str, dict[str, list[str]]] = {t: {} for t in TYPES}
        self.names: dict[str, str] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.terminated: dict[str, list[str]] = {}
        self.stopped: dict[str, list[str]] = {}
        self.protected: list[str] = []
        self.sg_users: dict[str, list[str]] = {}
        self.lb_targets: dict[str, list[str]] = {}
        self.role_arns: dict[str, str] = {}

    def client(self, service: str, region: str) -> Any:
        return _client(service, region, self.endpoint_url)

    def add(
        self, key: str, region: str, rid: str, tags: Sequence[dict[str, str]], natural: str
    ) -> None:
        flat = _flat(tags)
        self.created[key].setdefault(region, []).append(rid)
        self.names[rid] = flat.get("Name") or natural
        self.tags[rid] = flat

    # -- global ---------------------------------------------------------------------------------

    def iam(self) -> None:
        iam = self.client("iam", "us-east-1")
        policy = iam.create_policy(
            PolicyName="skyatlas-read",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
                }
            ),
        )["Policy"]["Arn"]
        services = ("ec2", "lambda", "ecs-tasks", "states", "events", "eks", "glue", "batch")
        for n, svc in enumerate(services):
            name = f"skyatlas-{svc}-role"
            doc = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": f"{svc}.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            tags = _tags(f"role {svc}" if n % 2 == 0 else None, n)
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(doc),
                Description=f"Assumed by {svc}",
                Tags=tags,
            )["Role"]
            iam.attach_role_policy(RoleName=name, PolicyArn=policy)
            self.role_arns[svc] = role["Arn"]
            self.add("IAM.Role", "global", role["Arn"], tags, name)
        iam.create_instance_profile(InstanceProfileName="skyatlas-ec2-profile")
        iam.add_role_to_instance_profile(
            InstanceProfileName="skyatlas-ec2-profile", RoleName="skyatlas-ec2-role"
        )
        for n in range(12):
            name = f"user{n:02d}.skyatlas" if n < 8 else f"svc-deploy-{n:02d}"
            tags = _tags(f"User {n}" if n % 3 == 0 else None, n)
            user = iam.create_user(UserName=name, Tags=tags)["User"]
            for _ in range(n % 3):
                iam.create_access_key(UserName=name)
            if n < 8:
                iam.create_login_profile(UserName=name, Password="Skyatlas-Test-1!")
            iam.attach_user_policy(UserName=name, PolicyArn=policy)
            self.add("IAM.User", "global", user["Arn"], tags, name)

    # -- one region -----------------------------------------------------------------------------

    def region(self, region: str, ri: int) -> None:
        ec2 = self.client("ec2", region)
        ec2.create_key_pair(KeyName="skyatlas-key")
        net = self.network(ec2, region, ri)
        instances = self.instances(ec2, region, net)
        self.volumes(ec2, region, instances)
        self.load_balancers(region, net, instances)
        self.databases(region)
        self.functions(region)
        self.buckets(region)

    def network(self, ec2: Any, region: str, ri: int) -> dict[str, dict[str, str]]:
        """2 VPCs with 3 subnets each (the first public), an internet gateway, 9 groups."""
        out: dict[str, dict[str, str]] = {"subnets": {}, "sgs": {}, "vpcs": {}}
        for v, label in enumerate(("main", "shared")):
            tags = _tags(f"{label}-vpc", ri * 2 + v)
            cidr = f"10.{20 + ri * 2 + v}.0.0/16"
            vid = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_tag_spec("vpc", tags))["Vpc"][
                "VpcId"
            ]
            out["vpcs"][label] = vid
            self.add("VPC.VPC", region, vid, tags, vid)
            igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
            rtb = ec2.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
            ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            prefix = cidr.rsplit(".", 2)[0]
            for k, zone in enumerate("abc"):
                tier = "public" if k == 0 else "private"
                tags = _tags(f"{label}-{tier}-{zone}" if k < 2 else None, k + v)
                sid = ec2.create_subnet(
                    VpcId=vid,
                    CidrBlock=f"{prefix}.{k * 16}.0/20",
                    AvailabilityZone=f"{region}{zone}",
                    TagSpecifications=_tag_spec("subnet", tags),
                )["Subnet"]["SubnetId"]
                if tier == "public":
                    ec2.associate_route_table(RouteTableId=rtb, SubnetId=sid)
                    ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
                out["subnets"][f"{label}-{k}"] = sid
                self.add("VPC.Subnet", region, sid, tags, sid)
        main = out["vpcs"]["main"]
        specs: list[tuple[str, str, list[dict[str, Any]]]] = [
            (
                "web-sg",
                main,
                [_perm("tcp", 443, cidr="0.0.0.0/0"), _perm("tcp", 80, cidr="0.0.0.0/0")],
            ),
            ("bastion-sg", main, [_perm("tcp", 22, cidr="203.0.113.0/24", desc="office")]),
            ("app-sg", main, []),
            ("db-sg", main, [_perm("tcp", 3306, cidr="10.0.0.0/8")]),
            ("cache-sg", main, [_perm("tcp", 6379, cidr="10.20.0.0/16")]),
            ("unused-sg-1", main, [_perm("udp", 53, cidr="10.0.0.0/8")]),
            ("unused-sg-2", main, [_perm("-1", None, cidr="192.0.2.0/24")]),
            ("unused-sg-3", main, [_perm("tcp", 8000, 8100, cidr_v6="2001:db8::/32")]),
            ("shared-sg", out["vpcs"]["shared"], [_perm("tcp", 443, cidr="10.0.0.0/8")]),
        ]
        for n, (name, vid, perms) in enumerate(specs):
            tags = _tags(None if name.startswith("unused") else f"{name}-{region}", n)
            gid = ec2.create_security_group(
                GroupName=name,
                Description=f"{name} in {region}",
                VpcId=vid,
                TagSpecifications=_tag_spec("security-group", tags),
            )["GroupId"]
            if perms:
                ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
            out["sgs"][name] = gid
            self.add("EC2.SecurityGroup", region, gid, tags, name)
        # Rules naming other groups: app-sg ← web-sg on 8080, db-sg ← app-sg on 5432.
        sgs = out["sgs"]
        ec2.authorize_security_group_ingress(
            GroupId=sgs["app-sg"], IpPermissions=[_perm("tcp", 8080, group=sgs["web-sg"])]
        )
        ec2.authorize_security_group_ingress(
            GroupId=sgs["db-sg"], IpPermissions=[_perm("tcp", 5432, group=sgs["app-sg"])]
        )
        return out

    def instances(
        self, ec2: Any, region: str, net: dict[str, dict[str, str]]
    ) -> list[tuple[str, str]]:
        """Instances in many reservations; returns (instance id, zone) of the running ones."""
        singles, triples = _RESERVATIONS.get(region, (30, 2))
        subnets = [
            (net["subnets"]["main-0"], "a"),
            (net["subnets"]["main-1"], "b"),
            (net["subnets"]["main-2"], "c"),
            (net["subnets"]["shared-0"], "a"),
        ]
        sgs = net["sgs"]
        sg_sets = [
            [sgs["web-sg"]],
            [sgs["app-sg"]],
            [sgs["web-sg"], sgs["bastion-sg"]],
            [sgs["db-sg"]],
            [sgs["app-sg"], sgs["cache-sg"]],
        ]
        launched: list[tuple[str, str, int]] = []
        for r in range(singles + triples):
            count = 1 if r < singles else 3
            subnet, zone = subnets[r % len(subnets)]
            groups = [sgs["shared-sg"]] if zone == "a" and r % 4 == 3 else sg_sets[r % 5]
            name = f"{_APPS[r % 5]}-{_COMPONENTS[r % 5]}-{_ENVS[r % 3]}-{r:03d}"
            tags = _tags(None if r % 10 == 9 else name, r)
            kwargs: dict[str, Any] = {
                "ImageId": _AMIS[("linux", "ubuntu", "windows")[r % 3]],
                "MinCount": count,
                "MaxCount": count,
                "InstanceType": _INSTANCE_TYPES[r % len(_INSTANCE_TYPES)],
                "SubnetId": subnet,
                "SecurityGroupIds": groups,
                "TagSpecifications": _tag_spec("instance", tags),
            }
            if r % 4 == 0:
                kwargs["KeyName"] = "skyatlas-key"
            if r % 5 == 1:
                kwargs["IamInstanceProfile"] = {"Name": "skyatlas-ec2-profile"}
            if r % 6 == 2:
                kwargs["EbsOptimized"] = True
            for inst in ec2.run_instances(**kwargs)["Instances"]:
                iid = inst["InstanceId"]
                launched.append((iid, zone, r))
                self.add("EC2.Instance", region, iid, tags, iid)
                for gid in groups:
                    self.sg_users.setdefault(gid, []).append(iid)
        ids = [iid for iid, _, _ in launched]
        terminated = [iid for k, iid in enumerate(ids) if k % 29 == 5]
        stopped = [iid for k, iid in enumerate(ids) if k % 17 == 8 and iid not in terminated]
        protected = [
            iid
            for k, iid in enumerate(ids)
            if k % 7 == 3 and iid not in terminated and iid not in stopped
        ]
        ec2.terminate_instances(InstanceIds=terminated)
        ec2.stop_instances(InstanceIds=stopped)
        for iid in protected:
            ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True})
        self.terminated[region] = terminated
        self.stopped[region] = stopped
        self.protected.extend(protected)
        gone = set(terminated)
        for users in self.sg_users.values():
            users[:] = [i for i in users if i not in gone]
        return [(iid, zone) for iid, zone, _ in launched if iid not in gone and iid not in stopped]

    def volumes(self, ec2: Any, region: str, running: list[tuple[str, str]]) -> None:
        kinds = (("gp3", 20), ("gp2", 50), ("io1", 100), ("st1", 500), ("sc1", 500))
        in_a = [iid for iid, zone in running if zone == "a"]
        for n in range(_VOLUMES_PER_REGION):
            vtype, size = kinds[n % len(kinds)]
            zone = "abc"[n % 3]
            tags = _tags(f"data-{region}-{n:02d}" if n % 4 else None, n)
            kwargs: dict[str, Any] = {
                "AvailabilityZone": f"{region}{zone}",
                "Size": size,
                "VolumeType": vtype,
                "Encrypted": n % 2 == 0,
                "TagSpecifications": _tag_spec("volume", tags),
            }
            if vtype == "io1":
                kwargs["Iops"] = 1000
            vid = ec2.create_volume(**kwargs)["VolumeId"]
            self.add("EC2.Volume", region, vid, tags, vid)
            if zone == "a" and n < 12:
                ec2.attach_volume(VolumeId=vid, InstanceId=in_a[n], Device="/dev/sdf")

    def load_balancers(
        self, region: str, net: dict[str, dict[str, str]], running: list[tuple[str, str]]
    ) -> None:
        elb = self.client("elbv2", region)
        subnets = [net["subnets"]["main-0"], net["subnets"]["main-1"]]
        specs = (
            ("web-alb", "application", "internet-facing"),
            ("internal-alb", "application", "internal"),
            ("tcp-nlb", "network", "internet-facing"),
        )
        for n, (name, kind, scheme) in enumerate(specs):
            tags = _tags(f"{name}-{region}" if n != 1 else None, n)
            kwargs: dict[str, Any] = {
                "Name": name,
                "Subnets": subnets,
                "Scheme": scheme,
                "Type": kind,
                "Tags": tags,
            }
            if kind == "application":
                kwargs["SecurityGroups"] = [net["sgs"]["web-sg"]]
            lb = elb.create_load_balancer(**kwargs)["LoadBalancers"][0]
            self.add("ELB.LoadBalancer", region, lb["LoadBalancerArn"], tags, name)
            if name == "web-alb":
                tg = elb.create_target_group(
                    Name="web-tg",
                    Protocol="HTTP",
                    Port=80,
                    VpcId=net["vpcs"]["main"],
                    TargetType="instance",
                )["TargetGroups"][0]
                targets = [iid for iid, _ in running[:3]]
                elb.register_targets(
                    TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in targets]
                )
                elb.create_listener(
                    LoadBalancerArn=lb["LoadBalancerArn"],
                    Protocol="HTTP",
                    Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
                )
                for iid in targets:
                    self.lb_targets.setdefault(iid, []).append(name)

    def databases(self, region: str) -> None:
        rds = self.client("rds", region)
        engines = (("postgres", 5432), ("mysql", 3306))
        for n in range(4):
            engine, _ = engines[n % len(engines)]
            ident = f"{_APPS[n]}-{engine}-{n}"
            tags = _tags(f"db {ident}" if n % 2 else None, n)
            db = rds.create_db_instance(
                DBInstanceIdentifier=ident,
                Engine=engine,
                DBInstanceClass=("db.t3.micro", "db.m5.large")[n % 2],
                AllocatedStorage=20 + n * 10,
                MasterUsername="skyatlas",
                MasterUserPassword="not-collected-1",
                MultiAZ=n == 0,
                Tags=tags,
            )["DBInstance"]
            self.add("RDS.Instance", region, db["DBInstanceArn"], tags, ident)

    def functions(self, region: str) -> None:
        client = self.client("lambda", region)
        code = _lambda_zip()
        runtimes = ("python3.12", "nodejs20.x", "python3.11", "java21")
        for n in range(8):
            name = f"{_APPS[n % 5]}-{_COMPONENTS[n % 5]}-fn-{n:02d}"
            tags = _tags(f"fn {name}" if n % 3 == 0 else None, n)
            fn = client.create_function(
                FunctionName=name,
                Runtime=runtimes[n % len(runtimes)],
                Role=self.role_arns["lambda"],
                Handler="index.handler",
                Code={"ZipFile": code},
                MemorySize=(128, 256, 512, 1024)[n % 4],
                Timeout=30,
                Architectures=[("x86_64", "arm64")[n % 2]],
                Environment={"Variables": {"STAGE": _ENVS[n % 3], "DB_PASSWORD": "hunter2-secret"}},
                Tags=_flat(tags),
            )
            self.add("Lambda.Function", region, fn["FunctionArn"], tags, name)

    def buckets(self, region: str) -> None:
        s3 = self.client("s3", region)
        purposes = ("logs", "assets", "backup", "artifacts", "data", "static", "exports", "tfstate")
        for n, purpose in enumerate(purposes):
            name = f"skyatlas-{region}-{purpose}"
            kwargs: dict[str, Any] = {"Bucket": name}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
            tags = _tags(f"bucket {purpose}" if n % 2 else None, n)
            if n != 7:  # one bucket without any tag
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
            else:
                tags = []
            if n % 2 == 0:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if n % 3 == 0:
                s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                )
            self.add("S3.Bucket", region, f"arn:aws:s3:::{name}", tags, name)

    # -- what exists --------------------------------------------------------------------------

    def summary(self, regions: Sequence[str]) -> dict[str, Any]:
        """Everything a full collection must yield: the seeded resources plus moto's own
        (default VPCs, subnets and security groups, instances' root volumes)."""
        resources: dict[str, dict[str, list[str]]] = {t: {} for t in TYPES}
        defaults: dict[str, dict[str, list[str]]] = {t: {} for t in TYPES}
        names = dict(self.names)
        tags = dict(self.tags)
        for region in regions:
            ec2 = self.client("ec2", region)
            found: dict[str, list[tuple[str, str]]] = {
                "EC2.Instance": [
                    (i["InstanceId"], i["InstanceId"])
                    for page in ec2.get_paginator("describe_instances").paginate()
                    for res in page["Reservations"]
                    for i in res["Instances"]
                    if i["State"]["Name"] != "terminated"
                ],
                "EC2.SecurityGroup": [
                    (g["GroupId"], g["GroupName"])
                    for g in ec2.describe_security_groups()["SecurityGroups"]
                ],
                "EC2.Volume": [
                    (v["VolumeId"], v["VolumeId"]) for v in ec2.describe_volumes()["Volumes"]
                ],
                "VPC.VPC": [(v["VpcId"], v["VpcId"]) for v in ec2.describe_vpcs()["Vpcs"]],
                "VPC.Subnet": [
                    (s["SubnetId"], s["SubnetId"]) for s in ec2.describe_subnets()["Subnets"]
                ],
            }
            for key, items in found.items():
                mine = set(self.created[key].get(region, []))
                resources[key][region] = sorted(rid for rid, _ in items)
                defaults[key][region] = sorted(rid for rid, _ in items if rid not in mine)
                for rid, natural in items:
                    if rid not in mine:
                        names[rid] = natural
                        tags[rid] = {}
        for key in TYPES:
            if key in ("EC2.Instance", "EC2.SecurityGroup", "EC2.Volume", "VPC.VPC", "VPC.Subnet"):
                continue
            for region, ids in self.created[key].items():
                resources[key][region] = sorted(ids)
        gone = {i for ids in self.terminated.values() for i in ids}
        created = {
            key: {r: sorted(i for i in ids if i not in gone) for r, ids in by_region.items()}
            for key, by_region in self.created.items()
        }
        return {
            "account_id": ACCOUNT_ID,
            "regions": list(regions),
            "resources": resources,
            "created": created,
            "defaults": defaults,
            "created_count": sum(len(ids) for t in self.created.values() for ids in t.values()),
            "terminated": {r: sorted(ids) for r, ids in self.terminated.items()},
            "stopped": {r: sorted(ids) for r, ids in self.stopped.items()},
            "termination_protected": sorted(self.protected),
            "names": names,
            "tags": tags,
            "instances_by_security_group": {g: sorted(ids) for g, ids in self.sg_users.items()},
            "load_balancers_by_instance": {i: sorted(n) for i, n in self.lb_targets.items()},
        }


def seed(endpoint_url: str, regions: Sequence[str] = REGIONS) -> dict[str, Any]:
    """Create a deterministic inventory in moto (≥ 300 resources over `regions`, every type the
    collector knows, tagged Name/env/team/Created_by) and describe what now exists.

    Call it on a fresh (or `reset`) moto. Returns a summary:

    * ``account_id``, ``regions``;
    * ``resources``: ``{"EC2.Instance": {"us-east-1": [resource ids...], ...}, ...}`` — exactly
      what a complete collection of the regions yields, by ``"Group.Type"`` and ``region_code``
      (IAM under ``"global"``), as ``reference.resource_id`` (EC2/VPC ids; ARNs otherwise),
      sorted. Includes moto's own resources (default VPCs/subnets/groups, root volumes);
    * ``created`` (the seeded ones still there) and ``defaults`` (moto's), in the same shape;
      ``created_count``: how many resources the seed created (terminated ones included);
    * ``terminated`` / ``stopped``: instance ids per region; ``termination_protected``: ids;
    * ``names`` / ``tags``: per resource id, the record's expected ``name`` and flat ``tags``;
    * ``instances_by_security_group``: group id → ids of the (not terminated) instances using
      it; ``load_balancers_by_instance``: instance id → names of the ALBs in front of it.
    """
    seeder = _Seeder(endpoint_url)
    seeder.iam()
    for ri, region in enumerate(regions):
        seeder.region(region, ri)
    return seeder.summary(regions)


def terminate(endpoint_url: str, region: str, instance_ids: Sequence[str]) -> None:
    """Terminate instances (e.g. to watch a later collection disconnect them)."""
    if instance_ids:
        _client("ec2", region, endpoint_url).terminate_instances(InstanceIds=list(instance_ids))
