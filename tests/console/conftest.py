"""Fixtures of the console tests; the helpers they use live in `console.harness`
(`from console.harness import sign_in, screenshot, ...`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from console.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    LiveServer,
    Watched,
    require_chromium,
    start_server,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with the demo organisation for a whole test module."""
    yield from start_server(tmp_path_factory.mktemp("console") / "data", demo=True)


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    """Playwright's 5 s default for `expect` is too short on a busy 2-core machine."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def watched(browser: Any, live: LiveServer) -> Iterator[Watched]:
    """A fresh browser context on the module's server; fails the test on foreign requests or
    console errors."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    w = Watched(context.new_page(), live.base_url)
    yield w
    context.close()
    w.check()
