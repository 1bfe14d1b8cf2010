"""Console URLs for `reference.external_link`: one place knows the console's URL scheme (and
that China and GovCloud regions have consoles of their own)."""

from __future__ import annotations

from urllib.parse import quote


def _console(region: str) -> str:
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return f"https://{region}.console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _global_console(partition: str) -> str:
    return {
        "aws-cn": "https://console.amazonaws.cn",
        "aws-us-gov": "https://console.amazonaws-us-gov.com",
    }.get(partition, "https://console.aws.amazon.com")


def ec2_instance(region: str, instance_id: str) -> str:
    return f"{_console(region)}/ec2/v2/home?region={region}#Instances:instanceId={instance_id}"


def security_group(region: str, group_id: str) -> str:
    return f"{_console(region)}/ec2/v2/home?region={region}#SecurityGroup:groupId={group_id}"


def volume(region: str, volume_id: str) -> str:
    return f"{_console(region)}/ec2/v2/home?region={region}#VolumeDetails:volumeId={volume_id}"


def vpc(region: str, vpc_id: str) -> str:
    return f"{_console(region)}/vpc/home?region={region}#VpcDetails:VpcId={vpc_id}"


def subnet(region: str, subnet_id: str) -> str:
    return f"{_console(region)}/vpc/home?region={region}#SubnetDetails:subnetId={subnet_id}"


def bucket(region: str, name: str) -> str:
    host = "https://s3.console.aws.amazon.com"
    if region.startswith(("cn-", "us-gov-")):
        host = _console(region)
    return f"{host}/s3/buckets/{quote(name)}?region={region}"


def rds_instance(region: str, identifier: str) -> str:
    return f"{_console(region)}/rds/home?region={region}#database:id={identifier};is-cluster=false"


def lambda_function(region: str, name: str) -> str:
    return f"{_console(region)}/lambda/home?region={region}#/functions/{quote(name)}"


def load_balancer(region: str, arn: str) -> str:
    return f"{_console(region)}/ec2/v2/home?region={region}#LoadBalancer:loadBalancerArn={arn}"


def iam_user(partition: str, name: str) -> str:
    return f"{_global_console(partition)}/iam/home#/users/{quote(name)}"


def iam_role(partition: str, name: str) -> str:
    return f"{_global_console(partition)}/iam/home#/roles/{quote(name)}"
