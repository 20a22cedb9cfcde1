"""anthroxy.passthrough: model rewrite, beta filter, and a stream forwarded in whole events with
only message_start changed, whatever the split of the bytes."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from anthroxy.events import encode_all
from anthroxy.passthrough import PassthroughStream, filter_betas, request_bytes, rewrite_message

from .conftest import fixture_bytes


def test_request_bytes_reuses_raw_when_model_unchanged() -> None:
    raw = b'{"model":"m","max_tokens":1}'
    body = json.loads(raw)
    assert request_bytes(raw, body, "m") is raw
    assert json.loads(request_bytes(raw, body, "up")) == {"model": "up", "max_tokens": 1}
    assert body["model"] == "m"  # caller's dict untouched


def test_filter_betas() -> None:
    value = "claude-code-20250219, context-1m-2025-08-07,effort-2025-11-24"
    assert filter_betas(value, ("context-1m",)) == "claude-code-20250219,effort-2025-11-24"
    assert filter_betas(value, ("*",)) is None
    assert filter_betas("context-1m-x", ("context-1m",)) is None
    assert filter_betas(None, ()) is None


def test_rewrite_message_copies() -> None:
    message = {"type": "message", "model": "up"}
    assert rewrite_message(message, "asked") == {"type": "message", "model": "asked"}
    assert message["model"] == "up"


RECORDED = fixture_bytes("stream_thinking_signature_text.sse")


@given(st.lists(st.integers(min_value=0, max_value=len(RECORDED)), max_size=30))
def test_any_split_gives_same_bytes(cuts) -> None:
    stream = PassthroughStream("asked", provider="fake")
    points = [0, *sorted(cuts), len(RECORDED)]
    out = b"".join(encode_all(stream.feed(RECORDED[a:b])) for a, b in itertools.pairwise(points))
    out += encode_all(stream.close())
    first = RECORDED.index(b"\n\n") + 2
    assert out[out.index(b"\n\n") + 2 :] == RECORDED[first:]
    start = json.loads(out[: out.index(b"\n\n")].split(b"data: ", 1)[1])
    assert start["message"]["model"] == "asked"
    assert stream.started and stream.finished


_START = b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'


def test_partial_event_is_held_back() -> None:
    stream = PassthroughStream(None, provider="fake")
    assert encode_all(stream.feed(_START)) == _START
    assert (
        encode_all(stream.feed(b"event: ping\ndata: {}\n\nevent: message_st"))
        == b"event: ping\ndata: {}\n\n"
    )
    assert not stream.finished
    assert encode_all(stream.feed(b'op\ndata: {"type":"message_stop"}')) == b""
    assert encode_all(stream.close()) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert stream.finished


def test_text_mentioning_message_stop_does_not_end_stream() -> None:
    stream = PassthroughStream(None, provider="fake")
    delta = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta",'
        b'"text":"\\nevent: message_stop"}\n\n'
    )
    assert encode_all(stream.feed(_START + delta)) == _START + delta
    assert not stream.finished


def test_thinking_signed_by_anthroxy_is_dropped_before_an_anthropic_upstream() -> None:
    # Turn 1 was answered through a chat provider (anthroxy-signed thinking); the person then
    # switched to an Anthropic-native model, which would refuse that signature with a 400.
    ours = {"type": "thinking", "thinking": "plan", "signature": "anthroxy1.e30"}
    real = {"type": "thinking", "thinking": "real", "signature": "EqQBCkYIBxgCKkB"}
    redacted = {"type": "redacted_thinking", "data": "anthroxy1.eyJlbmMiOiJ4In0"}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
    body = {
        "model": "claude-x",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [ours, redacted, tool]},
            {"role": "assistant", "content": [real, {"type": "text", "text": "ok"}]},
        ],
    }
    raw = json.dumps(body).encode()
    before = json.dumps(body)

    sent = json.loads(request_bytes(raw, body, "claude-x"))

    assert sent["messages"][1]["content"] == [tool]
    assert sent["messages"][2]["content"] == [real, {"type": "text", "text": "ok"}]
    assert sent["messages"][0] == {"role": "user", "content": "hi"}
    assert json.dumps(body) == before  # the caller's body is untouched


def test_a_body_without_anthroxy_signatures_is_sent_as_received() -> None:
    body = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}
    raw = json.dumps(body).encode()
    assert request_bytes(raw, body, "m") is raw
