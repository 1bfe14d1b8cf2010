"""The web console's test harness: Debian's chromium through Playwright, as people use it,
against a real `skyatlas` server on a free port.

Every page a test opens is watched: a request to any host but the server, or a browser console
error, fails the test. Screenshots at 1280x800 go to `screenshots/` at the repository root
(`SKYATLAS_SCREENSHOTS` moves it); the README shows some of them.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from serverproc import free_port

from skyatlas.api.app import create_app
from skyatlas.cli.serve import prepare
from skyatlas.config import Settings
from skyatlas.identity.users import change_password
from skyatlas.runtime import Runtime

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("SKYATLAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SKYATLAS_SCREENSHOTS", REPO / "screenshots"))
VIEWPORT = {"width": 1280, "height": 800}
#: The password the fixtures give `admin` after the forced first change.
ADMIN_PASSWORD = "console-Test-2026"


def require_chromium() -> None:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    message = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if IN_CI:
        pytest.fail("CI=true and " + message)
    pytest.skip(message)


@dataclass
class LiveServer:
    """`skyatlas serve`'s app on a real port, in this process, on a fresh store."""

    base_url: str
    runtime: Runtime
    boot: dict[str, Any]
    admin_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    def api(self, path: str, body: Any = None, token: str | None = None) -> Any:
        """POST a verb as the bootstrap admin app (or `token`); must succeed."""
        response = httpx.post(
            self.base_url + path,
            json=body or {},
            headers={"Authorization": f"Bearer {token or self.admin_token}"},
            timeout=60,
        )
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        return httpx.request(
            method,
            self.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {token or self.admin_token}"},
            timeout=60,
        )


def start_server(data_dir: Path, *, demo: bool, settle_admin: bool = True) -> Iterator[LiveServer]:
    """`settle_admin` gives `admin` the known ADMIN_PASSWORD, past the forced first change."""
    import uvicorn

    port = free_port()
    settings = Settings(data_dir=data_dir, port=port)
    runtime, result = prepare(settings, demo=demo)
    boot = json.loads(result["bootstrap"].path.read_text())
    if settle_admin:
        with runtime.store.begin() as conn:
            change_password(
                conn,
                boot["domain_id"],
                boot["admin_user_id"],
                boot["admin_password"],
                ADMIN_PASSWORD,
            )
    app = create_app(runtime)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", runtime, boot, boot["client_secret"])
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        runtime.close()


class Watched:
    """A browser page that records what would make a console page untrustworthy."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.foreign: list[str] = []
        self.console_errors: list[str] = []
        own = urlsplit(base_url).netloc
        page.on("request", lambda r: self._request(r.url, own))
        page.on("console", lambda m: self._console(m))
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))

    def _request(self, url: str, own: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != own:
            self.foreign.append(url)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def refused(self, status: int) -> None:
        """A form the service refused answers with the service's status, which the browser
        logs as a failed load: expected where a test provokes it, so it is taken off the list
        (and its absence fails the test)."""
        wanted = f"status of {status} "
        found = [m for m in self.console_errors if wanted in m]
        assert found, (status, self.console_errors)
        self.console_errors.remove(found[0])

    def check(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.console_errors, f"browser console errors: {self.console_errors}"


def sign_in(w: Watched, user_id: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    page = w.page
    page.goto(w.base_url + "/console/sign-in")
    page.get_by_label("User ID").fill(user_id)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    return page


def open_as(w: Watched, path: str, user_id: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    """Sign in straight to a console page (the sign-in form's `next`), e.g. `/cost/analysis`."""
    page = w.page
    page.goto(f"{w.base_url}/console/sign-in?next=/console{path}")
    page.get_by_label("User ID").fill(user_id)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/console{path.split('?')[0]}*")
    return page


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
