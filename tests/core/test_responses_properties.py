"""Invariants of the Responses stream translator over generated upstream streams.

* every event sequence it emits is a valid Anthropic stream (the shared strict validator), also
  when the upstream stops at any point or sends junk;
* tool arguments, text and summary parts come out exactly as the upstream sent them;
* with stop sequences, the streamed text equals the complete text cut at the first stop;
* the stream's final message equals ``from_response`` of the same answer;
* nothing it is given is mutated.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy import signature
from anthroxy.context import ReplyContext
from anthroxy.events import Event
from anthroxy.messages.assemble import assemble_message
from anthroxy.profile import Target
from anthroxy.responses.reply import from_response
from anthroxy.responses.stream import ResponsesStream
from anthroxy.toolnames import ToolNames
from tests.anthropic_stream_validator import validate_events

TOOL = "mcp__" + "x" * 70  # longer than 64: exercises the name mapping back
TEXT = st.text(alphabet='ab ENDé\n{}"', max_size=12)
CHUNKS = st.lists(TEXT, max_size=5)


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["reasoning", "message", "function_call"]))
    if kind == "reasoning":
        parts = draw(st.lists(CHUNKS, max_size=3))
        return {"kind": kind, "parts": parts, "enc": draw(st.one_of(st.none(), TEXT))}
    if kind == "message":
        return {"kind": kind, "chunks": draw(CHUNKS)}
    args = draw(
        st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=6), max_size=3)
    )
    raw = json.dumps(args)
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=4)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    return {"kind": kind, "args": args, "pieces": pieces}


def upstream(spec: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The event payloads of a stream producing ``spec``, and the final response object."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {"output": []}}]
    output = []
    for i, item in enumerate(spec):
        events_i, done = _item_events(i, item)
        events += events_i
        output.append(done)
    usage = {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 20}, "output_tokens": 9}
    final = {"status": "completed", "output": output, "usage": usage}
    events.append({"type": "response.completed", "response": {**final, "output": []}})
    return events, final


def _item_events(i: int, item: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    base = {"output_index": i, "item_id": f"it_{i}", "obfuscation": "x"}
    if item["kind"] == "reasoning":
        done: dict[str, Any] = {"type": "reasoning", "id": f"rs_{i}", "summary": []}
        if item["enc"] is not None:
            done["encrypted_content"] = item["enc"]
        out = []
        for j, chunks in enumerate(item["parts"]):
            done["summary"].append({"type": "summary_text", "text": "".join(chunks)})
            kind = "response.reasoning_summary_text.delta"
            out += [{"type": kind, **base, "summary_index": j, "delta": c} for c in chunks]
    elif item["kind"] == "message":
        text = "".join(item["chunks"])
        done = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }
        kind = "response.output_text.delta"
        out = [{"type": kind, **base, "content_index": 0, "delta": c} for c in item["chunks"]]
    else:
        raw = "".join(item["pieces"])
        done = {"type": "function_call", "call_id": f"call_{i}", "name": TOOL, "arguments": raw}
        kind = "response.function_call_arguments.delta"
        out = [{"type": kind, **base, "delta": p} for p in item["pieces"]]
    added = {
        "type": "response.output_item.added",
        "output_index": i,
        "item": {**done, "arguments": ""},
    }
    finished = {"type": "response.output_item.done", "output_index": i, "item": done}
    return [added, *out, finished], done


def ctx(stops: tuple[str, ...] = ()) -> ReplyContext:
    return ReplyContext(
        requested_model="claude-test",
        target=Target(provider="openai", model="gpt-test"),
        tool_names=ToolNames([TOOL]),
        stop_sequences=stops,
    )


def run(payloads: list[dict[str, Any]], context: ReplyContext) -> list[dict[str, Any]]:
    stream = ResponsesStream(context, message_id="msg_p")
    events: list[Event] = []
    for payload in payloads:
        events += stream.feed(payload)
    return [event.payload() for event in events + stream.close()]


SPECS = st.lists(items(), max_size=5)


@settings(max_examples=300, deadline=None)
@given(SPECS)
def test_generated_streams_are_valid_and_exact(spec: list[dict[str, Any]]) -> None:
    payloads, final = upstream(spec)
    snapshot = copy.deepcopy(payloads)
    events = run(payloads, ctx())
    assert payloads == snapshot
    validate_events(events)
    message = assemble_message(events)
    # The stream's answer is the complete response's answer.
    assert message == from_response(final, ctx(), message_id="msg_p")
    tools = [b for b in message["content"] if b["type"] == "tool_use"]
    assert [t["input"] for t in tools] == [i["args"] for i in spec if i["kind"] == "function_call"]
    assert all(t["name"] == TOOL for t in tools)
    streamed_args = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    sent = "".join("".join(i["pieces"]) for i in spec if i["kind"] == "function_call")
    assert streamed_args == sent
    for block in message["content"]:
        if block["type"] in ("thinking", "redacted_thinking"):
            payload = signature.decode(block.get("signature", block.get("data")))
            assert payload is not None and payload["rid"].startswith("rs_")
    expected_stop = "tool_use" if tools else "end_turn"
    assert message["stop_reason"] == expected_stop


@settings(max_examples=300, deadline=None)
@given(SPECS, st.data())
def test_a_stream_cut_anywhere_still_ends_validly(spec: list[dict[str, Any]], data: Any) -> None:
    payloads, _ = upstream(spec)
    cut = data.draw(st.integers(0, len(payloads)))
    events = run(payloads[:cut], ctx())
    validate_events(events)
    complete = cut == len(payloads)
    assert events[-1]["type"] == ("message_stop" if complete else "error")


def reference_cut(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """Where generation would have stopped: the stop string whose match ends first."""
    for end in range(len(text) + 1):
        for stop in sorted(stops, key=len, reverse=True):
            if text[:end].endswith(stop):
                return text[: end - len(stop)], stop
    return text, None


@settings(max_examples=300, deadline=None)
@given(CHUNKS, st.lists(st.text(alphabet="abEND ", min_size=1, max_size=4), min_size=1, max_size=3))
def test_stop_sequences_cut_the_text_exactly(chunks: list[str], stop_list: list[str]) -> None:
    stops = tuple(stop_list)
    payloads, final = upstream([{"kind": "message", "chunks": chunks}])
    events = run(payloads, ctx(stops))
    validate_events(events)
    message = assemble_message(events)
    head, matched = reference_cut("".join(chunks), stops)
    assert "".join(b["text"] for b in message["content"]) == head
    assert message["stop_sequence"] == matched
    assert message["stop_reason"] == ("stop_sequence" if matched else "end_turn")
    assert message == from_response(final, ctx(stops), message_id="msg_p")


JUNK_TYPES = [
    "response.output_item.added",
    "response.output_item.done",
    "response.output_text.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.refusal.delta",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "response.web_search_call.searching",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
JUNK = st.fixed_dictionaries(
    {"type": st.sampled_from(JUNK_TYPES)},
    optional={
        "output_index": st.integers(0, 2) | JSON,
        "content_index": st.integers(0, 1),
        "summary_index": st.integers(0, 1),
        "delta": JSON,
        "item": st.fixed_dictionaries(
            {"type": st.sampled_from(["message", "reasoning", "function_call", "other"])},
            optional={
                "name": JSON,
                "call_id": JSON,
                "arguments": JSON,
                "content": JSON,
                "summary": JSON,
            },
        )
        | JSON,
        "response": JSON,
        "arguments": JSON,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.lists(JUNK, max_size=12))
def test_junk_never_crashes_and_the_output_stays_valid(payloads: list[dict[str, Any]]) -> None:
    snapshot = copy.deepcopy(payloads)
    events = run(payloads, ctx(("E",)))
    assert payloads == snapshot
    validate_events(events)
