"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a gateway with a
seeded ledger in front of a fake upstream, and a ``dash`` page that records what the page printed
to its console and every answer it received.

One browser serves all the tests of this package; it is package-scoped (not session-scoped)
because Playwright's synchronous driver holds the main thread's event loop while it runs, and the
asyncio tests that follow need it back.

Without Chromium at /usr/bin/chromium (or without Playwright) the tests skip, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .harness import SECRETS, Gateway, LoopThread
from .subscriptions import Subscriptions, start_subscriptions, stop_subscriptions

CHROMIUM = Path("/usr/bin/chromium")
# Quiet and deterministic: no network of Chromium's own, no GPU, no first-run pages. Playwright's
# launch() gives the browser a fresh temporary user-data directory of its own.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000  # a wait that passes costs only its real time; CI machines are slow


def _playwright() -> Any:
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    return sync_playwright


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="package")
def upstream_url(loop: LoopThread) -> Iterator[str]:
    runner, url = loop.run(harness.start_upstream())
    yield url
    loop.run(runner.cleanup())


@pytest.fixture(scope="package")
def start(loop: LoopThread, upstream_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``start(token=..., ledger=..., subscriptions=...)``: a new gateway, stopped after the
    browser tests."""
    started: list[Gateway] = []

    def make(
        *,
        token: str = "",
        ledger: bool = True,
        seed: bool = True,
        server: str = "",
        subscriptions: Subscriptions | None = None,
    ) -> Gateway:
        home = tmp_path_factory.mktemp("gateway")
        if ledger and seed:
            harness.seed_ledger(home / "state")
        gateway = loop.run(
            harness.start_gateway(
                home,
                upstream_url,
                token=token,
                ledger=ledger,
                server=server,
                subscriptions=subscriptions,
            )
        )
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        loop.run(gateway.runner.cleanup())


@pytest.fixture
def subscriptions(loop: LoopThread) -> Iterator[Subscriptions]:
    """Fakes of GitHub, Copilot's API and the ChatGPT backend, fresh for each test; pass them to
    ``start(subscriptions=...)`` for a gateway with a Copilot and a ChatGPT provider."""
    fakes = loop.run(start_subscriptions())
    yield fakes
    loop.run(stop_subscriptions(fakes))


@pytest.fixture(scope="package")
def gateway(start: Any) -> Gateway:
    """The shared gateway: no token, a seeded ledger, three requests served (one fell back)."""
    found: Gateway = start()
    for model, stream in (
        ("claude-sonnet-4-5", False),
        ("claude-sonnet-4-5", True),
        ("falls", False),
    ):
        status, _ = found.send(model, stream=stream)
        assert status == 200
    return found


class Dash:
    """A page of the dashboard, with what it logged and the answers it got."""

    def __init__(self, page: Any, gateway: Gateway) -> None:
        self.page = page
        self.gateway = gateway
        self.console: list[str] = []
        self.responses: list[Any] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("response", lambda response: self.responses.append(response))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def open(self) -> Any:
        self.page.goto(self.gateway.url + "/ui")
        return self.page

    def ready(self) -> Any:
        """Open the page and wait until every section has drawn its data."""
        page = self.open()
        page.wait_for_selector("#health-list .card")
        page.wait_for_selector("#routing-body table")
        page.wait_for_selector("#usage-body tr, #usage-empty:not([hidden])")
        page.locator("#live[data-state='live']").wait_for()
        return page

    def bodies(self) -> list[tuple[str, str]]:
        """(url, text) of every answer the page got, the live stream aside (it never ends; its
        summaries are the ones /ui/api/requests answers)."""
        found = []
        for response in self.responses:
            if response.url.endswith("/ui/api/events"):
                continue
            try:
                found.append((response.url, response.text()))
            except Exception:  # a body gone with a navigation: nothing the page kept
                continue
        return found

    def assert_no_secret(self) -> None:
        shown = [("page", self.page.content()), *self.bodies()]
        fakes = self.gateway.subscriptions
        secrets = SECRETS + (fakes.secrets() if fakes is not None else ())
        for where, text in shown:
            for secret in secrets:
                assert secret not in text, f"{where} shows a configured secret"
            assert not re.search(r"sk-ant-BROWSER", text), where

    def assert_quiet(self) -> None:
        assert self.console == [], self.console


@pytest.fixture
def dash(browser: Any, gateway: Gateway) -> Iterator[Dash]:
    yield from _dash(browser, gateway, WIDE)


def _dash(browser: Any, gateway: Gateway, viewport: dict[str, int]) -> Iterator[Dash]:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watched = Dash(page, gateway)
    yield watched
    try:
        watched.assert_no_secret()
        watched.assert_quiet()
    finally:
        context.close()


@pytest.fixture
def open_dash(browser: Any) -> Any:
    """``open_dash(gateway, viewport)``: a Dash on another gateway or at another size."""
    made: list[Iterator[Dash]] = []

    def make(gateway: Gateway, viewport: dict[str, int] = WIDE) -> Dash:
        steps = _dash(browser, gateway, viewport)
        made.append(steps)
        return next(steps)

    yield make
    for steps in made:
        next(steps, None)
