"""Time of ``passthrough.request_bytes`` (what the pass-through sends upstream) on the real Claude
Code requests in tests/fixtures/claude-code, per provider cleaner.

Rows: Anthropic with the model unchanged (the client's bytes go as they are), Anthropic with the
model swapped, and each Anthropic-compatible catalogue provider (model swapped, its cleaner
applied). Each fixture is timed as stored and at its real size: the captures replaced prose by
"(text elided: N characters)", which is put back here as N characters of English-like filler
(Claude Code's requests are 50 to 90 KB). Reports the best of N runs, in microseconds. Run:
``python bench/bench_cleaning.py``.
Against a checkout without cleaners it times the first two rows only (the "before" numbers of
docs/performance.md).
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anthroxy import passthrough  # noqa: E402
from anthroxy.routing.catalog import CATALOG  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "claude-code"
PROVIDERS = ("deepseek", "kimi", "minimax", "mimo", "glm", "qwen")
CLEANERS = "cleaner" in inspect.signature(passthrough.request_bytes).parameters
ELIDED = re.compile(r"\(text elided: (\d+) characters\)")
FILLER = "The quick brown fox jumps over the lazy dog while the build runs its tests. "


def best_us(run: Callable[[], object], number: int = 200, repeat: int = 9) -> float:
    return min(timeit.repeat(run, number=number, repeat=repeat)) / number * 1e6


def restored(text: str) -> str:
    """The fixture with each elided text put back at its length, as filler."""

    def filler(match: re.Match[str]) -> str:
        size = int(match.group(1))
        return (FILLER * (size // len(FILLER) + 1))[:size]

    return ELIDED.sub(filler, text)


def main() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        text = path.read_text()
        for label, source in (("as stored", text), ("real size", restored(text))):
            measure(f"{path.name}, {label}", json.loads(source)["body"])


def measure(name: str, body: dict[str, object]) -> None:
    raw = json.dumps(body, separators=(",", ":")).encode()
    print(f"{name} ({len(raw):,} bytes)")
    rows: list[tuple[str, Callable[[], object]]] = [
        (
            "anthropic, same model",
            lambda b=body, r=raw: passthrough.request_bytes(r, b, b["model"]),
        ),
        (
            "anthropic, model swapped",
            lambda b=body, r=raw: passthrough.request_bytes(r, b, "up"),
        ),
    ]
    if CLEANERS:
        for pid in PROVIDERS:
            cleaner = CATALOG[pid].cleaner
            rows.append(
                (pid, lambda b=body, r=raw, c=cleaner: passthrough.request_bytes(r, b, "up", c))
            )
    for label, run in rows:
        print(f"  {label:<28}{best_us(run):8.1f} us")


if __name__ == "__main__":
    main()
