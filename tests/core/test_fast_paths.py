"""The shortcuts of the translated stream give what the full paths give.

``ChatStream.feed`` answers a text-only chunk, while a text block is open, without
normalising it (``_plain_text``); ``SSEStream`` decodes each event's JSON with
``raw_decode`` or with a decoder handed to it (``loads``), and with ``json.loads`` whenever
those refuse. Each is checked against the full path on generated and recorded streams.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anthroxy.chat import stream as chat_stream
from anthroxy.chat.stream import ChatStream
from anthroxy.events import BlockDelta, encode_all
from anthroxy.responses.stream import sse_stream as responses_sse_stream
from tests.core.chat_cases import RECORDED, make_context
from tests.core.test_chat_stream_properties import upstream_streams

CTX = make_context({"requested_model": "claude-x", "tools": ["Bash", "Read", "get_weather"]})
TEXT = st.text(alphabet='ab é\n"\\', max_size=5)
# Chunks on both sides of the shortcut's line: plain text, and text with one thing more.
_DELTA = st.one_of(
    st.builds(lambda t: {"content": t}, TEXT),
    st.builds(lambda t: {"content": t, "role": "assistant"}, TEXT),
    st.builds(lambda t: {"content": t, "refusal": t}, TEXT),
    st.builds(lambda t: {"reasoning_content": t}, TEXT),
    st.builds(lambda t: {"content": t, "reasoning": t}, TEXT),
    st.just({"content": None}),
    st.just({"content": 5}),
    st.just({}),
    st.just({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "Bash"}}]}),
)
_CHOICE = st.one_of(
    st.builds(lambda d: {"index": 0, "delta": d, "finish_reason": None}, _DELTA),
    st.builds(lambda d: {"index": 0, "delta": d}, _DELTA),
    st.builds(lambda d, f: {"delta": d, "finish_reason": f}, _DELTA, st.sampled_from(["stop", 1])),
    st.just("not a choice"),
)
_CHUNK = st.one_of(
    st.builds(lambda c: {"choices": [c]}, _CHOICE),
    st.builds(lambda c: {"choices": [c], "usage": None, "obfuscation": "x"}, _CHOICE),
    st.builds(lambda c: {"choices": [c, c]}, _CHOICE),
    st.builds(lambda c: {"choices": [c], "usage": {"completion_tokens": 3}}, _CHOICE),
    st.builds(lambda c: {"choices": [c], "error": {"message": "boom"}}, _CHOICE),
    st.builds(lambda c: {"choices": c}, _CHOICE),
    st.just({"choices": []}),
)


def translate(chunks: list[Any], *, shortcut: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as patch:
        if not shortcut:
            patch.setattr(chat_stream, "_plain_text", lambda chunk: None)
        stream = ChatStream(CTX, message_id="msg_fast")
        out = b"".join(encode_all(stream.feed(chunk)) for chunk in chunks)
        return out + encode_all(stream.close())


# The monkeypatch fixture is only used inside ``monkeypatch.context()``, fresh per example.
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=400, deadline=None, suppress_health_check=SLOW)
@given(chunks=st.lists(_CHUNK, max_size=10), lead=st.booleans(), end=st.booleans())
def test_the_text_shortcut_gives_the_events_of_the_full_path(
    chunks: list[Any], lead: bool, end: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if lead:  # most chunks then arrive with a text block open, where the shortcut applies
        chunks = [{"choices": [{"delta": {"content": "x"}}]}, *chunks]
    if end:  # a finished stream shows the usage and the stop reason the chunks left
        chunks = [*chunks, {"choices": [{"delta": {}, "finish_reason": "stop"}]}]
    fast = translate(chunks, shortcut=True, monkeypatch=monkeypatch)
    assert fast == translate(chunks, shortcut=False, monkeypatch=monkeypatch)


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW)
@given(case=upstream_streams())
def test_generated_streams_translate_the_same_with_and_without_the_shortcut(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks, _ = case
    fast = translate(chunks, shortcut=True, monkeypatch=monkeypatch)
    assert fast == translate(chunks, shortcut=False, monkeypatch=monkeypatch)


def test_the_shortcut_is_taken_for_plain_text_and_says_nothing_after_the_end() -> None:
    stream = ChatStream(CTX, message_id="msg_fast")
    stream.feed({"choices": [{"delta": {"role": "assistant", "content": "a"}}]})
    chunk = {"choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": None}]}
    assert chat_stream._plain_text(chunk) == "b"
    assert stream.feed(chunk) == [BlockDelta(0, "text_delta", "b")]
    stream.feed({"error": {"message": "overloaded"}})
    assert stream.finished
    assert stream.feed(chunk) == []  # the text block was left open, but the stream is over


def _refuse(data: bytes) -> Any:
    raise ValueError("no")


DECODERS = {
    "none": None,
    "json": json.loads,
    "refuses everything": _refuse,
    "returns a list": lambda data: [json.loads(data)],
}
EDGE_CHAT = (
    b'data:  {"choices":[{"delta":{"content":"spaced"}}]} \n\n'
    b'data: {"choices":[{"delta":{"content":"caf\xc3\xa9 \xff"}}]}\n\n'
    b'data: {"choices":[{"delta":{"content":"nan"}}],"x":NaN}\n\n'
    b'data: {"choices":[{"delta":{"content":"big"}}],"n":123456789012345678901234567890}\n\n'
    b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
CHAT_STREAMS = sorted((RECORDED / "openai-chat").glob("*.sse")) + sorted(
    (RECORDED / "deepseek").glob("*.sse")
)


def chat_bytes(body: bytes, loads: Any) -> bytes:
    stream = chat_stream.sse_stream(CTX, message_id="msg_1", loads=loads)
    return encode_all(stream.feed(body) + stream.close())


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize(
    "body",
    [EDGE_CHAT, b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices": [1, \n\n']
    + [path.read_bytes() for path in CHAT_STREAMS],
)
def test_any_decoder_handed_to_the_stream_gives_the_standard_library_events(
    decoder: str, body: bytes
) -> None:
    assert chat_bytes(body, DECODERS[decoder]) == chat_bytes(body, None)


def test_whitespace_invalid_utf8_nan_and_huge_numbers_decode_as_json_loads_does() -> None:
    out = chat_bytes(EDGE_CHAT, _refuse).decode()
    for text in ("spaced", "café \ufffd", "nan", "big"):
        assert json.dumps(text)[1:-1] in out
    assert out.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n')


def test_a_responses_stream_takes_the_decoder_too() -> None:
    body = (RECORDED / "openai-responses" / "stream_function_call.sse").read_bytes()
    seen: list[bytes] = []

    def loads(data: bytes) -> Any:
        seen.append(data)
        return json.loads(data)

    def run(decoder: Any) -> bytes:
        stream = responses_sse_stream(CTX, message_id="msg_1", loads=decoder)
        return encode_all(stream.feed(body) + stream.close())

    assert run(loads) == run(None)
    assert seen  # it was used
