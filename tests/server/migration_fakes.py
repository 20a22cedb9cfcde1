"""A recording fake upstream for the migration tests (test_migrate_*.py): one aiohttp app on
loopback that answers Anthropic Messages (``.../v1/messages``) and OpenAI Chat Completions
(``.../chat/completions``) in their real wire format, streamed or not, and records for each
request the path it reached, the key it carried and the model it asked for."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Hit:
    path: str
    key: str  # from x-api-key or "Authorization: Bearer"
    model: str


@dataclass
class Recorder:
    hits: list[Hit] = field(default_factory=list)
    url: str = ""

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bearer = request.headers.get("authorization", "")
        key = request.headers.get("x-api-key") or bearer.removeprefix("Bearer ")
        self.hits.append(Hit(request.path, key, body["model"]))
        if request.path.endswith("/chat/completions"):
            return await _chat(request, body)
        if request.path.endswith("/v1/messages"):
            return await _messages(request, body)
        return web.json_response({"error": {"message": "no such path"}}, status=404)


async def start_recorder(aiohttp_server: Any) -> Recorder:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.dispatch)
    server = await aiohttp_server(app)
    recorder.url = str(server.make_url("")).rstrip("/")
    return recorder


def _text(body: dict[str, Any]) -> str:
    return f"answer from {body['model']}"


async def _chat(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    if not body.get("stream"):
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": _text(body)},
            "finish_reason": "stop",
        }
        reply = {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"]}
        return web.json_response({**reply, "created": 1, "choices": [choice], "usage": usage})
    chunks = [
        {"index": 0, "delta": {"role": "assistant", "content": _text(body)}, "finish_reason": None},
        {"index": 0, "delta": {}, "finish_reason": "stop"},
    ]
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"]}
    frames = [{**head, "choices": [c]} for c in chunks]
    frames.append({**frames[-1], "choices": [], "usage": usage})
    data = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
    return await _sse(request, data)


async def _messages(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    message = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "text", "text": _text(body)}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 3},
    }  # fmt: skip
    if not body.get("stream"):
        return web.json_response(message)
    start = {**message, "content": [], "stop_reason": None}
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": _text(body)}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    ]  # fmt: skip
    data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return await _sse(request, data)


async def _sse(request: web.Request, data: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(data.encode())
    await response.write_eof()
    return response
