"""Cost pages in the console over the FOCUS sample synced into the demo server: the analysis
chart and table against the API's own analyze, the CSV export against the table, a member
who sees only its project's costs, data sources with sync progress, budgets per month."""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from console.harness import LiveServer, Watched, open_as, screenshot

pytestmark = pytest.mark.xdist_group("console-cost")

CONSOLE = "/console"
#: Page round trips on a busy 2-core CI machine can take seconds.
WAIT = 15_000


SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "focus"
SAMPLE_FILE = SAMPLE / "focus-1.0-sample.csv"
#: A FOCUS SubAccountId of the sample (AWS, about 1.34 USD) that the member's project owns.
MEMBER_ACCOUNT = "18938484842"
MEMBER_ID = "cost-member"
MEMBER_PASSWORD = "member-Pass-2026"
MEMBER_NEW_PASSWORD = "member-Next-2026"
SEPTEMBER = {"start": "2024-09-01", "end": "2024-09-30"}


def wait_job(live: LiveServer, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = live.api("/cost-analysis/job/get", {"job_id": job_id})
        if job["status"] != "IN_PROGRESS":
            return job
        assert time.monotonic() < deadline, f"sync {job_id} still running"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def focus(live: LiveServer) -> dict[str, Any]:
    """The FOCUS sample synced into the default workspace, with the member's project owning
    one of its sub-accounts (mapped through a service account's `data.account_id`)."""
    if not SAMPLE_FILE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the FOCUS sample is missing: {SAMPLE_FILE}")
        pytest.skip(f"the FOCUS sample is missing: {SAMPLE_FILE}")
    workspace_id = live.boot["workspace_id"]
    root = live.runtime.settings.allowed_import_roots[0] / "focus"
    root.mkdir(parents=True, exist_ok=True)
    target = root / SAMPLE_FILE.name
    shutil.copy(SAMPLE_FILE, target)
    project = live.api(
        "/identity/project/create", {"name": "Console billing", "workspace_id": workspace_id}
    )
    live.api(
        "/identity/service-account/create",
        {
            "name": "billing-sub-account",
            "provider": "aws",
            "project_id": project["project_id"],
            "data": {"account_id": MEMBER_ACCOUNT},
        },
    )
    ds = live.api(
        "/cost-analysis/data-source/register",
        {
            "name": "FOCUS sample",
            "plugin_info": {"plugin_id": "focus", "options": {"path": str(target)}},
            "workspace_id": workspace_id,
        },
    )
    job = live.api("/cost-analysis/data-source/sync", {"data_source_id": ds["data_source_id"]})
    assert wait_job(live, job["job_id"])["status"] == "SUCCESS"
    return {
        "data_source_id": ds["data_source_id"],
        "project_id": project["project_id"],
        "path": target,
        "workspace_id": workspace_id,
    }


def api_analyze(live: LiveServer, query: dict[str, Any], token: str | None = None) -> list[dict]:
    body = {"query": {"fields": {"cost": {"key": "cost", "operator": "sum"}}, **query}}
    return list(live.api("/cost-analysis/cost/analyze", body, token=token)["results"])


def table_cells(page: Any) -> list[list[str]]:
    """The analysis table as the CSV export reads it: a cell's data-value, else its text."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#cost-table tr')).map(tr =>
            Array.from(tr.querySelectorAll('th,td')).map(c =>
              (c.getAttribute('data-value') || c.textContent).trim()))"""
    )


def chart_option(page: Any) -> dict[str, Any]:
    page.wait_for_selector("#cost-chart[data-chart-ready]")
    return page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('cost-chart')).getOption()"
    )


def test_the_analysis_draws_a_bar_group_per_period_and_its_table_equals_the_api(
    live: LiveServer, watched: Watched, focus: dict[str, Any], tmp_path: Path
) -> None:
    page = open_as(watched, "/cost/analysis")
    expect(page.get_by_role("heading", name="Cost analysis")).to_be_visible()
    # Every control applies at once, without a full reload, and lands in the URL.
    page.get_by_label("Data source").select_option(label="FOCUS sample")
    page.get_by_label("Group by").select_option("provider")
    page.get_by_label("Start").fill(SEPTEMBER["start"])
    page.get_by_label("End").fill(SEPTEMBER["end"])
    page.get_by_label("Granularity").select_option("DAILY")
    page.wait_for_url("**granularity=DAILY**")
    page.wait_for_load_state("networkidle")
    assert "start=2024-09-01" in page.url and "end=2024-09-30" in page.url

    query = {
        "granularity": "DAILY",
        **SEPTEMBER,
        "group_by": ["provider"],
        "filter": [{"k": "data_source_id", "v": focus["data_source_id"], "o": "eq"}],
    }
    rows = api_analyze(live, query)
    providers = defaultdict(list)
    by_cell: dict[tuple[str, str], float] = {}
    for row in rows:
        providers[row["provider"]].append(row["cost"])
        by_cell[(row["provider"], row["date"])] = row["cost"]
    assert set(providers) == {"aws", "azure", "oracle"}
    days = [f"2024-09-{d:02d}" for d in range(1, 31)]
    assert {r["date"] for r in rows} == set(days)

    option = chart_option(page)
    assert option["xAxis"][0]["data"] == days  # one bar group per day
    assert sorted(option["legend"][0]["data"]) == sorted(providers)  # one entry per provider
    assert {s["name"] for s in option["series"]} == set(providers)
    assert all(s["stack"] == "total" and len(s["data"]) == 30 for s in option["series"])
    page.evaluate("document.activeElement && document.activeElement.blur()")
    screenshot(page, "cost-analysis")

    cells = table_cells(page)
    assert cells[0] == ["Provider", *days, "Total"]
    body, footer = cells[1:-1], cells[-1]
    assert sorted(r[0] for r in body) == sorted(providers)
    for line in body:
        for day, value in zip(days, line[1:-1], strict=True):
            assert float(value) == by_cell.get((line[0], day), 0.0), (line[0], day)
        assert float(line[-1]) == math.fsum(providers[line[0]])
    for i, day in enumerate(days):
        want = math.fsum(c for (_p, d), c in by_cell.items() if d == day)
        assert float(footer[1 + i]) == want
    assert float(footer[-1]) == math.fsum(r["cost"] for r in rows)
    assert (
        page.locator("#cost-table tfoot td.total")
        .inner_text()
        .startswith(f"{math.fsum(r['cost'] for r in rows):,.2f}")
    )

    # The CSV export is exactly the table.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as fh:
        exported = list(csv.reader(fh))
    assert exported == cells

    # Monthly: one bar group per month of the range, the same total.
    page.get_by_label("Start").fill("2024-07-01")
    page.get_by_label("End").fill("2024-10-31")
    page.get_by_label("Granularity").select_option("MONTHLY")
    page.wait_for_url("**granularity=MONTHLY**")
    page.wait_for_load_state("networkidle")
    option = chart_option(page)
    assert option["xAxis"][0]["data"] == ["2024-07", "2024-08", "2024-09", "2024-10"]
    monthly = api_analyze(
        live, {**query, "granularity": "MONTHLY", "start": "2024-07", "end": "2024-10"}
    )
    assert {r["date"] for r in monthly} == {"2024-09"}
    footer = table_cells(page)[-1]
    assert float(footer[-1]) == math.fsum(r["cost"] for r in monthly)
    assert float(footer[3]) == math.fsum(r["cost"] for r in monthly)  # September's column

    # The bookmark reproduces the view on a full load.
    page.goto(page.url)
    assert chart_option(page)["xAxis"][0]["data"] == ["2024-07", "2024-08", "2024-09", "2024-10"]


def test_a_tag_key_groups_and_a_bad_filter_says_what_to_do(
    live: LiveServer, watched: Watched, focus: dict[str, Any]
) -> None:
    sources = live.api(
        "/cost-analysis/data-source/get", {"data_source_id": focus["data_source_id"]}
    )
    tag_key = sorted(k for k in sources["cost_tag_keys"] if re.fullmatch(r"[A-Za-z][\w-]*", k))[0]
    page = open_as(watched, "/cost/analysis")
    group = page.get_by_label("Group by")
    expect(group.locator(f'option[value="tags.{tag_key}"]')).to_have_count(1)
    page.get_by_label("Data source").select_option(label="FOCUS sample")
    page.get_by_label("Start").fill(SEPTEMBER["start"])
    page.get_by_label("End").fill(SEPTEMBER["end"])
    group.select_option(f"tags.{tag_key}")
    page.wait_for_url(f"**group_by=tags.{tag_key}**")
    page.wait_for_load_state("networkidle")
    rows = api_analyze(
        live,
        {
            "granularity": "MONTHLY",
            "start": "2024-09",
            "end": "2024-09",
            "group_by": [f"tags.{tag_key}"],
            "filter": [{"k": "data_source_id", "v": focus["data_source_id"], "o": "eq"}],
        },
    )
    footer = table_cells(page)[-1]
    assert float(footer[-1]) == math.fsum(r["cost"] for r in rows)

    page.get_by_label("Filter key").fill("no such key")
    page.get_by_label("equals").fill("x")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#analysis-result .error")).to_contain_text("Change the grouping or")


def test_a_member_sees_only_its_projects_costs(
    live: LiveServer, watched: Watched, focus: dict[str, Any]
) -> None:
    live.api(
        "/identity/user/create",
        {"user_id": MEMBER_ID, "password": MEMBER_PASSWORD, "name": "Cost member"},
    )
    live.api(
        "/identity/role-binding/create",
        {
            "user_id": MEMBER_ID,
            "role_id": "managed-workspace-member",
            "workspace_id": focus["workspace_id"],
            "project_id": focus["project_id"],
        },
    )
    page = watched.page
    page.goto(f"{live.base_url}{CONSOLE}/sign-in")
    page.get_by_label("User ID").fill(MEMBER_ID)
    page.get_by_label("Password", exact=True).fill(MEMBER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The first sign-in asks for a new password.
    page.wait_for_url("**/console/password")
    page.get_by_label("Current password").fill(MEMBER_PASSWORD)
    page.get_by_label("New password", exact=True).fill(MEMBER_NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(MEMBER_NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_load_state("networkidle")

    page.goto(
        f"{live.base_url}{CONSOLE}/cost/analysis?granularity=MONTHLY&start=2024-09-01"
        "&end=2024-09-30&group_by=account_id"
    )
    cells = table_cells(page)
    body, footer = cells[1:-1], cells[-1]
    project_rows = api_analyze(
        live,
        {
            "granularity": "MONTHLY",
            "start": "2024-09",
            "end": "2024-09",
            "filter": [{"k": "project_id", "v": focus["project_id"], "o": "eq"}],
        },
    )
    everything = api_analyze(
        live,
        {
            "granularity": "MONTHLY",
            "start": "2024-09",
            "end": "2024-09",
            "filter": [{"k": "workspace_id", "v": focus["workspace_id"], "o": "eq"}],
        },
    )
    want = math.fsum(r["cost"] for r in project_rows)
    assert 1.0 < want < math.fsum(r["cost"] for r in everything)
    assert [r[0] for r in body] == [MEMBER_ACCOUNT]
    assert float(footer[-1]) == pytest.approx(want, rel=1e-12)
    # Read-only role: no register or budget forms to fail on.
    page.goto(f"{live.base_url}{CONSOLE}/cost/data-sources")
    expect(page.get_by_role("button", name="Register", exact=True)).to_have_count(0)


def test_data_sources_register_sync_with_progress_and_deregister(
    live: LiveServer, watched: Watched, focus: dict[str, Any]
) -> None:
    page = open_as(watched, "/cost/data-sources")
    row = page.locator("#data-sources tr", has_text="FOCUS sample")
    expect(row).to_contain_text("ENABLED")
    expect(row).to_contain_text("1: 2024-09")
    expect(row.locator(".badge.SUCCESS")).to_have_count(1)

    page.get_by_label("Name", exact=True).fill("FOCUS again")
    page.get_by_label("Plugin").select_option("focus")
    page.get_by_label("FOCUS path").fill(str(focus["path"]))
    page.get_by_label("Cost column").select_option("EffectiveCost")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.get_by_text("Data source FOCUS again registered.")).to_be_visible()
    again = page.locator("#data-sources tr", has_text="FOCUS again")
    expect(again).to_contain_text("never synced")

    again.get_by_role("button", name="Sync FOCUS again now").click()
    expect(page.locator("#sync-status")).to_have_text("SUCCESS", timeout=60_000)
    expect(page.locator("#sync-progress")).to_contain_text("Synced 1,000 rows for 2024-09")
    # The list refreshes itself when the sync ends.
    expect(again.locator(".badge.SUCCESS")).to_have_count(1)
    expect(again).to_contain_text("1: 2024-09")
    screenshot(page, "cost-data-sources")

    page.on("dialog", lambda dialog: dialog.accept())
    again.get_by_role("button", name="Deregister FOCUS again").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#data-sources tr", has_text="FOCUS again")).to_have_count(0)

    # AWS Cost Explorer: credentials from a service account.
    account = live.api(
        "/identity/service-account/list",
        {"provider": "aws", "workspace_id": focus["workspace_id"]},
    )["results"][0]
    page.get_by_label("Name", exact=True).fill("AWS bills")
    page.get_by_label("Plugin").select_option("aws-cost-explorer")
    page.get_by_label("Service account").select_option(account["service_account_id"])
    page.get_by_label("Metric").select_option("AmortizedCost")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.get_by_text("Data source AWS bills registered.")).to_be_visible()
    (aws,) = live.api(
        "/cost-analysis/data-source/list",
        {"name": "AWS bills", "workspace_id": focus["workspace_id"]},
    )["results"]
    assert aws["plugin_info"]["plugin_id"] == "aws-cost-explorer"
    assert aws["plugin_info"]["options"]["metric"] == "AmortizedCost"
    assert aws["secret_filter"]["service_accounts"] == [account["service_account_id"]]
    live.api("/cost-analysis/data-source/deregister", {"data_source_id": aws["data_source_id"]})

    # A sync that fails says why and what to do.
    outside = live.api(
        "/cost-analysis/data-source/register",
        {
            "name": "FOCUS outside",
            "plugin_info": {"plugin_id": "focus", "options": {"path": str(SAMPLE_FILE)}},
            "workspace_id": focus["workspace_id"],
        },
    )
    page.reload()
    bad = page.locator("#data-sources tr", has_text="FOCUS outside")
    bad.get_by_role("button", name="Sync FOCUS outside now").click()
    expect(page.locator("#sync-status")).to_have_text("FAILURE", timeout=60_000)
    expect(page.locator("#sync-progress .error")).to_contain_text(
        "outside the directories this server imports from"
    )
    live.api("/cost-analysis/data-source/deregister", {"data_source_id": outside["data_source_id"]})


def test_budgets_show_a_utilisation_bar_per_month(
    live: LiveServer, watched: Watched, focus: dict[str, Any]
) -> None:
    september = math.fsum(
        r["cost"]
        for r in api_analyze(
            live,
            {
                "granularity": "MONTHLY",
                "start": "2024-09",
                "end": "2024-09",
                "filter": [{"k": "data_source_id", "v": focus["data_source_id"], "o": "eq"}],
            },
        )
    )
    page = open_as(watched, "/cost/budgets")
    page.get_by_label("Name", exact=True).fill("FOCUS monthly")
    page.get_by_label("Limit applies").select_option("MONTHLY")
    page.get_by_label("Limit", exact=True).fill("25")
    page.get_by_label("First month").fill("2024-08")
    page.get_by_label("Last month").fill("2024-10")
    page.get_by_label("Data source").select_option(label="FOCUS sample")
    page.get_by_role("button", name="Create").click()
    page.wait_for_load_state("networkidle")
    row = page.locator("#budgets tr", has_text="FOCUS monthly")
    bars = row.locator(".usage li")
    expect(bars).to_have_count(3)
    months = [bars.nth(i).get_attribute("data-month") for i in range(3)]
    assert months == ["2024-08", "2024-09", "2024-10"]
    rate = september / 25 * 100
    sept = row.locator('li[data-month="2024-09"]')
    expect(sept.locator(".rate")).to_have_text(f"{rate:.1f}%")
    assert float(sept.get_attribute("data-rate")) == pytest.approx(rate)
    assert sept.locator(".progress").get_attribute("class") == "progress"
    expect(row.locator('li[data-month="2024-08"] .rate')).to_have_text("0.0%")

    live.api(
        "/cost-analysis/budget/create",
        {
            "name": "FOCUS tight",
            "time_unit": "TOTAL",
            "limit": 10,
            "start": "2024-09",
            "end": "2024-09",
            "data_source_id": focus["data_source_id"],
            "workspace_id": focus["workspace_id"],
        },
    )
    page.reload()
    tight = page.locator("#budgets tr", has_text="FOCUS tight")
    over = tight.locator('li[data-month="2024-09"]')
    expect(over.locator(".progress.over")).to_have_count(1)
    expect(over.locator(".rate")).to_have_text(f"{september / 10 * 100:.1f}%")
    screenshot(page, "cost-budgets")

    page.on("dialog", lambda dialog: dialog.accept())
    tight.get_by_role("button", name="Delete budget FOCUS tight").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#budgets tr", has_text="FOCUS tight")).to_have_count(0)
