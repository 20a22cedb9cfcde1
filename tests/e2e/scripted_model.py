"""A scripted "model" behind an OpenAI Chat Completions endpoint, for end-to-end runs.

It speaks the real wire format (``data:`` chunks, ``[DONE]``, usage in a trailing chunk) and plays
a two-turn agent: asked to write a file, it calls the ``Write`` tool with the path and text found
in the prompt; once the tool result arrives, it answers with a short text. Every request body is
kept in ``requests`` so a test can check what reached the upstream.

Run by hand: ``python tests/e2e/scripted_model.py PORT``.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from aiohttp import web

REQUESTS = web.AppKey("requests", list)
PROMPT = re.compile(r"write (?P<text>.+?) into (?P<path>/\S+)", re.IGNORECASE)


def _user_text(messages: list[dict[str, Any]]) -> str:
    texts = []
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if p.get("type") == "text"]
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


def _reply_chunks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The next turn of the script, as Chat Completions stream chunks."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    if messages and messages[-1].get("role") == "tool":
        for word in ["The file ", "is written", "."]:
            chunks.append(_chunk({"content": word}))
        chunks.append(_chunk({}, "stop"))
        return chunks
    match = PROMPT.search(_user_text(messages))
    if match is None:
        chunks.append(_chunk({"content": "Hello from the scripted model."}))
        chunks.append(_chunk({}, "stop"))
        return chunks
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
    request.app[REQUESTS].append(body)
    chunks = _reply_chunks(body.get("messages", []))
    usage = {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230}
    if not body.get("stream"):
        return web.json_response(_as_completion(chunks, usage))
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    final = {**_chunk({}), "choices": [], "usage": usage}
    await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
    return response


def _as_completion(chunks: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    """The same turn as one non-streamed completion."""
    text, arguments, call, finish = "", "", None, "stop"
    for chunk in chunks:
        choice = chunk["choices"][0]
        delta = choice["delta"]
        text += delta.get("content") or ""
        for tool in delta.get("tool_calls", []):
            call = call or {"id": tool["id"], "type": "function", "name": tool["function"]["name"]}
            arguments += tool["function"].get("arguments", "")
        finish = choice["finish_reason"] or finish
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
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


def make_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[REQUESTS] = []
    app.router.add_post("/v1/chat/completions", completions)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]))
