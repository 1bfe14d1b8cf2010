"""S3 buckets. Buckets are listed once for the whole account; each is filed under the region
`GetBucketLocation` names (a null location is us-east-1), and read there, since S3 answers a
bucket's configuration only in its own region. Object count and size come from the daily
CloudWatch storage metrics (one batched query per region); they are null when the metrics are
not there (a new bucket) or not readable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.errors import AWS_ERRORS, Redactor, error_code
from skyatlas.plugins.aws.records import cloud_service, iso, name_of, tag_dict
from skyatlas.plugins.aws.scope import map_concurrently, paginate
from skyatlas.plugins.aws.session import AwsSession
from skyatlas.plugins.aws.types import S3_BUCKET
from skyatlas.plugins.base import CollectError

_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}
_METRIC_BATCH = 250  # buckets per GetMetricData call (2 queries each, at most 500)
_NOT_FOUND = object()  # "not configured", as opposed to None: "not readable"


def bucket_region(location: str | None) -> str:
    return _LEGACY_LOCATIONS.get(location, location or "us-east-1")


def _optional(call: Callable[[], Any], *not_configured: str) -> Any:
    """The answer; `_NOT_FOUND` when AWS says the bucket has no such configuration; None when
    it cannot be read."""
    try:
        return call()
    except ClientError as exc:
        return _NOT_FOUND if error_code(exc) in not_configured else None
    except AWS_ERRORS:
        return None


def _metrics(
    session: AwsSession, region: str, names: list[str], log: logging.Logger
) -> dict[str, tuple[float | None, float | None]]:
    """(object count, bytes in standard storage) per bucket, from the latest daily datapoint."""
    cloudwatch = session.client("cloudwatch", region)
    end = datetime.now(UTC)
    start = end - timedelta(days=3)
    values: dict[str, float] = {}
    try:
        for offset in range(0, len(names), _METRIC_BATCH):
            queries = []
            for i, name in enumerate(names[offset : offset + _METRIC_BATCH], offset):
                for prefix, metric, storage in (
                    ("n", "NumberOfObjects", "AllStorageTypes"),
                    ("s", "BucketSizeBytes", "StandardStorage"),
                ):
                    queries.append(
                        {
                            "Id": f"{prefix}{i}",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/S3",
                                    "MetricName": metric,
                                    "Dimensions": [
                                        {"Name": "BucketName", "Value": name},
                                        {"Name": "StorageType", "Value": storage},
                                    ],
                                },
                                "Period": 86400,
                                "Stat": "Average",
                            },
                            "ReturnData": True,
                        }
                    )
            pages = cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=start,
                EndTime=end,
                ScanBy="TimestampDescending",
            )
            for page in pages:
                for result in page.get("MetricDataResults") or []:
                    if result.get("Values") and result["Id"] not in values:
                        values[result["Id"]] = float(result["Values"][0])
    except AWS_ERRORS as exc:
        log.warning("aws %s: could not read S3 storage metrics (%s)", region, error_code(exc))
    return {name: (values.get(f"n{i}"), values.get(f"s{i}")) for i, name in enumerate(names)}


def _lifecycle(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        transition = (rule.get("Transitions") or [{}])[0]
        out.append(
            {
                "id": rule.get("ID", ""),
                "status": rule.get("Status", ""),
                "expiration_days": (rule.get("Expiration") or {}).get("Days"),
                "transition_days": transition.get("Days"),
                "storage_class": transition.get("StorageClass", ""),
            }
        )
    return out


def _bucket_data(
    s3: Any, bucket: dict[str, Any], region: str, account: str, partition: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The bucket's configuration and tags; raises when the tags cannot be read (a record
    without its tags would wipe the stored ones)."""
    name = bucket["Name"]
    try:
        tags = tag_dict(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
    except ClientError as exc:
        if error_code(exc) != "NoSuchTagSet":
            raise
        tags = {}
    versioning = _optional(lambda: s3.get_bucket_versioning(Bucket=name))
    encryption = _optional(
        lambda: s3.get_bucket_encryption(Bucket=name),
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    block = _optional(
        lambda: s3.get_public_access_block(Bucket=name), "NoSuchPublicAccessBlockConfiguration"
    )
    logging_ = _optional(lambda: s3.get_bucket_logging(Bucket=name))
    lifecycle = _optional(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=name), "NoSuchLifecycleConfiguration"
    )
    lock = _optional(
        lambda: s3.get_object_lock_configuration(Bucket=name),
        "ObjectLockConfigurationNotFoundError",
    )
    website = _optional(lambda: s3.get_bucket_website(Bucket=name), "NoSuchWebsiteConfiguration")
    ownership = _optional(
        lambda: s3.get_bucket_ownership_controls(Bucket=name), "OwnershipControlsNotFoundError"
    )

    def answered(value: Any) -> dict[str, Any] | None:
        return value if isinstance(value, dict) else None

    sse: dict[str, Any] = {}
    if answered(encryption):
        rule = ((encryption.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or [{}])[0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        sse = {
            "sse_algorithm": default.get("SSEAlgorithm", ""),
            "kms_master_key_id": default.get("KMSMasterKeyID", ""),
            "bucket_key_enabled": bool(rule.get("BucketKeyEnabled")),
        }
    pab = (block or {}).get("PublicAccessBlockConfiguration") if answered(block) else None
    data: dict[str, Any] = {
        "name": name,
        "arn": f"arn:{partition}:s3:::{name}",
        "region_name": region,
        "creation_date": iso(bucket.get("CreationDate")),
        "versioning": {
            "status": versioning.get("Status", "Disabled") if answered(versioning) else None,
            "mfa_delete": versioning.get("MFADelete", "Disabled") if answered(versioning) else None,
        },
        "encryption": sse if answered(encryption) or encryption is _NOT_FOUND else None,
        "public_access_block": {
            "block_public_acls": bool(pab.get("BlockPublicAcls")),
            "ignore_public_acls": bool(pab.get("IgnorePublicAcls")),
            "block_public_policy": bool(pab.get("BlockPublicPolicy")),
            "restrict_public_buckets": bool(pab.get("RestrictPublicBuckets")),
        }
        if pab is not None
        else ({} if block is _NOT_FOUND else None),
        "logging": {
            "target_bucket": logging_["LoggingEnabled"].get("TargetBucket", ""),
            "target_prefix": logging_["LoggingEnabled"].get("TargetPrefix", ""),
        }
        if answered(logging_) and logging_.get("LoggingEnabled")
        else ({} if answered(logging_) else None),
        "lifecycle_rules": _lifecycle(lifecycle.get("Rules") or [])
        if answered(lifecycle)
        else ([] if lifecycle is _NOT_FOUND else None),
        "object_lock_enabled": (
            (lock.get("ObjectLockConfiguration") or {}).get("ObjectLockEnabled") == "Enabled"
            if answered(lock)
            else (False if lock is _NOT_FOUND else None)
        ),
        "website_hosting": True
        if answered(website)
        else (False if website is _NOT_FOUND else None),
        "ownership_controls": (
            ((ownership.get("OwnershipControls") or {}).get("Rules") or [{}])[0].get(
                "ObjectOwnership", ""
            )
            if answered(ownership)
            else ("" if ownership is _NOT_FOUND else None)
        ),
        "cloudwatch": {
            "region_name": region,
            "metrics_info": [
                {"Namespace": "AWS/S3", "Dimensions": [{"Name": "BucketName", "Value": name}]}
            ],
        },
        "account": account,
    }
    return data, tags


def collect_buckets(
    session: AwsSession,
    regions: set[str] | None,
    log: logging.Logger,
    redact: Redactor,
    cancelled: Callable[[], bool],
) -> Iterator[dict[str, Any] | CollectError]:
    """The account's buckets in `regions` (all of them when None)."""
    home = session.secret.region_name
    s3 = session.client("s3", home)
    account, partition = session.account_id, session.partition
    by_region: dict[str, list[dict[str, Any]]] = {}
    for bucket in paginate(s3, "list_buckets", "Buckets"):
        name = bucket["Name"]
        location = bucket.get("BucketRegion")
        if not location:
            try:
                location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
            except ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    continue  # deleted since it was listed
                yield _bucket_error(name, None, exc, redact)
                continue
            except AWS_ERRORS as exc:
                yield _bucket_error(name, None, exc, redact)
                continue
        region = bucket_region(location)
        if regions is None or region in regions:
            by_region.setdefault(region, []).append(bucket)
    for region in sorted(by_region):
        if cancelled():
            return
        buckets = by_region[region]
        client = session.client("s3", region)
        metrics = _metrics(session, region, [b["Name"] for b in buckets], log)
        read = map_concurrently(
            lambda b, r=region, c=client: _bucket_data(c, b, r, account, partition), buckets
        )
        for bucket, (answer, exc) in zip(buckets, read, strict=True):
            name = bucket["Name"]
            if exc is not None or answer is None:
                if exc is not None and error_code(exc) != "NoSuchBucket":
                    yield _bucket_error(name, region, exc, redact)
                continue
            data, tags = answer
            count, size = metrics.get(name, (None, None))
            data["object_count"] = int(count) if count is not None else None
            data["object_total_size"] = size
            data["size"] = size
            yield cloud_service(
                S3_BUCKET,
                name=name_of(tags, name),
                account=account,
                region=region,
                resource_id=data["arn"],
                external_link=links.bucket(region, name),
                data=data,
                tags=tags,
                instance_size=size,
            )


def _bucket_error(
    name: str, region: str | None, exc: BaseException, redact: Redactor
) -> CollectError:
    return CollectError(
        message=f"could not read S3 bucket {name}: {redact.describe(exc)}",
        cloud_service_group=S3_BUCKET.group,
        cloud_service_type=S3_BUCKET.name,
        region_code=region,
        additional={"bucket": name, "region_code": region, "aws_error_code": error_code(exc)},
    )
