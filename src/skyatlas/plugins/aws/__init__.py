"""The built-in `aws` collector: an AWS account's resources, region by region.

Secret (`ctx.secret`): `aws_access_key_id`, `aws_secret_access_key`, optionally
`aws_session_token`; optionally `role_arn` (assumed through STS, with `external_id` if given);
optionally `region_name`, the region of the first calls (default `us-east-1`).

Options (`plugin_info.options`, see `AwsOptions`): `regions`, `resource_types`, `endpoint_url`.

What a run yields, in order: for each region (every enabled one unless `options.regions` names
them), its `RegionRecord` then its EC2 instances, security groups and volumes, VPCs, subnets, RDS
instances, Lambda functions and load balancers; then S3 buckets (listed once, filed under their
own region); then the `global` region and IAM users and roles. Credentials AWS rejects at the
first call raise `PluginError`; any later failure of one type in one region is a `CollectError`
naming the region, the group and the type, and the run goes on (a region named in options
but not enabled is one such error per type; once a region's endpoint does not answer at all,
its remaining types are reported without waiting through the retries again). When the service
account's `data.account_id` is set and the credentials belong to another account, the run fails
before anything is collected.
"""

from __future__ import annotations

from skyatlas.plugins.aws.collector import AwsCollector
from skyatlas.plugins.aws.options import AwsOptions

plugin = AwsCollector()

__all__ = ["AwsCollector", "AwsOptions", "plugin"]
