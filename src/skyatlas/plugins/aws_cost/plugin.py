"""The order of a sync: options, secret and date range are checked before any call; the
credentials are checked next with one cheap call (STS) so that bad keys or a dead endpoint fail
the sync in seconds; only then are the (billed) Cost Explorer pages read, lazily, as the core
reads the batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from skyatlas.plugins.aws.session import AwsSecret, AwsSession
from skyatlas.plugins.aws_cost.fetch import pages
from skyatlas.plugins.aws_cost.options import AwsCostOptions, parse_options
from skyatlas.plugins.aws_cost.period import Period, resolve_period
from skyatlas.plugins.aws_cost.rows import (
    BATCH_ROWS,
    GROUP_BY,
    PROVIDER,
    USAGE_METRIC,
    RowBuffer,
    rows_of_answer,
)
from skyatlas.plugins.base import CostFeed, CostSyncContext, PluginMetadata

PLUGIN_ID = "aws-cost-explorer"
GRANULARITY = "DAILY"


def utc_today() -> date:
    return datetime.now(UTC).date()


class AwsCostExplorer:
    """The `aws-cost-explorer` cost plugin. `today` and `batch_rows` are parameters so tests can
    pin the default date range and watch batching without a year of data."""

    metadata = PluginMetadata(
        plugin_id=PLUGIN_ID,
        kind="cost",
        name="AWS Cost Explorer",
        description=(
            "Daily AWS cost and usage per service and linked account, read from the Cost "
            "Explorer API (GetCostAndUsage) with the service account's credentials."
        ),
        provider=PROVIDER,
        needs_service_account=True,
        supported_resource_types=("cost_analysis.Cost",),
        options_model=AwsCostOptions,
    )

    def __init__(
        self, *, today: Callable[[], date] = utc_today, batch_rows: int = BATCH_ROWS
    ) -> None:
        self._today = today
        self._batch_rows = batch_rows

    def sync(self, ctx: CostSyncContext) -> CostFeed:
        """Checks everything that can be checked up front (raising `PluginError`), then returns
        a feed whose batches read Cost Explorer as they are consumed."""
        options = parse_options(ctx.options)
        secret = AwsSecret.parse(ctx.secret)
        period = resolve_period(ctx.start, ctx.end, options.months_back, self._today())
        session = AwsSession(secret, endpoint_url=options.endpoint_url, log=ctx.log)
        session.connect()
        return CostFeed(
            batches=self._batches(ctx, session, options, period), months=period.months()
        )

    def _batches(
        self,
        ctx: CostSyncContext,
        session: AwsSession,
        options: AwsCostOptions,
        period: Period,
    ) -> Iterator[pa.RecordBatch]:
        request: dict[str, Any] = {
            "TimePeriod": period.time_period(),
            "Granularity": GRANULARITY,
            "Metrics": [options.metric, USAGE_METRIC],
            "GroupBy": [dict(g) for g in GROUP_BY],
        }
        client = session.client("ce", session.secret.region_name)
        buffer = RowBuffer(self._batch_rows)
        page_count = row_count = 0
        for answer in pages(client, request, ctx.cancelled, session.redact):
            page_count += 1
            for row in rows_of_answer(answer, options.metric):
                row_count += 1
                if buffer.add(row):
                    yield buffer.take()
        if ctx.cancelled():
            ctx.log.info("aws-cost-explorer: cancelled after %d page(s)", page_count)
            return
        if len(buffer):
            yield buffer.take()
        ctx.log.info(
            "aws-cost-explorer: %s to %s (%s), %d page(s), %d row(s)",
            period.first,
            period.last,
            options.metric,
            page_count,
            row_count,
        )
