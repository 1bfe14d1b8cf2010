"""The seed's four inventory use cases, sent verbatim, against hand-made resources.

The request bodies below are copied from the seed document (the curl `-d` bodies), in both the
`{key, value, operator}` and `{k, v, o}` forms.
"""

from __future__ import annotations

import json

import pytest

SEED_EC2_DATA = {
    "os": {"os_distro": "linux", "os_arch": "x86_64", "os_type": "LINUX", "details": "Linux/UNIX"},
    "aws": {
        "ami_id": "ami-1111111111111111",
        "ami_launch_index": 0.0,
        "kernel_id": None,
        "monitoring_state": "disabled",
        "ebs_optimized": True,
        "ena_support": True,
        "hypervisor": "xen",
        "placement": {"GroupName": "", "Tenancy": "default", "AvailabilityZone": "ap-northeast-2a"},
        "iam_instance_profile": {
            "Arn": "arn:aws:iam::11111111111:instance-profile/ems-ec2-eks-bastion-role",
            "Id": "AAAAAAAAAAAAAAAAAAAAAAA",
        },
        "root_volume_type": "gp3",
    },
    "hardware": {"core": 2.0, "memory": 1.0},
    "compute": {
        "keypair": "",
        "az": "ap-northeast-2a",
        "instance_state": "STOPPED",
        "instance_type": "t3.micro",
        "launched_at": "2023-11-09T05:58:59",
        "instance_id": "i-0322e4fe54dfa9f0f",
        "instance_name": "obsv-service-bastion",
        "security_groups": [
            {
                "name": "bastion-sg-01",
                "id": "sg-1111111111",
                "display": "bastion-sg-01 (sg-1111111111)",
            }
        ],
        "image": "ec2-20231107-final",
        "account": "11111111111",
    },
}

SEED_SG_INSTANCE = {
    "SubnetId": "subnet-111111111111",
    "PrivateIpAddress": "10.0.0.0",
    "PrivateDnsName": "ip-10-0-0-0.ap-northeast-1.compute.internal",
    "VpcId": "vpc-11111111111",
    "Tags": [{"Key": "Name"}],
    "Architecture": "x86_64",
    "InstanceId": "i-11111111111",
    "PublicDnsName": "amazonaws.com",
    "State": {"Name": "running"},
    "PublicIpAddress": "",
    "instance_name": "spaceone-instance",
    "SecurityGroups": [{"GroupName": "sg-01", "GroupId": "sg-11111111111"}],
}

USE_CASE_1 = """{
"query": {
"page": {
"start": 1,
"limit": 10
},
"filter": [
{
"key": "provider",
"value": "aws",
"operator": "eq"
},
{
"key": "cloud_service_group",
"value": "EC2",
"operator": "eq"
},
{
"key": "cloud_service_type",
"value": "Instance",
"operator": "eq"
}
]
}
}"""

USE_CASE_3 = """{
"query":
{
"page":
{
"start": 1,
"limit": 20
},
"filter":
[
{
"k": "provider",
"v": "aws",
"o": "eq"
},
{
"k": "cloud_service_group",
"v": "EC2",
"o": "eq"
},
{
"k": "tags.aws.Created_by",
"v": "wonny",
"o": "eq"
}
]
}
}"""

USE_CASE_4 = """{
"query":
{
"page":
{
"start": 1,
"limit": 20
},
"only":
[
"name",
"state",
"data.instances"
],
"filter":
[
{
"k": "provider",
"v": "aws",
"o": "eq"
},
{
"k": "cloud_service_group",
"v": "EC2",
"o": "eq"
},
{
"k": "cloud_service_type",
"v": "SecurityGroup",
"o": "eq"
},
{
"k": "data.instances",
"v": [null, []],
"o": "not_in"
}
]
}
}"""


def _post_raw(env, path: str, body: str):
    return env.client.post(
        path,
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {env.admin_token}",
            "Content-Type": "application/json",
            "accept": "application/json",
        },
    )


@pytest.fixture
def seeded(env):
    project = env.ok(
        "/identity/project/create", {"name": "obsv", "workspace_id": env.workspace_id}
    )["project_id"]

    def make(**body):
        body.setdefault("provider", "aws")
        body.setdefault("project_id", project)
        return env.ok("/inventory/cloud-service/create", body)

    bastion = make(
        name="service-bastion",
        cloud_service_group="EC2",
        cloud_service_type="Instance",
        account="11111111111",
        instance_type="t3.micro",
        ip_addresses=["10.0.138.84"],
        region_code="ap-northeast-2",
        data=SEED_EC2_DATA,
        reference={
            "resource_id": "i-111111111111",
            "external_link": "https://ap-northeast-2.console.aws.amazon.com/ec2/v2/home"
            "?region=ap-northeast-2#Instances:instanceId=i-111111111111",
        },
        tags={"aws": {"Name": "service-bastion"}},
    )
    for i in range(2):
        make(
            name=f"spaceone-instance-{i}",
            cloud_service_group="EC2",
            cloud_service_type="Instance",
            account="111111111111",
            region_code="ap-northeast-2",
            data={"compute": {"instance_state": "RUNNING"}},
            reference={"resource_id": f"i-0111111111{i}"},
            tags={"Created_by": "wonny"},
        )
    make(  # wonny's, but not EC2: must not match use case 3
        name="wonny-bucket",
        cloud_service_group="S3",
        cloud_service_type="Bucket",
        data={},
        tags={"Created_by": "wonny"},
        reference={"resource_id": "wonny-bucket"},
    )
    make(
        name="gcp-vm",
        provider="google_cloud",
        cloud_service_group="ComputeEngine",
        cloud_service_type="Instance",
        data={},
        reference={"resource_id": "123"},
    )
    used = make(
        name="ems-eks-bastion-sg-01",
        cloud_service_group="EC2",
        cloud_service_type="SecurityGroup",
        data={"instances": [SEED_SG_INSTANCE]},
        reference={"resource_id": "sg-1"},
    )
    make(
        name="unused-sg",
        cloud_service_group="EC2",
        cloud_service_type="SecurityGroup",
        data={"instances": []},
        reference={"resource_id": "sg-2"},
    )
    make(
        name="null-sg",
        cloud_service_group="EC2",
        cloud_service_type="SecurityGroup",
        data={"instances": None},
        reference={"resource_id": "sg-3"},
    )
    make(
        name="bare-sg",
        cloud_service_group="EC2",
        cloud_service_type="SecurityGroup",
        data={"vpc_id": "vpc-1"},
        reference={"resource_id": "sg-4"},
    )
    return {"bastion": bastion, "used_sg": used, "project": project}


def test_use_case_1_provider_group_type_filter(env, seeded):
    response = _post_raw(env, "/inventory/cloud-service/list", USE_CASE_1)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_count"] == 3
    names = {r["name"] for r in body["results"]}
    assert names == {"service-bastion", "spaceone-instance-0", "spaceone-instance-1"}
    bastion = next(r for r in body["results"] if r["name"] == "service-bastion")
    assert bastion["data"] == SEED_EC2_DATA
    assert bastion["tags"] == {"aws": {"Name": "service-bastion"}}
    assert bastion["tag_keys"] == {"aws": ["Name"]}
    assert bastion["reference"]["resource_id"] == "i-111111111111"
    assert set(bastion) >= {
        "cloud_service_id",
        "name",
        "state",
        "ip_addresses",
        "account",
        "instance_type",
        "cloud_service_type",
        "cloud_service_group",
        "provider",
        "data",
        "reference",
        "tags",
        "tag_keys",
        "collection_info",
        "region_code",
        "domain_id",
        "workspace_id",
        "project_id",
        "created_at",
        "updated_at",
    }
    assert bastion["state"] == "ACTIVE"


def test_use_case_2_get_by_id(env, seeded):
    cid = seeded["bastion"]["cloud_service_id"]
    response = _post_raw(env, "/inventory/cloud-service/get", json.dumps({"cloud_service_id": cid}))
    assert response.status_code == 200
    assert response.json() == seeded["bastion"]
    missing = _post_raw(
        env, "/inventory/cloud-service/get", '{"cloud_service_id": "cloud-svc-000000000000"}'
    )
    assert missing.status_code == 404


def test_use_case_3_managed_tag_filter(env, seeded):
    response = _post_raw(env, "/inventory/cloud-service/list", USE_CASE_3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_count"] == 2
    assert {r["name"] for r in body["results"]} == {"spaceone-instance-0", "spaceone-instance-1"}
    for record in body["results"]:
        assert record["tags"]["aws"]["Created_by"] == "wonny"


def test_use_case_4_security_groups_in_use(env, seeded):
    response = _post_raw(env, "/inventory/cloud-service/list", USE_CASE_4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_count"] == 1
    assert body["results"] == [
        {
            "name": "ems-eks-bastion-sg-01",
            "state": "ACTIVE",
            "data": {"instances": [SEED_SG_INSTANCE]},
        }
    ]
