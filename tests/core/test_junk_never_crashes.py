"""Junk the review found crashing with something other than an AnthroxyError (a 500 with a stack
trace in the server): pathologically nested JSON where anthroxy parses JSON itself, non-ASCII
digits in an upstream's error path, a schema nested deeper than Python's recursion limit, and a
stream cut inside an event's JSON."""

from __future__ import annotations

import base64

import pytest

from anthroxy import Target, chat, responses, signature
from anthroxy.cleaning.refusals import refused_fields
from anthroxy.errors import AnthroxyError, InvalidRequest
from anthroxy.events import Error, Raw
from anthroxy.passthrough import PassthroughStream
from anthroxy.profile import ProviderProfile

DEEP = "[" * 5000 + "]" * 5000


def test_a_deeply_nested_anthroxy_signature_is_just_not_ours() -> None:
    junk = signature.PREFIX + base64.urlsafe_b64encode(DEEP.encode()).decode().rstrip("=")
    assert signature.decode(junk) is None
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t",
                                               "signature": junk}, {"type": "text", "text": "x"}]},
            {"role": "user", "content": "again"},
        ],
    }  # fmt: skip
    chat.to_request(body, Target("p", "m"))
    responses.to_request(body, Target("p", "m"))


def test_deeply_nested_tool_arguments_are_an_upstream_error() -> None:
    ctx = chat.to_request(
        {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        Target("p", "m"),
    )[1]
    call = {"id": "c", "type": "function", "function": {"name": "x", "arguments": DEEP}}
    reply = {"choices": [{"index": 0, "finish_reason": "tool_calls",
                          "message": {"role": "assistant", "tool_calls": [call]}}]}  # fmt: skip
    with pytest.raises(AnthroxyError):
        chat.from_response(reply, ctx, message_id="msg_1")


@pytest.mark.parametrize(
    "text",
    [DEEP, "tools.²: Extra inputs are not permitted", "Unknown parameter: 'a." + "9" * 5000 + "'"],
)
def test_refusal_parsing_never_crashes(text: str) -> None:
    refused_fields(text)


def test_a_schema_deeper_than_python_can_recurse_is_a_400() -> None:
    schema: dict = {"type": "object"}
    for _ in range(400):
        schema = {"type": "object", "properties": {"a": schema}}
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "input_schema": schema}]}  # fmt: skip
    gemini = Target("g", "gemini-x", profile=ProviderProfile(schema_dialect="gemini"))
    with pytest.raises(InvalidRequest):
        chat.to_request(body, gemini)


START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message",'
    b'"role":"assistant","model":"up","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
)


def test_a_stream_cut_inside_an_event_forwards_no_half_event() -> None:
    stream = PassthroughStream("claude-x", provider="p")
    stream.feed(START)
    stream.feed(b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"te')
    tail = stream.close()
    assert [type(e) for e in tail] == [Error]


def test_a_broken_message_start_next_to_message_stop_still_ends_in_an_error() -> None:
    stream = PassthroughStream("claude-x", provider="p")
    broken = b"event: message_start\ndata: notjson\n\nevent: message_stop\ndata: {}\n\n"
    with pytest.raises(AnthroxyError) as info:
        stream.feed(broken)
    assert [type(e) for e in stream.fail(info.value)] == [Error]
    assert not any(isinstance(e, Raw) for e in stream.close())
