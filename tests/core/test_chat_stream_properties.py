"""Invariants of ChatStream over generated upstream streams (hypothesis).

Every stream the translator emits is a valid Anthropic stream; tool arguments concatenate to
exactly what the upstream sent for that call; text and thinking survive; inputs are not mutated.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anthroxy.chat.reply import from_response
from anthroxy.chat.stream import ChatStream
from anthroxy.events import Event
from tests.anthropic_stream_validator import validate_events
from tests.core.chat_cases import make_context, payloads

CTX = make_context({"requested_model": "claude-x", "tools": ["Bash", "Read", "Grep"]})
WORDS = st.text(alphabet='ab é\n"{}', min_size=1, max_size=6)


@st.composite
def reasoning_segment(draw: st.DrawFn) -> list[dict[str, Any]]:
    field = draw(st.sampled_from(["reasoning_content", "reasoning", "reasoning_details", "both"]))
    deltas = []
    for piece in draw(st.lists(WORDS, min_size=1, max_size=4)):
        detail = {"type": "reasoning.text", "text": piece, "format": "f", "index": 0}
        if field == "reasoning_details":
            deltas.append({"reasoning_details": [detail]})
        elif field == "both":  # OpenRouter: same text twice, must not be doubled
            deltas.append({"reasoning": piece, "reasoning_details": [detail]})
        else:
            deltas.append({field: piece, "content": None})
    return deltas


@st.composite
def tools_segment(draw: st.DrawFn, segment: int) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 3))
    gemini = draw(st.booleans())
    offset = draw(st.sampled_from([0, 1, 5]))
    calls = []
    for n in range(count):
        args = draw(st.sampled_from(['{"command": "ls -la"}', "{}", "", '{"a": [1, {"b": "é"}]}']))
        cuts = sorted(draw(st.lists(st.integers(0, len(args)), max_size=4)))
        pieces = [args[i:j] for i, j in zip([0, *cuts], [*cuts, len(args)], strict=True)]
        calls.append(
            {"id": f"call_{segment}_{n}", "name": ["Bash", "Read", "Grep"][n], "pieces": pieces}
        )
    if gemini:  # no index; each call whole in one entry
        return [
            {
                "tool_calls": [
                    {
                        "id": c["id"],
                        "function": {"name": c["name"], "arguments": "".join(c["pieces"])},
                    }
                ]
            }
            for c in calls
        ]
    # Interleave the calls' fragments in a random order that keeps each call's own order.
    queue = [[(i, k) for k in range(len(c["pieces"]))] for i, c in enumerate(calls)]
    deltas = []
    while any(queue):
        i = draw(st.sampled_from([i for i, q in enumerate(queue) if q]))
        _, k = queue[i].pop(0)
        entry: dict[str, Any] = {
            "index": offset + i,
            "function": {"arguments": calls[i]["pieces"][k]},
        }
        if k == 0:
            entry.update(id=calls[i]["id"], type="function")
            entry["function"]["name"] = calls[i]["name"]
        deltas.append({"tool_calls": [entry]})
    return deltas


@st.composite
def upstream_streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    truth: dict[str, Any] = {"text": "", "thinking": "", "args": {}}
    for n in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["reasoning", "text", "tools"]))
        if kind == "reasoning":
            segment = draw(reasoning_segment())
        elif kind == "text":
            segment = [{"content": w} for w in draw(st.lists(WORDS, min_size=1, max_size=4))]
        else:
            segment = draw(tools_segment(n))
        deltas += segment
    id_by_index: dict[Any, str] = {}
    for d in deltas:
        truth["text"] += d.get("content") or ""
        first = d.get("reasoning_content") or d.get("reasoning")
        truth["thinking"] += first or "".join(x["text"] for x in d.get("reasoning_details", []))
        for entry in d.get("tool_calls", []):
            if "id" in entry:
                id_by_index[entry.get("index")] = entry["id"]
            key = id_by_index[entry.get("index")]
            truth["args"][key] = truth["args"].get(key, "") + entry["function"]["arguments"]
    chunks = [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    usage = {
        "prompt_tokens": 9,
        "completion_tokens": 4,
        "prompt_tokens_details": {"cached_tokens": 2},
    }
    finish = draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter", None]))
    usage_at = draw(st.sampled_from(["none", "finish_chunk", "own_chunk"]))
    if finish is not None:
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if usage_at == "finish_chunk":
            chunks[-1]["usage"] = usage
    if usage_at == "own_chunk":
        chunks.append({"choices": [], "usage": usage})
    truth["finished"] = finish is not None
    return chunks, truth


def run(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stream = ChatStream(CTX, message_id="msg_prop")
    events: list[Event] = []
    for chunk in chunks:
        events += stream.feed(chunk)
    return payloads(events + stream.close())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upstream_streams())
def test_every_translated_stream_is_valid_and_faithful(case: Any) -> None:
    chunks, truth = case
    before = copy.deepcopy(chunks)
    events = run(chunks)
    assert chunks == before, "feed mutated its input"
    validate_events(events)
    if not truth["finished"]:
        assert events[-1]["type"] == "error"  # EOF without finish_reason is never silent
        return
    assert events[-1]["type"] == "message_stop"
    blocks: dict[int, dict[str, Any]] = {}
    for ev in events:
        if ev["type"] == "content_block_start":
            blocks[ev["index"]] = {**ev["content_block"], "json": ""}
        elif ev["type"] == "content_block_delta":
            block, delta = blocks[ev["index"]], ev["delta"]
            block["text"] = block.get("text", "") + delta.get("text", "")
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
            block["json"] += delta.get("partial_json", "")
    tools = [b for b in blocks.values() if b["type"] == "tool_use"]
    assert {b["id"]: b["json"] for b in tools} == truth["args"]
    assert len(tools) == len(truth["args"])
    assert (
        "".join(b.get("text", "") for b in blocks.values() if b["type"] == "text") == truth["text"]
    )
    thinking = "".join(b["thinking"] for b in blocks.values() if b["type"] == "thinking")
    assert thinking == truth["thinking"]
    stop = events[-2]["delta"]["stop_reason"]
    if tools and stop not in ("max_tokens", "refusal"):
        assert stop == "tool_use"


@settings(max_examples=200, deadline=None)
@given(
    reasoning=st.one_of(st.none(), WORDS),
    content=st.one_of(st.none(), WORDS),
    args=st.lists(st.sampled_from(["{}", '{"x": [1]}', ""]), max_size=3),
    finish=st.sampled_from(["stop", "tool_calls", "length"]),
)
def test_from_response_never_mutates_its_input(reasoning, content, args, finish) -> None:  # type: ignore[no-untyped-def]
    calls = [
        {
            "id": f"c{i}",
            "type": "function",
            "function": {"name": "Bash", "arguments": a},
            "extra_content": {"google": {"thought_signature": "s"}},
        }
        for i, a in enumerate(args)
    ]
    message = {
        "role": "assistant",
        "content": content,
        "reasoning_content": reasoning,
        "reasoning_details": [{"type": "reasoning.text", "text": reasoning or ""}],
    }
    if calls:
        message["tool_calls"] = calls
    upstream = {
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    before = copy.deepcopy(upstream)
    out = from_response(upstream, CTX, message_id="msg_prop")
    assert upstream == before
    assert [b["type"] for b in out["content"]].count("tool_use") == len(calls)
