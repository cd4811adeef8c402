"""One headless Chromium per test process, shared by the browser tests that ask for ``browser``.

Starting Playwright's driver and Chromium costs a second or more each time; a test gets the running browser
and its own fresh contexts (cookies, storage, viewport), which are closed after it. While Playwright's sync
API is started it keeps an asyncio loop marked running in this thread, so ``asyncio.run()`` or a second
``sync_playwright()`` here would fail: the shared browser is stopped before any test that does not ask for
it, and when the process leaves this folder.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright cannot download its own here
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class SharedChromium:
    """Starts Chromium on first use (again if it has gone) and stops it on request."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            self.stop()
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        return self._browser

    def stop(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None and browser.is_connected():
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


@pytest.fixture(scope="package", autouse=True)
def shared_chromium() -> Iterator[SharedChromium]:
    holder = SharedChromium()
    yield holder
    holder.stop()


@pytest.fixture(autouse=True)
def _chromium_only_for_those_who_ask(request: pytest.FixtureRequest, shared_chromium: SharedChromium) -> None:
    """A test that starts Playwright itself needs this thread free of the shared one."""
    if _IN_USE not in request.fixturenames:
        shared_chromium.stop()


@pytest.fixture
def shared_chromium_in_use() -> None:
    """Only ``browser`` below asks for this: a module's own ``browser`` fixture does not bring it."""


_IN_USE = "shared_chromium_in_use"


@pytest.fixture
def browser(shared_chromium: SharedChromium, shared_chromium_in_use: None) -> Browser:
    """The process's Chromium; every context the test opens is closed when the test's body ends."""
    return shared_chromium.get()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Closes the test's pages before its fixtures are torn down (as closing a browser of its own did), so a
    web server stopping after it has no live page, such as an open alert stream, to wait for."""
    try:
        return (yield)
    finally:
        running = getattr(item, "funcargs", {}).get("browser")
        if _IN_USE in getattr(item, "fixturenames", ()) and isinstance(running, Browser) and running.is_connected():
            for context in running.contexts:
                context.close()
