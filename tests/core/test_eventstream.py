"""The AWS event-stream decoder against botocore's recorded vectors, fed whole, byte by byte and
split at every boundary; and Bedrock's stream through ``BedrockStream`` into the pass-through."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from anthroxy.bedrock import BedrockStream, bedrock_error, error_message, invoke_body
from anthroxy.events import Error
from anthroxy.eventstream import EventStreamDecoder, EventStreamError, Message, decode_message
from anthroxy.passthrough import PassthroughStream
from tests.anthropic_stream_validator import validate_sse
from tests.eventstream_frames import chunk, claude_events, claude_stream, exception, frame

VECTORS = json.loads(
    (
        Path(__file__).parent.parent / "fixtures" / "eventstream" / "botocore_vectors.json"
    ).read_text()
)
POSITIVE = VECTORS["positive"]
NEGATIVE = VECTORS["negative"]


def _expected_headers(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: bytes.fromhex(v["hex"]) if isinstance(v, dict) else v for k, v in spec.items()}


def _decode_in_pieces(data: bytes, cut: int) -> list[Message]:
    decoder = EventStreamDecoder()
    messages = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
    decoder.close()
    return messages


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_recorded_message_decodes_at_every_split(name: str) -> None:
    case = POSITIVE[name]
    data = bytes.fromhex(case["hex"])
    for cut in range(len(data) + 1):
        (message,) = _decode_in_pieces(data, cut)
        assert dict(message.headers) == _expected_headers(case["headers"])
        assert message.payload == bytes.fromhex(case["payload_hex"])


def test_all_recorded_messages_in_one_stream_byte_by_byte() -> None:
    data = b"".join(bytes.fromhex(POSITIVE[name]["hex"]) for name in sorted(POSITIVE))
    decoder = EventStreamDecoder()
    messages = [m for i in range(len(data)) for m in decoder.feed(data[i : i + 1])]
    decoder.close()
    assert [dict(m.headers) for m in messages] == [
        _expected_headers(POSITIVE[name]["headers"]) for name in sorted(POSITIVE)
    ]


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_recorded_corruption_is_refused(name: str) -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError):
        decoder.feed(bytes.fromhex(NEGATIVE[name]))
        decoder.close()
    with pytest.raises(EventStreamError, match="after a framing error"):
        decoder.feed(bytes.fromhex(POSITIVE["empty_message"]["hex"]))


def test_every_flipped_bit_of_a_message_is_caught() -> None:
    data = bytes.fromhex(POSITIVE["payload_one_str_header"]["hex"])
    for at in range(len(data)):
        broken = bytearray(data)
        broken[at] ^= 0x01
        decoder = EventStreamDecoder()
        with pytest.raises(EventStreamError):
            decoder.feed(bytes(broken))
            decoder.close()


@pytest.mark.parametrize("cut", [1, 11, 12, 20, 60])
def test_truncated_stream_is_an_error_at_close(cut: int) -> None:
    data = bytes.fromhex(POSITIVE["payload_one_str_header"]["hex"])
    decoder = EventStreamDecoder()
    assert decoder.feed(data[:cut]) == []
    assert decoder.pending == cut
    with pytest.raises(EventStreamError, match="truncated"):
        decoder.close()


def test_a_huge_length_is_refused_without_waiting_for_it() -> None:
    # A prelude announcing 16 MiB of headers: refused as soon as the prelude is in.
    head = bytes.fromhex(NEGATIVE["invalid_headers_length"])[:12]
    with pytest.raises(EventStreamError, match="headers length"):
        EventStreamDecoder().feed(head)


def test_test_encoder_writes_botocore_bytes() -> None:
    # The fakes' encoder (tests/eventstream_frames.py) agrees with the recorded vector.
    expected = bytes.fromhex(POSITIVE["payload_one_str_header"]["hex"])
    assert frame({"content-type": "application/json"}, b"{'foo':'bar'}") == expected
    assert decode_message(expected).text("content-type") == "application/json"


# --- Bedrock's stream -> Anthropic SSE ------------------------------------------------------


def _bedrock(model: str = "claude-sonnet-4-6") -> BedrockStream:
    inner = PassthroughStream(model, provider="bedrock")
    return BedrockStream(inner, provider="bedrock", model="us.anthropic.x-v1:0", region="us-east-1")


def _sse(events: list[Any]) -> bytes:
    return b"".join(event.encode() for event in events)


@pytest.mark.parametrize("step", [1, 7, 64, 100_000])
def test_chunks_become_a_valid_anthropic_stream(step: int) -> None:
    data = claude_stream("Hello from Bedrock")
    stream = _bedrock()
    events = [e for i in range(0, len(data), step) for e in stream.feed(data[i : i + step])]
    events += stream.close()
    assert stream.finished
    body = _sse(events)
    validate_sse(body)
    assert b"Hello from Bedrock" in body
    assert b'"model":"claude-sonnet-4-6"' in body  # the client's name, as for any pass-through
    assert stream.usage.output_tokens == 5


def test_exception_mid_stream_ends_with_an_error_event() -> None:
    events = claude_events()[:3]
    data = b"".join(chunk(e) for e in events) + exception(
        "throttlingException", "Too many tokens, please wait before trying again."
    )
    stream = _bedrock()
    out = stream.feed(data)
    assert stream.finished
    assert isinstance(out[-1], Error)
    assert out[-1].error.status == 429
    assert out[-1].error.error_type == "rate_limit_error"
    assert "Too many tokens" in out[-1].error.message
    validate_sse(_sse(out))
    assert stream.feed(claude_stream()) == []  # nothing after the end


def test_corrupt_frame_mid_stream_is_an_error_event() -> None:
    data = bytearray(claude_stream())
    data[len(chunk(claude_events()[0])) + 30] ^= 0xFF  # inside the second message
    stream = _bedrock()
    out = stream.feed(bytes(data))
    assert isinstance(out[-1], Error)
    assert "CRC" in out[-1].error.message


def test_stream_cut_inside_a_frame_is_an_error_event() -> None:
    data = claude_stream()
    stream = _bedrock()
    out = stream.feed(data[:-10]) + stream.close()
    assert isinstance(out[-1], Error)
    assert "truncated" in out[-1].error.message


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"p":"x"}',
        b'{"bytes":"%%%"}',
        json.dumps({"bytes": base64.b64encode(b"[1]").decode()}).encode(),
        json.dumps({"bytes": base64.b64encode(b'{"type":"a b"}').decode()}).encode(),
    ],
)
def test_bad_chunk_payload_is_an_error_event_not_a_crash(payload: bytes) -> None:
    message = frame({":event-type": "chunk", ":message-type": "event"}, payload)
    out = _bedrock().feed(message)
    assert isinstance(out[-1], Error)
    assert out[-1].error.status == 502


def test_unknown_event_types_are_skipped() -> None:
    other = frame({":event-type": "metrics", ":message-type": "event"}, b"{}")
    stream = _bedrock()
    events = stream.feed(other + claude_stream()) + stream.close()
    validate_sse(_sse(events))


@pytest.mark.parametrize(
    ("kind", "message", "status", "error_type", "names"),
    [
        ("ThrottlingException", "Too many requests, please wait before trying again.", 429,
         "rate_limit_error", ""),
        ("ServiceQuotaExceededException", "quota exceeded", 429, "rate_limit_error", ""),
        ("AccessDeniedException", "You don't have access to the model with the specified model ID.",
         403, "permission_error", "request model access in the Bedrock console"),
        ("ResourceNotFoundException", "Requested resource not found", 404, "not_found_error",
         "region eu-west-3"),
        ("ValidationException", "The provided model identifier is invalid.", 404,
         "not_found_error", "region eu-west-3"),
        ("ValidationException", "Invocation of model ID anthropic.claude-x with on-demand "
         "throughput isn't supported.", 400, "invalid_request_error", "inference profile"),
        ("modelStreamErrorException", "boom", 500, "api_error", ""),
        ("serviceUnavailableException", "busy", 529, "overloaded_error", ""),
        (None, "odd", 500, "api_error", ""),
    ],
)  # fmt: skip
def test_error_table(
    kind: str | None, message: str, status: int, error_type: str, names: str
) -> None:
    error = bedrock_error(
        kind, message, provider="bedrock", model="anthropic.claude-x", region="eu-west-3"
    )
    assert (error.status, error.error_type) == (status, error_type)
    assert message in error.message
    assert names in error.message
    if status == 403:
        assert "anthropic.claude-x" in error.message
        assert error.should_retry is False


def test_invoke_body_drops_model_and_stream_and_moves_betas() -> None:
    body = {"model": "m", "stream": True, "max_tokens": 5, "messages": [], "metadata": {}}
    betas = (
        "claude-code-20250219,interleaved-thinking-2025-05-14, context-1m-2025-08-07,"
        "oauth-2025-04-20,advanced-tool-use-2025-11-20"
    )
    out = invoke_body(body, betas)
    assert out == {
        "max_tokens": 5,
        "messages": [],
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": [
            "interleaved-thinking-2025-05-14",
            "context-1m-2025-08-07",
            "tool-search-tool-2025-10-19",
        ],
    }
    assert "model" in body  # the caller's body is untouched
    assert "anthropic_beta" not in invoke_body(body, None)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"message":"Too many requests."}', "Too many requests."),
        (b'{"Message":"Denied."}', "Denied."),
        (b'{"type":"error","error":{"type":"x","message":"nested"}}', "nested"),
        (b"<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (b"", "no message"),
    ],
)
def test_error_message_reads_every_shape(body: bytes, text: str) -> None:
    assert error_message(body) == text
