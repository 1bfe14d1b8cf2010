"""The built-in `aws-cost-explorer` cost plugin against moto: what a sync reads, and how it fails.

moto answers `GetCostAndUsage` from a queue the test fills (`/moto-api/static/ce/
cost-and-usage-results`): each distinct request takes the next queued answer, so a multi-page
answer is seeded as consecutive answers, the first ones carrying a `NextPageToken`. The queue
is per process and per account, so every test starts from a reset moto. What the plugin asked
is recorded in-process by a botocore hook on every Cost Explorer client; failures AWS answers
in its own wire format (JSON, for Cost Explorer) come from a small proxy in front of moto.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import aws_moto
import boto3
import pyarrow as pa
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from skyatlas.cost.schema import COST_SCHEMA
from skyatlas.plugins.aws import session as aws_session
from skyatlas.plugins.aws.errors import Redactor
from skyatlas.plugins.aws_cost import AwsCostExplorer, AwsCostOptions, plugin
from skyatlas.plugins.aws_cost.fetch import call_error
from skyatlas.plugins.aws_cost.period import resolve_period
from skyatlas.plugins.base import CostPlugin, CostSyncContext, PluginError

# moto keeps its state per process: stay in the worker of the other moto modules.
pytestmark = pytest.mark.xdist_group("moto")

SERVICES = ("Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service")
ACCOUNTS = ("111111111111", "222222222222")
START, END = "2024-01-01", "2024-02-29"  # 60 days (a leap year), two months
GROUP_BY = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]
SECRET_VALUES = ("AKIAWRONGWRONGWRONG1", "wrong-secret-0123456789abcdefghijklmnopq")


# ------------------------------------------------------------------------------------------------
# Seeding moto and recording requests
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One seeded (day, service, account) group."""

    day: str
    product: str
    account: str
    cost: str
    quantity: str
    unit: str
    estimated: bool


def seeded_lines(start: str = START, end: str = END) -> list[Line]:
    """Every (day, service, account) of the range, with distinct, deterministic amounts."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    out = []
    for n in range((last - first).days + 1):
        day = (first + timedelta(days=n)).isoformat()
        for s, product in enumerate(SERVICES):
            for a, account in enumerate(ACCOUNTS):
                k = n * 4 + s * 2 + a
                out.append(
                    Line(
                        day=day,
                        product=product,
                        account=account,
                        cost=f"{(k * 37) % 101 + 0.0123456789 * (k + 1):.10f}",
                        quantity=f"{(k * 13) % 29 + 0.5:.4f}",
                        unit=("Hrs", "GB-Mo")[s],
                        estimated=day >= "2024-02-20",
                    )
                )
    return out


def answer(lines: list[Line], metric: str = "UnblendedCost", token: str | None = None) -> dict:
    """A `GetCostAndUsage` answer holding `lines` (one result per run of days, in order)."""
    results: list[dict[str, Any]] = []
    for line in lines:
        if not results or results[-1]["TimePeriod"]["Start"] != line.day:
            end = (date.fromisoformat(line.day) + timedelta(days=1)).isoformat()
            results.append(
                {
                    "TimePeriod": {"Start": line.day, "End": end},
                    "Total": {},
                    "Groups": [],
                    "Estimated": line.estimated,
                }
            )
        results[-1]["Groups"].append(
            {
                "Keys": [line.product, line.account],
                "Metrics": {
                    metric: {"Amount": line.cost, "Unit": "USD"},
                    "UsageQuantity": {"Amount": line.quantity, "Unit": line.unit},
                },
            }
        )
    out: dict[str, Any] = {
        "ResultsByTime": results,
        "DimensionValueAttributes": [
            {"Value": a, "Attributes": {"description": f"account {a}"}} for a in ACCOUNTS
        ],
    }
    if token is not None:
        out["NextPageToken"] = token
    return out


def three_pages(lines: list[Line], metric: str = "UnblendedCost") -> list[dict]:
    """`lines` over three pages of uneven size; the second page starts in the middle of a day,
    so that day's groups arrive in two results of two pages (as Cost Explorer may send them)."""
    cut1, cut2 = 20 * 4 + 2, 45 * 4
    return [
        answer(lines[:cut1], metric, token="token-2"),
        answer(lines[cut1:cut2], metric, token="token-3"),
        answer(lines[cut2:], metric),
    ]


def queue_answers(endpoint: str, answers: list[dict]) -> None:
    http = requests.Session()
    http.trust_env = False
    url = f"{endpoint}/moto-api/static/ce/cost-and-usage-results"
    http.post(url, json={"results": answers}, timeout=30).raise_for_status()


@dataclass
class Recorded:
    """What the plugin asked Cost Explorer: the parameters of each call (not of each retry),
    and the retry settings of each Cost Explorer client it built."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    retry_settings: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Hooks every Cost Explorer client boto3 builds during the test."""
    out = Recorded()
    original = boto3.session.Session.client

    def client(self: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        if made.meta.service_model.service_name == "ce":
            out.retry_settings.append(dict(made.meta.config.retries or {}))

            def record(params: dict[str, Any], **_: Any) -> None:
                out.calls.append(copy.deepcopy(params))

            made.meta.events.register("provide-client-params.ce.GetCostAndUsage", record)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        with aws_moto.moto_server() as endpoint:
            yield endpoint


@pytest.fixture
def endpoint(server: str) -> Iterator[str]:
    """The server, with an empty answer queue (a test may leave answers unread)."""
    aws_moto.reset(server)
    yield server
    aws_moto.reset(server)


def make_ctx(
    options: Mapping[str, Any],
    *,
    start: str | None = START,
    end: str | None = END,
    secret: Mapping[str, Any] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> CostSyncContext:
    return CostSyncContext(
        options=dict(options),
        secret=dict(aws_moto.CREDENTIALS if secret is None else secret),
        cancelled=cancelled,
        start=start,
        end=end,
    )


def read(feed_batches: Any) -> list[pa.RecordBatch]:
    batches = list(feed_batches)
    for batch in batches:
        assert isinstance(batch, pa.RecordBatch)
        assert batch.schema.equals(COST_SCHEMA, check_metadata=True), batch.schema
    return batches


def rows_of(batches: list[pa.RecordBatch]) -> list[dict[str, Any]]:
    return [row for batch in batches for row in batch.to_pylist()]


def sync_all(
    options: Mapping[str, Any], the_plugin: AwsCostExplorer = plugin, **ctx: Any
) -> tuple[frozenset[str] | None, list[pa.RecordBatch]]:
    feed = the_plugin.sync(make_ctx(options, **ctx))
    return feed.months, read(feed.batches)


def _no_secret_in(text: str, *secrets: str) -> None:
    for value in (*SECRET_VALUES, *secrets):
        assert value not in text


# ------------------------------------------------------------------------------------------------
# Metadata, options, dates (no AWS)
# ------------------------------------------------------------------------------------------------


def test_metadata() -> None:
    meta = plugin.metadata
    assert isinstance(plugin, CostPlugin)
    assert (meta.plugin_id, meta.kind, meta.provider) == ("aws-cost-explorer", "cost", "aws")
    assert meta.needs_service_account is True
    assert meta.supported_resource_types == ("cost_analysis.Cost",)
    assert meta.options_model is AwsCostOptions
    assert meta.name and meta.description
    schema = meta.options_schema()
    assert set(schema["properties"]) == {"metric", "months_back", "endpoint_url"}
    assert schema["additionalProperties"] is False


def test_the_entry_point_names_the_plugin() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="skyatlas.plugins") if e.name == "aws-cost-explorer"]
    assert ep.load() is plugin


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"metric": "Blended"}, r"metric: Input should be 'UnblendedCost'"),
        ({"months_back": 0}, r"months_back: Input should be greater than or equal to 1"),
        ({"months_back": 39}, r"months_back: Input should be less than or equal to 38"),
        ({"months_back": "3"}, r"months_back: Input should be a valid integer"),
        ({"endpoint_url": "127.0.0.1:5000"}, r"endpoint_url: .*http:// or https://"),
        ({"metrics": "BlendedCost"}, r"metrics: Extra inputs are not permitted"),
    ],
)
def test_invalid_options_are_a_plugin_error(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(PluginError, match=r"^invalid options of the aws-cost-explorer plugin: "):
        plugin.sync(make_ctx(options))
    with pytest.raises(PluginError, match=problem):
        plugin.sync(make_ctx(options))


def test_options_defaults() -> None:
    options = AwsCostOptions()
    assert (options.metric, options.months_back, options.endpoint_url) == (
        "UnblendedCost",
        3,
        None,
    )


def test_a_secret_without_keys_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="no aws_access_key_id or aws_secret_access_key"):
        plugin.sync(make_ctx({}, secret={}))
    with pytest.raises(PluginError, match="no aws_secret_access_key"):
        plugin.sync(make_ctx({}, secret={"aws_access_key_id": "AKIAEXAMPLE"}))


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        ("2024-1-01", END, r"start date '2024-1-01' is not a YYYY-MM-DD date"),
        (START, "2024-02-30", r"end date '2024-02-30' is not a valid date"),
        ("2024-03-01", "2024-02-29", r"start date '2024-03-01' is after its end date"),
    ],
)
def test_invalid_dates_are_a_plugin_error(start: str, end: str, problem: str) -> None:
    with pytest.raises(PluginError, match=problem):
        plugin.sync(make_ctx({}, start=start, end=end))


def test_the_period_and_its_months() -> None:
    today = date(2024, 3, 15)
    period = resolve_period(None, None, 3, today)
    assert (period.first, period.last) == (date(2024, 1, 1), today)
    assert period.time_period() == {"Start": "2024-01-01", "End": "2024-03-16"}
    assert period.months() == {"2024-01", "2024-02", "2024-03"}
    # One month back: the current month only; across a year boundary; the end of a year.
    assert resolve_period(None, None, 1, today).months() == {"2024-03"}
    across = resolve_period(None, None, 3, date(2024, 1, 10))
    assert across.first == date(2023, 11, 1)
    assert across.months() == {"2023-11", "2023-12", "2024-01"}
    new_year = resolve_period("2023-12-31", "2023-12-31", 3, today)
    assert new_year.time_period() == {"Start": "2023-12-31", "End": "2024-01-01"}
    assert new_year.months() == {"2023-12"}
    # The sync's range wins over months_back; a missing start counts back from the end.
    given = resolve_period("2023-06-15", "2023-08-02", 1, today)
    assert given.months() == {"2023-06", "2023-07", "2023-08"}
    assert resolve_period(None, "2023-08-02", 2, today).first == date(2023, 7, 1)
    assert resolve_period("2024-03-01", None, 3, today).last == today


def test_errors_of_a_call_are_worded_and_redacted() -> None:
    redact = Redactor(SECRET_VALUES)

    def client_error(code: str, status: int, message: str = "no") -> ClientError:
        return ClientError(
            {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "GetCostAndUsage",
        )

    cases = {
        "AWS rejected the credentials of this service account: UnrecognizedClientException": (
            client_error("UnrecognizedClientException", 400)
        ),
        "AWS refused ce:GetCostAndUsage for this service account: AccessDeniedException": (
            client_error("AccessDeniedException", 400)
        ),
        "AWS refused ce:GetCostAndUsage for this service account: HTTP 403": client_error(
            "403", 403
        ),
        "AWS Cost Explorer kept throttling ce:GetCostAndUsage after retries": client_error(
            "LimitExceededException", 400
        ),
        "AWS Cost Explorer refused ce:GetCostAndUsage: DataUnavailableException: for ***": (
            client_error("DataUnavailableException", 400, f"for {SECRET_VALUES[0]}")
        ),
        "could not reach AWS Cost Explorer (ce:GetCostAndUsage): EndpointConnectionError": (
            EndpointConnectionError(endpoint_url=f"http://{SECRET_VALUES[1]}.example/")
        ),
        "could not reach AWS Cost Explorer (ce:GetCostAndUsage): ReadTimeoutError": (
            ReadTimeoutError(endpoint_url="https://ce.us-east-1.amazonaws.com/")
        ),
    }
    for expected, exc in cases.items():
        error = call_error(exc, redact)
        assert isinstance(error, PluginError)
        assert error.message.startswith(expected), (expected, error.message)
        _no_secret_in(error.message)


# ------------------------------------------------------------------------------------------------
# A sync against moto
# ------------------------------------------------------------------------------------------------


def test_a_multi_page_answer_is_read_whole_and_exactly_once(
    endpoint: str, recorded: Recorded
) -> None:
    lines = seeded_lines()
    assert len(lines) == 60 * 4
    queue_answers(endpoint, three_pages(lines))

    months, batches = sync_all({"endpoint_url": endpoint})

    assert months == frozenset({"2024-01", "2024-02"})
    rows = rows_of(batches)
    seen = Counter((r["billed_date"], r["product"], r["account_id"]) for r in rows)
    assert max(seen.values()) == 1
    assert set(seen) == {(line.day, line.product, line.account) for line in lines}

    want_cost: dict[tuple[str, str], float] = defaultdict(float)
    want_usage: dict[tuple[str, str], float] = defaultdict(float)
    for line in lines:
        want_cost[line.product, line.account] += float(line.cost)
        want_usage[line.product, line.account] += float(line.quantity)
    got_cost: dict[tuple[str, str], float] = defaultdict(float)
    got_usage: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        got_cost[r["product"], r["account_id"]] += r["cost"]
        got_usage[r["product"], r["account_id"]] += r["usage_quantity"]
    assert set(got_cost) == set(want_cost)
    for key, value in want_cost.items():
        assert got_cost[key] == pytest.approx(value, rel=1e-12), key
        assert got_usage[key] == pytest.approx(want_usage[key], rel=1e-12), key

    # Three calls, each DAILY and grouped by service and linked account, following the tokens.
    assert len(recorded.calls) == 3
    for call in recorded.calls:
        assert call["TimePeriod"] == {"Start": START, "End": "2024-03-01"}  # End is exclusive
        assert call["Granularity"] == "DAILY"
        assert call["Metrics"] == ["UnblendedCost", "UsageQuantity"]
        assert call["GroupBy"] == GROUP_BY
    assert [c.get("NextPageToken") for c in recorded.calls] == [None, "token-2", "token-3"]
    assert recorded.retry_settings and all(
        s.get("mode") == "adaptive" for s in recorded.retry_settings
    )


def test_the_row_mapping(endpoint: str) -> None:
    lines = seeded_lines()
    queue_answers(endpoint, three_pages(lines))
    _, batches = sync_all({"endpoint_url": endpoint})
    rows = {(r["billed_date"], r["product"], r["account_id"]): r for r in rows_of(batches)}

    early, late = lines[5], lines[-1]  # an actual day, an estimated one
    for line in (early, late):
        row = rows[line.day, line.product, line.account]
        # `additional_info` and `data` are the compact text of one JSON object each.
        for name in ("additional_info", "data"):
            assert isinstance(row[name], str)
            assert row[name] == json.dumps(json.loads(row[name]), separators=(",", ":"))
        row = {**row, "additional_info": json.loads(row["additional_info"])}
        row["data"] = json.loads(row["data"])
        assert row == {
            "cost": float(line.cost),
            "usage_quantity": float(line.quantity),
            "usage_unit": line.unit,
            "provider": "aws",
            "region_code": None,
            "region_key": None,
            "product": line.product,
            "usage_type": None,
            "resource": None,
            "account_id": line.account,
            "billed_date": line.day,
            "tags": [],
            "additional_info": {
                "Metric": "UnblendedCost",
                "Currency": "USD",
                "Estimated": "true" if line.estimated else "false",
            },
            "data": {"UnblendedCost": float(line.cost), "UsageQuantity": float(line.quantity)},
        }
    assert not early.estimated and late.estimated


def test_missing_amounts_and_units_are_left_out(endpoint: str) -> None:
    partial = answer(seeded_lines("2024-01-01", "2024-01-01"))
    groups = partial["ResultsByTime"][0]["Groups"]
    del groups[0]["Metrics"]["UsageQuantity"]  # no usage: no quantity, no unit
    del groups[1]["Metrics"]["UnblendedCost"]["Unit"]  # an amount without its currency
    groups[2]["Metrics"] = {}  # nothing at all
    queue_answers(endpoint, [partial])
    _, batches = sync_all({"endpoint_url": endpoint}, start=START, end=START)
    rows = rows_of(batches)
    assert len(rows) == 4
    info = [json.loads(r["additional_info"]) for r in rows]
    data = [json.loads(r["data"]) for r in rows]
    lines = seeded_lines("2024-01-01", "2024-01-01")

    assert (rows[0]["usage_quantity"], rows[0]["usage_unit"]) == (None, None)
    assert info[0] == {"Metric": "UnblendedCost", "Currency": "USD", "Estimated": "false"}
    assert data[0] == {"UnblendedCost": float(lines[0].cost)}
    assert info[1] == {"Metric": "UnblendedCost", "Estimated": "false"}
    assert data[1] == {
        "UnblendedCost": float(lines[1].cost),
        "UsageQuantity": float(lines[1].quantity),
    }
    assert (rows[2]["cost"], rows[2]["usage_quantity"]) == (None, None)
    assert info[2] == {"Metric": "UnblendedCost", "Estimated": "false"}
    assert rows[2]["data"] == "{}"
    assert None not in (v for d in info + data for v in d.values())


def test_rows_are_batched_across_pages(endpoint: str) -> None:
    queue_answers(endpoint, three_pages(seeded_lines()))
    _, batches = sync_all({"endpoint_url": endpoint}, AwsCostExplorer(batch_rows=100))
    assert [b.num_rows for b in batches] == [100, 100, 40]


def test_the_metric_option(endpoint: str, recorded: Recorded) -> None:
    lines = seeded_lines("2024-02-01", "2024-02-03")
    queue_answers(endpoint, [answer(lines, "AmortizedCost")])
    months, batches = sync_all(
        {"endpoint_url": endpoint, "metric": "AmortizedCost"}, start="2024-02-01", end="2024-02-03"
    )
    assert months == {"2024-02"}
    assert recorded.calls[0]["Metrics"] == ["AmortizedCost", "UsageQuantity"]
    rows = rows_of(batches)
    assert len(rows) == len(lines) == 12
    assert sum(r["cost"] for r in rows) == pytest.approx(sum(float(x.cost) for x in lines))
    for row in rows:
        assert json.loads(row["additional_info"])["Metric"] == "AmortizedCost"
        assert set(json.loads(row["data"])) == {"AmortizedCost", "UsageQuantity"}


def test_every_month_of_the_range_is_reported_even_without_rows(
    endpoint: str, recorded: Recorded
) -> None:
    lines = seeded_lines("2024-01-30", "2024-01-31")
    queue_answers(endpoint, [answer(lines)])
    months, batches = sync_all({"endpoint_url": endpoint}, start="2023-12-01", end="2024-02-10")
    assert months == {"2023-12", "2024-01", "2024-02"}
    assert {r["billed_date"] for r in rows_of(batches)} == {"2024-01-30", "2024-01-31"}
    assert recorded.calls[0]["TimePeriod"] == {"Start": "2023-12-01", "End": "2024-02-11"}


def test_the_default_range_is_months_back_through_today(endpoint: str, recorded: Recorded) -> None:
    pinned = AwsCostExplorer(today=lambda: date(2024, 3, 15))
    months, batches = sync_all(
        {"endpoint_url": endpoint, "months_back": 2}, pinned, start=None, end=None
    )
    assert months == {"2024-02", "2024-03"}
    assert batches == []  # nothing was queued: Cost Explorer had no cost to report
    assert recorded.calls[0]["TimePeriod"] == {"Start": "2024-02-01", "End": "2024-03-16"}

    months, _ = sync_all({"endpoint_url": endpoint}, pinned, start=None, end=None)
    assert months == {"2024-01", "2024-02", "2024-03"}
    assert recorded.calls[1]["TimePeriod"] == {"Start": "2024-01-01", "End": "2024-03-16"}


def test_an_assumed_role_reads_the_roles_account(endpoint: str, recorded: Recorded) -> None:
    queue_answers(endpoint, [answer(seeded_lines("2024-01-01", "2024-01-01"))])
    secret = {**aws_moto.CREDENTIALS, "role_arn": f"arn:aws:iam::{aws_moto.ACCOUNT_ID}:role/x"}
    _, batches = sync_all({"endpoint_url": endpoint}, secret=secret, start=START, end=START)
    assert len(rows_of(batches)) == 4
    assert len(recorded.calls) == 1


def test_a_repeated_page_token_is_a_plugin_error(endpoint: str) -> None:
    lines = seeded_lines("2024-01-01", "2024-01-02")
    queue_answers(endpoint, [answer(lines[:4], token="again"), answer(lines[4:], token="again")])
    with pytest.raises(PluginError, match="same NextPageToken twice"):
        sync_all({"endpoint_url": endpoint})


def test_a_non_numeric_amount_is_a_plugin_error(endpoint: str) -> None:
    broken = answer(seeded_lines("2024-01-01", "2024-01-01"))
    broken["ResultsByTime"][0]["Groups"][1]["Metrics"]["UnblendedCost"]["Amount"] = "lots"
    queue_answers(endpoint, [broken])
    with pytest.raises(
        PluginError, match=r"non-numeric UnblendedCost amount 'lots' for 2024-01-01"
    ):
        sync_all({"endpoint_url": endpoint})


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-inf"])
def test_a_non_finite_amount_is_a_plugin_error(endpoint: str, amount: str) -> None:
    broken = answer(seeded_lines("2024-01-01", "2024-01-01"))
    broken["ResultsByTime"][0]["Groups"][2]["Metrics"]["UsageQuantity"]["Amount"] = amount
    queue_answers(endpoint, [broken])
    with pytest.raises(PluginError, match=r"non-numeric UsageQuantity amount .* for 2024-01-01"):
        sync_all({"endpoint_url": endpoint})


# ------------------------------------------------------------------------------------------------
# Cancellation
# ------------------------------------------------------------------------------------------------


def test_cancellation_stops_between_pages(endpoint: str, recorded: Recorded) -> None:
    queue_answers(endpoint, three_pages(seeded_lines()))
    cancelled = lambda: len(recorded.calls) >= 1  # noqa: E731 - set once the first page is asked
    feed = plugin.sync(make_ctx({"endpoint_url": endpoint}, cancelled=cancelled))
    assert read(feed.batches) == []  # the first page's rows are dropped, not half a range
    assert len(recorded.calls) == 1


def test_cancellation_between_batches(endpoint: str, recorded: Recorded) -> None:
    queue_answers(endpoint, three_pages(seeded_lines()))
    stop = threading.Event()
    feed = AwsCostExplorer(batch_rows=50).sync(
        make_ctx({"endpoint_url": endpoint}, cancelled=stop.is_set)
    )
    got = []
    for batch in feed.batches:
        got.append(batch)
        stop.set()
    # The page under way is read to its end (82 rows: one full batch); no page after it.
    assert [b.num_rows for b in got] == [50]
    assert len(recorded.calls) == 1


def test_a_sync_cancelled_before_it_starts_asks_nothing(endpoint: str, recorded: Recorded) -> None:
    queue_answers(endpoint, three_pages(seeded_lines()))
    feed = plugin.sync(make_ctx({"endpoint_url": endpoint}, cancelled=lambda: True))
    assert read(feed.batches) == []
    assert recorded.calls == []


# ------------------------------------------------------------------------------------------------
# Failures
# ------------------------------------------------------------------------------------------------


def test_unknown_keys_are_a_plugin_error(endpoint: str, recorded: Recorded) -> None:
    secret = {"aws_access_key_id": SECRET_VALUES[0], "aws_secret_access_key": SECRET_VALUES[1]}
    started = time.monotonic()
    with aws_moto.iam_auth(endpoint), pytest.raises(PluginError) as caught:
        sync_all({"endpoint_url": endpoint}, secret=secret)
    assert time.monotonic() - started < 20
    assert caught.value.message == (
        "AWS rejected the credentials of this service account: InvalidClientTokenId"
    )
    _no_secret_in(str(caught.value))
    assert recorded.calls == []  # no (billed) Cost Explorer call with keys that do not work


def test_keys_without_cost_explorer_permission_are_a_plugin_error(endpoint: str) -> None:
    iam = boto3.client(
        "iam", region_name="us-east-1", endpoint_url=endpoint, **aws_moto.CREDENTIALS
    )
    iam.create_user(UserName="no-ce")
    key = iam.create_access_key(UserName="no-ce")["AccessKey"]
    secret = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    with aws_moto.iam_auth(endpoint), pytest.raises(PluginError) as caught:
        sync_all({"endpoint_url": endpoint}, secret=secret)
    assert caught.value.message.startswith(
        "AWS refused ce:GetCostAndUsage for this service account"
    )
    _no_secret_in(str(caught.value), key["AccessKeyId"], key["SecretAccessKey"])


def test_an_unreachable_endpoint_is_a_plugin_error() -> None:
    started = time.monotonic()
    with pytest.raises(PluginError, match=r"could not reach AWS \(sts:GetCallerIdentity\)"):
        sync_all({"endpoint_url": "http://127.0.0.1:9"})
    assert time.monotonic() - started < 20


@dataclass
class ProxyState:
    url: str = ""
    failed: int = 0


@contextlib.contextmanager
def ce_failing_proxy(endpoint: str, code: str, *, times: int | None = None) -> Iterator[ProxyState]:
    """A proxy to moto answering `GetCostAndUsage` with the JSON error `code` as Cost Explorer
    sends it (HTTP 400), the first `times` attempts (all when None); the rest goes to moto."""
    target = urlsplit(endpoint)
    state = ProxyState()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            is_ce = self.headers.get("X-Amz-Target", "").endswith(".GetCostAndUsage")
            if is_ce and (times is None or state.failed < times):
                state.failed += 1
                error = json.dumps({"__type": code, "Message": "from ce_failing_proxy"})
                self._reply(400, [("Content-Type", "application/x-amz-json-1.1")], error.encode())
                return
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                fwd = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request("POST", self.path, body=body, headers=fwd)
                answer = conn.getresponse()
                self._reply(answer.status, answer.getheaders(), answer.read())
            finally:
                conn.close()

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.daemon_threads = True
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        yield state
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


@pytest.fixture
def three_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cost Explorer calls retried 3 times (instead of 10) so throttling tests stay short
    (botocore's `max_attempts` counts retries: 4 attempts in all)."""
    config = Config(retries={"mode": "adaptive", "max_attempts": 3}, connect_timeout=5)
    monkeypatch.setattr(aws_session, "CLIENT_CONFIG", config)


def test_access_denied_is_a_plugin_error(endpoint: str) -> None:
    with (
        ce_failing_proxy(endpoint, "AccessDeniedException") as proxy,
        pytest.raises(PluginError) as caught,
    ):
        sync_all({"endpoint_url": proxy.url})
    assert caught.value.message.startswith(
        "AWS refused ce:GetCostAndUsage for this service account: AccessDeniedException;"
    )
    assert proxy.failed == 1  # refusals are not retried


@pytest.mark.usefixtures("three_attempts")
def test_throttling_is_retried(endpoint: str) -> None:
    queue_answers(endpoint, [answer(seeded_lines("2024-01-01", "2024-01-01"))])
    with ce_failing_proxy(endpoint, "LimitExceededException", times=2) as proxy:
        _, batches = sync_all({"endpoint_url": proxy.url}, start=START, end=START)
    assert proxy.failed == 2
    assert len(rows_of(batches)) == 4


@pytest.mark.usefixtures("three_attempts")
def test_throttling_after_the_retries_is_a_plugin_error(endpoint: str) -> None:
    started = time.monotonic()
    with (
        ce_failing_proxy(endpoint, "LimitExceededException") as proxy,
        pytest.raises(PluginError) as caught,
    ):
        sync_all({"endpoint_url": proxy.url})
    assert time.monotonic() - started < 20
    assert proxy.failed == 4  # the first attempt and three retries
    assert caught.value.message == (
        "AWS Cost Explorer kept throttling ce:GetCostAndUsage after retries "
        "(LimitExceededException); try the sync again later"
    )
