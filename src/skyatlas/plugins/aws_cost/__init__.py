"""The built-in `aws-cost-explorer` cost plugin: daily AWS cost per service and linked account,
from the Cost Explorer API.

Secret (`ctx.secret`), as for the `aws` collector: `aws_access_key_id`,
`aws_secret_access_key`, optionally `aws_session_token`; optionally `role_arn` (assumed through
STS, with `external_id` if given); optionally `region_name` (default `us-east-1`; Cost Explorer
itself answers from its partition's one endpoint whatever the region).

Options (`plugin_info.options`, see `AwsCostOptions`): `metric` (`UnblendedCost` by default,
or `BlendedCost`, `AmortizedCost`, `NetUnblendedCost`, `NetAmortizedCost`), `months_back`
(default 3; used only when the sync names no range) and `endpoint_url`.

A sync asks `GetCostAndUsage` for the days `ctx.start` through `ctx.end` (inclusive; by default
the first day of the month `months_back - 1` months ago through today, UTC), DAILY, grouped by
SERVICE and LINKED_ACCOUNT, and follows `NextPageToken` to the last page. Each (day, service,
account) becomes one row: cost = the metric's amount, usage = `UsageQuantity`, product = the
service, account_id = the linked account, billed_date = the day, `additional_info` = Metric,
Currency and Estimated, `data` = both amounts (each the text of one JSON object, without the
keys Cost Explorer left out); no region, usage type or resource (Cost Explorer's grouping has
none). Rows come in record batches of up to 50,000 in `COST_SCHEMA`.
The feed's `months` are every month the range touches: Cost Explorer answered all of them.

Invalid options, secret or dates, rejected credentials, an unreachable endpoint, a denied call
and throttling that outlasts the retries raise `PluginError` (with the AWS error code, no
secret). The cancel flag is checked before every page; once set, nothing more is read or
yielded.
"""

from __future__ import annotations

from skyatlas.plugins.aws_cost.options import AwsCostOptions
from skyatlas.plugins.aws_cost.plugin import AwsCostExplorer

plugin = AwsCostExplorer()

__all__ = ["AwsCostExplorer", "AwsCostOptions", "plugin"]
