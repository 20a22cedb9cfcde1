"""Local fakes of GitHub's login endpoints and of Copilot's API, speaking their wire formats:

* ``FakeGitHub``: ``POST /login/device/code`` and ``POST /login/oauth/access_token`` (form
  bodies, JSON answers; a pending poll is a 200 carrying ``error``), ``GET /user``, the token
  exchange ``GET /copilot_internal/v2/token`` (``Authorization: token <gh>``) and the quota
  endpoint ``GET /copilot_internal/user`` (``quota_snapshots``; GitHub's error bodies).
* ``FakeCopilot``: ``GET /models`` (``data`` with ``supported_endpoints``), and the three
  endpoints ``/chat/completions``, ``/responses`` and ``/v1/messages`` answering JSON.

Both record what they were sent; a test sets ``poll_answers`` / ``replies`` to script them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

GITHUB_TOKEN = "gho_fake_github_token"
USER_CODE = "WDJB-MJHT"
DEVICE_CODE = "dev-code-123"
PLAN = "copilot_for_individuals_pro"

MODELS = [
    {"id": "claude-sonnet-4.5", "name": "Claude Sonnet 4.5", "capabilities": {"type": "chat"},
     "supported_endpoints": ["/v1/messages", "/chat/completions"]},
    {"id": "gpt-5.3-codex", "name": "GPT-5.3-Codex", "capabilities": {"type": "chat"},
     "supported_endpoints": ["/responses"]},
    {"id": "gpt-4.1", "name": "GPT-4.1", "capabilities": {"type": "chat"},
     "supported_endpoints": ["/chat/completions"]},
    {"id": "gpt-5.4", "name": "GPT-5.4", "capabilities": {"type": "chat"},
     "supported_endpoints": ["/chat/completions", "/responses"]},
    {"id": "text-embedding-3-small", "name": "Embedding", "capabilities": {"type": "embeddings"}},
]  # fmt: skip


@dataclasses.dataclass
class Seen:
    path: str
    headers: Mapping[str, str]  # case-insensitive, as HTTP
    body: Any


class FakeGitHub:
    def __init__(self, api_base: Callable[[], str]) -> None:
        self.api_base = api_base  # where endpoints.api points (the FakeCopilot)
        self.poll_answers: list[dict[str, Any]] = [{"access_token": GITHUB_TOKEN}]
        self.polls: list[dict[str, str]] = []
        self.exchange_status = 200
        self.exchange_delay = 0.0
        self.refresh_in = 1500
        self.exchanges = 0
        self._serial = itertools.count(1)
        # GitHub token -> login name: several accounts; "octocat"'s Copilot tokens are
        # "tid=copilot-<n>", another account's "tid=copilot-<login>-<n>".
        self.users: dict[str, str] = {GITHUB_TOKEN: "octocat"}
        self._serials: dict[str, itertools.count[int]] = {}
        # /copilot_internal/user: login -> the answer's quota_snapshots; status other than 200
        # answers with GitHub's error body; delay stalls the answer.
        self.quota_snapshots: dict[str, dict[str, Any]] = {}
        self.quota_status = 200
        self.quota_delay = 0.0
        self.quota_calls: list[Mapping[str, str]] = []  # the headers of each call
        self.exchange_extra: dict[str, Any] = {}  # extra fields of the exchange answer

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/login/device/code", self.device_code)
        app.router.add_post("/login/oauth/access_token", self.access_token)
        app.router.add_get("/user", self.user)
        app.router.add_get("/copilot_internal/v2/token", self.exchange)
        app.router.add_get("/copilot_internal/user", self.copilot_user)

    async def device_code(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["client_id"] and form["scope"]
        return web.json_response(
            {"device_code": DEVICE_CODE, "user_code": USER_CODE, "expires_in": 900,
             "verification_uri": "https://github.com/login/device", "interval": 5}
        )  # fmt: skip

    async def access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.polls.append({k: str(v) for k, v in form.items()})
        answer = self.poll_answers.pop(0) if len(self.poll_answers) > 1 else self.poll_answers[0]
        return web.json_response(answer)

    def _login(self, request: web.Request) -> str | None:
        return self.users.get(request.headers.get("authorization", "").removeprefix("token "))

    async def user(self, request: web.Request) -> web.Response:
        login = self._login(request)
        if login is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response({"login": login, "id": 1})

    async def exchange(self, request: web.Request) -> web.Response:
        self.exchanges += 1
        await asyncio.sleep(self.exchange_delay)
        login = self._login(request)
        if login is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        if self.exchange_status != 200:
            return web.json_response({"message": "Not Found"}, status=self.exchange_status)
        if login == "octocat":
            token = f"tid=copilot-{next(self._serial)}"
        else:
            token = (
                f"tid=copilot-{login}-{next(self._serials.setdefault(login, itertools.count(1)))}"
            )
        return web.json_response(
            {"token": token, "expires_at": 4102444800,
             "refresh_in": self.refresh_in, "sku": PLAN, "endpoints": {"api": self.api_base()},
             **self.exchange_extra}
        )  # fmt: skip

    async def copilot_user(self, request: web.Request) -> web.Response:
        self.quota_calls.append(request.headers.copy())
        await asyncio.sleep(self.quota_delay)
        login = self._login(request)
        if login is None:
            return github_error(401, "Bad credentials")
        if self.quota_status != 200:
            message = "Bad credentials" if self.quota_status == 401 else "Not Found"
            return github_error(self.quota_status, message)
        return web.json_response(copilot_user(login, self.quota_snapshots.get(login, {})))


def github_error(status: int, message: str) -> web.Response:
    """GitHub REST's error answer."""
    body = {"message": message, "documentation_url": "https://docs.github.com/rest",
            "status": str(status)}  # fmt: skip
    return web.json_response(body, status=status)


def quota_snapshot(name: str, entitlement: int, remaining: int) -> dict[str, Any]:
    """One ``quota_snapshots`` entry as /copilot_internal/user gives it."""
    unlimited = entitlement == 0
    percent = 100.0 if unlimited else round(100.0 * remaining / entitlement, 4)
    return {"entitlement": entitlement, "overage_count": 0, "overage_permitted": False,
            "percent_remaining": percent, "quota_id": name, "quota_remaining": float(remaining),
            "remaining": remaining, "unlimited": unlimited,
            "timestamp_utc": "2026-12-04T23:00:00.000Z"}  # fmt: skip


def copilot_user(login: str, snapshots: Mapping[str, Any]) -> dict[str, Any]:
    """A paid plan's /copilot_internal/user answer (unlimited chat and completions)."""
    return {
        "login": login, "access_type_sku": "plus_monthly_subscriber_quota",
        "analytics_tracking_id": "0123abcd", "assigned_date": "2025-06-01T10:00:00+02:00",
        "can_signup_for_limited": False, "chat_enabled": True,
        "copilot_plan": "individual_pro", "organization_login_list": [],
        "organization_list": [], "quota_reset_date": "2027-01-01",
        "quota_reset_date_utc": "2027-01-01T00:00:00.000Z",
        "quota_snapshots": {
            "chat": quota_snapshot("chat", 0, 0),
            "completions": quota_snapshot("completions", 0, 0),
            "premium_interactions": quota_snapshot("premium_interactions", 300, 300),
            **snapshots,
        },
    }  # fmt: skip


def chat_completion(model: str) -> dict[str, Any]:
    return {
        "id": "c1", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": f"chat:{model}"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }  # fmt: skip


def response_object(model: str) -> dict[str, Any]:
    return {
        "id": "resp_1", "object": "response", "status": "completed", "model": model,
        "output": [{"type": "message", "id": "m1", "role": "assistant",
                    "content": [{"type": "output_text", "text": f"responses:{model}"}]}],
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }  # fmt: skip


def anthropic_message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": f"messages:{model}"}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }  # fmt: skip


class FakeCopilot:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.models_calls = 0
        # (status, body) answers given before the normal reply, one per request.
        self.errors: list[tuple[int, Any]] = []
        self.refuse_tokens: set[str] = set()  # bearer values answered with 401
        # Account -> (status, body, headers) answers for bearers of that account (its login in
        # the token, see FakeGitHub.users), one per request, before the normal reply.
        self.account_errors: dict[str, list[tuple[int, Any, dict[str, str]]]] = {}
        self.refuse_accounts: set[str] = set()  # accounts whose every token is answered 401

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/models", self.models)
        app.router.add_post("/chat/completions", self.endpoint(chat_completion))
        app.router.add_post("/responses", self.endpoint(response_object))
        app.router.add_post("/v1/messages", self.endpoint(anthropic_message))

    async def models(self, request: web.Request) -> web.Response:
        self.models_calls += 1
        return web.json_response({"data": MODELS, "object": "list"})

    def endpoint(self, reply: Callable[[str], dict[str, Any]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            self.seen.append(Seen(request.path, request.headers.copy(), body))
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            account = account_of(bearer)
            if bearer in self.refuse_tokens or account in self.refuse_accounts:
                return web.json_response({"message": "unauthorized: token expired"}, status=401)
            if self.account_errors.get(account):
                status, payload, headers = self.account_errors[account].pop(0)
                return web.json_response(payload, status=status, headers=headers)
            if self.errors:
                status, payload = self.errors.pop(0)
                return web.json_response(payload, status=status)
            if body.get("stream") and reply is chat_completion:
                return await chat_stream(request, body["model"])
            return web.json_response(reply(body["model"]))

        return handle


def account_of(bearer: str) -> str:
    """The login a Copilot token of ``FakeGitHub`` was issued to."""
    rest = bearer.removeprefix("tid=copilot-")
    login, _, serial = rest.rpartition("-")
    return login if login and serial.isdigit() else "octocat"


async def chat_stream(request: web.Request, model: str) -> web.StreamResponse:
    """A Chat Completions stream: two text deltas, the finish reason, usage, [DONE]."""
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    base = {"id": "c1", "object": "chat.completion.chunk", "model": model}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "chat:"}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": model}}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
    ]
    for chunk in chunks:
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response
