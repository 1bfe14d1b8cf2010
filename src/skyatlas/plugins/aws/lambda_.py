"""Lambda functions. `ListFunctions` leaves out a function's state and tags, so each function is
read with `GetFunction`, which returns both in one call. Environment variables are reduced to
their names: their values are often credentials, and an inventory is no place for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.errors import error_code
from skyatlas.plugins.aws.records import cloud_service, name_of, tag_dict
from skyatlas.plugins.aws.scope import RegionScope, paginate
from skyatlas.plugins.aws.types import LAMBDA_FUNCTION


def collect_functions(scope: RegionScope) -> Iterator[dict[str, Any]]:
    client = scope.client("lambda")
    region, account = scope.region, scope.account
    for listed in paginate(client, "list_functions", "Functions"):
        try:
            answer = client.get_function(FunctionName=listed["FunctionArn"])
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue  # deleted since it was listed
            raise
        fn = {**listed, **(answer.get("Configuration") or {})}
        tags = tag_dict(answer.get("Tags"))
        name = fn["FunctionName"]
        arn = fn["FunctionArn"]
        vpc = fn.get("VpcConfig") or {}
        memory = fn.get("MemorySize")
        data = {
            "function_name": name,
            "function_arn": arn,
            "runtime": fn.get("Runtime", ""),
            "role": fn.get("Role", ""),
            "handler": fn.get("Handler", ""),
            "code_size": fn.get("CodeSize"),
            "description": fn.get("Description", ""),
            "timeout": fn.get("Timeout"),
            "memory_size": memory,
            "last_modified": fn.get("LastModified", ""),
            "code_sha256": fn.get("CodeSha256", ""),
            "version": fn.get("Version", ""),
            "state": fn.get("State", ""),
            "last_update_status": fn.get("LastUpdateStatus", ""),
            "package_type": fn.get("PackageType", ""),
            "architectures": list(fn.get("Architectures") or []),
            "tracing_config": {"mode": (fn.get("TracingConfig") or {}).get("Mode", "")},
            "vpc_config": {
                "vpc_id": vpc.get("VpcId", ""),
                "subnet_ids": list(vpc.get("SubnetIds") or []),
                "security_group_ids": list(vpc.get("SecurityGroupIds") or []),
            },
            "environment": {
                "variable_names": sorted(
                    ((fn.get("Environment") or {}).get("Variables") or {}).keys()
                )
            },
            "layers": [layer.get("Arn", "") for layer in fn.get("Layers") or []],
            "ephemeral_storage": {"size": (fn.get("EphemeralStorage") or {}).get("Size")},
            "cloudwatch": {
                "region_name": region,
                "metrics_info": [
                    {
                        "Namespace": "AWS/Lambda",
                        "Dimensions": [{"Name": "FunctionName", "Value": name}],
                    }
                ],
            },
            "account": account,
        }
        yield cloud_service(
            LAMBDA_FUNCTION,
            name=name_of(tags, name),
            account=account,
            region=region,
            resource_id=arn,
            external_link=links.lambda_function(region, name),
            data=data,
            tags=tags,
            instance_type=fn.get("Runtime") or fn.get("PackageType"),
            instance_size=float(memory) if memory is not None else None,
        )
