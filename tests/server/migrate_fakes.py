"""Fake providers for the migration tests: one aiohttp app on loopback that answers, under
``/<provider>/...``, in the dialect the path asks for: Anthropic Messages at ``.../v1/messages``,
OpenAI Chat Completions at ``.../chat/completions``, as JSON or as SSE (``stream: true``). A body
in the wrong dialect is refused the way that API refuses it (a 400 in its own error shape), so a
request sent in the wrong dialect cannot pass as routed.

``point_env`` gives the ``<ID>_BASE_URL`` variables that send each catalogue provider to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
from aiohttp import web

from anthroxy.routing.catalog import CATALOG


@dataclass
class Call:
    provider: str
    dialect: str
    model: str
    stream: bool
    headers: dict[str, str]


@dataclass
class Providers:
    calls: list[Call] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{provider}/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        provider, tail = request.match_info["provider"], request.match_info["tail"]
        body = await request.json()
        if tail.endswith("v1/messages"):
            return await self._anthropic(request, provider, body)
        if tail.endswith("chat/completions"):
            return await self._chat(request, provider, body)
        return web.json_response({"error": {"message": f"no route /{tail}"}}, status=404)

    def _record(self, request: web.Request, provider: str, dialect: str, body: Any) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.calls.append(Call(provider, dialect, body["model"], bool(body.get("stream")), headers))

    async def _anthropic(
        self, request: web.Request, provider: str, body: Any
    ) -> web.StreamResponse:
        # Anthropic's API: max_tokens is required, and a message's role is user or assistant
        # (the system prompt is a top-level field; a chat body carries it as a message).
        roles = {m.get("role") for m in body.get("messages", [])}
        if not isinstance(body.get("max_tokens"), int) or not roles <= {"user", "assistant"}:
            error = {"type": "invalid_request_error", "message": "messages: Unexpected role"}
            return web.json_response({"type": "error", "error": error}, status=400)
        self._record(request, provider, "anthropic", body)
        text = f"{provider} says hi"
        message = {
            "id": "msg_fake1", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 2},
        }  # fmt: skip
        if not body.get("stream"):
            return web.json_response(message)
        start = {**message, "content": [], "stop_reason": None}
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": text}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 2},
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None}}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        raw = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)
        return await _sse(request, raw)

    async def _chat(self, request: web.Request, provider: str, body: Any) -> web.StreamResponse:
        # OpenAI's API: a top-level "system" is unknown, messages carry roles and content.
        if "system" in body or not isinstance(body.get("messages"), list):
            error = {"message": "Unrecognized request argument supplied: system",
                     "type": "invalid_request_error", "param": None, "code": None}  # fmt: skip
            return web.json_response({"error": error}, status=400)
        self._record(request, provider, "chat", body)
        text = f"{provider} says hi"
        base = {"id": "chatcmpl-fake1", "created": 1, "model": body["model"]}
        if not body.get("stream"):
            return web.json_response({
                **base, "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            })  # fmt: skip
        chunk = {**base, "object": "chat.completion.chunk"}
        chunks = [
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text},
                                   "finish_reason": None}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
        ]  # fmt: skip
        raw = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return await _sse(request, raw)


async def _sse(request: web.Request, raw: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(raw.encode())
    await response.write_eof()
    return response


def point_env(url: str, *provider_ids: str) -> dict[str, str]:
    """``<ID>_BASE_URL`` for each catalogue provider: ``url/<id>`` plus the dialect's prefix."""
    env = {}
    for pid in provider_ids:
        preset = CATALOG[pid]
        env[preset.base_url_env] = f"{url}/{pid}" + ("" if preset.api == "anthropic" else "/v1")
    return env


async def ask(sdk: anthropic.AsyncAnthropic, model: str, *, stream: bool = False) -> str:
    """The text of the answer to "hi", asked as Claude Code asks, streamed or not."""
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 64,
        "system": "You are Claude Code.",
        "messages": [{"role": "user", "content": "hi"}],
    }
    if stream:
        async with sdk.messages.stream(**kwargs) as events:
            message = await events.get_final_message()
    else:
        message = await sdk.messages.create(**kwargs)
    assert message.content[0].type == "text"
    return message.content[0].text
