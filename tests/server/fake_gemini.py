"""A fake Gemini API on loopback, speaking the wire format of the real one.

* ``GET /v1beta/models``: the native list, ``x-goog-api-key``, ``pageSize`` / ``pageToken``
  and ``nextPageToken``; the fake's own page size is small so that listing takes several pages.
* ``POST /v1beta/openai/chat/completions``: the OpenAI-compatible endpoint, ``Authorization:
  Bearer``; a paid-only model answers a free-tier key with the free-tier 429, a model under a
  per-minute limit with the ordinary 429, an unknown key with the 400 ``API_KEY_INVALID``.

The error bodies are the ones users have reported (the compatible endpoint wraps the error
object in a one-element list, the native one does not):
https://github.com/continuedev/continue/issues/8516 (invalid key),
https://github.com/google-gemini/gemini-cli/issues/22486 and
https://github.com/google-gemini/gemini-cli/issues/8437 (free-tier quota, ``limit: 0``),
https://github.com/itcon-pty-au/stremio-ai-search/issues/170 (a free tier's per-day limit).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FREE_KEY = "AIzaSyFREE-t13r-k3y-n3v3r-5h0wn-000000"
PAID_KEY = "AIzaSyPAID-t13r-k3y-n3v3r-5h0wn-111111"

INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."


def model_entry(name: str, *methods: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name.replace("-", " ").title(),
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": list(methods),
    }


MODELS = [
    model_entry("gemini-2.5-flash", "generateContent", "countTokens", "createCachedContent"),
    model_entry("gemini-2.5-pro", "generateContent", "countTokens", "createCachedContent"),
    model_entry("gemini-embedding-001", "embedContent", "countTextTokens"),
    model_entry("gemini-3-flash-preview", "generateContent", "countTokens"),
    model_entry("gemini-3.1-pro-preview", "generateContent", "countTokens"),
    model_entry("gemini-2.5-flash-preview-tts", "countTokens", "generateContent"),
    model_entry("imagen-4.0-generate-001", "predict"),
]


def invalid_key_error() -> dict[str, Any]:
    return {
        "error": {
            "code": 400,
            "message": INVALID_KEY_MESSAGE,
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": INVALID_KEY_MESSAGE,
                },
            ],
        }
    }


def quota_error(model: str, limit: int, quota_id: str) -> dict[str, Any]:
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
        "To monitor your current usage, head to: https://ai.dev/rate-limit. \n"
        f"* Quota exceeded for metric: {metric}, limit: {limit}, model: {model}\n"
        "Please retry in 25.465784708s."
    )
    violation = {
        "quotaMetric": metric,
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": str(limit),
    }
    return {
        "error": {
            "code": 429,
            "message": message,
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "25s"},
            ],
        }
    }


def free_tier_error(model: str) -> dict[str, Any]:
    return quota_error(model, 0, "GenerateRequestsPerDayPerProjectPerModel-FreeTier")


def rate_limited_error(model: str) -> dict[str, Any]:
    return quota_error(model, 20, "GenerateRequestsPerDayPerProjectPerModel-FreeTier")


def chat_reply(model: str) -> dict[str, Any]:
    return {
        "id": "gemini-fake-1",
        "object": "chat.completion",
        "created": 1764800000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi"},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


@dataclass
class FakeGemini:
    models: list[dict[str, Any]] = field(default_factory=lambda: list(MODELS))
    keys: dict[str, str] = field(
        default_factory=lambda: {FREE_KEY: "free", PAID_KEY: "paid"}
    )  # key -> tier
    paid_only: frozenset[str] = frozenset({"gemini-2.5-pro", "gemini-3.1-pro-preview"})
    rate_limited: frozenset[str] = frozenset()  # models answering the ordinary 429
    page_size: int = 2  # the fake's own page cap, so a listing takes several pages
    list_delay: float = 0.0
    listings: list[dict[str, str]] = field(default_factory=list)  # query of each list request
    list_headers: list[dict[str, str]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)  # body of each chat request

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1beta/models", self.list_models)
        app.router.add_post("/v1beta/openai/chat/completions", self.chat)
        return app

    async def list_models(self, request: web.Request) -> web.Response:
        self.listings.append(dict(request.query))
        self.list_headers.append(dict(request.headers))
        if self.list_delay:
            await asyncio.sleep(self.list_delay)
        if request.headers.get("x-goog-api-key") not in self.keys:
            return web.json_response(invalid_key_error(), status=400)
        start = int(request.query.get("pageToken", "0") or 0)
        size = min(int(request.query.get("pageSize", "50")), self.page_size)
        page: dict[str, Any] = {"models": self.models[start : start + size]}
        if start + size < len(self.models):
            page["nextPageToken"] = str(start + size)
        return web.json_response(page)

    async def chat(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.chats.append(body)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        tier = self.keys.get(key)
        model = body["model"]
        if tier is None:
            return web.json_response([invalid_key_error()], status=400)
        if tier == "free" and model in self.paid_only:
            return web.json_response([free_tier_error(model)], status=429)
        if model in self.rate_limited:
            return web.json_response([rate_limited_error(model)], status=429)
        return web.json_response(chat_reply(model))

    def chats_for(self, model: str) -> int:
        return sum(1 for body in self.chats if body["model"] == model)
