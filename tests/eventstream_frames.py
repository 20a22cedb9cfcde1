"""A small AWS event-stream encoder for tests: Bedrock's messages as the fake upstream sends
them (the decoder under test is ``anthroxy.eventstream``; this writes the frames it reads)."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any


def header(name: str, value: str) -> bytes:
    """A string header (value type 7)."""
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    encoded = b"".join(header(name, value) for name, value in headers.items())
    total = 16 + len(encoded) + len(payload)
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def chunk(event: Mapping[str, Any], *, padding: str = "abcdefghij") -> bytes:
    """One ``chunk`` event carrying an Anthropic stream event (with Bedrock's ``p`` padding)."""
    data = base64.b64encode(json.dumps(event).encode()).decode()
    payload = json.dumps({"bytes": data, "p": padding}).encode()
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return frame(headers, payload)


def exception(kind: str, message: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode())


def claude_events(
    text: str = "Hello", *, model: str = "claude-sonnet-4-5-20250929"
) -> list[dict[str, Any]]:
    """The Anthropic events of a short text answer, as Bedrock wraps them (with its
    ``amazon-bedrock-invocationMetrics`` on ``message_stop``)."""
    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 12, "outputTokenCount": 5,
                "invocationLatency": 480, "firstByteLatency": 300,
            },
        },
    ]  # fmt: skip


def claude_stream(text: str = "Hello") -> bytes:
    return b"".join(chunk(event) for event in claude_events(text))
