"""The asset inventory pages, driven in chromium against a demo server: counts, the filtered,
sorted, paged table of cloud services, one resource's page, and what a project member sees.

Every number the page shows is compared with the API's answer to the same question.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from console.harness import LiveServer, Watched, screenshot, sign_in
from skyatlas.explorer.filter_string import escape

pytestmark = pytest.mark.xdist_group("console-inventory")

HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
MEMBER_PASSWORD = "member-Pass-2026"


def through_htmx(page: Any, action: Any) -> None:
    """Do something that sends an htmx request, and wait until its answer is in the page."""
    with page.expect_response(lambda r: r.request.resource_type in ("xhr", "fetch")):
        action()
    page.wait_for_function(HTMX_IDLE)


def api_list(live: LiveServer, query: dict[str, Any], token: str | None = None) -> Any:
    return live.api("/inventory/cloud-service/list", {"query": query}, token=token)


def shown_total(page: Any) -> int:
    return int(page.locator("#inv-total").get_attribute("data-total"))


def column(page: Any, n: int) -> list[str]:
    return page.locator(f"#inv-table tbody tr td:nth-child({n})").all_inner_texts()


def open_inventory(w: Watched, query: str = "") -> Any:
    page = sign_in(w)
    page.goto(w.base_url + "/console/inventory" + query)
    page.locator("#inv-counts .count-group").first.wait_for()
    return page


def test_filter_by_provider_narrows_the_table_to_the_apis_total(
    watched: Watched, live: LiveServer
) -> None:
    page = open_inventory(watched)
    assert shown_total(page) == api_list(live, {"count_only": True})["total_count"]
    assert len(column(page, 1)) == 20  # the default page size

    through_htmx(page, lambda: page.get_by_label("Provider", exact=True).select_option("azure"))
    expected = api_list(
        live, {"filter": [{"k": "provider", "v": "azure", "o": "eq"}], "count_only": True}
    )["total_count"]
    assert 20 < shown_total(page) == expected
    assert set(column(page, 2)) == {"azure"}
    assert "provider=azure" in page.url  # bookmarkable
    # the counts follow the filter, and the provider's count is the table's total
    counts = page.locator("#inv-counts")
    counts.locator("a.active").wait_for()
    assert counts.locator("a.active .label").inner_text() == "azure"
    assert int(counts.locator("a.active .num").get_attribute("data-count")) == expected
    screenshot(page, "inventory-list")

    # a count is a link that filters: a service group of azure
    group = counts.get_by_role("region", name="Service groups").locator("a").first
    label, count = (
        group.locator(".label").inner_text(),
        group.locator(".num").get_attribute("data-count"),
    )
    through_htmx(page, group.click)
    page.wait_for_function(HTMX_IDLE)
    assert shown_total(page) == int(count)
    assert set(column(page, 3)) == {label}
    assert page.get_by_label("Service group", exact=True).input_value() == label

    bookmark = page.url
    # Back returns to the view before it (the server renders it anew)
    page.go_back()
    page.locator(f"#inv-total[data-total='{expected}']").wait_for()
    assert page.url.endswith("?provider=azure")
    assert page.get_by_label("Service group", exact=True).input_value() == ""
    # a bookmarked view opens as it was
    page.goto(bookmark)
    assert shown_total(page) == int(count)
    assert page.get_by_label("Provider", exact=True).input_value() == "azure"
    assert page.get_by_label("Service group", exact=True).input_value() == label


def test_sorting_by_name_is_done_by_the_server(watched: Watched, live: LiveServer) -> None:
    page = open_inventory(watched, "?provider=aws")
    before = column(page, 1)
    through_htmx(page, page.get_by_role("button", name="Name").click)
    ascending = column(page, 1)
    api = api_list(
        live,
        {
            "filter": [{"k": "provider", "v": "aws", "o": "eq"}],
            "sort": [{"key": "name"}],
            "page": {"start": 1, "limit": 20},
            "only": ["name"],
        },
    )
    assert ascending == [r["name"] for r in api["results"]] != before
    through_htmx(page, page.get_by_role("button", name="Name ▲").click)
    descending = column(page, 1)
    api = api_list(
        live,
        {
            "filter": [{"k": "provider", "v": "aws", "o": "eq"}],
            "sort": [{"key": "name", "desc": True}],
            "page": {"start": 1, "limit": 20},
            "only": ["name"],
        },
    )
    assert descending == [r["name"] for r in api["results"]]
    assert descending[0] > ascending[0]
    assert "sort=-name" in page.url


def test_paging_shows_the_next_rows(watched: Watched, live: LiveServer) -> None:
    page = open_inventory(watched, "?provider=google_cloud&sort=name")
    first = column(page, 1)
    through_htmx(page, page.get_by_role("button", name="Next").click)
    second = column(page, 1)
    api = api_list(
        live,
        {
            "filter": [{"k": "provider", "v": "google_cloud", "o": "eq"}],
            "sort": [{"key": "name"}],
            "page": {"start": 21, "limit": 20},
            "only": ["name"],
        },
    )
    assert second == [r["name"] for r in api["results"]]
    assert not set(first) & set(second)
    assert page.locator(".pager span").inner_text().startswith("21\N{EN DASH}40 of")
    through_htmx(page, lambda: page.get_by_label("Rows per page").select_option("50"))
    assert len(column(page, 1)) == 50
    assert page.locator(".pager span").inner_text().startswith("1\N{EN DASH}50 of")


def test_advanced_filter_the_server_judges(watched: Watched, live: LiveServer) -> None:
    page = open_inventory(watched)
    page.get_by_text("Advanced filter").click()  # folded away until needed
    page.get_by_role("button", name="Add condition").click()
    page.get_by_label("Condition 1 key").fill("instance_size")
    page.get_by_label("Condition 1 operator").select_option("gt")
    page.get_by_label("Condition 1 value").fill("4")
    through_htmx(page, page.get_by_role("button", name="Apply filter").click)
    expected = api_list(
        live, {"filter": [{"k": "instance_size", "v": 4, "o": "gt"}], "count_only": True}
    )["total_count"]
    assert 0 < shown_total(page) == expected

    page.get_by_label("Condition 1 key").fill("instance_sise")
    through_htmx(page, page.get_by_role("button", name="Apply filter").click)
    answer = live.request(
        "POST",
        "/inventory/cloud-service/list",
        {"query": {"filter": [{"k": "instance_sise", "v": 4, "o": "gt"}]}},
    )
    assert answer.status_code == 400
    message = answer.json()["detail"]["message"]
    error = page.locator("#inv-filter-error")
    assert message in error.inner_text()
    assert error.get_by_role("alert").is_visible()
    # a value of the wrong type: the server's words too
    page.get_by_label("Condition 1 key").fill("name")
    page.get_by_label("Condition 1 operator").select_option("in")
    page.get_by_label("Condition 1 value").fill("{}")
    through_htmx(page, page.get_by_role("button", name="Apply filter").click)
    answer = live.request(
        "POST",
        "/inventory/cloud-service/list",
        {"query": {"filter": [{"k": "name", "v": ["{}"], "o": "in"}]}},
    )
    assert answer.status_code == 200
    assert shown_total(page) == answer.json()["total_count"] == 0
    assert error.inner_text() == ""


def _wait_operation(live: LiveServer, operation_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = live.request("GET", f"/api/v1/operations/{operation_id}").json()["operation"]
        if state["state"] in ("SUCCEEDED", "FAILED"):
            assert state["state"] == "SUCCEEDED", state
            return
        time.sleep(0.2)
    raise AssertionError(f"operation {operation_id} did not finish")


def test_the_resource_page_shows_data_tags_and_cost(watched: Watched, live: LiveServer) -> None:
    billed = live.api(
        "/cost-analysis/cost/list",
        {
            "query": {
                "filter": [{"k": "provider", "v": "aws", "o": "eq"}],
                "page": {"start": 1, "limit": 1},
                "only": ["resource"],
            }
        },
    )["results"][0]["resource"]
    record = api_list(live, {"filter": [{"k": "reference.resource_id", "v": billed, "o": "eq"}]})[
        "results"
    ][0]
    # a custom tag on it, as the Resource Explorer attaches one
    kcrn = live.request(
        "POST",
        "/api/v1/resources/search",
        {"filter": {"filter_string": f"resource_id={escape(billed)}"}},
    ).json()["resources"][0]["kcrn"]
    created = live.request(
        "POST",
        "/api/v1/tags",
        {"tags": [{"key": "owner", "value": "console-test"}], "project_id": record["project_id"]},
    ).json()
    attached = live.request(
        "PATCH",
        "/api/v1/tags",
        {
            "kcrns": [kcrn],
            "connect_tag_ids": [created["tags"][0]["tag_id"]],
            "disconnect_tag_ids": [],
        },
    ).json()
    _wait_operation(live, attached["operation_id"])

    page = sign_in(watched)
    page.goto(watched.base_url + "/console/inventory?keyword=" + record["name"])
    page.locator(f"#inv-table a[href$='/{record['cloud_service_id']}']").click()
    page.wait_for_url(f"**/console/inventory/{record['cloud_service_id']}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(record["name"])

    # data as a collapsible tree
    tree = page.locator(".data-tree")
    nested = [k for k, v in record["data"].items() if isinstance(v, dict)]
    assert nested
    summary = tree.locator("summary").filter(has_text=re.compile(f"^{re.escape(nested[0])}$"))
    branch = summary.first.locator("xpath=..")
    assert branch.get_attribute("open") is not None  # the first level is open
    summary.first.click()
    assert branch.get_attribute("open") is None

    # provider tags and the custom one
    tags = page.locator("#resource-tags")
    for key, value in record["tags"]["aws"].items():
        assert tags.locator("tr", has_text=key).filter(has_text=value).count() >= 1
    assert tags.locator("tr.custom-tag td").all_inner_texts() == ["custom", "owner", "console-test"]

    # its cost: the API's monthly analyze of the rows naming its resource id
    today = time.gmtime()
    index = today.tm_year * 12 + today.tm_mon - 1 - 11
    answer = live.api(
        "/cost-analysis/cost/analyze",
        {
            "query": {
                "granularity": "MONTHLY",
                "start": f"{index // 12:04d}-{index % 12 + 1:02d}",
                "end": f"{today.tm_year:04d}-{today.tm_mon:02d}",
                "fields": {"cost": {"key": "cost", "operator": "sum"}},
                "filter": [{"k": "resource", "v": billed, "o": "eq"}],
                "sort": [{"key": "date"}],
            }
        },
    )
    rows = page.locator("#cost-table tbody tr")
    assert rows.count() == len(answer["results"]) > 0
    for i, expected in enumerate(answer["results"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == expected["date"]
        assert float(cells.nth(1).get_attribute("data-value")) == pytest.approx(expected["cost"])
    page.locator("[data-chart-ready=true]").wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "inventory-resource")

    # a resource no bill names says so
    unbilled = api_list(
        live,
        {
            "filter": [{"k": "cloud_service_group", "v": "IAM", "o": "eq"}],
            "page": {"start": 1, "limit": 1},
            "only": ["cloud_service_id"],
        },
    )["results"][0]
    page.goto(watched.base_url + f"/console/inventory/{unbilled['cloud_service_id']}")
    assert page.locator("#no-cost").inner_text().startswith("No cost data covers this resource")


def test_a_project_member_sees_only_its_projects_resources(
    watched: Watched, live: LiveServer
) -> None:
    workspace_id = live.api("/identity/workspace/list", {})["results"][0]["workspace_id"]
    project = live.api(
        "/identity/project/create", {"name": "console-member-project", "workspace_id": workspace_id}
    )
    for i in range(3):
        live.api(
            "/inventory/cloud-service/create",
            {
                "cloud_service_type": "Bucket",
                "cloud_service_group": "S3",
                "provider": "aws",
                "name": f"member-bucket-{i}",
                "project_id": project["project_id"],
                "region_code": "us-east-1",
                "reference": {"resource_id": f"arn:aws:s3:::member-bucket-{i}"},
                "tags": {"team": "members"},
                "data": {},
            },
        )
    live.api(
        "/identity/user/create",
        {"user_id": "member1", "password": "first-Pass-2026", "name": "Member One"},
    )
    live.api(
        "/identity/role-binding/create",
        {
            "user_id": "member1",
            "role_id": "managed-workspace-member",
            "resource_group": "WORKSPACE",
            "workspace_id": workspace_id,
            "project_id": project["project_id"],
        },
    )
    page = sign_in(watched, "member1", "first-Pass-2026")
    # the first sign-in asks for a new password, on the page
    page.wait_for_url("**/console/password")
    page.get_by_label("Current password", exact=True).fill("first-Pass-2026")
    page.get_by_label("New password", exact=True).fill(MEMBER_PASSWORD)
    page.get_by_label("Repeat the new password").fill(MEMBER_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(lambda url: "changed=password" in url)

    page.goto(watched.base_url + "/console/inventory")
    page.locator("#inv-counts .count-group").first.wait_for()
    assert shown_total(page) == 3
    assert set(column(page, 6)) == {"console-member-project"}
    counts = page.locator("#inv-counts").get_by_role("region", name="Providers")
    assert counts.locator(".num").all_inner_texts() == ["3"]

    page.goto(watched.base_url + "/console/explorer")
    assert int(page.locator("#explorer-total").get_attribute("data-total")) == 3
    projects = page.locator("#explorer-table tbody tr td:nth-child(7)").all_inner_texts()
    assert projects == ["console-member-project"] * 3
    # a filter that matches thousands of the workspace's resources still finds only these
    page.get_by_label("Filter", exact=True).fill("tag:all")
    through_htmx(page, page.get_by_role("button", name="Search").click)
    assert int(page.locator("#explorer-total").get_attribute("data-total")) == 3
