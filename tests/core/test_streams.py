"""Invariant: the three upstream streams (Chat and Responses behind their SSE decoder, and the
Anthropic pass-through) follow one protocol, bytes in and events out (``anthroxy.streams``).

However the upstream's bytes are split, the events encode to the same bytes; the stream is
``finished`` exactly when its last event (``message_stop`` or ``error``) went out, and nothing
follows it, whatever the upstream still sends; ``usage`` is what the final ``message_delta``
says; an in-band upstream error ends the stream with an ``error`` event in one place, the
translator; a body that ends early ends with an ``error`` event, never silently.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy.chat.stream import sse_stream as chat_sse_stream
from anthroxy.errors import UpstreamError
from anthroxy.events import Error, Raw, Usage, encode_all
from anthroxy.messages.assemble import assemble_message
from anthroxy.passthrough import PassthroughStream
from anthroxy.responses.stream import sse_stream as responses_sse_stream
from tests.anthropic_stream_validator import validate_sse
from tests.core.chat_cases import make_context

TESTS = Path(__file__).resolve().parents[1]
RECORDED = TESTS / "fixtures" / "recorded"
CTX = make_context({"requested_model": "claude-x", "tools": ["get_weather", "get_capital"]})

STREAMS: dict[str, tuple[Callable[[], Any], bytes]] = {
    "chat": (
        lambda: chat_sse_stream(CTX, message_id="msg_1"),
        (RECORDED / "openai-chat" / "stream_tool_call_with_usage.sse").read_bytes(),
    ),
    "responses": (
        lambda: responses_sse_stream(CTX, message_id="msg_1"),
        (RECORDED / "openai-responses" / "stream_function_call.sse").read_bytes(),
    ),
    "passthrough": (
        lambda: PassthroughStream("claude-x", provider="up"),
        (TESTS / "fixtures" / "server" / "stream_thinking_signature_text.sse").read_bytes(),
    ),
}
# What the upstream still sends after its stream is over; none of it may reach the client.
AFTERWARDS = b'event: ping\ndata: {"type":"ping"}\n\ndata: {"choices": []}\n\ndata: [DONE]\n\n'


def run(name: str, parts: list[bytes]) -> tuple[Any, bytes]:
    make, _ = STREAMS[name]
    stream = make()
    out = b"".join(encode_all(stream.feed(part)) for part in parts)
    return stream, out + encode_all(stream.close())


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_whole_stream_is_valid_finished_and_reports_its_usage(name: str) -> None:
    stream, out = run(name, [STREAMS[name][1]])
    events = validate_sse(out)
    assert events[-1]["type"] == "message_stop"
    assert stream.finished
    delta = [e for e in events if e["type"] == "message_delta"][-1]["usage"]
    assert stream.usage.output_tokens == delta["output_tokens"]
    if name != "passthrough":  # the pass-through's input count may come from message_start
        reported = (delta["input_tokens"], delta["output_tokens"])
        cache = (delta.get("cache_read_input_tokens"), delta.get("cache_creation_input_tokens"))
        assert stream.usage == Usage(*reported, *cache)
    assert stream.feed(AFTERWARDS) == [] and stream.close() == []
    assert stream.fail(UpstreamError("late")) == []


@pytest.mark.parametrize("name", sorted(STREAMS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_split_of_the_bytes_gives_the_same_output(name: str, data: Any) -> None:
    body = STREAMS[name][1] + AFTERWARDS
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12))
    points = [0, *sorted(cuts), len(body)]
    _, out = run(name, [body[a:b] for a, b in itertools.pairwise(points)])
    assert out == run(name, [STREAMS[name][1]])[1]


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_usage_is_unknown_until_the_final_message_delta(name: str) -> None:
    make, body = STREAMS[name]
    stream = make()
    stream.feed(body[: len(body) // 3])
    assert stream.usage.output_tokens is None
    assert not stream.finished


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_body_cut_short_ends_with_an_error_event(name: str) -> None:
    make, body = STREAMS[name]
    stream = make()
    cut = body.rindex(b"\n\n", 0, len(body) // 2) + 2  # between two events
    events = stream.feed(body[:cut]) + stream.close()
    assert isinstance(events[-1], Error) and stream.finished
    assert "ended before" in events[-1].error.message
    stream = make()
    events = stream.feed(body[: cut + 9]) + stream.close()  # inside an event
    assert isinstance(events[-1], Error) and stream.finished


def chat_bytes(*chunks: Any) -> bytes:
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)


FIRST = {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}


@pytest.mark.parametrize(
    "error_chunk",
    [
        {"error": {"code": 502, "message": "Provider returned error"}},
        # OpenRouter's mid-stream shape: the error next to a choice finished with "error".
        {
            "error": {"code": "server_error", "message": "Provider disconnected"},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        },
    ],
)
def test_a_chat_in_band_error_finishes_the_stream_at_once(error_chunk: Any) -> None:
    stream = chat_sse_stream(CTX, message_id="msg_1")
    events = stream.feed(chat_bytes(FIRST, error_chunk, FIRST))
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    assert stream.finished
    assert stream.feed(chat_bytes(FIRST)) == [] and stream.close() == []


@pytest.mark.parametrize(
    ("terminal", "last"),
    [
        ({"type": "response.completed", "response": {"status": "completed"}}, "message_stop"),
        ({"type": "response.incomplete", "response": {"status": "incomplete"}}, "message_stop"),
        ({"type": "response.failed", "response": {"error": {"code": "server_error"}}}, "error"),
        ({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}, "error"),
    ],
)
def test_a_responses_terminal_event_finishes_the_stream_at_once(terminal: Any, last: str) -> None:
    stream = responses_sse_stream(CTX, message_id="msg_1")
    delta = {"type": "response.output_text.delta", "output_index": 0, "delta": "hi"}
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in (delta, terminal, delta))
    events = stream.feed(body)
    assert events[-1].type == last
    assert [e.type for e in events].count("content_block_delta") == 1  # not the later delta
    assert stream.finished and stream.close() == []


def test_malformed_json_ends_the_stream_after_what_came_before() -> None:
    stream = chat_sse_stream(CTX, message_id="msg_1")
    events = stream.feed(chat_bytes(FIRST) + b"data: {oops\n\n" + chat_bytes(FIRST))
    assert [e.type for e in events][-2:] == ["content_block_delta", "error"]
    assert "stream chunk is not JSON" in events[-1].error.message
    assert stream.finished


def test_done_ends_a_chat_stream_like_eof() -> None:
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    stream = chat_sse_stream(CTX, message_id="msg_1")
    events = stream.feed(chat_bytes(FIRST, finish) + b"data: [DONE]\n\n" + chat_bytes(FIRST))
    assert events[-1].type == "message_stop" and stream.finished


def anthropic_event(payload: Any, newline: bytes = b"\n") -> bytes:
    text = f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()
    return text.replace(b"\n", newline)


START = {"type": "message_start", "message": {"model": "up", "usage": {"input_tokens": 4}}}
BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_a_passed_through_error_event_comes_apart_and_ends_the_stream(newline: bytes) -> None:
    stream = PassthroughStream(None, provider="up")
    error = anthropic_event(OVERLOADED, newline)
    body = anthropic_event(START, newline) + anthropic_event(BLOCK, newline) + error
    events = stream.feed(body + anthropic_event(BLOCK, newline))
    assert events == [Raw(body[: -len(error)]), Raw(error, is_error=True)]
    assert stream.finished and stream.close() == []


def test_text_that_mentions_an_error_event_is_not_one() -> None:
    stream = PassthroughStream(None, provider="up")
    delta = {"type": "content_block_delta", "index": 0, "delta": {"text": "\nevent: error\n"}}
    events = stream.feed(anthropic_event(START) + anthropic_event(delta))
    assert not any(isinstance(e, Raw) and e.is_error for e in events)
    assert not stream.finished


def test_a_passed_through_stream_assembles_like_a_translated_one() -> None:
    make, body = STREAMS["passthrough"]
    stream = make()
    message = assemble_message(stream.feed(body) + stream.close())
    assert message["model"] == "claude-x"
    assert [block["type"] for block in message["content"]] == ["thinking", "text"]
    assert message["stop_reason"] == "end_turn"
