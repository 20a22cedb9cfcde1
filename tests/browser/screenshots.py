"""Screenshots of the dashboard for docs/dashboard.md, from a real gateway in front of the fake
upstream of the browser tests, with a seeded ledger and a few requests (one that fell back, one
that failed). Run from the repository root:

    python -m tests.browser.screenshots [docs/dashboard]

It writes health.png, traffic.png, details.png, usage.png and routing.png at 1280×800 and
phone.png at 390×844, and says so when a file grows past 200 KB.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from . import harness
from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, WIDE
from .subscriptions import CHATGPT_MODEL, COPILOT_MODEL, start_subscriptions

LIMIT = 200_000
TRAFFIC_HEIGHT = 720  # px of the Traffic section shown (it lists up to 100 requests)
# Provider names a reader recognises; both point at the local fake upstream.
CONFIG = """\
[providers.deepseek]
api = "anthropic"
base_url = "{url}"
auth = "x-api-key"
api_key = "{key}"
models = ["deepseek-chat", "deepseek-reasoner"]

[providers.backup]
api = "anthropic"
base_url = "{url}/down"
auth = "x-api-key"
api_keys_env = ["DOWN_KEY"]
models = ["glm-4.6", "kimi-k2"]

[tiers]
default = "deepseek/deepseek-chat"
sonnet = "backup/glm-4.6"
haiku = "deepseek/deepseek-chat"
opus = "deepseek/deepseek-reasoner"

[aliases]
fast = "deepseek/deepseek-chat"
kimi = "backup/kimi-k2"

[routing.fallbacks]
"backup/glm-4.6" = ["deepseek/deepseek-chat"]
"""


def serve(home: Path) -> tuple[harness.LoopThread, harness.Gateway]:
    """The gateway, with a Copilot subscription whose premium requests are partly used and a
    ChatGPT one (its 5-hour and weekly windows), both behind the fakes of the browser tests."""
    loop = harness.LoopThread()
    _, upstream = loop.run(harness.start_upstream())
    subscriptions = loop.run(start_subscriptions())
    subscriptions.use_premium(300, 87)
    harness.seed_ledger(home / "state")
    raw = CONFIG.format(url=upstream, key=harness.FILE_KEY)
    gateway = loop.run(harness.start_gateway(home, upstream, raw=raw, subscriptions=subscriptions))
    subscriptions.expect_chatgpt()
    for model, stream in (("claude-haiku-4-5", True), ("claude-sonnet-4-5", False),
                          (COPILOT_MODEL, False), ("claude-opus-4-1", True),
                          (CHATGPT_MODEL, True), ("kimi", False), ("fast", True)):  # fmt: skip
        gateway.send(model, stream=stream)
    return loop, gateway


def shoot(browser: Any, gateway: harness.Gateway, out: Path) -> list[Path]:
    context = browser.new_context(viewport=WIDE, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.goto(gateway.url + "/ui")
    page.locator("#live[data-state='live']").wait_for()
    page.locator("#usage-body tr").first.wait_for()
    page.locator("#routing-body table").first.wait_for()
    # No sticky header over the sections (CSSOM: the page's CSP refuses a style tag).
    page.evaluate("() => { document.querySelector('.top').style.position = 'static'; }")
    written = []
    for name in ("health", "traffic", "usage", "routing"):
        path = out / f"{name}.png"
        section = page.locator(f"#{name}")
        box = section.bounding_box()
        if name == "traffic" and box is not None and box["height"] > TRAFFIC_HEIGHT:
            # Its top: the live requests, then the first of the ledger's (100 rows in all).
            top = box["y"] + page.evaluate("() => window.scrollY")  # in the page, not the view
            clip = {**box, "y": top, "height": TRAFFIC_HEIGHT}
            page.screenshot(path=path, clip=clip, full_page=True)
        else:
            section.screenshot(path=path)
        written.append(path)
    page.locator("#requests-body tr", has_text="kimi").first.click()
    page.locator("#details .attempts").wait_for()
    page.screenshot(path=out / "details.png")
    written.append(out / "details.png")
    context.close()

    phone = browser.new_context(viewport=PHONE, locale="en-US", timezone_id="UTC")
    page = phone.new_page()
    page.goto(gateway.url + "/ui#traffic")
    page.locator("#requests-body tr").first.wait_for()
    page.locator("#routing-body table").first.wait_for()
    page.wait_for_timeout(300)  # the page scrolls to #traffic once every section has drawn
    page.screenshot(path=out / "phone.png")
    written.append(out / "phone.png")
    phone.close()
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/dashboard")
    out.mkdir(parents=True, exist_ok=True)
    # A fixed place, so the sources the Routing section shows read like a user's.
    home = Path(tempfile.gettempdir()) / "anthroxy-docs"
    shutil.rmtree(home, ignore_errors=True)
    with sync_playwright() as driver:
        loop, gateway = serve(home / ".config" / "anthroxy")
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            written = shoot(browser, gateway, out)
        finally:
            browser.close()
            loop.run(gateway.runner.cleanup())
            loop.close()
            shutil.rmtree(home, ignore_errors=True)
    for path in written:
        size = path.stat().st_size
        print(f"{path} {size // 1000} KB" + ("  (over 200 KB)" if size > LIMIT else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
