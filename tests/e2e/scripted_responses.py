"""A scripted "model" behind an OpenAI Responses endpoint, for end-to-end runs.

The same two-turn Write agent as ``scripted_model``, in the Responses streaming wire format
(compare tests/fixtures/recorded/openai-responses/): ``response.created``,
``response.in_progress``, then per output item ``output_item.added`` .. ``output_item.done``
with the item's own deltas in between, then ``response.completed`` carrying the whole output and
the usage; every event has a ``sequence_number``. The first turn reasons first: a ``reasoning``
item with a summary and ``encrypted_content``, which (as recorded from OpenAI) differs between
``output_item.added`` and ``output_item.done``; only the final one may be replayed. Request
bodies are kept in ``requests``.

``make_app(cut_first_stream=True)`` makes the first streamed reply stop dead inside its first
message item, mid-text (connection closed, no ``response.completed``).

Run by hand: ``python -m tests.e2e.scripted_responses PORT``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aiohttp import web

from .scripted_model import PROMPT, user_text
from .sse_replay import replay

REQUESTS = web.AppKey("requests", list)
CUT_FIRST = web.AppKey("cut_first", bool)
CUT_TEXT = "I will write the"  # the cut stream sends its first three words, then drops
MODEL = "gpt-scripted"
RESPONSE_ID = "resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
REASONING_ID = "rs_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
# Fernet-like opaque blobs, as OpenAI sends them; the added one is provisional.
ENCRYPTED_ADDED = "gAAAAABoScriptedProvisional_" + "x" * 40
ENCRYPTED_DONE = "gAAAAABoScriptedFinal_Reasoning-Blob_" + "y7Q=" * 12
SUMMARY = ["**Writing the file**\n\nThe user wants a file; ", "the Write tool does it."]
CALL_ID = "call_ScriptedResponses01"


def _reasoning(encrypted: str, summary: list[str]) -> dict[str, Any]:
    parts = [{"type": "summary_text", "text": text} for text in summary]
    return {
        "id": REASONING_ID,
        "type": "reasoning",
        "encrypted_content": encrypted,
        "summary": parts,
    }


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + words[-1:]


def _reasoning_events(where: dict[str, Any]) -> list[dict[str, Any]]:
    at = {**where, "summary_index": 0}
    text = "".join(SUMMARY)
    return [
        {"type": "response.reasoning_summary_part.added", **at,
         "part": {"type": "summary_text", "text": ""}},
        *({"type": "response.reasoning_summary_text.delta", **at, "delta": d} for d in SUMMARY),
        {"type": "response.reasoning_summary_text.done", **at, "text": text},
        {"type": "response.reasoning_summary_part.done", **at,
         "part": {"type": "summary_text", "text": text}},
    ]  # fmt: skip


def _arguments_events(where: dict[str, Any], raw: str) -> list[dict[str, Any]]:
    # Eight characters at a time: fragments end mid-key and mid-string, as real ones do.
    deltas = [
        {"type": "response.function_call_arguments.delta", **where, "delta": raw[i : i + 8]}
        for i in range(0, len(raw), 8)
    ]
    return [*deltas, {"type": "response.function_call_arguments.done", **where, "arguments": raw}]


def _text_events(where: dict[str, Any], text: str) -> list[dict[str, Any]]:
    at = {**where, "content_index": 0}
    return [
        {"type": "response.content_part.added", **at,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        *({"type": "response.output_text.delta", **at, "delta": w} for w in _words(text)),
        {"type": "response.output_text.done", **at, "text": text},
        {"type": "response.content_part.done", **at,
         "part": {"type": "output_text", "text": text, "annotations": []}},
    ]  # fmt: skip


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of one output item, from ``output_item.added`` to ``output_item.done``."""
    where = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "reasoning":
        added = _reasoning(ENCRYPTED_ADDED, [])
        inner = _reasoning_events(where)
    elif item["type"] == "function_call":
        added = {**item, "arguments": "", "status": "in_progress"}
        inner = _arguments_events(where, item["arguments"])
    else:
        added = {**item, "status": "in_progress", "content": []}
        inner = _text_events(where, item["content"][0]["text"])
    return [
        {"type": "response.output_item.added", "output_index": index, "item": added},
        *inner,
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def reply_output(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The next turn of the script: the final ``output`` items of the response."""
    if items and items[-1].get("type") == "function_call_output":
        return [_message("The file is written.")]
    match = PROMPT.search(user_text(items, "input_text"))
    if match is None:
        return [_message("Hello from the scripted model.")]
    arguments = json.dumps({"file_path": match["path"], "content": match["text"] + "\n"})
    call = {
        "id": "fc_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": CALL_ID,
        "name": "Write",
    }
    return [_reasoning(ENCRYPTED_DONE, ["".join(SUMMARY)]), call]


def _message(text: str) -> dict[str, Any]:
    return {
        "id": "msg_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _response(status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    usage = None
    if status == "completed":
        usage = {
            "input_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 12},
            "total_tokens": 1230,
        }
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1757687055,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": MODEL,
        "output": output,
        "store": False,
        "usage": usage,
    }


def stream_events(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = [
        {"type": "response.created", "response": _response("in_progress", [])},
        {"type": "response.in_progress", "response": _response("in_progress", [])},
    ]
    for index, item in enumerate(output):
        events += _item_events(index, item)
    events.append({"type": "response.completed", "response": _response("completed", output)})
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


async def responses(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    request.app[REQUESTS].append(body)
    output = reply_output(body.get("input", []))
    if not body.get("stream"):
        return web.json_response(_response("completed", output))
    events = stream_events(output)
    cut = request.app[CUT_FIRST] and len(request.app[REQUESTS]) == 1
    if cut:
        # created, in_progress, the message item and its part opened, then three words.
        events = stream_events([_message(CUT_TEXT + " file.")])[:7]
    return await replay(request, events, cut=cut)


def make_app(*, cut_first_stream: bool = False) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[REQUESTS] = []
    app[CUT_FIRST] = cut_first_stream
    app.router.add_post("/v1/responses", responses)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]))
