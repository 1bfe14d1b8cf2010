"""The Resource Explorer and Tags pages, driven in chromium against a demo server.

The issue's acceptance: `service=Virtual Machine&tag:none` shows the API's total_count, a bad
filter shows the server's 400 message under the box, and two selected rows get a new tag
attached and shown in place, without the page reloading.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from console.harness import LiveServer, Watched, screenshot, sign_in

pytestmark = pytest.mark.xdist_group("console-explorer")

UNTAGGED = "service=Virtual Machine&tag:none"
_unique = itertools.count()


def search_total(live: LiveServer, filter_string: str) -> int:
    answer = live.request(
        "POST", "/api/v1/resources/search", {"filter": {"filter_string": filter_string}, "limit": 1}
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total_count"])


@pytest.fixture(scope="module")
def untagged(live: LiveServer) -> dict[str, Any]:
    """Three tag-less virtual machines (the demo's all carry provider tags), two in one project
    and one in another, so that `tag:none` has rows to select across projects."""
    projects = live.api("/identity/project/list", {"query": {"sort": [{"key": "name"}]}})
    first, second = projects["results"][0], projects["results"][1]
    made = []
    for i, project in enumerate((first, first, second), start=1):
        made.append(
            live.api(
                "/inventory/cloud-service/create",
                {
                    "cloud_service_type": "Instance",
                    "cloud_service_group": "Virtual Machine",
                    "provider": "kakaocloud",
                    "name": f"console-untagged-{i}",
                    "region_code": "kr-central-2",
                    "project_id": project["project_id"],
                    "reference": {"resource_id": f"console-vm-{i}"},
                    "data": {"flavor": "m2a.large"},
                },
            )
        )
    return {"resources": made, "projects": (first, second)}


def open_explorer(w: Watched) -> Any:
    page = sign_in(w)
    page.goto(w.base_url + "/console/explorer")
    return page


#: True once htmx has no request in flight and nothing being swapped or settled.
HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def through_htmx(page: Any, action: Any) -> None:
    """Do something that sends an htmx request, and wait until its answer is in the page."""
    with page.expect_response(lambda r: r.request.resource_type in ("xhr", "fetch")):
        action()
    page.wait_for_function(HTMX_IDLE)


def search(page: Any, filter_string: str) -> None:
    page.get_by_label("Filter", exact=True).fill(filter_string)
    through_htmx(page, page.get_by_role("button", name="Search").click)


def shown_total(page: Any) -> int:
    return int(page.locator("#explorer-total").get_attribute("data-total"))


def test_the_count_shown_is_the_apis_total_count(
    watched: Watched, live: LiveServer, untagged: dict[str, Any]
) -> None:
    page = open_explorer(watched)
    search(page, UNTAGGED)
    expected = search_total(live, UNTAGGED)
    assert expected == 3  # the three made above, nothing else of the demo is tag-less
    assert shown_total(page) == expected
    assert page.locator("#explorer-total").inner_text() == f"{expected} resources"
    assert page.locator("#explorer-table tbody tr").count() == expected
    assert "filter_string=service" in page.url  # the view can be bookmarked
    # a larger set pages on the server: 20 rows, then the next 20 of the same total
    search(page, "service=Virtual Machine")
    assert shown_total(page) == search_total(live, "service=Virtual Machine") > 20
    first_page = page.locator("#explorer-table tbody tr").all_inner_texts()
    assert len(first_page) == 20
    through_htmx(page, page.get_by_role("button", name="Next").click)
    assert page.locator(".pager span").inner_text().startswith("21\N{EN DASH}40 of")
    assert not set(first_page) & set(page.locator("#explorer-table tbody tr").all_inner_texts())


def test_sorting_asks_the_server(watched: Watched, live: LiveServer) -> None:
    page = open_explorer(watched)
    search(page, "service=Virtual Machine")
    through_htmx(page, page.get_by_role("button", name="Name").click)
    through_htmx(page, page.get_by_role("button", name="Name ▲").click)
    names = page.locator("#explorer-table tbody tr td:nth-child(2)").all_inner_texts()
    api = live.request(
        "POST",
        "/api/v1/resources/search",
        {
            "filter": {"filter_string": "service=Virtual Machine"},
            "limit": 20,
            "sort": "-resource_name",
        },
    ).json()
    assert names == [r["resource_name"] or "—" for r in api["resources"]]
    assert names == sorted(names, reverse=True)


def test_a_bad_filter_shows_the_servers_message(watched: Watched, live: LiveServer) -> None:
    page = open_explorer(watched)
    bad = "servic=Virtual Machine"
    search(page, bad)
    answer = live.request("POST", "/api/v1/resources/search", {"filter": {"filter_string": bad}})
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    error = page.locator("#filter-error")
    assert message in error.inner_text()
    assert error.get_by_role("alert").is_visible()
    # the same for a KCRN filter of too few segments
    page.get_by_label("Filter", exact=True).fill("")
    page.get_by_label("KCRN filter").fill("kcrn:*:*")
    through_htmx(page, page.get_by_role("button", name="Search").click)
    answer = live.request(
        "POST", "/api/v1/resources/search", {"filter": {"filter_kcrn": "kcrn:*:*"}}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] in error.inner_text()


def test_attach_a_new_tag_to_two_rows_without_reloading(
    watched: Watched, live: LiveServer, untagged: dict[str, Any]
) -> None:
    page = open_explorer(watched)
    search(page, UNTAGGED)
    page.evaluate("window.__marker = 1")
    attach = page.get_by_role("button", name="Attach tag")
    assert attach.is_disabled()  # nothing selected yet
    # two rows of two different projects: the console creates the tag in each
    page.get_by_label("Select console-untagged-1").check()
    page.get_by_label("Select console-untagged-3").check()
    assert page.locator("#selection-count").inner_text() == "2 resources selected."
    key = f"console-e2e-{next(_unique)}"
    page.get_by_label("New tag key").fill(key)
    page.get_by_label("New tag value").fill("yes")
    attach.click()
    notice = page.locator("#tag-status .notice")
    notice.wait_for()
    assert notice.inner_text() == f"Attaching {key}=yes to 2 resources: applied."
    made = {r["name"]: r["cloud_service_id"] for r in untagged["resources"]}
    for name in ("console-untagged-1", "console-untagged-3"):
        row = page.locator(f"#row-{made[name]}")
        row.locator(".badge.custom", has_text=f"{key}=yes").wait_for()
    assert page.locator(f"#row-{made['console-untagged-2']} .badge.custom").count() == 0
    assert page.evaluate("window.__marker") == 1  # no navigation happened
    assert search_total(live, f"tag.key={key}&tag.value=yes") == 2
    # the new tag is now one of the existing tags to pick
    assert page.get_by_label("Existing tag").locator("option", has_text=f"{key}=yes").count() == 1
    screenshot(page, "explorer-search")

    # detach it again from one of the two, picking it from the list
    page.get_by_label("Select console-untagged-3").uncheck()
    page.get_by_label("Existing tag").select_option(label=f"{key}=yes")
    page.get_by_role("button", name="Detach tag").click()
    page.locator("#tag-status .notice", has_text=f"Detaching {key}=yes").wait_for()
    assert notice.inner_text() == f"Detaching {key}=yes from 1 resource: applied."
    page.locator(f"#row-{made['console-untagged-1']} .badge.custom").first.wait_for(
        state="detached"
    )
    assert page.locator(f"#row-{made['console-untagged-3']} .badge.custom").count() == 1
    assert page.evaluate("window.__marker") == 1
    assert search_total(live, f"tag.key={key}&tag.value=yes") == 1


def test_tags_page_creates_and_deletes_custom_tags(
    watched: Watched, live: LiveServer, untagged: dict[str, Any]
) -> None:
    page = sign_in(watched)
    # Every tag (system ones included) when asked; custom tags, the ones managed here, first.
    page.goto(watched.base_url + "/console/tags?kind=all")
    shown = int(page.locator("#tags-total").get_attribute("data-total"))
    api = live.request("POST", "/api/v1/tags/search", {"limit": 1}).json()
    assert shown == api["total_count"] > 0
    page.goto(watched.base_url + "/console/tags")
    assert page.get_by_label("Type").input_value() == "custom"
    page.evaluate("window.__marker = 1")

    project = untagged["projects"][0]
    key = f"console-made-{next(_unique)}"
    page.get_by_label("Project").select_option(label=project["name"])
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Value", exact=True).fill("v1")
    page.get_by_role("button", name="Create tag").click()
    page.locator("#tags-status .notice", has_text=f"Creating {key}=v1: applied.").wait_for()
    row = page.locator("#tags-table tbody tr", has_text=key)
    row.wait_for()
    assert row.locator("td").nth(5).inner_text() == "0"  # on no resource yet
    found = live.request(
        "POST", "/api/v1/tags/search", {"filter": {"filter_string": f"tag.key={key}"}}
    ).json()
    assert found["total_count"] == 1
    screenshot(page, "explorer-tags")

    # a duplicate is refused with the server's message
    page.get_by_role("button", name="Create tag").click()
    alert = page.locator("#tags-status").get_by_role("alert")
    alert.wait_for()
    assert "already has the tag" in alert.inner_text()

    page.get_by_label(f"Select {key}=v1").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete selected").click()
    page.locator("#tags-status .notice", has_text="Deleting 1 tag: applied.").wait_for()
    row.wait_for(state="detached")
    assert page.evaluate("window.__marker") == 1
    found = live.request(
        "POST", "/api/v1/tags/search", {"filter": {"filter_string": f"tag.key={key}"}}
    ).json()
    assert found["total_count"] == 0


def test_a_bad_tag_filter_shows_the_servers_message(watched: Watched, live: LiveServer) -> None:
    page = sign_in(watched)
    page.goto(watched.base_url + "/console/tags?filter_string=tag.colour%3Dred")
    answer = live.request(
        "POST", "/api/v1/tags/search", {"filter": {"filter_string": "tag.colour=red"}}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] in page.locator("#tags-filter-error").inner_text()
