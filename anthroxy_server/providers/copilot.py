"""The ``copilot`` provider: a GitHub Copilot subscription (docs/providers/copilot.md).

* Credentials: ``copilot_auth.CopilotAuth``, one per provider for the app's life (``setup``).
* Dialect per model (``dialect``): the endpoints Copilot's /models lists for it
  (``supported_endpoints``): ``/v1/messages`` -> the Anthropic pass-through (Claude models),
  else ``/chat/completions``, else ``/responses`` (codex-class models). A model the list does
  not know goes by its name: ``claude*`` -> messages, ``*codex*`` -> responses, the rest chat.
* Headers: the editor headers on every call; ``x-initiator: agent`` when the turn carries tool
  results (the agent's own follow-up, not billed as a premium request), else ``user``;
  ``copilot-vision-request: true`` when the conversation holds an image.
* Errors: a 401 exchanges the token again once, then names ``anthroxy login``; an exhausted
  quota is a 429 naming the plan; ``model_not_supported`` is a 404 naming the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from anthroxy.errors import AnthroxyError, AuthenticationFailed
from anthroxy.routing.live_models import LiveModel
from anthroxy.upstream_errors import error_from_upstream

from ..config.schema import Api, ResolvedProvider
from ..gateway.call import Call
from ..gateway.dialects import Plan
from ..gateway.state import SETTINGS
from ..gateway.upstream import join_url
from .accounts import account_provider, listing_provider
from .base import Outgoing, body_bytes
from .copilot_auth import EDITOR_HEADERS, CopilotAuth, CopilotToken, endpoints_of, login_hint
from .quota_store import QUOTAS

COPILOT_AUTH: web.AppKey[dict[str, CopilotAuth]] = web.AppKey("copilot_auth")
# Copilot's endpoint -> anthroxy's dialect, in the order a model listing several is sent by.
ENDPOINT_DIALECTS: tuple[tuple[str, Api], ...] = (
    ("/v1/messages", "anthropic"),
    ("/chat/completions", "chat"),
    ("/responses", "responses"),
)
QUOTA_CODES = ("quota_exceeded", "premium_quota_exceeded", "rate_limit_exceeded_quota")
PLANS_URL = "https://github.com/features/copilot/plans"


def setup(app: web.Application) -> None:
    providers = app[SETTINGS].providers
    app[COPILOT_AUTH] = {pid: CopilotAuth(p) for pid, p in providers.items() if p.auth == "copilot"}


def auth_for(
    app: web.Application, provider: ResolvedProvider, account: str | None = None
) -> CopilotAuth:
    """The provider's Copilot credentials, or those of its named login ``account``."""
    table = app.get(COPILOT_AUTH)
    if table is None:  # only if the app was built without ``setup``
        raise AnthroxyError(f"provider '{provider.id}': Copilot credentials are not set up")
    name = provider.id if account is None else f"{provider.id}/{account}"
    wanted = account_provider(provider, account)
    found = table.get(name)
    if found is None or found.provider != wanted:  # added or changed by a reload
        found = table[name] = CopilotAuth(wanted)
    return found


def first_account(provider: ResolvedProvider) -> str | None:
    """The login that reads the model list: the first named account, else the one login."""
    return provider.accounts[0] if provider.accounts else None


def dialect_by_endpoints(model: str, endpoints: tuple[str, ...]) -> Api:
    for endpoint, dialect in ENDPOINT_DIALECTS:
        if endpoint in endpoints:
            return dialect
    name = model.lower()
    if name.startswith("claude"):
        return "anthropic"
    return "responses" if "codex" in name else "chat"


async def dialect(call: Call) -> Api:
    auth = auth_for(call.request.app, call.provider, first_account(call.provider))
    endpoints = await auth.endpoints(call.session, call.route.model)
    return dialect_by_endpoints(call.route.model, endpoints)


def initiator(body: Mapping[str, Any]) -> str:
    """``agent`` when the last message is the user turn carrying tool results."""
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    content = last.get("content") if isinstance(last, Mapping) else None
    if not isinstance(content, list) or last is None or last.get("role") != "user":
        return "user"
    tool_turn = any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content)
    return "agent" if tool_turn else "user"


def has_image(value: Any) -> bool:
    """An image block anywhere in the messages (tool results included)."""
    if isinstance(value, Mapping):
        return value.get("type") == "image" or any(has_image(v) for v in value.values())
    if isinstance(value, list):
        return any(has_image(v) for v in value)
    return False


class CopilotAccess:
    """The Copilot token, the endpoint of the plan's dialect, the headers, the 401 retry."""

    streams_only = False

    def __init__(self, call: Call) -> None:
        self._call = call
        self._provider = call.provider
        self._auth = auth_for(call.request.app, call.provider, self._account())
        self._token: CopilotToken | None = None
        self._plan_headers: Mapping[str, str] = {}
        self._renewed = False

    def _account(self) -> str | None:
        """The named login this request uses (``copilot_accounts.py`` picks one)."""
        return None

    async def outgoing(self, plan: Plan) -> Outgoing:
        self._plan = plan
        self._plan_headers = plan.headers
        self._used = self._account()  # the account whose answer ``observe`` will see
        self._token = await self._auth.current(self._call.session)
        return self._request(self._token)

    def _request(self, token: CopilotToken) -> Outgoing:
        url = join_url(token.api_base, self._plan.path)
        return Outgoing(url, body_bytes(self._plan.body), self._headers(token))

    def _headers(self, token: CopilotToken) -> dict[str, str]:
        body = self._call.body
        headers = {**self._plan_headers, **EDITOR_HEADERS, "x-initiator": initiator(body)}
        if has_image(body.get("messages")):
            headers["copilot-vision-request"] = "true"
        headers.update(self._provider.headers)
        headers["authorization"] = f"Bearer {token.value}"  # last: no header replaces it
        return headers

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """The dashboard shows first the account that served last."""
        store = self._call.request.app.get(QUOTAS)
        if store is not None and status == 200:
            store.answered(self._provider.id, self._used)

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        assert self._token is not None  # outgoing() came first
        if not self._renewed and self._token.exchanged:
            self._renewed = True
            self._token = await self._auth.renew(self._call.session, self._token)
            return self._headers(self._token)
        refused = error_from_upstream(401, refused_body, provider=self._provider.id)
        raise AuthenticationFailed(
            f"{refused.message}; GitHub Copilot refused the login: {login_hint(self._provider.id)}",
            should_retry=False,
        )

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        code, message = error_code(body)
        pid = self._provider.id
        if code == "model_not_supported":
            return AnthroxyError(
                f"provider {pid!r}: GitHub Copilot does not offer the model "
                f"{self._call.route.model!r} to this account (model_not_supported); "
                f"`anthroxy models {pid}` lists the ones it does",
                status=404,
                error_type="not_found_error",
                should_retry=False,
            )
        if code in QUOTA_CODES or (status in (402, 429) and "quota" in message.lower()):
            mapped = error_from_upstream(429, body, provider=pid, headers=headers)
            plan = self._token.plan if self._token is not None else None
            which = f"the {plan} plan's" if plan else "your plan's"
            return AnthroxyError(
                f"provider {pid!r}: GitHub Copilot quota exhausted: {which} monthly limit of "
                f"premium requests is used up ({message or code}); it resets at the start of "
                f"the month, or see {PLANS_URL}",
                status=429,
                error_type="rate_limit_error",
                retry_after=mapped.retry_after,
                should_retry=False,
            )
        return error_from_upstream(status, body, provider=pid, headers=headers)


def error_code(body: bytes) -> tuple[str | None, str]:
    """Copilot's error ``code`` and ``message``, at the top level or under ``error``."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, body.decode("utf-8", "replace")[:300]
    found = payload.get("error", payload) if isinstance(payload, Mapping) else None
    if not isinstance(found, Mapping):
        return None, ""
    code, message = found.get("code"), found.get("message")
    return (code if isinstance(code, str) else None), (message if isinstance(message, str) else "")


def live_model(entry: Mapping[str, Any]) -> LiveModel | None:
    """A /models entry as a LiveModel; None for what is not a chat model (embeddings)."""
    capabilities = entry.get("capabilities")
    kind = capabilities.get("type") if isinstance(capabilities, Mapping) else None
    if kind not in (None, "chat"):
        return None
    name = entry.get("name")
    return LiveModel(
        id=str(entry["id"]),
        endpoints=endpoints_of(entry),
        display_name=name if isinstance(name, str) else None,
    )


async def list_models(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    """Copilot's live model list (one exchange of its own: listers run outside the app)."""
    entries = await CopilotAuth(listing_provider(provider)).models(session)
    return [m for m in map(live_model, entries) if m is not None]
