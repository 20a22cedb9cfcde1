"""A real gateway and a fake Anthropic upstream on loopback, run on an event loop in a thread of
their own so that a synchronous browser driver (Playwright) can use them from the test thread.

The gateway is built as ``anthroxy serve`` builds it: a ``config.toml`` read by ``load_settings``
(so ``POST /ui/api/reload`` reads the file again), a state directory holding the usage ledger,
and keys from the file and from the environment. Used by the browser tests and by
``screenshots.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from anthroxy_server.config import load_settings
from anthroxy_server.config.schema import Settings
from anthroxy_server.gateway.app import create_app
from anthroxy_server.gateway.reload import LOADER
from anthroxy_server.ledger.store import LEDGER_NAME, Ledger, Row

if TYPE_CHECKING:  # subscriptions.py starts its fakes with ``serve`` of this module
    from .subscriptions import Subscriptions

T = TypeVar("T")
FIXTURE_STREAM = Path(__file__).resolve().parents[1] / "fixtures" / "server" / "stream_text.sse"
# Distinctive, so every page and every answer can be searched for them.
FILE_KEY = "sk-ant-BROWSER-file-k3y-never-on-the-page-0123"
ENV_KEY = "sk-ant-BROWSER-env-k3y-never-on-the-page-4567"
TOKEN = "proxy-t0ken-BROWSER-never-on-the-page-89ab"
SECRETS = (FILE_KEY, ENV_KEY, TOKEN)
ENV = {"DOWN_KEY": ENV_KEY}
MODEL = "claude-sonnet-4-5"

CONFIG = """\
[server]
auth_token = "{token}"
{server}

[providers.fake]
api = "anthropic"
base_url = "{url}"
auth = "x-api-key"
api_key = "{file_key}"
models = ["{model}", "mystery-model"]

[providers.down]
api = "anthropic"
base_url = "{url}/down"
auth = "x-api-key"
api_keys_env = ["DOWN_KEY"]
models = ["{model}", "lonely-model"]

[tiers]
default = "fake/{model}"

[aliases]
falls = "down/{model}"
broken = "down/lonely-model"
mystery = "fake/mystery-model"

[routing.fallbacks]
"down/{model}" = ["fake/{model}"]
"""


class LoopThread:
    """An asyncio loop running in a daemon thread; ``run`` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gateway", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5.0)
        self.loop.close()


def reply_json(model: str) -> dict[str, Any]:
    return {
        "id": "msg_browser", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1250, "output_tokens": 320, "cache_read_input_tokens": 0,
                  "cache_creation_input_tokens": 0},
    }  # fmt: skip


async def upstream_handler(request: web.Request) -> web.StreamResponse:
    """Anthropic's Messages API as the fake answers it: /down is overloaded (529, echoing the key
    it got, which the page must never show), a body asking to stream gets the recorded SSE
    stream, anything else one JSON message."""
    body = json.loads(await request.read())
    if request.path.startswith("/down"):
        message = f"Overloaded (key {request.headers.get('x-api-key')})"
        error = {"type": "error", "error": {"type": "overloaded_error", "message": message}}
        return web.json_response(error, status=529)
    if body.get("stream"):
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(FIXTURE_STREAM.read_bytes())
        return response
    return web.json_response(reply_json(body.get("model", MODEL)))


async def start_upstream() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", upstream_handler)
    return await serve(app)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@dataclass
class Gateway:
    """A running gateway: its address, files and the calls a test makes to it."""

    url: str
    home: Path
    runner: web.AppRunner
    token: str = ""
    upstream_url: str = ""
    server: str = ""  # more lines of [server]
    subscriptions: Subscriptions | None = None  # their providers are added to the file

    @property
    def env(self) -> dict[str, str]:
        """The gateway's environment: its home is the test's, so are its logins."""
        return {**ENV, "HOME": str(self.home), "XDG_DATA_HOME": str(self.home / "data")}

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def app(self) -> web.Application:
        return self.runner.app

    def write_config(self, raw: str | None = None) -> None:
        """``CONFIG`` for this gateway, or ``raw`` as the new file; the subscriptions' providers
        follow either."""
        text = raw if raw is not None else CONFIG.format(
            token=self.token, url=self.upstream_url, file_key=FILE_KEY, model=MODEL,
            server=self.server,
        )  # fmt: skip
        if self.subscriptions is not None:
            text += self.subscriptions.config(self.home)
        self.config_path.write_text(text)
        self.config_path.chmod(0o600)  # it holds a key: the loader refuses a readable file

    def load(self) -> Settings:
        path = str(self.config_path)
        return load_settings(cli_path=path, env=self.env, cwd=self.home, home=self.home)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def api(self, path: str) -> Any:
        """GET /ui/api/<path> as the page calls it (with the token when there is one)."""
        request = urllib.request.Request(f"{self.url}/ui/api/{path}", headers=self._headers())
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    def send(self, model: str = MODEL, *, stream: bool = False) -> tuple[int, str]:
        """POST /v1/messages; (status, the request id the gateway gave it)."""
        body = {"model": model, "max_tokens": 64, "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
        request = urllib.request.Request(
            f"{self.url}/v1/messages", data=json.dumps(body).encode(), headers=self._headers()
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
                return answer.status, answer.headers["request-id"]
        except urllib.error.HTTPError as failed:
            failed.read()
            return failed.code, failed.headers["request-id"]


async def start_gateway(
    home: Path,
    upstream_url: str,
    *,
    token: str = "",
    ledger: bool = True,
    server: str = "",
    raw: str | None = None,
    subscriptions: Subscriptions | None = None,
) -> Gateway:
    """A gateway reading ``CONFIG`` (or the ``raw`` text) from ``home/config.toml``; with
    ``subscriptions``, their two providers too, logged in under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    gateway = Gateway(
        "", home, web.AppRunner(web.Application()), token, upstream_url, server, subscriptions
    )
    if subscriptions is not None:
        subscriptions.log_in(home)
    gateway.write_config(raw=raw)
    app = create_app(gateway.load(), state_dir=home / "state" if ledger else None)
    app[LOADER] = gateway.load  # what `anthroxy reload` reads; serve.py sets it with SIGHUP
    gateway.runner, gateway.url = await serve(app)
    return gateway


def seed_ledger(state: Path, now: float | None = None) -> None:
    """Rows over the last four weeks: four models on two providers, one without a price, one
    paid by a subscription, a few errors."""
    now = time.time() if now is None else now
    ledger = Ledger(state / LEDGER_NAME, retention_days=400, clock=lambda: now)
    plan = [
        ("anthropic", "claude-sonnet-4-5", 3.0e-6, 12_000, 800),
        ("deepseek", "deepseek-chat", 0.3e-6, 40_000, 2_500),
        ("deepseek", "deepseek-reasoner", None, 7_000, 900),
        ("copilot", "gpt-4.1", None, 3_000, 400),
    ]
    for day in range(28):
        for index, (provider, model, price, tokens_in, tokens_out) in enumerate(plan):
            for n in range(1 + (day + index) % 3):
                size = tokens_in * (1 + (day % 4)) + 137 * n
                cost = None if price is None else round((size + tokens_out * 5) * price, 6)
                ledger.record(Row(
                    time=now - day * 86_400 - 60 * (index + 1) - n,
                    request_id=f"req_seed{day}{index}{n}",
                    client_model=MODEL, provider=provider, upstream_model=model,
                    credential="env:DOWN_KEY", input_tokens=size, output_tokens=tokens_out + n,
                    cache_read_tokens=size // 4 if provider == "anthropic" else 0,
                    cache_write_tokens=0, ttft_ms=300.0 + 40 * index + day,
                    total_ms=1500.0 + 10 * n, status=529 if (day, n) == (3, 1) else 200,
                    stream_error=None, fallback_attempts=int(n == 2),
                    subscription=provider == "copilot", cost_usd=cost,
                ))  # fmt: skip
    ledger.flush()
    ledger.close()
