"""The dashboard's files, read without a browser: nothing that parses API text as HTML or runs a
string as code, nothing inline that the page's Content-Security-Policy would block, nothing
fetched from elsewhere, and the vendored Chart.js with its licence and the version it claims."""

from __future__ import annotations

import re
from pathlib import Path

import anthroxy_server.dashboard

STATIC = Path(anthroxy_server.dashboard.__file__).resolve().parent / "static"
OWN_SCRIPTS = sorted(p for p in STATIC.glob("*.js") if not p.name.startswith("chart."))
# What would let a model name or an error message become markup or code.
UNSAFE = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
          "new Function", "setTimeout(\"", "new EventSource")  # fmt: skip


def test_the_page_scripts_build_text_nodes_only() -> None:
    assert {p.name for p in OWN_SCRIPTS} >= {"app.js", "api.js", "format.js", "traffic.js"}
    for script in OWN_SCRIPTS:
        text = script.read_text()
        found = [word for word in UNSAFE if word in text]
        assert found == [], f"{script.name} uses {found}"
        assert "http://" not in text and "https://" not in text, script.name


def test_the_html_holds_nothing_inline_and_loads_only_its_own_files() -> None:
    html = (STATIC / "index.html").read_text()
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # every script has a src
    assert re.findall(r"<[^>]*\son[a-z]+=", html) == []  # no inline event handler
    assert "javascript:" not in html
    referenced = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert referenced, html
    for url in referenced:
        assert url.startswith("/ui/static/"), url
        assert (STATIC / url.removeprefix("/ui/static/")).is_file(), url


def test_chart_js_is_vendored_with_its_licence_and_version() -> None:
    library = (STATIC / "chart.umd.min.js").read_text()
    version = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", library[:200])
    assert version is not None
    assert f"Chart.js {version.group(1)}" in (STATIC / "index.html").read_text()
    licence = (STATIC / "chart.js.LICENSE.txt").read_text()
    assert "MIT License" in licence and "Chart.js Contributors" in licence
    assert "sourceMappingURL" not in library[-300:]  # no map file to ask for
