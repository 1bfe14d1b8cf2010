"""Collectors in the console: create a `file` collector, run it, watch the job reach its end
with its counts and task errors, and find what it collected in the inventory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from console.harness import LiveServer, Watched, open_as, screenshot

pytestmark = pytest.mark.xdist_group("console-collection")

CONSOLE = "/console"
#: Page round trips on a busy 2-core CI machine can take seconds.
WAIT = 15_000


def _records(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "provider": "onprem",
            "cloud_service_group": "Rack",
            "cloud_service_type": "Server",
            "name": f"{prefix}-{n}",
            "region_code": "dc-seoul",
            "reference": {"resource_id": f"{prefix}-{n}"},
            "data": {"rack": n},
            "tags": {"owner": "console-test"},
        }
        for n in range(1, count + 1)
    ]


def _import_file(live: LiveServer, name: str, lines: list[str]) -> Path:
    root = live.runtime.settings.allowed_import_roots[0]
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _create_file_collector(live: LiveServer, name: str, path: Path | str) -> str:
    created = live.api(
        "/inventory/collector/create",
        {
            "name": name,
            "plugin_info": {"plugin_id": "file", "options": {"path": str(path)}},
            "workspace_id": live.boot["workspace_id"],
        },
    )
    return str(created["collector_id"])


def test_a_file_collector_created_and_run_from_the_console_shows_its_progress_to_the_end(
    live: LiveServer, watched: Watched
) -> None:
    records = _records("rack", 3)
    bad_line = '{"provider": "onprem", "cloud_service_group": '
    path = _import_file(
        live,
        "racks.jsonl",
        [json.dumps(r) for r in records[:2]] + [bad_line, json.dumps(records[2])],
    )
    page = open_as(watched, "/collectors")
    expect(page.get_by_role("heading", name="Collectors")).to_be_visible()
    # The form says where the server may read from.
    expect(
        page.get_by_text(str(live.runtime.settings.allowed_import_roots[0])).first
    ).to_be_visible()

    page.get_by_label("Name", exact=True).fill("racks")
    page.get_by_label("Plugin").select_option("file")
    page.get_by_label("Path on the server").fill(str(path))
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="racks")).to_be_visible()
    collector_id = page.url.rsplit("/", 1)[1]

    page.get_by_role("button", name="Collect now").click()
    page.wait_for_url("**/collectors/jobs/*")
    expect(page.locator("#job-status")).to_have_text("SUCCESS", timeout=20_000)
    expect(page.locator("#count-created")).to_have_text("3")
    expect(page.locator("#count-failure")).to_have_text("1")
    # The unreadable line is reported with the file and the line number.
    expect(page.locator("#tasks")).to_contain_text(f"{path}: line 3: not valid JSON")
    # Polling stopped with the job: the progress block no longer asks for updates.
    assert page.locator("#job-progress").get_attribute("hx-trigger") is None
    screenshot(page, "collectors-job")

    found = live.api(
        "/inventory/cloud-service/list",
        {"query": {"filter": [{"k": "provider", "v": "onprem", "o": "eq"}]}},
    )
    assert sorted(r["name"] for r in found["results"]) == ["rack-1", "rack-2", "rack-3"]

    page.goto(live.base_url + CONSOLE + "/collectors")
    row = page.locator("#collectors tr", has_text="racks")
    expect(row.locator(".badge")).to_have_text("SUCCESS")
    screenshot(page, "collectors-list")

    page.goto(live.base_url + f"{CONSOLE}/collectors/{collector_id}")
    expect(page.locator("#jobs tbody tr")).to_have_count(1)
    expect(page.locator("#jobs")).to_contain_text("SUCCESS")


def test_a_failing_task_shows_its_error_and_the_job_fails(
    live: LiveServer, watched: Watched
) -> None:
    missing = live.runtime.settings.allowed_import_roots[0] / "nowhere" / "gone.jsonl"
    collector_id = _create_file_collector(live, "gone", missing)
    page = open_as(watched, f"/collectors/{collector_id}")
    page.get_by_role("button", name="Collect now").click()
    page.wait_for_url("**/collectors/jobs/*")
    expect(page.locator("#job-status")).to_have_text("FAILURE", timeout=20_000)
    expect(page.locator("#tasks")).to_contain_text(f"{missing} does not exist")
    expect(page.get_by_role("alert").first).to_contain_text("The job failed")


def test_schedule_hours_are_saved_and_a_collector_is_deleted(
    live: LiveServer, watched: Watched
) -> None:
    collector_id = _create_file_collector(live, "nightly", "/nowhere.jsonl")
    page = open_as(watched, f"/collectors/{collector_id}")
    page.get_by_label("Collect on a schedule").check()
    page.get_by_label("03:00").check()
    page.get_by_label("15:00").check()
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_text("Schedule saved.")).to_be_visible()
    got = live.api("/inventory/collector/get", {"collector_id": collector_id})
    assert got["schedule"] == {"state": "ENABLED", "hours": [3, 15]}

    page.get_by_label("Collect on a schedule").uncheck()
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_text("Schedule saved.")).to_be_visible()
    got = live.api("/inventory/collector/get", {"collector_id": collector_id})
    assert got["schedule"]["state"] == "DISABLED"

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete collector").click()
    page.wait_for_url("**/console/collectors")
    expect(page.locator("#collectors")).not_to_contain_text("nightly")
    gone = live.request("POST", "/inventory/collector/get", {"collector_id": collector_id})
    assert gone.status_code == 404


def test_an_aws_collector_is_created_for_one_service_account_and_regions(
    live: LiveServer, watched: Watched
) -> None:
    accounts = live.api(
        "/identity/service-account/list",
        {"provider": "aws", "workspace_id": live.boot["workspace_id"]},
    )["results"]
    assert accounts, "the demo organisation has aws service accounts"
    account = accounts[0]
    page = open_as(watched, "/collectors")
    page.get_by_label("Name", exact=True).fill("aws-two-regions")
    page.get_by_label("Plugin").select_option("aws")
    page.get_by_label("Service account").select_option(account["service_account_id"])
    page.get_by_label("Regions", exact=True).fill("us-east-1, ap-northeast-2")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="aws-two-regions")).to_be_visible()
    collector = live.api("/inventory/collector/get", {"collector_id": page.url.rsplit("/", 1)[1]})
    assert collector["plugin_info"]["options"]["regions"] == ["us-east-1", "ap-northeast-2"]
    assert collector["secret_filter"]["service_accounts"] == [account["service_account_id"]]

    # A refusal is shown in the form, in the service's words.
    page.goto(live.base_url + CONSOLE + "/collectors")
    page.get_by_label("Name", exact=True).fill("aws-bad-region")
    page.get_by_label("Plugin").select_option("aws")
    page.get_by_label("Regions", exact=True).fill("Not_A_Region")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#create-collector .error")).to_contain_text("is not a region code")
