"""Time of the dashboard's data endpoints with a year of history, and of the request path's
part of it (``dashboard.record``).

Fills a temporary usage ledger with ``ROWS`` rows spread over the last year (through
``ledger/store.py``'s ``Row`` and ``Ledger``), starts the gateway in this process in front of a
fake Anthropic upstream on loopback, sends ``KEPT`` requests so the in-memory list is full, then
asks each endpoint ``RUNS`` times and prints p50 and max in milliseconds (client included: the
request goes over loopback HTTP). Run: ``python bench/bench_dashboard.py [ROWS]``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request  # noqa: E402

from anthroxy_server.config import settings_from_config, structure_config  # noqa: E402
from anthroxy_server.dashboard import record  # noqa: E402
from anthroxy_server.dashboard.recent import KEPT, RECENT  # noqa: E402
from anthroxy_server.gateway.app import create_app  # noqa: E402
from anthroxy_server.gateway.state import AccessInfo  # noqa: E402
from anthroxy_server.ledger.store import LEDGER_NAME, Ledger, Row  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = 30
YEAR = 365 * 86_400.0
MODELS = ("deepseek-chat", "glm-4.6", "kimi-k2", "gpt-5", "claude-sonnet-4-5", "qwen3-coder")
ENDPOINTS = (
    "/ui/api/overview",
    "/ui/api/health",
    "/ui/api/requests?limit=100",
    "/ui/api/requests?limit=500",
    "/ui/api/requests/{id}",
    "/ui/api/routing",
    "/ui/api/usage?days=30&by=model",
    "/ui/api/usage?days=30&by=provider",
    "/ui/api/usage?days=366&by=model",
)


def fill(path: Path, rows: int, now: float) -> None:
    ledger = Ledger(path, 400)
    rng = random.Random(7)
    # In time order, as a gateway appends them.
    times = sorted(now - rng.random() * YEAR for _ in range(rows))
    for n, when in enumerate(times):
        model = MODELS[n % len(MODELS)]
        ledger.record(
            Row(
                when, f"req_{n:024x}", "claude-sonnet-4-5", f"p{n % 4}",
                model, "env:KEY_A", rng.randrange(100, 90_000), rng.randrange(10, 4000),
                rng.randrange(0, 50_000), None, rng.random() * 900, rng.random() * 9000,
                200 if n % 20 else 529, None, 0, None if n % 9 == 0 else rng.random() / 50, False,
            )
        )  # fmt: skip
    ledger.flush()
    ledger.close()


async def upstream() -> TestServer:
    async def answer(request: web.Request) -> web.Response:
        usage = {"input_tokens": 1200, "output_tokens": 80}
        return web.json_response({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": usage,
        })  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/messages", answer)
    server = TestServer(app)
    await server.start_server()
    return server


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        started = time.perf_counter()
        fill(state / LEDGER_NAME, ROWS, time.time())
        took = time.perf_counter() - started
        print(f"ledger: {ROWS:,} rows over a year, written in {took:.1f} s")
        fake = await upstream()
        url = str(fake.make_url("")).rstrip("/")
        raw = {
            "providers": {"up": {"api": "anthropic", "base_url": url, "api_key": "k" * 20,
                                 "auth": "x-api-key", "models": list(MODELS)}},
            "tiers": {"default": "up/deepseek-chat"},
        }  # fmt: skip
        app = create_app(settings_from_config(structure_config(raw), {}), state_dir=state)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        body = {"model": "claude-sonnet-4-5", "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
        for _ in range(KEPT):
            await (await client.post("/v1/messages", json=body)).read()
        some_id = app[RECENT].entries[-1].request_id
        print(f"in memory: {len(app[RECENT].entries)} requests")
        print(f"{'endpoint':40} {'p50 ms':>8} {'max ms':>8}")
        for endpoint in ENDPOINTS:
            path = endpoint.format(id=some_id)
            times = []
            for _ in range(RUNS):
                began = time.perf_counter()
                answer = await client.get(path)
                await answer.read()
                times.append((time.perf_counter() - began) * 1000)
                assert answer.status == 200, (path, await answer.text())
            print(f"{endpoint:40} {statistics.median(times):8.2f} {max(times):8.2f}")
        record_cost(app)
        await client.close()
        await fake.close()


def record_cost(app: web.Application) -> None:
    """Microseconds ``dashboard.record`` adds to each request, with no listener and with the
    most listeners (each gets the entry put on its queue)."""
    request = make_mocked_request("POST", "/v1/messages", app=app)
    access = AccessInfo(model="claude-sonnet-4-5", route="up/deepseek-chat", started=1.0)
    access.input_tokens, access.output_tokens = 1200, 80
    recent = app[RECENT]
    number = 20_000
    for listeners in (0, 20):
        recent.listeners.clear()
        for _ in range(listeners):
            recent.listeners.add(asyncio.Queue(maxsize=number * 10))
        runs = timeit.repeat(
            lambda: record(request, access, 200, 1.0, f"req_{random.random()}"),
            number=number, repeat=5,
        )  # fmt: skip
        cost = min(runs) / number * 1e6
        print(f"record() with {listeners:2} listeners: {cost:.2f} µs per request")
    recent.listeners.clear()


if __name__ == "__main__":
    asyncio.run(main())
