"""IAM pages in the browser: the seed's app flow end to end, member apps, users and role bindings,
the projects tree and write-only service-account credentials."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.harness import (
    ADMIN_PASSWORD,
    VIEWPORT,
    LiveServer,
    Watched,
    screenshot,
    sign_in,
    start_server,
)
from skyatlas.identity.verbs.service_account import read_secret_data

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = pytest.mark.xdist_group("console-iam")

NEW_ADMIN_PASSWORD = "first-Change-2026"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server as it is after install: no demo data, admin still on its bootstrap password."""
    yield from start_server(
        tmp_path_factory.mktemp("iam-fresh") / "data", demo=False, settle_admin=False
    )


def _admin_mode(page: Any, on: bool) -> None:
    switch = page.get_by_label("Admin mode")
    if switch.is_checked() != on:
        with page.expect_navigation():
            switch.set_checked(on)
    page.wait_for_load_state("networkidle")


def _enter(w: Watched, to: str, user_id: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    """Sign in straight to an IAM page, as a bookmarked link does."""
    page = w.page
    page.goto(f"{w.base_url}/console/sign-in?next={to}")
    page.get_by_label("User ID").fill(user_id)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    return page


def _project_id(live: LiveServer, name: str) -> str:
    found = live.api("/identity/project/list", {"name": name})["results"]
    assert len(found) == 1, found
    return str(found[0]["project_id"])


def test_seed_flow_first_sign_in_to_download_json_to_api(browser: Any, fresh: LiveServer) -> None:
    """The seed's "1. 앱 생성" step for step, from the bootstrap password to a 200 with the
    downloaded secret."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    w = Watched(context.new_page(), fresh.base_url)
    try:
        page = sign_in(w, "admin", fresh.boot["admin_password"])
        # The console forces the first password change.
        expect(page).to_have_url(re.compile(r"/console/password$"))
        expect(page.get_by_text("Choose a new password before you go on.")).to_be_visible()
        page.get_by_label("Current password").fill(fresh.boot["admin_password"])
        page.get_by_label("New password", exact=True).fill(NEW_ADMIN_PASSWORD)
        page.get_by_label("Repeat the new password").fill(NEW_ADMIN_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("Your password was changed.")).to_be_visible()

        # A workspace-owner app is made in a workspace: leave Admin mode, be in `default`.
        _admin_mode(page, False)
        expect(page.get_by_label("Workspace")).to_have_value(fresh.boot["workspace_id"])
        expect(page.locator("#workspace-select option:checked")).to_have_text("default")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
        expect(page.get_by_role("heading", name="Apps")).to_be_visible()
        page.get_by_role("link", name="Create").click()
        page.get_by_label("Name", exact=True).fill("ci-owner")
        page.get_by_label("Role").select_option(label="Workspace Owner")
        # An owner role takes no project: the assignment toggle stays out of the way.
        expect(page.get_by_label("Project assignment")).to_be_hidden()
        page.get_by_label("Tag key 1").fill("team")
        page.get_by_label("Tag value 1").fill("platform")
        page.get_by_role("button", name="Confirm").click()

        panel = page.locator("#secret-panel")
        expect(panel.get_by_role("heading", name="App ci-owner created")).to_be_visible()
        expect(panel).to_contain_text("shown once")
        client_id_row = panel.get_by_role("row", name=re.compile("Client ID"))
        client_id = page.locator("#client-id").inner_text().strip()
        secret_box = page.locator("#client-secret")
        expect(secret_box).to_be_hidden()
        client_id_row.get_by_text("more", exact=True).click()
        expect(secret_box).to_be_visible()
        expect(panel.get_by_role("button", name="Copy")).to_be_visible()
        with page.expect_download() as info:
            panel.get_by_role("link", name="Download JSON").click()
        download = info.value
        assert download.suggested_filename == "ci-owner.json"
        document = json.loads(Path(download.path()).read_text())
        assert set(document) == {"client_id", "client_secret", "endpoint"}
        assert document["client_id"] == client_id
        assert document["endpoint"] == fresh.base_url
        assert secret_box.inner_text().strip() == document["client_secret"]
        # The new app is in the table, with its role and tag.
        row = page.locator("#apps tbody tr", has_text="ci-owner")
        expect(row).to_contain_text("Workspace Owner")
        expect(row).to_contain_text("team=platform")
        expect(row).to_contain_text(client_id)
        screenshot(page, "iam-apps")

        # The downloaded secret works against the API, as the seed's section 2 uses it.
        answer = httpx.post(
            document["endpoint"] + "/inventory/cloud-service/list",
            json={},
            headers={"Authorization": f"Bearer {document['client_secret']}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert "total_count" in answer.json()
        workspace = httpx.post(
            document["endpoint"] + "/identity/workspace/get",
            json={"workspace_id": fresh.boot["workspace_id"]},
            headers={"Authorization": f"Bearer {document['client_secret']}"},
            timeout=30,
        )
        assert workspace.status_code == 200, workspace.text
        assert workspace.json()["name"] == "default"

        # Shown once: the apps page never shows the secret again.
        page.goto(fresh.base_url + "/console/iam/apps")
        expect(page.locator("#apps")).to_contain_text("ci-owner")
        assert document["client_secret"] not in page.content()
    finally:
        context.close()
    w.check()


def test_member_app_with_project_assignment_and_row_actions(
    watched: Watched, live: LiveServer
) -> None:
    page = _enter(watched, "/console/iam/apps/create")
    page.get_by_label("Name", exact=True).fill("ml-serving-reader")
    expect(page.get_by_label("Project assignment")).to_be_hidden()
    page.get_by_label("Role").select_option(label="Workspace Member")
    expect(page.get_by_label("Project or project group")).to_be_hidden()
    page.get_by_label("Project assignment").check()
    page.get_by_label("Project or project group").select_option(
        label="Data / Machine Learning / ml-serving"
    )
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#secret-panel")).to_contain_text("App ml-serving-reader created")
    client_id = page.locator("#client-id").inner_text().strip()

    found = live.api("/identity/app/list", {"name": "ml-serving-reader"})["results"]
    assert len(found) == 1
    app = live.api("/identity/app/get", {"app_id": found[0]["app_id"]})
    assert app["client_id"] == client_id
    assert app["role_type"] == "WORKSPACE_MEMBER"
    assert app["resource_group"] == "PROJECT"
    assert app["project_id"] == _project_id(live, "ml-serving")
    assert app["project_group_id"] is None

    # A member role without a project: the verb's own message, under the form.
    page.goto(live.base_url + "/console/iam/apps/create")
    page.get_by_label("Name", exact=True).fill("no-project")
    page.get_by_label("Role").select_option(label="Workspace Member")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("exactly one of project_id")
    watched.refused(400)
    expect(page.get_by_label("Name", exact=True)).to_have_value("no-project")

    # Row actions: disable, enable, regenerate (a new secret shown once), delete.
    page.goto(live.base_url + "/console/iam/apps")
    row = page.locator("#apps tbody tr", has_text="ml-serving-reader")
    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status").filter(has_text="is disabled")).to_be_visible()
    row = page.locator("#apps tbody tr", has_text="ml-serving-reader")
    expect(row.locator(".badge")).to_have_text("DISABLED")
    row.get_by_role("button", name="Enable").click()
    row = page.locator("#apps tbody tr", has_text="ml-serving-reader")
    expect(row.locator(".badge")).to_have_text("ENABLED")
    row.get_by_text("Regenerate secret").click()
    row.get_by_role("button", name="Regenerate the secret of ml-serving-reader").click()
    panel = page.locator("#secret-panel")
    expect(panel).to_contain_text("New client secret for ml-serving-reader")
    new_client_id = page.locator("#client-id").inner_text().strip()
    assert new_client_id != client_id
    panel.get_by_text("more", exact=True).click()
    new_secret = page.locator("#client-secret").inner_text().strip()
    ok = live.request("POST", "/identity/project/list", {}, token=new_secret)
    assert ok.status_code == 200, ok.text
    assert [p["name"] for p in ok.json()["results"]] == ["ml-serving"]

    row = page.locator("#apps tbody tr", has_text="ml-serving-reader")
    row.get_by_text("Delete", exact=True).click()
    row.get_by_role("button", name="Delete ml-serving-reader").click()
    expect(page.get_by_role("status").filter(has_text="is deleted")).to_be_visible()
    expect(page.locator("#apps")).not_to_contain_text("ml-serving-reader")
    refused = live.request("POST", "/identity/project/list", {}, token=new_secret)
    assert refused.status_code == 401


def test_admin_mode_apps_are_domain_admin_apps(watched: Watched, live: LiveServer) -> None:
    """The seed's 1-1: in Admin mode the roles offered are domain-admin roles."""
    page = _enter(watched, "/console/iam/apps")
    _admin_mode(page, True)
    expect(page.get_by_text("Admin mode: apps of the whole domain.")).to_be_visible()
    page.get_by_role("link", name="Create").click()
    offered = page.get_by_label("Role").locator("option[data-role-type]")
    assert set(offered.evaluate_all("els => els.map(e => e.dataset.roleType)")) == {"DOMAIN_ADMIN"}
    expect(page.get_by_label("Project assignment")).to_have_count(0)
    page.get_by_label("Name", exact=True).fill("domain-reporter")
    page.get_by_label("Role").select_option(label="Domain Admin")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#secret-panel")).to_contain_text("App domain-reporter created")
    row = page.locator("#apps tbody tr", has_text="domain-reporter")
    expect(row).to_contain_text("DOMAIN")
    (app,) = live.api("/identity/app/list", {"name": "domain-reporter"})["results"]
    assert (app["resource_group"], app["workspace_id"]) == ("DOMAIN", None)


def test_apps_table_sorts_and_pages_on_the_server(watched: Watched, live: LiveServer) -> None:
    for i in range(16):
        live.api(
            "/identity/app/create",
            {
                "name": f"bulk-{i:02d}",
                "role_id": "managed-workspace-owner",
                "workspace_id": live.boot["workspace_id"],
            },
        )
    total = live.api("/identity/app/list", {"workspace_id": live.boot["workspace_id"]})[
        "total_count"
    ]
    page = _enter(watched, "/console/iam/apps")
    table = page.locator("#apps-table")
    expect(table.locator(".pager")).to_contain_text(f"1\u201315 of {total}")
    table.get_by_role("button", name="Name").click()
    expect(table.locator("th[aria-sort=ascending]")).to_contain_text("Name")
    names = table.locator("#apps tbody th").all_inner_texts()
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    table.get_by_role("button", name="Next").click()
    expect(table.locator(".pager")).to_contain_text(f"16\u2013{min(30, total)} of {total}")


def test_users_create_bind_and_first_sign_in(
    watched: Watched, live: LiveServer, browser: Any
) -> None:
    page = _enter(watched, "/console/iam/users")
    # Outside Admin mode the page says where users are managed.
    expect(page.get_by_text("managed in Admin mode")).to_be_visible()
    _admin_mode(page, True)
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.locator("#users")).to_contain_text("admin")

    page.get_by_text("Create user", exact=True).first.click()
    page.get_by_label("User ID").fill("dana")
    page.get_by_label("Name", exact=True).fill("Dana Kim")
    page.get_by_label("Email").fill("dana@example.com")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="User dana created")).to_be_visible()
    password = page.locator("#once-password").inner_text().strip()
    assert len(password) >= 8
    expect(page.locator(".secret-panel")).to_contain_text("shown once")

    # A weak password is the verb's message, inline.
    page.goto(live.base_url + "/console/iam/users")
    page.get_by_text("Create user", exact=True).first.click()
    page.get_by_label("User ID").fill("weak")
    page.get_by_label("Password (optional)").fill("short")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("alert")).to_contain_text("the password is too weak")
    watched.refused(400)

    # Bind a member role on one project of `default`.
    page.goto(live.base_url + "/console/iam/users/dana")
    expect(page.get_by_label("Project or project group")).to_be_hidden()
    page.get_by_label("Role", exact=True).select_option(label="Workspace Member")
    page.get_by_label("Workspace", exact=True).select_option(label="default")
    page.get_by_label("Project or project group").select_option(label="Platform / payments-api")
    page.get_by_role("button", name="Add binding").click()
    expect(page.get_by_role("status").filter(has_text="Role binding added")).to_be_visible()
    bindings = page.locator("#bindings")
    expect(bindings).to_contain_text("Workspace Member")
    expect(bindings).to_contain_text("project payments-api")
    binding = live.api("/identity/role-binding/list", {"user_id": "dana"})["results"]
    assert [b["project_id"] for b in binding] == [_project_id(live, "payments-api")]

    page.goto(live.base_url + "/console/iam/users")
    row = page.locator("#users tbody tr", has_text="dana")
    expect(row).to_contain_text("Workspace Member")
    expect(row).to_contain_text("must change password")
    screenshot(page, "iam-users")

    # Dana signs in in a fresh browser: the password change comes first, then only its project.
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    dana = Watched(context.new_page(), live.base_url)
    try:
        page2 = _enter(dana, "/console/iam/projects", "dana", password)
        expect(page2).to_have_url(re.compile(r"/console/password$"))
        page2.get_by_label("Current password").fill(password)
        page2.get_by_label("New password", exact=True).fill("dana-Own-2026")
        page2.get_by_label("Repeat the new password").fill("dana-Own-2026")
        page2.get_by_role("button", name="Change password").click()
        expect(page2.get_by_text("Your password was changed.")).to_be_visible()
        expect(page2.get_by_label("Admin mode")).to_have_count(0)
        page2.goto(live.base_url + "/console/iam/projects")
        tree = page2.locator("#project-tree")
        expect(tree).to_contain_text("payments-api")
        expect(tree).not_to_contain_text("web-frontend")
        expect(page2.get_by_role("button", name="Create project")).to_have_count(0)
        page2.goto(live.base_url + "/console/iam/apps")
        expect(page2.get_by_text("managed by workspace owners")).to_be_visible()
        expect(page2.get_by_role("alert")).to_contain_text("not allowed for a WORKSPACE_MEMBER")
        dana.refused(403)
    finally:
        context.close()
    dana.check()

    # Disable, reset the password (generated, shown once), delete.
    page.goto(live.base_url + "/console/iam/users/dana")
    page.get_by_role("button", name="Disable user").click()
    expect(page.get_by_role("status").filter(has_text="dana is disabled")).to_be_visible()
    page.get_by_role("button", name="Enable user").click()
    page.get_by_text("Reset password", exact=True).click()
    page.get_by_role("button", name="Reset the password of dana").click()
    expect(page.get_by_role("heading", name="Password of dana reset")).to_be_visible()
    assert page.locator("#once-password").inner_text().strip() not in ("", password)
    page.get_by_text("Delete user", exact=True).click()
    page.get_by_role("button", name="Delete dana").click()
    expect(page.get_by_role("status").filter(has_text="User dana is deleted")).to_be_visible()
    expect(page.locator("#users")).not_to_contain_text("dana@example.com")


def test_projects_tree_create_and_delete(watched: Watched, live: LiveServer) -> None:
    page = _enter(watched, "/console/iam/projects")
    tree = page.locator("#project-tree")
    data = tree.locator("li.group", has=page.locator(".group-name", has_text="Data")).first
    ml = data.locator("li.group", has=page.locator(".group-name", has_text="Machine Learning"))
    expect(ml.locator("li.project", has_text="ml-training")).to_be_visible()

    page.get_by_label("Group name").fill("Security")
    page.get_by_label("Parent group").select_option(label="Platform")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("status").filter(has_text="Project group Security")).to_be_visible()
    page.get_by_label("Project name").fill("siem")
    page.get_by_label("Project group", exact=True).select_option(label="Platform / Security")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("status").filter(has_text="Project siem created")).to_be_visible()

    platform = tree.locator("li.group", has=page.locator(".group-name", has_text="Platform"))
    security = platform.locator("li.group", has=page.locator(".group-name", has_text="Security"))
    expect(security.locator("li.project", has_text="siem")).to_be_visible()
    screenshot(page, "iam-projects")

    # A group that still holds a project cannot go: the service's 409 says why.
    security.locator("details.confirm summary", has_text="Delete group").first.click()
    security.get_by_role("button", name="Delete group Security").click()
    expect(page.get_by_role("alert")).to_contain_text("still holds 1 projects")
    watched.refused(409)
    siem = tree.locator("li.project", has_text="siem")
    siem.get_by_text("Delete", exact=True).click()
    siem.get_by_role("button", name="Delete project siem").click()
    expect(page.get_by_role("status").filter(has_text="Project siem deleted")).to_be_visible()
    expect(tree).not_to_contain_text("siem")


def test_service_account_secrets_are_write_only(watched: Watched, live: LiveServer) -> None:
    access_key, secret_key = "AKIAWRITEONLY0001", "s3cret-Never-Shown-0001"
    page = _enter(watched, "/console/iam/service-accounts")
    table = page.locator("#accounts")
    expect(table.locator("tr", has_text="aws-prod")).to_contain_text("123456789012")
    page.get_by_role("link", name="Create").click()
    page.get_by_label("Provider").fill("aws")
    page.get_by_label("Name", exact=True).fill("aws-ci")
    page.get_by_label("Project", exact=True).select_option(label="Platform / web-frontend")
    page.get_by_label("Account ID").fill("111122223333")
    expect(page.get_by_label("Secret key 1")).to_be_hidden()
    page.get_by_label("aws_access_key_id").fill(access_key)
    page.get_by_label("aws_secret_access_key").fill(secret_key)
    assert page.get_by_label("aws_secret_access_key").get_attribute("type") == "password"
    page.get_by_role("button", name="Create service account").click()
    expect(page.get_by_role("status").filter(has_text="aws-ci registered")).to_be_visible()
    row = page.locator("#accounts tr", has_text="aws-ci")
    expect(row).to_contain_text("111122223333")
    expect(row).to_contain_text("web-frontend")
    expect(row).to_contain_text("stored")
    html = page.content()
    assert access_key not in html and secret_key not in html
    screenshot(page, "iam-service-accounts")

    (account,) = live.api("/identity/service-account/list", {"name": "aws-ci"})["results"]
    assert access_key not in json.dumps(account)
    with live.runtime.store.read() as conn:
        stored = read_secret_data(conn, live.runtime.sealer, account["service_account_id"])
    assert stored == {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}

    # Replace the credentials: the form never shows the old ones.
    row.get_by_role("link", name="Replace secret").click()
    expect(page.get_by_text("cannot be read back")).to_be_visible()
    assert access_key not in page.content() and secret_key not in page.content()
    page.get_by_label("aws_access_key_id").fill("AKIAREPLACED000002")
    page.get_by_label("aws_secret_access_key").fill("replaced-Secret-0002")
    page.get_by_role("button", name="Replace credentials").click()
    expect(page.get_by_role("status").filter(has_text="were replaced")).to_be_visible()
    assert "replaced-Secret-0002" not in page.content()
    with live.runtime.store.read() as conn:
        stored = read_secret_data(conn, live.runtime.sealer, account["service_account_id"])
    assert stored == {
        "aws_access_key_id": "AKIAREPLACED000002",
        "aws_secret_access_key": "replaced-Secret-0002",
    }

    # Another provider takes key/value secret rows; an error brings the form back without them.
    page.goto(live.base_url + "/console/iam/service-accounts/create")
    page.get_by_label("Provider").fill("google_cloud")
    expect(page.get_by_label("aws_access_key_id")).to_be_hidden()
    page.get_by_label("Name", exact=True).fill("aws-ci")
    page.get_by_label("Project", exact=True).select_option(label="Data / data-lake")
    page.get_by_label("Secret key 1").fill("private_key")
    page.get_by_label("Secret value 1").fill("-----PRIVATE-Never-Shown-----")
    page.get_by_role("button", name="Create service account").click()
    expect(page.get_by_role("alert")).to_contain_text("already exists")
    watched.refused(409)
    assert "PRIVATE-Never-Shown" not in page.content()
    expect(page.get_by_label("Name", exact=True)).to_have_value("aws-ci")

    page.goto(live.base_url + "/console/iam/service-accounts")
    row = page.locator("#accounts tr", has_text="aws-ci")
    row.get_by_text("Delete", exact=True).click()
    row.get_by_role("button", name="Delete aws-ci").click()
    expect(page.get_by_role("status").filter(has_text="aws-ci deleted")).to_be_visible()
    expect(page.locator("#accounts")).not_to_contain_text("aws-ci")
