"""The console's shell: sign-in, sessions, CSRF, the top bar, and that pages stay on the server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from console.harness import ADMIN_PASSWORD, LiveServer, Watched, screenshot, sign_in
from skyatlas.console import sessions
from skyatlas.ids import utcnow
from skyatlas.store.tables import console_sessions

pytestmark = pytest.mark.xdist_group("console-shell")


def _http_sign_in(live: LiveServer, password: str = ADMIN_PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=30)
    answer = client.post("/console/sign-in", data={"user_id": "admin", "password": password})
    assert answer.status_code == 303, answer.text
    return client


def _csrf(client: httpx.Client) -> str:
    html = client.get("/console/").text
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_root_redirects_to_the_console_and_strangers_to_sign_in(live: LiveServer) -> None:
    answer = httpx.get(live.base_url + "/", follow_redirects=True)
    assert answer.status_code == 200
    assert str(answer.url).startswith(live.base_url + "/console/sign-in")
    assert "Sign in to skyatlas" in answer.text


def test_the_session_cookie_is_httponly_and_same_site_strict(live: LiveServer) -> None:
    client = httpx.Client(base_url=live.base_url, timeout=30)
    answer = client.post("/console/sign-in", data={"user_id": "admin", "password": ADMIN_PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


def test_a_wrong_password_is_refused_with_a_message(live: LiveServer) -> None:
    answer = httpx.post(
        live.base_url + "/console/sign-in", data={"user_id": "admin", "password": "nope-1234"}
    )
    assert answer.status_code == 401
    assert "invalid user_id or password" in answer.text


def test_a_form_without_the_csrf_token_changes_nothing(live: LiveServer) -> None:
    client = _http_sign_in(live)
    forged = client.post("/console/place", data={"admin_mode": "on"})
    assert forged.status_code == 403
    assert "security token" in forged.text
    with live.runtime.store.read() as conn:
        rows = conn.execute(console_sessions.select()).all()
    assert rows and not any(r.admin_mode for r in rows)
    good = client.post("/console/place", data={"admin_mode": "on", "csrf_token": _csrf(client)})
    assert good.status_code == 303


def test_an_idle_session_ends_and_sign_out_ends_it_at_once(live: LiveServer) -> None:
    client = _http_sign_in(live)
    assert client.get("/console/").status_code == 200
    with live.runtime.store.begin() as conn:
        conn.execute(
            update(console_sessions).values(
                last_seen_at=utcnow() - sessions.IDLE_TIMEOUT - timedelta(minutes=1)
            )
        )
    assert client.get("/console/").headers["location"].startswith("/console/sign-in")

    client = _http_sign_in(live)
    token = _csrf(client)
    assert client.post("/console/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get("/console/").headers["location"].startswith("/console/sign-in")


def test_sign_in_never_redirects_off_the_console(live: LiveServer) -> None:
    client = httpx.Client(base_url=live.base_url, timeout=30)
    answer = client.post(
        "/console/sign-in",
        data={"user_id": "admin", "password": ADMIN_PASSWORD, "next": "//evil.example/"},
    )
    assert answer.headers["location"] == "/console/"


def test_overview_workspace_selector_and_admin_mode(watched: Watched, live: LiveServer) -> None:
    page = sign_in(watched)
    # The demo inventory, counted by provider, as the API counts it.
    answer = live.api(
        "/inventory/cloud-service/analyze",
        {
            "query": {"group_by": ["provider"], "fields": {"n": {"operator": "count"}}},
        },
    )
    for row in answer["results"]:
        card = page.locator(".stat", has_text=row["provider"])
        assert card.locator(".num").inner_text().replace(",", "") == str(row["n"])
    assert page.get_by_label("Workspace").input_value() == live.boot["workspace_id"]
    screenshot(page, "overview")

    page.get_by_label("Admin mode").check()
    expect(page.locator(".badge.admin")).to_have_text("Admin mode")
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    page.get_by_label("Admin mode").uncheck()
    expect(page.get_by_label("Workspace")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)


def test_every_nav_link_opens_a_page_without_errors(watched: Watched) -> None:
    page = sign_in(watched)
    links: list[Any] = page.locator("nav.sidebar a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    assert len(links) >= 10
    for href in links:
        answer = page.goto(watched.base_url + href)
        assert answer is not None and answer.status == 200, href


def test_pages_fit_a_1024_pixel_wide_window(browser: Any, live: LiveServer) -> None:
    """Readable at 1024 wide: no page scrolls sideways (wide tables scroll in their own box)."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    w = Watched(context.new_page(), live.base_url)
    try:
        page = sign_in(w)
        links = page.locator("nav.sidebar a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        too_wide = {}
        for href in links:
            page.goto(live.base_url + href)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 1024:
                too_wide[href] = width
        assert not too_wide, too_wide
    finally:
        context.close()
    w.check()
