"""A scripted "model" behind an Anthropic Messages endpoint, for end-to-end pass-through runs.

It plays the same two-turn agent as ``scripted_model`` (the Write tool, then a short text) in the
Messages wire format (docs/protocol/anthropic.md §9): ``message_start``, a ``ping``, a thinking
block closed
by its ``signature_delta``, a text block, a ``tool_use`` block whose input arrives as
``input_json_delta`` fragments split mid-token, ``message_delta`` with the stop reason and usage,
``message_stop``. Each request's path, headers and body are kept in ``requests``.

``make_app(cut_first_stream=True)`` makes the first streamed reply stop dead inside its first
text block (connection closed, no ``content_block_stop``, no ``message_stop``).

Run by hand: ``python -m tests.e2e.scripted_anthropic PORT``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .scripted_model import PROMPT, user_text
from .sse_replay import replay


@dataclass(frozen=True)
class Seen:
    """One request as the upstream received it."""

    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]


REQUESTS = web.AppKey("requests", list)
CUT_FIRST = web.AppKey("cut_first", bool)
CUT_TEXT = "I will write the"  # the cut stream sends its first three words, then drops
MODEL = "scripted-claude"
# An opaque signature shaped like Anthropic's (base64 of a protobuf): pass-through must hand it
# to the client and back unchanged; anthroxy never signed it, so it must not drop it either.
SIGNATURE = "EqQBCkgIBhABGAIiQHQ0c2NyaXB0ZWQtc2lnbmF0dXJlLWZvci1wYXNzLXRocm91Z2gtdGVzdHMSDHNj"
THINKING = "The user wants a file written; the Write tool does that."
TOOL_ID = "toolu_01ScriptedWrite0000000001"


def _answers_tool_result(messages: list[dict[str, Any]]) -> bool:
    last = messages[-1] if messages else {}
    content = last.get("content")
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)


def reply_blocks(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The next turn of the script: its final content blocks and stop reason."""
    if _answers_tool_result(messages):
        return [{"type": "text", "text": "The file is written."}], "end_turn"
    match = PROMPT.search(user_text(messages))
    if match is None:
        return [{"type": "text", "text": "Hello from the scripted model."}], "end_turn"
    arguments = {"file_path": match["path"], "content": match["text"] + "\n"}
    return [
        {"type": "thinking", "thinking": THINKING, "signature": SIGNATURE},
        {"type": "text", "text": "I'll write the file."},
        {"type": "tool_use", "id": TOOL_ID, "name": "Write", "input": arguments},
    ], "tool_use"


def _usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 1200,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _message(content: list[dict[str, Any]], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": "msg_01ScriptedAnthropic000001",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(30 if stop_reason else 1),
    }


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """``content_block_start``, its deltas and ``content_block_stop`` for one final block."""
    kind = block["type"]
    start: dict[str, Any]
    if kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": block["thinking"]}]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        words = block["text"].split(" ")
        pieces = [w + " " for w in words[:-1]] + words[-1:]
        deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        raw = json.dumps(block["input"])
        # The real API opens with an empty fragment, then splits mid-token.
        pieces = ["", *(raw[i : i + 9] for i in range(0, len(raw), 9))]
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    events: list[dict[str, Any]]
    events = [{"type": "content_block_start", "index": index, "content_block": start}]
    events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
    return [*events, {"type": "content_block_stop", "index": index}]


def stream_events(content: list[dict[str, Any]], stop_reason: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]]
    events = [{"type": "message_start", "message": _message([], None)}, {"type": "ping"}]
    for index, block in enumerate(content):
        events += _block_events(index, block)
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    events.append({"type": "message_delta", "delta": delta, "usage": {"output_tokens": 30}})
    return [*events, {"type": "message_stop"}]


async def messages(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    headers = {name.lower(): value for name, value in request.headers.items()}
    request.app[REQUESTS].append(Seen(request.path, headers, body))
    content, stop_reason = reply_blocks(body.get("messages", []))
    if not body.get("stream"):
        return web.json_response(_message(content, stop_reason))
    events = stream_events(content, stop_reason)
    cut = request.app[CUT_FIRST] and len(request.app[REQUESTS]) == 1
    if cut:
        # message_start, ping, content_block_start, three text deltas.
        events = events[:2] + _block_events(0, {"type": "text", "text": CUT_TEXT})[:4]
    return await replay(request, events, cut=cut)


def make_app(*, cut_first_stream: bool = False) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[REQUESTS] = []
    app[CUT_FIRST] = cut_first_stream
    app.router.add_post("/v1/messages", messages)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]))
