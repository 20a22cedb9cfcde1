"""A fake Google OAuth token endpoint and a fake Vertex AI on loopback, speaking the real wire
formats.

* ``POST /token``: the service-account grant (RFC 7523): ``grant_type`` jwt-bearer and an
  ``assertion`` JWT signed RS256 with the key of the credentials file, checked here against its
  public key, issuer, audience and scope; answers ``{"access_token", "expires_in", "token_type"}``.
* ``POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict`` and
  ``:streamRawPredict``: Claude on Vertex; answers in Anthropic's JSON or SSE.
* ``POST /v1/projects/{p}/locations/{l}/endpoints/openapi/chat/completions``: the
  OpenAI-compatible endpoint (Gemini and open models); answers a Chat Completions JSON or SSE.

Errors use Google's shape (https://cloud.google.com/apis/design/errors):
``{"error": {"code", "message", "status", "details"}}``.

The RSA key is made per test run (``make_service_account``): no real key is shipped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROJECT = "anthroxy-test-project"
CLIENT_EMAIL = f"anthroxy-test@{PROJECT}.iam.gserviceaccount.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# google-auth signs for Google's token endpoint whatever ``token_uri`` it posts to.
AUDIENCE = "https://oauth2.googleapis.com/token"


def make_service_account(path: Path, token_uri: str) -> rsa.RSAPublicKey:
    """Write a service-account key file whose ``token_uri`` is the fake; return its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "123456789",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return key.public_key()


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class FakeTokens:
    public_key: rsa.RSAPublicKey | None = None
    expires_in: int = 3600
    delay: float = 0.0
    issued: list[str] = field(default_factory=list)

    @property
    def refreshes(self) -> int:
        return len(self.issued)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_GRANT:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        header, claims, signature = str(form.get("assertion", "")).split(".")
        assert self.public_key is not None
        self.public_key.verify(  # raises (-> 500, the test fails) on a bad signature
            _b64(signature),
            f"{header}.{claims}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        payload = json.loads(_b64(claims))
        if payload.get("iss") != CLIENT_EMAIL or payload.get("aud") != AUDIENCE:
            return web.json_response({"error": "invalid_grant"}, status=400)
        if SCOPE not in str(payload.get("scope", "")).split():
            return web.json_response({"error": "invalid_scope"}, status=400)
        if self.delay:
            await asyncio.sleep(self.delay)
        token = f"ya29.fake-{len(self.issued)}-{int(time.time())}"
        self.issued.append(token)
        return web.json_response(
            {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def google_error(code: int, status: str, message: str, **extra: Any) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": status, **extra}
    return web.json_response({"error": error}, status=code)


def claude_message(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "msg_vrtx_01AbCdEf",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }


def claude_events(model: str, text: str) -> list[tuple[str, dict[str, Any]]]:
    start = claude_message(model, "")
    start["content"], start["stop_reason"] = [], None
    start["usage"] = {"input_tokens": 12, "output_tokens": 1}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 3},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def chat_completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-vertex-1",
        "object": "chat.completion",
        "created": 1764800000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }


def chat_chunks(model: str, text: str) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-vertex-2", "object": "chat.completion.chunk", "model": model}
    return [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
    ]


@dataclass
class FakeVertex:
    """Answers for the project/location it is told; anything else is Google's 404."""

    tokens: FakeTokens
    project: str = PROJECT
    location: str = "us-east5"
    text: str = "Hello from Vertex"
    seen: list[Seen] = field(default_factory=list)
    # A queued (status, google error status, message, extra) answered before the normal reply.
    errors: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/projects/{project}/locations/{location}/{rest:.+}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.seen.append(Seen(request.path, dict(request.headers), body))
        if request.content_type != "application/json":
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if (
            not self.tokens.issued
            or request.headers.get("Authorization") != f"Bearer {self.tokens.issued[-1]}"
        ):
            return google_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
            )
        if self.errors:
            code, status, message, extra = self.errors.pop(0)
            return google_error(code, status, message, **extra)
        place = (request.match_info["project"], request.match_info["location"])
        if place != (self.project, self.location):
            return google_error(404, "NOT_FOUND", f"Project {place[0]} location {place[1]}")
        rest = request.match_info["rest"]
        if rest.startswith("publishers/anthropic/models/"):
            return await self.claude(request, rest.removeprefix("publishers/anthropic/models/"))
        if rest == "endpoints/openapi/chat/completions":
            return await self.chat(request, body)
        return google_error(404, "NOT_FOUND", f"The requested URL /{rest} was not found.")

    async def claude(self, request: web.Request, rest: str) -> web.StreamResponse:
        model, _, verb = rest.partition(":")
        body = self.seen[-1].body
        if "model" in body or body.get("anthropic_version") != "vertex-2023-10-16":
            return google_error(400, "INVALID_ARGUMENT", "anthropic_version: invalid")
        if verb == "rawPredict" and not body.get("stream"):
            return web.json_response(claude_message(model, self.text))
        if verb != "streamRawPredict" or body.get("stream") is not True:
            return google_error(400, "INVALID_ARGUMENT", f"{verb} does not match stream")
        return await _sse(
            request,
            [f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in claude_events(model, self.text)],
        )

    async def chat(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        model = str(body.get("model"))
        if not model.startswith(("google/", "meta/", "deepseek-ai/", "qwen/", "openai/")):
            return google_error(400, "INVALID_ARGUMENT", f"Invalid model name {model}")
        if not body.get("stream"):
            return web.json_response(chat_completion(model, self.text))
        lines = [f"data: {json.dumps(c)}\n\n" for c in chat_chunks(model, self.text)]
        return await _sse(request, [*lines, "data: [DONE]\n\n"])


async def _sse(request: web.Request, frames: list[str]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for frame in frames:
        await response.write(frame.encode())
    await response.write_eof()
    return response
