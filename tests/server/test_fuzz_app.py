"""Fuzz the running app: hypothesis-generated request bodies and headers, and generated upstream
replies (JSON and SSE, whole, truncated or corrupted, cut into random chunks).

Whatever comes in, the gateway answers within a time limit with a 200 message, a valid
Anthropic stream (tests/anthropic_stream_validator.py, or the pings-then-error form of a failure
before the first event), or an Anthropic-shaped error; a 500 carries no stack trace, and nothing
is logged with a traceback. The strings include what JSON allows and hypothesis' default text
leaves out: lone surrogates (``"\\ud800"``), NUL, line and paragraph separators, a BOM.

One gateway and one fake upstream serve every example (on a loop of the module's own), so each
example costs one request; ``max_examples`` stays moderate to keep the suite quick.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

from .fault_upstream import (
    anthropic_events,
    anthropic_message,
    chat_events,
    chat_message,
    gateway_config,
)
from .load_client import check, pings_then_error

TIMEOUT = 10.0
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ODD = ["\ud800", "\udfff", "\udc00x\ud800", "\x00", "\u2028", "\u2029", "\ufeff", "\r\n", "\x7f"]
# Text as JSON allows it: every code point, lone surrogates included.
text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=20),
    st.sampled_from(ODD),
    st.lists(st.sampled_from(ODD), min_size=1, max_size=4).map("".join),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)


class Exchange:
    """The gateway and a fake whose next reply a test sets (``reply``: status, content type,
    chunks), running on a loop of their own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.reply: tuple[int, str, list[bytes]] = (200, "application/json", [b"{}"])
        self.last_body = b""
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        fake = web.Application()
        fake.router.add_post("/{tail:.*}", self._answer)
        self.upstream = web.AppRunner(fake, access_log=None)
        await self.upstream.setup()
        await web.TCPSite(self.upstream, "127.0.0.1", 0).start()
        host, port = self.upstream.addresses[0][:2]
        raw = gateway_config(f"http://{host}:{port}", "http://127.0.0.1:9")
        app = create_app(settings_from_config(structure_config(raw), {}))
        self.gateway = web.AppRunner(app, access_log=None)
        await self.gateway.setup()
        await web.TCPSite(self.gateway, "127.0.0.1", 0).start()
        host, port = self.gateway.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.session = aiohttp.ClientSession()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        status, content_type, chunks = self.reply
        response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        return response

    def post(self, raw: bytes, headers: dict[str, str], stream: bool) -> str | None:
        """What is wrong with the gateway's answer to this request, or None."""

        async def send() -> tuple[int, bytes]:
            async with self.session.post(self.url + "/v1/messages", data=raw, headers=headers) as r:
                return r.status, await r.read()

        try:
            status, body = self.loop.run_until_complete(asyncio.wait_for(send(), TIMEOUT))
            self.last_body = body
        except TimeoutError:
            return "hung"
        except aiohttp.ClientError as exc:
            return f"connection dropped: {exc!r}"
        # A stream is only what the gateway opened as one: a refused body is JSON.
        return check(status, body, stream and status == 200)

    def close(self) -> None:
        async def stop() -> None:
            await self.session.close()
            await self.gateway.cleanup()
            await self.upstream.cleanup()

        self.loop.run_until_complete(stop())
        self.loop.close()


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("anthroxy", "aiohttp")):
            return  # another test's leftovers (a client closed on a loop gone) are not ours
        if record.exc_info or "Unhandled exception" in record.getMessage():
            self.seen.append(record.getMessage())


@pytest.fixture(scope="module")
def exchange() -> Iterator[tuple[Exchange, Tracebacks]]:
    handler = Tracebacks()
    root = logging.getLogger()
    root.addHandler(handler)
    ex = Exchange()
    try:
        yield ex, handler
    finally:
        ex.close()
        root.removeHandler(handler)


MODELS = st.sampled_from(["a/ok", "c/ok", "a/x", "c/x", "claude-sonnet-4-5", "haiku"]) | text
block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "tool_use", "tool_result", "image", "thinking"]) | text},
    optional={"text": text | json_values, "id": text, "name": text, "input": json_values,
              "tool_use_id": text, "content": text | json_values, "thinking": text},
)  # fmt: skip
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]) | text,
     "content": text | st.lists(block, max_size=3)},
)  # fmt: skip
tool = st.fixed_dictionaries(
    {"name": text, "input_schema": st.just({"type": "object"}) | json_values},
    optional={"description": text | json_values, "type": text},
)  # fmt: skip
request_body = st.fixed_dictionaries(
    {"model": MODELS, "messages": st.lists(message, min_size=1, max_size=3) | json_values},
    optional={
        "max_tokens": st.integers(-2, 10**6) | json_values,
        "stream": st.booleans() | json_values,
        "tools": st.lists(tool, max_size=3) | json_values,
        "tool_choice": st.just({"type": "auto"}) | json_values,
        "system": text | json_values,
        "thinking": st.just({"type": "enabled", "budget_tokens": 1024}) | json_values,
        "metadata": st.fixed_dictionaries({"user_id": text}) | json_values,
        "temperature": json_values,
        "stop_sequences": st.lists(text, max_size=2) | json_values,
    },
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
headers = st.dictionaries(
    st.sampled_from(["anthropic-version", "anthropic-beta", "x-api-key", "authorization",
                     "content-type", "x-claude-code-session-id", "anthropic-dangerous-direct"
                     "-browser-access", "accept"]),
    header_text,
    max_size=4,
)  # fmt: skip


@FUZZ
@given(body=request_body | json_values, sent=headers)
def test_generated_requests(exchange: Any, body: Any, sent: dict[str, str]) -> None:
    ex, tracebacks = exchange
    tracebacks.seen.clear()
    tool = isinstance(body, dict) and bool(body.get("tools"))
    ex.reply = (200, "application/json", [json.dumps(anthropic_message(tool)).encode()])
    stream = isinstance(body, dict) and body.get("stream") is True
    if stream:
        ex.reply = (200, "text/event-stream", anthropic_events(tool))
    sent.setdefault("content-type", "application/json")
    problem = ex.post(json.dumps(body).encode(), sent, stream)
    assert problem is None, problem
    assert tracebacks.seen == []


@FUZZ
@given(raw=st.binary(max_size=200), sent=headers)
def test_generated_bytes_as_request_body(exchange: Any, raw: bytes, sent: dict[str, str]) -> None:
    ex, tracebacks = exchange
    tracebacks.seen.clear()
    problem = ex.post(raw, sent, stream=False)
    assert problem is None, problem
    assert tracebacks.seen == []


def _corrupt(data: bytes, draw: Any) -> bytes:
    """``data`` truncated, or with a span replaced by generated bytes or JSON."""
    how = draw(st.sampled_from(["whole", "truncate", "replace", "json"]))
    if how == "whole" or not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    if how == "truncate":
        return data[:at]
    end = draw(st.integers(at, min(len(data), at + 40)))
    middle = (
        draw(st.binary(max_size=20)) if how == "replace" else json.dumps(draw(json_values)).encode()
    )
    return data[:at] + middle + data[end:]


@st.composite
def upstream_reply(draw: Any) -> tuple[str, bool, tuple[int, str, list[bytes]]]:
    provider = draw(st.sampled_from(["a", "c"]))
    stream = draw(st.booleans())
    tool = draw(st.booleans())
    status = draw(st.sampled_from([200, 200, 200, 400, 429, 500, 529]))
    if stream and status == 200:
        events = chat_events(tool) if provider == "c" else anthropic_events(tool)
        data = _corrupt(b"".join(events), draw)
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        return provider, stream, (status, "text/event-stream", [c for c in chunks if c])
    whole = chat_message(tool) if provider == "c" else anthropic_message(tool)
    if draw(st.booleans()):  # a field's value replaced by generated JSON
        key = draw(st.sampled_from(sorted(whole)))
        whole = {**whole, key: draw(json_values)}
    data = _corrupt(json.dumps(whole).encode(), draw)
    return provider, stream, (status, "application/json", [data])


def frames(raw: bytes) -> str | None:
    """What is wrong with the framing of a passed-through stream, or None: every event is
    ``event: <type>`` and one JSON object whose type is that name, the first (after pings) is
    ``message_start`` or an ``error``, and an ``error`` or ``message_stop`` is the last."""
    blocks = [block for block in raw.decode().split("\n\n") if block]
    names = []
    for block in blocks:
        lines = block.split("\n")
        if len(lines) != 2 or not lines[0].startswith("event: "):
            return f"not event/data: {block[:100]!r}"
        payload = json.loads(lines[1].removeprefix("data: "))
        if not isinstance(payload, dict) or payload.get("type") != lines[0][7:]:
            return f"name is not the type: {block[:100]!r}"
        names.append(lines[0][7:])
    begun = [name for name in names if name != "ping"]
    if not begun or begun[0] not in ("message_start", "error"):
        return f"does not begin with message_start: {names}"
    if names[-1] not in ("message_stop", "error") or "error" in names[:-1]:
        return f"does not end with message_stop or error: {names}"
    return None


@FUZZ
@given(case=upstream_reply())
def test_generated_upstream_replies(exchange: Any, case: Any) -> None:
    ex, tracebacks = exchange
    tracebacks.seen.clear()
    provider, stream, ex.reply = case
    body = {"model": f"{provider}/m", "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    problem = ex.post(json.dumps(body).encode(), {"content-type": "application/json"}, stream)
    if provider == "a" and problem and problem.startswith("200 not a message"):
        # A 200 JSON object that is not a message is relayed as the upstream sent it
        # (gateway/dialects.py, anthropic_plan); it is JSON at least.
        problem = None if isinstance(json.loads(ex.last_body), dict) else problem
    if provider == "a" and problem and problem.startswith("invalid stream"):
        # Pass-through forwards well-formed events as the upstream wrote them, without checking
        # their content against the grammar (a translated stream is rebuilt, and fully checked):
        # its framing is what the gateway answers for.
        raw = ex.last_body
        problem = None if pings_then_error(raw) else frames(raw)
    assert problem is None, problem
    assert tracebacks.seen == []


@pytest.mark.parametrize("name", ["\ud800", "mcp__srv__\udfff" + "x" * 80, "Read\ud800"])
@pytest.mark.parametrize("model", ["a/ok", "c/ok"])
def test_a_lone_surrogate_in_a_tool_name_is_no_500(exchange: Any, name: str, model: str) -> None:
    ex, tracebacks = exchange
    tracebacks.seen.clear()
    ex.reply = (200, "application/json", [json.dumps(anthropic_message(False)).encode()])
    if model == "c/ok":
        ex.reply = (200, "application/json", [json.dumps(chat_message(False)).encode()])
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": name, "input_schema": {"type": "object"}}]}  # fmt: skip
    raw = json.dumps(body).encode()
    assert b"\\ud8" in raw or b"\\udf" in raw  # the JSON escape, as a client sends it

    async def send() -> int:
        async with ex.session.post(
            ex.url + "/v1/messages", data=raw, headers={"content-type": "application/json"}
        ) as resp:
            return resp.status  # fmt: skip

    assert ex.loop.run_until_complete(send()) == 200
    assert tracebacks.seen == []
