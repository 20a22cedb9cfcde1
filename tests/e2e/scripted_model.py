"""A scripted "model" behind an OpenAI Chat Completions endpoint, for end-to-end runs.

It speaks the real wire format (``data:`` chunks, ``[DONE]``, usage in a trailing chunk) and plays
a two-turn agent: asked to write a file, it calls the ``Write`` tool with the path and text found
in the prompt; once the tool result arrives, it answers with a short text. Every request body is
kept in ``requests`` (and its arrival time in ``arrivals``) so a test can check what reached the
upstream.

``Script`` adds the upstream behaviours the failure tests need: DeepSeek-style
``reasoning_content`` streamed before the tool call (and, like DeepSeek in thinking mode, a 400
for any later request whose tool-call turn lost it), a first stream cut (connection closed, no
finish_reason) while its text is still coming, and a first request refused with 429 + retry-after.

Run by hand: ``python tests/e2e/scripted_model.py PORT``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .sse_replay import CUT_AFTER


@dataclass
class Script:
    """What the scripted upstream does beyond the plain script; the two faults (cut, 429) fire
    on the first request only, so Claude Code's retry meets a healthy upstream."""

    reasoning: str | None = None  # streamed as ``reasoning_content`` before the tool call
    # DeepSeek's thinking mode: a tool-call turn sent back without ``reasoning_content`` -> 400
    # (docs/protocol/chat-completions.md §7.2).
    require_reasoning: bool = False
    cut_first_stream: bool = False  # first streamed reply: a few text chunks, then a cut
    retry_after: int | None = None  # first request: 429 with this ``retry-after`` (seconds)


REQUESTS = web.AppKey("requests", list)
ARRIVALS = web.AppKey("arrivals", list)  # time.monotonic() of each request, same order
SCRIPT = web.AppKey("script", Script)
# What the cut stream says before the connection drops: a text block left open mid-sentence.
CUT_TEXT = ["I will ", "write ", "the"]
PROMPT = re.compile(r"write (?P<text>.+?) into (?P<path>/\S+)", re.IGNORECASE)


def user_text(messages: list[dict[str, Any]], part_type: str = "text") -> str:
    """The user's text across a conversation: Chat and Anthropic messages (``text`` parts) or
    Responses input items (``input_text`` parts)."""
    texts = []
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if p.get("type") == part_type]
    return "\n".join(texts)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-mock",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }


def _reply_chunks(messages: list[dict[str, Any]], reasoning: str | None) -> list[dict[str, Any]]:
    """The next turn of the script, as Chat Completions stream chunks."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    if messages and messages[-1].get("role") == "tool":
        for word in ["The file ", "is written", "."]:
            chunks.append(_chunk({"content": word}))
        chunks.append(_chunk({}, "stop"))
        return chunks
    match = PROMPT.search(user_text(messages))
    if match is None:
        chunks.append(_chunk({"content": "Hello from the scripted model."}))
        chunks.append(_chunk({}, "stop"))
        return chunks
    if reasoning is not None:
        # DeepSeek's shape: content null beside each reasoning_content fragment.
        for start in range(0, len(reasoning), 5):
            piece = reasoning[start : start + 5]
            chunks.append(_chunk({"content": None, "reasoning_content": piece}))
    arguments = json.dumps({"file_path": match["path"], "content": match["text"] + "\n"})
    call = {"index": 0, "id": "call_scripted_1", "type": "function"}
    chunks.append(
        _chunk({"tool_calls": [{**call, "function": {"name": "Write", "arguments": ""}}]})
    )
    # Fragments split mid-token, as real upstreams do.
    for start in range(0, len(arguments), 7):
        piece = arguments[start : start + 7]
        chunks.append(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    chunks.append(_chunk({}, "tool_calls"))
    return chunks


async def completions(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    seen, script = request.app[REQUESTS], request.app[SCRIPT]
    seen.append(body)
    request.app[ARRIVALS].append(time.monotonic())
    first = len(seen) == 1
    if first and script.retry_after is not None:
        return _rate_limited(script.retry_after)
    if script.require_reasoning and _lost_reasoning(body.get("messages", [])):
        return _reasoning_required()
    chunks = _reply_chunks(body.get("messages", []), script.reasoning)
    usage = {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230}
    if not body.get("stream"):
        return web.json_response(_as_completion(chunks, usage))
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    if first and script.cut_first_stream:
        return await _cut(request, response)
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    final = {**_chunk({}), "choices": [], "usage": usage}
    await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
    return response


def _rate_limited(seconds: int) -> web.Response:
    """OpenAI's 429 for a tokens-per-minute limit."""
    error = {
        "message": "Rate limit reached for gpt-mock on tokens per min (TPM): Limit 30000, "
        f"Used 30000, Requested 1200. Please try again in {seconds}s.",
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    return web.json_response({"error": error}, status=429, headers={"retry-after": str(seconds)})


def _lost_reasoning(messages: list[dict[str, Any]]) -> bool:
    return any(
        m.get("role") == "assistant" and "tool_calls" in m and "reasoning_content" not in m
        for m in messages
    )


def _reasoning_required() -> web.Response:
    """DeepSeek's 400 for a thinking-mode tool loop whose reasoning was not passed back."""
    error = {
        "message": "The reasoning_content in the thinking mode must be passed back to the API.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request_error",
    }
    return web.json_response({"error": error}, status=400)


async def _cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """A role chunk and a few text chunks, then the connection closes: no finish_reason, no
    usage, no [DONE], no final zero-length chunk (what a crashed upstream worker looks like)."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": word}) for word in CUT_TEXT]
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())  # awaits the flush
    await asyncio.sleep(CUT_AFTER)  # the client holds the words when the worker dies
    assert request.transport is not None
    request.transport.close()  # flushes what was written, then drops the connection
    return response


def _as_completion(chunks: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    """The same turn as one non-streamed completion."""
    text, reasoning, arguments, call, finish = "", "", "", None, "stop"
    for chunk in chunks:
        choice = chunk["choices"][0]
        delta = choice["delta"]
        text += delta.get("content") or ""
        reasoning += delta.get("reasoning_content") or ""
        for tool in delta.get("tool_calls", []):
            call = call or {"id": tool["id"], "type": "function", "name": tool["function"]["name"]}
            arguments += tool["function"].get("arguments", "")
        finish = choice["finish_reason"] or finish
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if call is not None:
        message["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": arguments},
            }
        ]
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "model": "gpt-mock",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def make_app(script: Script | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[REQUESTS] = []
    app[ARRIVALS] = []
    app[SCRIPT] = script or Script()
    app.router.add_post("/v1/chat/completions", completions)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]))
