"""The body log (``[server] log_request_body`` / ``log_response_body``): its own JSON-lines file,
secrets masked, a stream recorded as the message the client's events assemble to, and nothing
at all while both settings are off."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from anthroxy.messages.assemble import assemble_message
from anthroxy_server.gateway import bodylog
from anthroxy_server.gateway.bodylog import BodyLogFile
from anthroxy_server.gateway.masking import mask

from .conftest import CHAT_KEY, SECRET_KEY, fixture_bytes, message_body, sse_events

# Credentials a client may paste into a conversation; none may reach the file.
PASTED = {
    "anthropic": "sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm",
    "openai": "sk-proj-4fT9kLm2Qx7Rz1Vb8Nc3Hd6Jw0Ys5Ep",
    "google": "AIzaSyB1x2c3v4b5n6m7a8s9d0f1g2h3j4k5l6z",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.Zm9v",
    "field": "plain-password-without-a-prefix",
}
CLIENT_TOKEN = "client-side-token-0123456789"


@pytest.fixture
def body_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state" / bodylog.BODY_LOG_NAME
    opened = BodyLogFile(path, (SECRET_KEY, CHAT_KEY))
    yield path
    opened.close()


def records(path: Path, opened: BodyLogFile | None = None) -> list[dict[str, Any]]:
    if opened is not None:
        opened.close()
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _echo_key(request: web.Request) -> web.Response:
    """A reply that repeats the provider key the upstream was given (a hostile upstream)."""
    given = request.headers.get("x-api-key", "")
    return web.json_response(
        {"id": "msg_1", "type": "message", "role": "assistant", "model": "up-model",
         "content": [{"type": "text", "text": f"you sent {given}"}], "stop_reason": "end_turn",
         "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}
    )  # fmt: skip


def _stream_of(*parts: bytes) -> Any:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for part in parts:
            await response.write(part)
            await asyncio.sleep(0.05)  # each part its own read: the first one starts the stream
        return response

    return answer


async def test_request_and_reply_are_logged_with_secrets_masked(
    upstream, make_gateway, tmp_path
) -> None:
    path = tmp_path / bodylog.BODY_LOG_NAME
    opened = BodyLogFile(path, (SECRET_KEY, CHAT_KEY))
    upstream.handler = _echo_key
    client = await make_gateway(log_request_body=True, log_response_body=True)
    text = (
        f"my keys: {PASTED['anthropic']} and {PASTED['openai']}, google {PASTED['google']}, "
        f"header Authorization: Bearer {PASTED['bearer']}"
    )
    body = message_body(
        messages=[
            {"role": "user", "content": text},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "cfg",
             "input": {"api_key": PASTED["field"], "nested": json.dumps({"apiKey": "k" * 20})}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
             "content": "done"}]},
        ]
    )  # fmt: skip
    headers = {"x-api-key": CLIENT_TOKEN, "authorization": f"Bearer {CLIENT_TOKEN}",
               "anthropic-version": "2023-06-01"}  # fmt: skip
    response = await client.post("/v1/messages", json=body, headers=headers)
    assert response.status == 200
    request_id = response.headers["request-id"]
    logged = records(path, opened)
    file_text = path.read_text()
    for secret in (*PASTED.values(), "k" * 20, CLIENT_TOKEN, SECRET_KEY, CHAT_KEY):
        assert secret not in file_text
    assert "[REDACTED]" in file_text
    assert [r["direction"] for r in logged] == ["request", "response"]
    sent, got = logged
    assert sent["request_id"] == got["request_id"] == request_id
    assert sent["model"] == got["model"] == "claude-sonnet-test"
    assert sent["route"] == got["route"] == "fake/up-model" and got["provider"] == "fake"
    # Only headers that say how to read the body: no credential header at all.
    assert set(sent["headers"]) == {"anthropic-version", "content-type", "user-agent"}
    assert sent["body"]["messages"][0]["content"].startswith("my keys: [REDACTED] and [REDACTED]")
    assert sent["body"]["messages"][1]["content"][0]["input"]["api_key"] == "[REDACTED]"
    assert got["status"] == 200 and got["body"]["content"][0]["text"] == "you sent [REDACTED]"
    assert sent["time"].endswith("+00:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("model", "fixture"),
    [("claude-sonnet-test", "stream_text.sse"), ("chatty", "chat_stream_tool_call_with_usage.sse")],
)
async def test_a_stream_is_logged_as_its_assembled_message(
    upstream, make_gateway, tmp_path, model, fixture
) -> None:
    path = tmp_path / bodylog.BODY_LOG_NAME
    opened = BodyLogFile(path, ())
    upstream.handler = _stream_of(fixture_bytes(fixture))
    client = await make_gateway(log_response_body=True)
    response = await client.post("/v1/messages", json=message_body(model, stream=True))
    received = await response.read()
    (got,) = records(path, opened)
    assert got["direction"] == "response" and got["stream"] is True
    # The same message a non-streaming client would have had, folded from what this one got.
    assert got["body"] == assemble_message([payload for _, payload in sse_events(received)])
    assert got["body"]["content"], "the message has its content"
    assert "error" not in got


def _sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)


def _chat(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


START = {"type": "message_start", "message": {"id": "msg_1", "type": "message",
         "role": "assistant", "model": "up-model", "content": [], "stop_reason": None,
         "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}}  # fmt: skip
BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
HI = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
BROKE = f"upstream broke, key {CHAT_KEY}"
HI_CHUNK = {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}
# Each: the part the client sees, then (a read later) the upstream's in-stream error.
FAILED_STREAMS = {
    "chatty": [_chat(HI_CHUNK), _chat({"error": {"code": 502, "message": BROKE}})],
    "claude-sonnet-test": [
        _sse(START, BLOCK, HI),
        _sse({"type": "error", "error": {"type": "overloaded_error", "message": BROKE}}),
    ],
}


@pytest.mark.parametrize("model", list(FAILED_STREAMS))
async def test_a_failed_stream_logs_the_part_sent_and_the_error(
    upstream, make_gateway, tmp_path, model
) -> None:
    path = tmp_path / bodylog.BODY_LOG_NAME
    opened = BodyLogFile(path, (CHAT_KEY,))
    upstream.handler = _stream_of(*FAILED_STREAMS[model])
    client = await make_gateway(log_response_body=True)
    response = await client.post("/v1/messages", json=message_body(model, stream=True))
    assert sse_events(await response.read())[-1][0] == "error"
    (got,) = records(path, opened)
    assert got["body"]["content"] == [{"type": "text", "text": "Hi"}]
    assert got["error"]["type"] == "error"
    assert "upstream broke, key [REDACTED]" in got["error"]["error"]["message"]
    assert CHAT_KEY not in path.read_text()


async def test_nothing_is_logged_or_kept_while_off(
    upstream, make_gateway, body_file, monkeypatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the body log was used while off")

    monkeypatch.setattr(bodylog._log, "info", refuse)
    client = await make_gateway()
    for handler, stream in (
        (_echo_key, False),
        (_stream_of(fixture_bytes("stream_text.sse")), True),
    ):
        upstream.handler = handler
        response = await client.post("/v1/messages", json=message_body(stream=stream))
        assert response.status == 200
        await response.read()
    assert body_file.read_bytes() == b""


async def test_only_the_direction_asked_for_is_logged(upstream, make_gateway, tmp_path) -> None:
    path = tmp_path / bodylog.BODY_LOG_NAME
    opened = BodyLogFile(path, ())
    upstream.handler = _echo_key
    client = await make_gateway(log_request_body=True)
    await (await client.post("/v1/messages", json=message_body())).read()
    assert [r["direction"] for r in records(path, opened)] == ["request"]


async def test_an_error_reply_is_logged_as_sent(upstream, make_gateway, tmp_path) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "bad model"}}, status=400)

    path = tmp_path / bodylog.BODY_LOG_NAME
    opened = BodyLogFile(path, ())
    upstream.handler = refuse
    client = await make_gateway(log_response_body=True)
    response = await client.post("/v1/messages", json=message_body())
    sent = await response.json()
    (got,) = records(path, opened)
    assert got["status"] == 400 == response.status
    assert got["body"]["error"] == sent["error"]


@pytest.mark.parametrize(
    "text",
    [
        "a task-tracking-system-for-everyone with 12 parts",
        "call sk-learn, not a key",
        "Authorization is explained in section 3",
        '{"api_key": ""}',
        '{"tokenizer": "cl100k_base", "max_tokens": 100}',
    ],
)
def test_masking_leaves_ordinary_text_alone(text: str) -> None:
    assert mask(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"apiKey":"abc123def456"}', '{"apiKey":"[REDACTED]"}'),
        ('"{\\"api_key\\": \\"abc123def456\\"}"', '"{\\"api_key\\": \\"[REDACTED]\\"}"'),
        ("Bearer abc.def.ghi-jkl", "Bearer [REDACTED]"),
        ("authorization: bearer sk-proj-abc123def456ghi789", "authorization: bearer [REDACTED]"),
        (
            '{"Authorization": "Bearer sk-proj-abc123def456ghi789"}',
            '{"Authorization": "[REDACTED]"}',
        ),
        ("key=sk-or-v1-0123456789abcdef0123", "key=[REDACTED]"),
        ("gsk_" + "a1" * 20, "[REDACTED]"),
        ("configured secret-value-123 here", "configured [REDACTED] here"),
    ],
)
def test_masking_hides_credentials(text: str, expected: str) -> None:
    assert mask(text, ("secret-value-123",)) == expected
