"""Each section of the dashboard, in Chromium, shows the numbers its API gives: the test reads
the API itself and compares what the page displays. Every test also checks (in the ``dash``
fixture) that the console stayed free of errors and warnings and that neither the page nor any
answer it received contains a configured key."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from anthroxy_server.cli import usage as usage_command
from anthroxy_server.ledger import report

from . import page_numbers as show
from .conftest import Dash
from .harness import MODEL, Gateway


def texts(locator: Any) -> list[str]:
    return [text.strip() for text in locator.all_inner_texts()]


def test_health_shows_each_provider_as_the_api_reports_it(dash: Dash) -> None:
    page = dash.ready()
    overview = dash.gateway.api("overview")
    facts = dict(
        zip(texts(page.locator("#overview dt")), texts(page.locator("#overview dd")), strict=True)
    )
    assert facts["version"] == overview["version"] and facts["pid"] == str(overview["pid"])
    assert overview["fingerprint"].startswith(facts["config"]) and len(facts["config"]) == 12
    assert (facts["ledger"], facts["body log"]) == ("on", "off")
    assert page.locator("#status").inner_text() == overview["status"]
    health = dash.gateway.api("health")
    assert {p["id"] for p in health["providers"]} == {"fake", "down"}
    for provider in health["providers"]:
        card = page.locator(f'.card[data-provider="{provider["id"]}"]')
        latency = provider["latency_ms"]
        shown = {
            key: card.locator(f'[data-stat="{key}"] .value').inner_text()
            for key in ("requests", "errors", "p50", "p95", "ttft_p50", "ttft_p95")
        }
        assert shown == {
            "requests": str(provider["requests_1h"]),
            "errors": str(provider["errors_1h"]),
            "p50": show.ms(latency["p50"]),
            "p95": show.ms(latency["p95"]),
            "ttft_p50": show.ms(latency["ttft_p50"]),
            "ttft_p95": show.ms(latency["ttft_p95"]),
        }
        breaker = card.locator('[data-field="breaker"]')
        assert breaker.get_attribute("data-state") == provider["breaker"]["state"]
        labels = [
            c.get_attribute("data-credential") for c in card.locator("[data-credential]").all()
        ]
        assert labels == [c["label"] for c in provider["credentials"]]
    # The fake's numbers are real ones: it answered the session's requests.
    assert health["providers"][0]["latency_ms"]["count"] >= 3
    # "down" failed once (the fallback): its last error is on its card, as the client saw it.
    down = next(p for p in health["providers"] if p["id"] == "down")
    error_box = page.locator('.card[data-provider="down"] [data-field="last-error"]')
    assert down["last_error"]["message"] in error_box.inner_text()
    assert str(down["last_error"]["status"]) in error_box.inner_text()
    # The attempt's own error, its echoed key redacted (the fixture checks no page shows one).
    assert down["last_error"]["type"] == "overloaded_error" in error_box.inner_text()
    assert "down (HTTP 529): Overloaded (key [REDACTED])" in down["last_error"]["message"]


def test_a_request_sent_while_the_page_is_open_appears_live(dash: Dash) -> None:
    page = dash.ready()
    before = page.locator("#requests-body tr").count()
    assert before >= 3
    sent: list[tuple[int, str]] = []
    # Sent from another thread while the page waits, as Claude Code would.
    worker = threading.Thread(target=lambda: sent.append(dash.gateway.send(stream=True)))
    worker.start()
    worker.join(timeout=10)
    status, request_id = sent[0]
    assert status == 200
    row = page.locator(f'#requests-body tr[data-id="{request_id}"]')
    row.wait_for()
    assert page.locator("#requests-body tr").first.get_attribute("data-id") == request_id
    summary = next(r for r in dash.gateway.api("requests")["requests"] if r["id"] == request_id)
    cells = {
        field: row.locator(f'[data-field="{field}"]').inner_text()
        for field in ("time", "route", "status", "tokens", "ttft", "total", "fallbacks")
    }
    assert cells == {
        "time": time.strftime("%H:%M:%S", time.gmtime(summary["time"])),
        "route": f"{summary['client_model']} → {summary['route']}",
        "status": "200",
        "tokens": " / ".join(show.tokens(summary[f"{way}_tokens"]) for way in ("input", "output")),
        "ttft": show.ms(summary["ttft_ms"]),
        "total": show.ms(summary["total_ms"]),
        "fallbacks": "0",
    }


def test_a_row_opens_the_request_details(dash: Dash) -> None:
    page = dash.ready()
    listed = dash.gateway.api("requests")["requests"]
    fell_back = next(r for r in listed if r["fallback_attempts"] == 1)
    page.locator(f'#requests-body tr[data-id="{fell_back["id"]}"]').click()
    dialog = page.locator("#details")
    dialog.locator(".attempts").wait_for()
    details = dash.gateway.api(f"requests/{fell_back['id']}")
    assert dialog.locator('[data-field="why"]').inner_text() == details["why"]
    rows = dialog.locator(".attempts tbody tr")
    assert rows.count() == len(details["attempts"]) == 2
    for index, attempt in enumerate(details["attempts"]):
        cells = texts(rows.nth(index).locator("td"))
        message = attempt["message"] or show.NONE
        assert cells[1:] == [attempt["target"], str(attempt["status"]), attempt["outcome"], message]
    # The failed attempt: its type, and its message with the key "down" echoed redacted.
    failed = texts(rows.first.locator("td"))
    assert failed[3] == "failed: 529 overloaded_error"
    assert failed[4] == "down (HTTP 529): Overloaded (key [REDACTED])"
    assert "body logging is off" in dialog.locator('[data-field="bodies"]').inner_text()
    page.locator("#details-close").click()
    assert not dialog.is_visible()


def test_a_failed_request_shows_the_error_the_client_got(dash: Dash) -> None:
    status, request_id = dash.gateway.send("broken")
    assert status == 529
    page = dash.ready()
    row = page.locator(f'#requests-body tr[data-id="{request_id}"]')
    assert row.locator('[data-field="status"] .pill').get_attribute("data-state") == "error"
    row.click()
    error = page.locator('#details [data-field="error"]')
    error.locator("pre").wait_for()
    details = dash.gateway.api(f"requests/{request_id}")
    assert details["error"]["status"] == 529
    shown = error.inner_text()
    assert "HTTP 529" in shown
    assert details["error"]["body"]["error"]["type"] in shown
    assert details["error"]["body"]["error"]["message"] in shown


def _usage_rows(page: Any) -> list[list[str]]:
    return [
        texts(tr.locator("th, td"))
        for tr in page.locator("#usage-table tbody tr, #usage-table tfoot tr").all()
    ]


def test_usage_chart_and_table_show_the_ledger(dash: Dash) -> None:
    page = dash.ready()
    answer = dash.gateway.api("usage?days=30&by=model")
    assert answer["ledger"] and len(answer["table"]) >= 4
    chart = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('usage-chart'));
            return {labels: chart.data.labels,
                    sets: chart.data.datasets.map(d => ({label: d.label, data: d.data}))};
        }"""
    )
    assert chart["labels"] == [day[5:] for day in answer["days"]]
    assert chart["sets"] == [{"label": s["key"], "data": s["tokens"]} for s in answer["series"]]
    assert page.locator("#usage-chart").bounding_box()["height"] > 150
    # The table holds the numbers `anthroxy usage --by model` prints for the same rows.
    totals = [report.Total(**row) for row in answer["table"]]
    printed = usage_command.table([*totals, report.overall(totals)]).splitlines()[1:]
    shown = _usage_rows(page)
    assert [" ".join(row).split() for row in shown] == [line.split() for line in printed]
    assert page.locator('#usage-total [data-field="cost"]').inner_text() == answer["cost_text"]

    page.locator('[data-measure="cost_usd"]').click()
    costs = page.evaluate(
        "() => Chart.getChart(document.getElementById('usage-chart'))"
        ".data.datasets.map(d => d.data)"
    )
    assert costs == [[c or 0 for c in s["cost_usd"]] for s in answer["series"]]

    page.locator('[data-by="provider"]').click()
    by_provider = dash.gateway.api("usage?days=30&by=provider")
    page.locator("#usage-key", has_text="Provider").wait_for()
    keys = [row[0] for row in _usage_rows(page)]
    assert keys == [row["key"] for row in by_provider["table"]] + ["total"]
    assert {"anthropic", "deepseek", "copilot", "fake"} <= set(keys)


def test_routing_shows_the_configuration_in_force(dash: Dash) -> None:
    page = dash.ready()
    routing = dash.gateway.api("routing")
    body = page.locator("#routing-body")
    assert body.locator('[data-field="fingerprint"]').inner_text() == routing["fingerprint"]
    for key in ("tiers", "aliases"):
        rows = [
            texts(tr.locator("td")) for tr in body.locator(f'[data-table="{key}"] tbody tr').all()
        ]
        assert rows == [[r["name"], r["target"], r["source"]] for r in routing[key]]
    fallbacks = texts(body.locator('[data-table="fallbacks"] tbody td'))
    assert fallbacks[:2] == [routing["fallbacks"][0]["target"], routing["fallbacks"][0]["chain"][0]]
    providers = texts(body.locator('[data-table="providers"] tbody tr'))
    for provider, shown in zip(routing["providers"], providers, strict=True):
        assert provider["id"] in shown and provider["key"] in shown  # masked: sk-…0123
    assert body.locator('[data-table="scenarios"]').inner_text() == "None configured."


def test_bodies_show_when_body_logging_is_on(start: Any, open_dash: Any) -> None:
    gateway: Gateway = start(seed=False, server="log_request_body = true\nlog_response_body = true")
    status, request_id = gateway.send()
    assert status == 200
    dash: Dash = open_dash(gateway)
    page = dash.ready()
    page.locator(f'#requests-body tr[data-id="{request_id}"]').click()
    page.locator("#details pre.json").first.wait_for()
    details = gateway.api(f"requests/{request_id}")
    assert details["body_logging"] and details["bodies"]["request"]["model"] == MODEL
    shown = page.locator("#details pre.json").all_inner_texts()
    assert [json.loads(text) for text in shown] == [
        details["bodies"]["request"],
        details["bodies"]["reply"],
    ]
    assert "hello" in shown[1]  # the fake upstream's answer


def test_text_from_the_api_is_shown_as_text_never_as_markup(dash: Dash) -> None:
    model = '<img id="injected" src="/ui/static/favicon.svg"><b>bold</b>'
    status, request_id = dash.gateway.send(model)
    assert status == 200  # the default tier takes any name
    page = dash.ready()
    row = page.locator(f'#requests-body tr[data-id="{request_id}"]')
    assert row.locator('[data-field="route"]').inner_text().startswith(model + " → ")
    row.click()
    page.locator("#details .attempts").wait_for()
    assert model in page.locator("#details .pairs").inner_text()
    assert page.locator("#injected").count() == 0 and page.locator("main b").count() == 0
