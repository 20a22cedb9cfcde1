"""Local fakes for the ChatGPT provider: an OAuth token server and the Codex backend.

``FakeTokenServer`` behaves like OpenAI's token endpoint as the Codex CLI uses it: JSON body with
``client_id``/``grant_type``/``refresh_token``, refresh tokens rotate on every use and a used one
is refused with 401 ``refresh_token_reused`` (an unknown one with ``refresh_token_invalidated``).
``FakeBackend`` accepts only the access tokens the token server issued (or those a test adds) and
answers with a Responses SSE stream the test scripts. Both record what they received.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

ACCOUNT = "acct-1234"
CLAIM = "https://api.openai.com/auth"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def make_jwt(exp: float, account: str = ACCOUNT, nonce: str = "") -> str:
    """An unsigned JWT shaped like OpenAI's access token (exp + account claim)."""
    claims = {"exp": int(exp), CLAIM: {"chatgpt_account_id": account}, "n": nonce}
    return f"{_b64({'alg': 'none'})}.{_b64(claims)}.sig"


def write_auth(home: Path, access: str, refresh: str, **extra: Any) -> Path:
    """An auth.json as the Codex CLI writes it, plus ``extra`` top-level fields."""
    home.mkdir(parents=True, exist_ok=True)
    data = {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": make_jwt(time.time() + 3600, nonce="id"),
            "access_token": access,
            "refresh_token": refresh,
            "account_id": ACCOUNT,
        },
        "last_refresh": "2025-01-01T00:00:00Z",
        **extra,
    }
    path = home / "auth.json"
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return path


def sse(*events: dict[str, Any]) -> bytes:
    """A Responses API SSE body: ``event: <type>`` + ``data: <json>`` per event, no [DONE]."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def text_stream(text: str, *, input_tokens: int = 20, output_tokens: int = 5) -> bytes:
    item = {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}  # fmt: skip
    done = {**item, "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}  # fmt: skip
    half = len(text) // 2
    return sse(
        {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": text[:half]},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": text[half:]},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        # The ChatGPT backend sends response.completed with an empty output.
        {"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
         "output": [], "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                                 "input_tokens_details": {"cached_tokens": 4}}}},
    )  # fmt: skip


def reasoning_tool_stream(encrypted: str, summary: str, call_id: str, args: str) -> bytes:
    """A reasoning item (summary + encrypted content), then a function call."""
    rs = {"id": "rs_1", "type": "reasoning", "summary": []}
    rs_done = {**rs, "summary": [{"type": "summary_text", "text": summary}],
               "encrypted_content": encrypted}  # fmt: skip
    fc = {"id": "fc_1", "type": "function_call", "call_id": call_id, "name": "get_weather",
          "arguments": "", "status": "in_progress"}  # fmt: skip
    return sse(
        {"type": "response.created", "response": {"id": "resp_2", "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0,
         "summary_index": 0, "delta": summary},
        {"type": "response.output_item.done", "output_index": 0, "item": rs_done},
        {"type": "response.output_item.added", "output_index": 1, "item": fc},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1,
         "delta": args[:5]},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1,
         "delta": args[5:]},
        {"type": "response.output_item.done", "output_index": 1,
         "item": {**fc, "arguments": args, "status": "completed"}},
        {"type": "response.completed", "response": {"id": "resp_2", "status": "completed",
         "output": [], "usage": {"input_tokens": 30, "output_tokens": 12}}},
    )  # fmt: skip


@dataclass
class FakeTokenServer:
    refresh_token: str = "rt-0"  # the one valid refresh token
    used: set[str] = field(default_factory=set)
    bodies: list[Any] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # access tokens, in order
    delay: float = 0.0  # widens the window in which a second refresh could start
    fail_code: str | None = None  # answer 401 with this code instead of refreshing
    lifetime: float = 3600.0

    @property
    def refreshes(self) -> int:
        return len(self.issued)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        if body.get("grant_type") != "refresh_token" or not body.get("client_id"):
            return web.json_response({"error": "invalid_request"}, status=400)
        given = body.get("refresh_token")
        if self.delay:
            await asyncio.sleep(self.delay)
        code = self.fail_code
        if code is None and given in self.used:
            code = "refresh_token_reused"
        elif code is None and given != self.refresh_token:
            code = "refresh_token_invalidated"
        if code is not None:
            error = {"message": "Could not refresh", "type": "invalid_request_error", "code": code}
            return web.json_response({"error": error}, status=401)
        self.used.add(given)
        n = len(self.issued) + 1
        self.refresh_token = f"rt-{n}"
        access = make_jwt(time.time() + self.lifetime, nonce=f"a{n}")
        self.issued.append(access)
        return web.json_response(
            {
                "id_token": make_jwt(time.time() + 3600, nonce=f"id{n}"),
                "access_token": access,
                "refresh_token": self.refresh_token,
            }
        )


@dataclass
class BackendRequest:
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    body: Any


@dataclass
class FakeBackend:
    valid: set[str] = field(default_factory=set)  # access tokens accepted
    tokens: FakeTokenServer | None = None  # its issued tokens are accepted too
    seen: list[BackendRequest] = field(default_factory=list)
    replies: list[Callable[[BackendRequest], web.Response]] = field(default_factory=list)

    def accepts(self, token: str) -> bool:
        return token in self.valid or (self.tokens is not None and token in self.tokens.issued)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        seen = BackendRequest(CIMultiDict(request.headers), await request.json())
        self.seen.append(seen)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self.accepts(token):
            error = {"message": "Your authentication token has expired.", "code": "token_expired"}
            return web.json_response({"error": error}, status=401)
        reply = self.replies.pop(0) if self.replies else None
        if reply is None:
            return web.json_response({"detail": "no scripted reply"}, status=500)
        return reply(seen)


def stream_reply(
    body: bytes, headers: dict[str, str] | None = None
) -> Callable[[BackendRequest], web.Response]:
    def reply(_: BackendRequest) -> web.Response:
        return web.Response(body=body, content_type="text/event-stream", headers=headers)

    return reply


def json_reply(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> Callable[[BackendRequest], web.Response]:
    def reply(_: BackendRequest) -> web.Response:
        return web.json_response(payload, status=status, headers=headers)

    return reply
