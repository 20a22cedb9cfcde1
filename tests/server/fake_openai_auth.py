"""A local fake of OpenAI's auth server as the Codex CLI's device-code login uses it, and of the
ChatGPT backend's model list.

``FakeDeviceAuth`` answers (openai/codex ``codex-rs/login/src/device_code_auth.rs``):

* ``POST /api/accounts/deviceauth/usercode`` JSON ``{client_id}`` -> ``{device_auth_id,
  user_code, interval}`` with the interval as a string, as the real server sends it (404 when
  ``enabled`` is false);
* ``POST /api/accounts/deviceauth/token`` JSON ``{device_auth_id, user_code}`` -> one scripted
  answer per poll: ``pending`` (403), ``slow_down`` (429), ``declined`` (400
  ``{"error": "authorization_declined"}``), then the grant ``{authorization_code,
  code_challenge, code_verifier}``;
* ``POST /oauth/token``: a form ``grant_type=authorization_code`` exchanges the grant for
  ``id_token`` / ``access_token`` / ``refresh_token``; a JSON refresh goes to the
  ``FakeTokenServer`` of fake_chatgpt (rotating refresh tokens).

``FakeModels`` serves ``GET /backend-api/codex/models`` with ``{"models": [ModelInfo]}`` to the
access tokens the token server issued.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from .fake_chatgpt import ACCOUNT, CLAIM, FakeTokenServer, make_jwt

USER_CODE = "ABCD-12345"
DEVICE_AUTH_ID = "deviceauth_abc123"
EMAIL = "ada@example.com"
PLAN = "pro"
AUTH_CODE = "ac_secret_code"
VERIFIER = "verifier-secret"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def id_token(email: str = EMAIL, plan: str = PLAN, account: str = ACCOUNT) -> str:
    """An unsigned ID token with the claims OpenAI's carries (email, account, plan)."""
    claims = {
        "email": email,
        "exp": int(time.time()) + 3600,
        CLAIM: {"chatgpt_account_id": account, "chatgpt_plan_type": plan},
    }
    return f"{_b64({'alg': 'none'})}.{_b64(claims)}.sig"


@dataclass
class FakeDeviceAuth:
    tokens: FakeTokenServer
    script: list[str] = field(default_factory=list)  # poll answers before the grant
    interval: str = "5"
    enabled: bool = True
    code_bodies: list[Any] = field(default_factory=list)
    polls: list[Any] = field(default_factory=list)
    exchanges: list[dict[str, str]] = field(default_factory=list)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/accounts/deviceauth/usercode", self.usercode)
        app.router.add_post("/api/accounts/deviceauth/token", self.poll)
        app.router.add_post("/oauth/token", self.token)

    async def usercode(self, request: web.Request) -> web.Response:
        self.code_bodies.append(await request.json())
        if not self.enabled:
            return web.Response(status=404, text="Not Found")
        answer = {"device_auth_id": DEVICE_AUTH_ID, "user_code": USER_CODE}
        return web.json_response({**answer, "interval": self.interval})

    async def poll(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.polls.append(body)
        if body != {"device_auth_id": DEVICE_AUTH_ID, "user_code": USER_CODE}:
            return web.json_response({"error": "invalid_request"}, status=400)
        step = self.script.pop(0) if self.script else "grant"
        if step == "pending":
            error = {"message": "Device authorization is pending", "code": "deviceauth_pending"}
            return web.json_response({"error": error}, status=403)
        if step == "slow_down":
            return web.json_response({"error": {"message": "Too many requests"}}, status=429)
        if step == "declined":
            answer = {"error": "authorization_declined", "error_description": "Denied"}
            return web.json_response(answer, status=400)
        grant = {"authorization_code": AUTH_CODE, "code_challenge": "ch", "code_verifier": VERIFIER}
        return web.json_response(grant)

    async def token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return await self.tokens.handle(request)  # a refresh (JSON)
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.exchanges.append(form)
        if form.get("code") != AUTH_CODE or form.get("code_verifier") != VERIFIER:
            return web.json_response({"error": "invalid_grant"}, status=400)
        access = make_jwt(time.time() + 3600, nonce="device-login")
        self.tokens.issued.append(access)
        answer = {"id_token": id_token(), "access_token": access}
        return web.json_response({**answer, "refresh_token": self.tokens.refresh_token})


def model_info(slug: str, visibility: str, priority: int) -> dict[str, Any]:
    """One entry of the backend's list, with the fields Codex's ``ModelInfo`` requires."""
    return {
        "slug": slug,
        "display_name": slug.upper(),
        "description": None,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [{"effort": "medium", "description": "medium"}],
        "shell_type": "shell_command",
        "visibility": visibility,
        "supported_in_api": visibility == "list",
        "priority": priority,
        "upgrade": None,
        "base_instructions": "",
        "supports_reasoning_summaries": True,
        "support_verbosity": False,
        "default_verbosity": None,
        "apply_patch_tool_type": None,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": True,
        "context_window": 272000,
        "experimental_supported_tools": [],
    }


@dataclass
class FakeModels:
    tokens: FakeTokenServer
    models: list[dict[str, Any]] = field(default_factory=list)
    seen: list[tuple[CIMultiDict[str], dict[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((CIMultiDict(request.headers), dict(request.query)))
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens.issued:
            error = {"message": "Your authentication token has expired.", "code": "token_expired"}
            return web.json_response({"error": error}, status=401)
        return web.json_response({"models": self.models})
