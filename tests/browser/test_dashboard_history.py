"""After a restart the Traffic list shows the ledger's newest requests, marked "before restart",
after the live ones; their details show the note on what the ledger does not keep instead of
empty sections. The shared gateway started on a seeded ledger, as a restarted proxy does (the
``dash`` fixture also checks the console stayed clean and no key reached the page)."""

from __future__ import annotations

import time
from typing import Any

from .conftest import Dash


def texts(locator: Any) -> list[str]:
    return [text.strip() for text in locator.all_inner_texts()]


def test_an_earlier_runs_requests_show_marked_with_a_note(dash: Dash) -> None:
    page = dash.ready()
    listed = dash.gateway.api("requests")["requests"]  # the 100 the page asks for
    past = [r for r in listed if r.get("from_ledger")]
    live = [r for r in listed if not r.get("from_ledger")]
    assert past and live and listed == live + past  # the earlier run's come after the live ones
    marked = page.locator('#requests-body tr[data-past="true"]')
    assert [tr.get_attribute("data-id") for tr in marked.all()] == [r["id"] for r in past]
    assert set(texts(marked.locator('[data-field="past"]'))) == {"before restart"}
    assert page.locator('#requests-body tr:not([data-past]) [data-field="past"]').count() == 0
    newest = past[0]
    first = marked.first
    clock = time.strftime("%H:%M:%S", time.gmtime(newest["time"]))
    assert first.locator('[data-field="time"]').inner_text() == f"{clock} before restart"
    assert first.locator('[data-field="route"]').inner_text() == (
        f"{newest['client_model']} → {newest['route']}"
    )

    first.click()
    dialog = page.locator("#details")
    note = dialog.locator('[data-field="note"]')
    note.wait_for()
    details = dash.gateway.api(f"requests/{newest['id']}")
    assert note.inner_text() == details["note"]
    for empty in ("why", "error", "bodies"):  # no empty section for what was not kept
        assert dialog.locator(f'[data-field="{empty}"]').count() == 0, empty
    assert dialog.locator(".attempts").count() == 0
    facts = dict(zip(texts(dialog.locator("dt")), texts(dialog.locator("dd")), strict=True))
    assert facts["Route"] == details["route"] and facts["Rule"] == "–"
    assert facts["Credential"] == details["credential"]
    page.locator("#details-close").click()
    assert not dialog.is_visible()
