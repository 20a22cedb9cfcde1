"""ChatStream: Chat Completions chunks → Anthropic events.

Golden cases live in tests/golden/chat_stream/<case>/ (upstream.sse, context.json, expected.sse,
all written by hand; anthroxy signatures appear in expected.sse as
``{"anthroxy_payload": <decoded payload>}`` so a reviewer can read them). The big DeepSeek stream
is checked structurally (tests/golden/chat_stream_structural/).
"""

from __future__ import annotations

import copy
import json
from itertools import groupby
from typing import Any

import pytest

from anthroxy import signature
from anthroxy.chat.stream import ChatStream
from anthroxy.errors import UpstreamProtocolError
from anthroxy.events import encode_all
from tests.anthropic_stream_validator import accumulate, validate_events, validate_sse
from tests.core.chat_cases import (
    GOLDEN,
    make_context,
    payloads,
    translate,
    translate_events,
    upstream_chunks,
)

STREAM_CASES = sorted(p.name for p in (GOLDEN / "chat_stream").iterdir() if p.is_dir())


def _parse_expected(text: str) -> list[dict[str, Any]]:
    """expected.sse → payloads; checks each frame's event name equals its data.type."""
    events = []
    for frame in filter(None, (f.strip("\n") for f in text.split("\n\n"))):
        name, data = frame.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), frame
        payload = json.loads(data[len("data: ") :])
        assert payload["type"] == name[len("event: ") :], frame
        events.append(payload)
    return events


def _readable_signatures(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy where every anthroxy signature is replaced by its decoded payload."""
    out = copy.deepcopy(events)
    for ev in out:
        delta = ev.get("delta", {})
        if delta.get("type") == "signature_delta":
            assert signature.is_anthroxy(delta["signature"]), delta
            payload = signature.decode(delta["signature"])
            assert payload is not None, "an anthroxy signature that does not decode"
            delta["signature"] = {"anthroxy_payload": payload}
    return out


def _run_case(case_dir: Any) -> list[Any]:
    spec = json.loads((case_dir / "context.json").read_text())
    chunks, _ = upstream_chunks((case_dir / "upstream.sse").read_bytes())
    return translate_events(make_context(spec), chunks, spec["message_id"])


@pytest.mark.parametrize("case", STREAM_CASES)
def test_golden_stream(case: str) -> None:
    case_dir = GOLDEN / "chat_stream" / case
    typed = _run_case(case_dir)
    events = payloads(typed)
    validate_events(events)
    # The bytes the server would send pass the framing check too, and decode to the payloads.
    assert validate_sse(encode_all(typed)) == events
    expected = _parse_expected((case_dir / "expected.sse").read_text())
    assert _readable_signatures(events) == expected


def test_deepseek_reasoning_stream_structure() -> None:
    case_dir = GOLDEN / "chat_stream_structural" / "deepseek_reasoning_content"
    expected = json.loads((case_dir / "expected.json").read_text())
    events = payloads(_run_case(case_dir))
    validate_events(events)
    labels = []
    for ev in events:
        if ev["type"] == "content_block_start":
            labels.append(f"content_block_start:{ev['content_block']['type']}")
        elif ev["type"] == "content_block_delta":
            labels.append(f"content_block_delta:{ev['delta']['type']}")
        else:
            labels.append(ev["type"])
    runs = [[label, len(list(group))] for label, group in groupby(labels)]
    assert runs == expected["event_runs"]
    message = accumulate(events)
    thinking, text = message["content"]
    assert thinking["thinking"] == expected["thinking"]
    assert signature.decode(thinking["signature"]) == expected["signature_payload"]
    assert text["text"] == expected["text"]
    assert message["stop_reason"] == expected["stop_reason"]
    assert message["usage"] == expected["usage"]


# -- targeted behaviours ------------------------------------------------------------------

CTX = make_context({"requested_model": "claude-x", "tools": ["Bash", "Read"]})
ORIGIN = {"p": "mock", "m": "upstream"}  # CTX's target, in every signature it mints


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"choices": [choice], **top}


def _call(index: int | None, args: str, call_id: str | None = None, name: str | None = None):
    entry: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        entry["index"] = index
    if call_id is not None:
        entry["id"] = call_id
    if name is not None:
        entry["function"]["name"] = name
    return entry


def test_message_start_is_emitted_once_with_the_first_chunk() -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    first = payloads(stream.feed(_chunk({"role": "assistant", "content": ""})))
    assert [e["type"] for e in first] == ["message_start"]
    assert [e["type"] for e in payloads(stream.feed(_chunk({"content": "x"})))] == [
        "content_block_start",
        "content_block_delta",
    ]


def test_finish_reason_is_remembered_until_close() -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    events = payloads(stream.feed(_chunk({"content": "hi"}, "stop")))
    assert "message_delta" not in [e["type"] for e in events]
    usage = {"prompt_tokens": 12, "completion_tokens": 2}
    assert stream.feed({"choices": [], "usage": usage}) == []
    end = payloads(stream.close())
    assert [e["type"] for e in end] == ["content_block_stop", "message_delta", "message_stop"]
    assert end[1]["usage"]["input_tokens"] == 12


def test_new_id_on_the_same_index_starts_a_new_call() -> None:
    chunks = [
        _chunk({"tool_calls": [_call(0, '{"a":1}', "call_1", "Bash")]}),
        _chunk({"tool_calls": [_call(0, '{"b":2}', "call_2", "Read")]}),
        _chunk({"tool_calls": [_call(0, "")]}, "tool_calls"),
    ]
    message = accumulate(translate(CTX, chunks, "msg_1"))
    assert [(b["id"], b["name"], b["input"]) for b in message["content"]] == [
        ("call_1", "Bash", {"a": 1}),
        ("call_2", "Read", {"b": 2}),
    ]


def test_fragment_for_a_closed_call_ends_the_stream_with_an_error() -> None:
    chunks = [
        _chunk({"tool_calls": [_call(0, '{"a":', "call_1", "Bash")]}),
        _chunk({"content": "text in between"}),
        _chunk({"tool_calls": [_call(0, "1}")]}),
    ]
    events = translate(CTX, chunks, "msg_1")
    validate_events(events)
    assert events[-1]["type"] == "error"
    assert "cannot be reopened" in events[-1]["error"]["message"]


def test_nameless_call_at_close_is_an_error_not_an_empty_name() -> None:
    chunks = [_chunk({"tool_calls": [_call(0, "{}", "call_1")]}, "tool_calls")]
    events = translate(CTX, chunks, "msg_1")
    validate_events(events)
    assert events[-1]["type"] == "error"
    assert "never got a function name" in events[-1]["error"]["message"]


def test_name_arriving_after_arguments_opens_the_block_then() -> None:
    chunks = [
        _chunk({"tool_calls": [_call(0, '{"x"', "call_1")]}),
        _chunk({"tool_calls": [_call(0, ":1}", name="Bash")]}, "tool_calls"),
    ]
    message = accumulate(translate(CTX, chunks, "msg_1"))
    assert message["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"x": 1}}
    ]


def test_thought_signature_arriving_after_the_block_opened_is_kept_in_a_trailing_block() -> None:
    late = {"index": 0, "function": {"arguments": "}"}}
    late["extra_content"] = {"google": {"thought_signature": "TEFURQ=="}}
    chunks = [
        _chunk({"tool_calls": [_call(0, "{", "call_1", "Bash")]}),
        _chunk({"tool_calls": [late]}, "tool_calls"),
    ]
    events = translate(CTX, chunks, "msg_1")
    message = accumulate(events)
    assert [b["type"] for b in message["content"]] == ["tool_use", "thinking"]
    assert signature.decode(message["content"][1]["signature"]) == {
        "ts": {"call_1": "TEFURQ=="},
        **ORIGIN,
    }
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("finish", "error_type"),
    [("insufficient_system_resource", "overloaded_error"), ("error", "api_error")],
)
def test_failed_generation_finish_reasons_end_in_an_error(finish: str, error_type: str) -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    stream.feed(_chunk({"content": "partial"}, finish))
    end = payloads(stream.close())
    # The text block stays open: Claude Code retries a stream that breaks inside a block.
    assert [e["type"] for e in end] == ["error"]
    assert end[0]["error"]["type"] == error_type


def test_unknown_finish_reason_is_loud() -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    stream.feed(_chunk({"content": "x"}, "banana"))
    end = payloads(stream.close())
    assert end[-1]["type"] == "error"
    assert "unknown finish_reason 'banana'" in end[-1]["error"]["message"]


def test_length_with_a_tool_call_reports_max_tokens() -> None:
    chunks = [_chunk({"tool_calls": [_call(0, '{"command": "l', "call_1", "Bash")]}, "length")]
    events = translate(CTX, chunks, "msg_1")
    validate_events(events)
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"


def test_fail_before_anything_sends_message_start_then_error() -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    events = payloads(stream.fail(UpstreamProtocolError("upstream reset")))
    assert [e["type"] for e in events] == ["message_start", "error"]
    assert stream.feed(_chunk({"content": "late"})) == []
    assert stream.close() == []
    assert stream.fail(UpstreamProtocolError("again")) == []


def test_nothing_after_message_stop() -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    stream.feed(_chunk({"content": "x"}, "stop"))
    assert payloads(stream.close())[-1]["type"] == "message_stop"
    assert stream.close() == []
    assert stream.fail(UpstreamProtocolError("late")) == []


def test_empty_stream_at_eof_is_an_error_after_message_start() -> None:
    events = payloads(ChatStream(CTX, message_id="msg_1").close())
    assert [e["type"] for e in events] == ["message_start", "error"]


@pytest.mark.parametrize(
    ("chunk", "fragment"),
    [
        ({"choices": "nope"}, "choices is not a list"),
        ({"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]}, "index is not an integer"),
        ({"choices": [{"delta": {"tool_calls": {"a": 1}}}]}, "tool_calls is not a list"),
        ({"choices": [{"delta": {"tool_calls": [_call(0, 5)]}}]}, "arguments is not a string"),  # type: ignore[arg-type]
        ({"choices": [], "usage": {"prompt_tokens": "many"}}, "not an integer"),
    ],
)
def test_malformed_chunks_become_error_events_with_a_path(chunk: dict, fragment: str) -> None:
    stream = ChatStream(CTX, message_id="msg_1")
    events = payloads(stream.feed(chunk))
    if events[-1]["type"] != "error":  # usage is only read at close
        stream.feed(_chunk({}, "stop"))
        events = payloads(stream.close())
    assert events[-1]["type"] == "error"
    assert fragment in events[-1]["error"]["message"]
    assert "@ $." in events[-1]["error"]["message"]


def test_reasoning_and_reasoning_details_in_one_chunk_are_not_doubled() -> None:
    detail = {"type": "reasoning.text", "text": "abc", "format": "f", "index": 0}
    chunks = [
        _chunk({"reasoning": "abc", "reasoning_details": [detail]}),
        _chunk({"content": "ok"}, "stop"),
    ]
    message = accumulate(translate(CTX, chunks, "msg_1"))
    assert message["content"][0]["thinking"] == "abc"
    payload = signature.decode(message["content"][0]["signature"])
    assert payload == {"rd": [detail], "f": "reasoning_details", **ORIGIN}


def test_encrypted_reasoning_detail_alone_opens_a_signed_thinking_block() -> None:
    detail = {"type": "reasoning.encrypted", "data": "b64", "format": "f", "index": 0}
    chunks = [_chunk({"reasoning_details": [detail]}), _chunk({"content": "ok"}, "stop")]
    message = accumulate(translate(CTX, chunks, "msg_1"))
    assert message["content"][0]["thinking"] == ""
    payload = signature.decode(message["content"][0]["signature"])
    assert payload == {"rd": [detail], "f": "reasoning_details", **ORIGIN}


@pytest.mark.parametrize("finish", [["stop"], {"reason": "stop"}, 7])
def test_a_finish_reason_that_is_not_a_string_is_an_error_event(finish: object) -> None:
    # Review: an unhashable finish_reason used to crash close() with a TypeError.
    stream = ChatStream(CTX, message_id="msg_1")
    events = stream.feed({"choices": [{"delta": {"content": "hi"}, "finish_reason": finish}]})
    events += stream.close()
    events = payloads(events)
    assert events[-1]["type"] == "error"
    assert "@ $.choices[0].finish_reason" in events[-1]["error"]["message"]
    validate_events(events)
