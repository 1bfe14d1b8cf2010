"""The order of a run and its failure boundaries: the credentials are checked first (a rejected
key fails the run), then each region and each type is collected on its own, so that one
service failing in one region costs only that (region, type) — reported as a `CollectError`
naming both, which tells the core to leave stored resources of that type alone this time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from skyatlas.plugins.aws import ec2, elb, iam, lambda_, network, rds, s3
from skyatlas.plugins.aws.errors import AWS_ERRORS, UNREACHABLE, Redactor, error_code
from skyatlas.plugins.aws.options import AwsOptions, parse_options
from skyatlas.plugins.aws.regions import region_name
from skyatlas.plugins.aws.scope import RegionScope
from skyatlas.plugins.aws.session import AwsSecret, AwsSession
from skyatlas.plugins.aws.types import (
    CLOUD_SERVICE_TYPES,
    EC2_INSTANCE,
    EC2_SECURITY_GROUP,
    EC2_VOLUME,
    ELB_LOAD_BALANCER,
    GLOBAL_REGION,
    IAM_ROLE,
    IAM_USER,
    LAMBDA_FUNCTION,
    PROVIDER,
    RDS_INSTANCE,
    S3_BUCKET,
    VPC_SUBNET,
    VPC_VPC,
    TypeKey,
)
from skyatlas.plugins.base import (
    CollectContext,
    Collected,
    CollectError,
    PluginError,
    PluginMetadata,
    RegionRecord,
)

RegionalCollector = Callable[[RegionScope], Iterable[dict[str, Any]]]

REGIONAL: dict[TypeKey, RegionalCollector] = {
    EC2_INSTANCE: ec2.collect_instances,
    EC2_SECURITY_GROUP: network.collect_security_groups,
    EC2_VOLUME: ec2.collect_volumes,
    VPC_VPC: network.collect_vpcs,
    VPC_SUBNET: network.collect_subnets,
    RDS_INSTANCE: rds.collect_db_instances,
    LAMBDA_FUNCTION: lambda_.collect_functions,
    ELB_LOAD_BALANCER: elb.collect_load_balancers,
}


def _type_error(key: TypeKey, region: str, message: str, **additional: Any) -> CollectError:
    return CollectError(
        message=f"could not read {key.label} in {region}: {message}",
        cloud_service_group=key.group,
        cloud_service_type=key.name,
        region_code=region,
        additional={"region_code": region, **additional},
    )


def _guarded(
    key: TypeKey,
    region: str,
    produce: Callable[[], Iterable[Collected]],
    redact: Redactor,
    ctx: CollectContext,
    failures: list[BaseException] | None = None,
) -> Iterator[Collected]:
    """The type's records; an error (AWS's or ours) ends the type with one `CollectError`
    (and is appended to `failures`)."""
    try:
        yield from produce()
    except AWS_ERRORS as exc:
        if failures is not None:
            failures.append(exc)
        ctx.log.warning("aws %s: could not read %s (%s)", region, key.label, error_code(exc))
        yield _type_error(key, region, redact.describe(exc), aws_error_code=error_code(exc))
    except Exception as exc:  # a shape AWS returned that this plugin did not expect
        ctx.log.exception("aws %s: collecting %s failed", region, key.label)
        yield _type_error(key, region, f"internal error ({type(exc).__name__})")


class AwsCollector:
    metadata = PluginMetadata(
        plugin_id="aws",
        kind="collector",
        name="AWS",
        description=(
            "Collects EC2 instances, security groups and volumes, VPCs and subnets, S3 buckets, "
            "RDS instances, Lambda functions, load balancers and IAM users and roles of an AWS "
            "account, in every enabled region (or the regions named in options)."
        ),
        provider=PROVIDER,
        cloud_service_types=CLOUD_SERVICE_TYPES,
        options_model=AwsOptions,
    )

    def _region(
        self,
        session: AwsSession,
        region: str,
        types: list[TypeKey],
        redact: Redactor,
        ctx: CollectContext,
    ) -> Iterator[Collected]:
        """The region's types in order. Once the region's endpoint did not answer at all
        (after botocore's retries), the types left are reported without trying them: each
        would only wait through the same retries."""
        scope = RegionScope(session, region, ctx.log)
        unreachable: BaseException | None = None
        for key in types:
            if ctx.cancelled():
                return
            if unreachable is not None:
                code = error_code(unreachable)
                yield _type_error(
                    key, region, f"skipped, the region did not answer ({code})", aws_error_code=code
                )
                continue
            failures: list[BaseException] = []
            collect = REGIONAL[key]
            yield from _guarded(key, region, lambda c=collect: c(scope), redact, ctx, failures)
            if any(isinstance(f, UNREACHABLE) for f in failures):
                unreachable = failures[0]

    def collect(self, ctx: CollectContext) -> Iterator[Collected]:
        options = parse_options(ctx.options)
        secret = AwsSecret.parse(ctx.secret)
        redact = secret.redactor()
        session = AwsSession(secret, endpoint_url=options.endpoint_url, log=ctx.log)
        session.connect()
        expected = str((ctx.account.data or {}).get("account_id") or "").strip()
        if expected and expected != session.account_id:
            # Keys pasted into the wrong service account: filing another account's resources
            # under this one's project would be worse than collecting nothing.
            raise PluginError(
                f"the credentials of this service account belong to AWS account "
                f"{session.account_id}, not to its account_id {expected}"
            )
        wanted = options.wanted()
        regional = [k for k in wanted if k.regional]
        regions: list[str] = []
        enabled: list[str] | None = None
        if regional and options.regions:
            regions = options.regions
            enabled = session.enabled_regions(required=False)  # to name a typo, if it can
        elif regional:
            regions = session.enabled_regions() or []
        seen_regions: set[str] = set()

        for region in regions:
            if ctx.cancelled():
                return
            if enabled is not None and region not in enabled:
                for key in regional:
                    yield _type_error(key, region, "the region is not enabled in this account")
                continue
            seen_regions.add(region)
            yield RegionRecord(provider=PROVIDER, region_code=region, name=region_name(region))
            yield from self._region(session, region, regional, redact, ctx)

        if S3_BUCKET in wanted:
            if ctx.cancelled():
                return
            chosen = set(options.regions) if options.regions else None
            buckets = _guarded(
                S3_BUCKET,
                "all regions",
                lambda: s3.collect_buckets(session, chosen, ctx.log, redact, ctx.cancelled),
                redact,
                ctx,
            )
            for item in buckets:
                if isinstance(item, dict) and item["region_code"] not in seen_regions:
                    seen_regions.add(item["region_code"])
                    code = item["region_code"]
                    yield RegionRecord(provider=PROVIDER, region_code=code, name=region_name(code))
                yield item

        iam_types = [k for k in wanted if k in (IAM_USER, IAM_ROLE)]
        if iam_types:
            if ctx.cancelled():
                return
            yield RegionRecord(
                provider=PROVIDER, region_code=GLOBAL_REGION, name=region_name(GLOBAL_REGION)
            )
            reader = iam.IamReader(session)
            producers = {IAM_USER: iam.collect_users, IAM_ROLE: iam.collect_roles}
            for key in iam_types:
                if ctx.cancelled():
                    return
                produce = producers[key]
                yield from _guarded(key, GLOBAL_REGION, lambda p=produce: p(reader), redact, ctx)
