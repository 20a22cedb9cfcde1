"""A fake Azure OpenAI / AI Foundry resource for tests: the v1 API on loopback, and a fake
Entra ID credential with azure-identity's ``get_token`` contract.

``FakeAzure`` serves ``/openai/v1/chat/completions`` and ``/openai/v1/responses`` as the v1 API
does (the deployment's name as ``model``, a key in ``api-key`` or an Entra ID token as a bearer,
Azure's error bodies); ``FakeCredential`` hands out tokens, slowly if asked, like
``DefaultAzureCredential`` (``azure.core.credentials.AccessToken``: token, expires_on).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

AZURE_KEY = "azure-key-SECRET-0f9e8d7c6b5a"
DEPLOYMENT = "my-gpt41"
RESOURCE_PATH = "/openai/v1"
DEPLOYMENT_MISSING = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)


class AccessToken(NamedTuple):
    """azure.core.credentials.AccessToken's shape."""

    token: str
    expires_on: int


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeCredential:
    """DefaultAzureCredential's contract: ``get_token(scope)`` blocks, then gives a token."""

    clock: FakeClock
    lifetime: int = 3600
    delay: float = 0.0
    failure: Exception | None = None
    scopes: list[tuple[str, ...]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.append(scopes)
        if self.delay:
            time.sleep(self.delay)  # a slow chain (the Azure CLI, the metadata endpoint)
        if self.failure is not None:
            raise self.failure
        token = f"entra-token-{len(self.issued) + 1}"
        self.issued.append(token)
        return AccessToken(token, int(self.clock() + self.lifetime))


@dataclass
class FakeAzure:
    """One Azure resource: its key, the tokens it accepts, what each request carried."""

    valid_tokens: set[str] = field(default_factory=set)
    seen: list[web.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None

    def authorized(self, request: web.Request) -> bool:
        if request.headers.get("api-key") == AZURE_KEY:
            return True
        bearer = request.headers.get("authorization", "")
        return bearer.startswith("Bearer ") and bearer[7:] in self.valid_tokens

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request)
        body = await request.json()
        self.bodies.append(body)
        if not self.authorized(request):
            error = {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API "
                "endpoint. Make sure to provide a valid key for an active subscription and "
                "use a correct regional API endpoint for your resource.",
            }
            return web.json_response({"error": error}, status=401)
        if self.answer is not None:
            return await self.answer(request)
        if body.get("model") != DEPLOYMENT:
            error = {"code": "DeploymentNotFound", "message": DEPLOYMENT_MISSING}
            return web.json_response({"error": error}, status=404)
        if request.path.endswith("/responses"):
            return web.json_response(responses_reply(body["model"]))
        if body.get("stream"):
            return await stream_reply(request, body["model"])
        return web.json_response(chat_reply(body["model"]))


def chat_reply(model: str) -> dict[str, Any]:
    filters = {"hate": {"filtered": False, "severity": "safe"}}
    return {
        "id": "chatcmpl-azure-1",
        "object": "chat.completion",
        "created": 1764800000,
        "model": "gpt-4.1-2025-04-14",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filters}],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello from azure"},
                "finish_reason": "stop",
                "content_filter_results": filters,
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


def responses_reply(model: str) -> dict[str, Any]:
    return {
        "id": "resp_azure_1",
        "object": "response",
        "created_at": 1764800000,
        "status": "completed",
        "model": model,
        "output": [
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "hello via responses", "annotations": []}
                ],
            }
        ],
        "usage": {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12},
    }


async def stream_reply(request: web.Request, model: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    chunks: list[dict[str, Any]] = [
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "", "choices": [],
         "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]},
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "streamed"},
                      "finish_reason": None}]},
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}},
    ]  # fmt: skip
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response
