"""The dashboard around its data: the token form, the reload button, the empty states, the live
stream's reconnection, and a layout that fits a laptop and a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from anthroxy_server.dashboard.events import end_streams

from .conftest import PHONE, WIDE, Dash, LoopThread
from .harness import SECRETS, TOKEN, Gateway


def test_the_token_form_opens_the_dashboard(start: Any, open_dash: Any) -> None:
    gateway: Gateway = start(token=TOKEN, seed=False)
    dash: Dash = open_dash(gateway)
    # Without the token the API refuses and the page asks for it, showing no section.
    refused = Gateway(gateway.url, gateway.home, gateway.runner)
    with pytest.raises(Exception, match="401"):
        refused.api("overview")
    page = dash.open()
    form = page.locator("#login-form")
    form.wait_for()
    assert page.locator("#sections").is_hidden()
    page.fill("#token-input", "not-the-token")
    page.click("#login-form button")
    page.locator("#login-error", has_text="refused").wait_for()
    assert "refused" in page.locator("#login-error").inner_text()
    assert form.is_visible()

    page.fill("#token-input", TOKEN)
    page.click("#login-form button")
    page.locator("#health-list .card").first.wait_for()
    assert page.locator("#login").is_hidden()
    assert page.evaluate("sessionStorage.getItem('anthroxy.token')") == TOKEN
    assert page.locator("#token-input").input_value() == ""
    # The live stream sends the token too: a request appears without a reload of the page.
    page.locator("#live[data-state='live']").wait_for()
    status, request_id = gateway.send()
    assert status == 200
    page.locator(f'#requests-body tr[data-id="{request_id}"]').wait_for()
    # The token is kept for the tab's session: opening the page again asks nothing.
    page.reload()
    page.locator("#health-list .card").first.wait_for()
    assert page.locator("#login").is_hidden()
    # The asks without a token and with the wrong one were answered 401 by design: Chromium logs
    # each such answer itself; any other line (a script error, a CSP refusal) still fails.
    designed = "error: Failed to load resource: the server responded with a status of 401"
    assert any(line.startswith(designed) for line in dash.console)
    dash.console = [line for line in dash.console if not line.startswith(designed)]


def test_reload_applies_the_file_or_shows_its_problems(start: Any, open_dash: Any) -> None:
    gateway: Gateway = start(seed=False)
    dash: Dash = open_dash(gateway)
    page = dash.ready()
    before = page.locator('[data-field="fingerprint"]').inner_text()
    text = gateway.config_path.read_text().replace(
        'mystery = "fake/mystery-model"',
        'mystery = "fake/mystery-model"\nfresh = "fake/mystery-model"',
    )
    gateway.write_config(raw=text)
    page.click("#reload")
    result = page.locator("#reload-result")
    result.wait_for()
    assert result.get_attribute("data-state") == "ok"
    assert result.inner_text().startswith("Reloaded.")
    page.locator('[data-table="aliases"] td', has_text="fresh").wait_for()
    after = gateway.api("routing")["fingerprint"]
    assert after != before
    assert after in result.inner_text()
    assert page.locator('[data-field="fingerprint"]').inner_text() == after

    gateway.write_config(raw=text.replace('default = "fake/', 'default = "nowhere/'))
    page.click("#reload")
    page.locator("#reload-result[data-state='error']").wait_for()
    problems = gateway.api("routing")["reload"]["problems"]
    assert problems
    shown = page.locator("#reload-result li").all_inner_texts()
    assert shown == problems
    assert gateway.api("routing")["fingerprint"] == after  # the old configuration stays


def test_a_gateway_without_requests_or_ledger_says_so(start: Any, open_dash: Any) -> None:
    gateway: Gateway = start(ledger=False)
    dash: Dash = open_dash(gateway)
    page = dash.open()
    page.locator("#health-list .card").first.wait_for()
    page.locator("#usage-empty").wait_for()
    assert page.locator("#requests-empty").is_visible()
    assert "No requests yet" in page.locator("#requests-empty").inner_text()
    assert page.locator("#requests").is_hidden()
    assert "not recorded" in page.locator("#usage-empty").inner_text()
    assert page.locator("#usage-chart-box").is_hidden()


def test_the_live_list_reconnects_after_the_stream_ends(dash: Dash, loop: LoopThread) -> None:
    page = dash.ready()
    loop.run(end_streams(dash.gateway.app))  # as a restarting server ends every stream
    page.locator("#live[data-state='reconnecting']").wait_for()
    assert re.fullmatch(r"reconnecting in \d+ s", page.locator("#live").inner_text())
    page.locator("#live[data-state='live']").wait_for()
    status, request_id = dash.gateway.send()
    assert status == 200
    page.locator(f'#requests-body tr[data-id="{request_id}"]').wait_for()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280x800", "390x844"])
def test_nothing_overflows_sideways(
    open_dash: Any, gateway: Gateway, viewport: dict[str, int]
) -> None:
    dash: Dash = open_dash(gateway, viewport)
    page = dash.ready()
    fits = "document.scrollingElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits), page.evaluate("document.scrollingElement.scrollWidth")
    for section in ("#health", "#traffic", "#usage", "#routing"):
        box = page.locator(section).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    page.locator("#requests-body tr").first.click()
    page.locator("#details .attempts, #details [data-field='error']").first.wait_for()
    assert page.evaluate(fits)
    dialog = page.locator("#details").bounding_box()
    assert dialog is not None and dialog["width"] <= viewport["width"]


def test_no_configured_key_reaches_the_page(dash: Dash) -> None:
    page = dash.ready()
    # The keys are really configured (else finding none would prove nothing)...
    config = dash.gateway.config_path.read_text()
    assert SECRETS[0] in config
    assert dash.gateway.load().providers["down"].api_key == SECRETS[1]
    # ...and every view that shows a provider shows it masked.
    page.locator("#requests-body tr").first.click()
    page.locator("#details .pairs").wait_for()
    text = page.content()
    assert "sk-…0123" in text and "sk-…4567" in text
    dash.assert_no_secret()
    assert any("/ui/api/routing" in url for url, _ in dash.bodies())
