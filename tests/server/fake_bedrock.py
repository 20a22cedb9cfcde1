"""A fake AWS Bedrock runtime on loopback: ``InvokeModel`` (JSON), ``InvokeModelWithResponseStream``
(AWS's binary event stream, written by ``tests/eventstream_frames.py``) and the OpenAI-compatible
Chat Completions endpoint. It records what it received (raw path, headers, body) and answers from
a queue of scripted replies; ``verify_sigv4`` checks a request's SigV4 signature the way AWS
does, by computing it again from the request as received."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.eventstream_frames import claude_stream

EVENTSTREAM = "application/vnd.amazon.eventstream"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<scope>[^,]+), SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    raw_path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    host: str


@dataclass
class FakeBedrock:
    replies: list[Reply] = field(default_factory=list)
    seen: list[Received] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = dict(request.headers)
        self.seen.append(Received(request.raw_path, headers, body, raw, request.host))
        if not self.replies:
            return web.json_response({"message": "no scripted reply"}, status=500)
        return await self.replies.pop(0)(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self.handle)
        return app


def stream_reply(data: bytes | None = None, *, piece: int = 7) -> Reply:
    """A 200 event stream, written in ``piece``-byte writes (frames split anywhere)."""
    payload = claude_stream() if data is None else data

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={"content-type": EVENTSTREAM, "x-amzn-requestid": "req-bedrock-1"},
        )
        await response.prepare(request)
        for at in range(0, len(payload), piece):
            await response.write(payload[at : at + piece])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    return reply


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)

    return reply


def aws_error(kind: str, message: str, status: int, **headers: str) -> Reply:
    """An AWS JSON-protocol error: ``x-amzn-ErrorType`` names the exception."""
    extra = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return json_reply({"message": message}, status, {**extra, **headers})


def sse_reply(events: list[dict[str, Any]]) -> Reply:
    """An OpenAI-style SSE stream (the OpenAI-compatible endpoint)."""

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    return reply


def claude_message(
    text: str = "Hi there", model: str = "claude-sonnet-4-5-20250929"
) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_02",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 3},
    }


def verify_sigv4(
    seen: Received, *, access_key: str, secret_key: str, region: str, token: str | None = None
) -> dict[str, str]:
    """Raise AssertionError unless ``seen`` carries a valid SigV4 signature for the service
    ``bedrock`` in ``region`` by ``access_key``; the parts of its Authorization header."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {k.lower(): v for k, v in seen.headers.items()}
    match = _AUTH.match(headers.get("authorization", ""))
    assert match, headers.get("authorization")
    parts = match.groupdict()
    key, day, scope_region, service, terminator = parts["scope"].split("/")
    assert (key, scope_region, service, terminator) == (
        access_key,
        region,
        "bedrock",
        "aws4_request",
    )
    stamp = headers["x-amz-date"]
    assert stamp.startswith(day) and re.fullmatch(r"\d{8}T\d{6}Z", stamp)
    signed = parts["signed"].split(";")
    assert "host" in signed and "x-amz-date" in signed
    if token is not None:
        assert headers["x-amz-security-token"] == token and "x-amz-security-token" in signed
    request = AWSRequest(
        method="POST",
        url=f"http://{seen.host}{seen.raw_path}",
        data=seen.raw,
        headers={name: headers[name] for name in signed if name != "host"},
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(access_key, secret_key, token), "bedrock", region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert parts["signature"] == expected, canonical
    return parts
