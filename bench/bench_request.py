"""Time of the request side alone, on the real Claude Code requests in tests/fixtures/claude-code.

Per fixture and dialect: ``parse_request`` (the body's one validation), ``to_request`` from the
parsed value (what the gateway runs per target), and ``to_request`` from the raw body (both).
Reports the best of N runs. Run: ``python bench/bench_request.py``.
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anthroxy.chat import request as chat  # noqa: E402
from anthroxy.messages.request import parse_request  # noqa: E402
from anthroxy.profile import Target  # noqa: E402
from anthroxy.responses import request as responses  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "claude-code"
DIALECTS = {
    "chat": (chat.to_request, Target("bench", "up")),
    "responses": (responses.to_request, Target("openai", "gpt-5")),
}


def best_us(run: Callable[[], object], number: int = 200, repeat: int = 9) -> float:
    return min(timeit.repeat(run, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())["body"]
        print(f"{path.name} ({len(json.dumps(body)):,} bytes of JSON)")
        for line in measure(body):
            print("  " + line)


def measure(body: dict[str, Any]) -> list[str]:
    parsed = parse_request(body)
    lines = [f"{'parse_request':<30}{best_us(lambda: parse_request(body)):7.0f} us"]
    for name, (to_request, target) in DIALECTS.items():
        rendered = best_us(lambda t=to_request, g=target: t(parsed, g))
        whole = best_us(lambda t=to_request, g=target: t(body, g))
        lines.append(f"{name + ' from the value':<30}{rendered:7.0f} us")
        lines.append(f"{name + ' from the raw body':<30}{whole:7.0f} us")
    return lines


if __name__ == "__main__":
    main()
