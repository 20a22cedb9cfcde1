"""The ``chatgpt`` provider: a ChatGPT Plus/Pro subscription through the Codex CLI's login.

The backend (``https://chatgpt.com/backend-api/codex``, ``POST /responses``) speaks the
Responses API with a few differences from OpenAI's public one, handled here
(docs/providers/chatgpt.md lists them for users):

* It only streams and keeps nothing: ``stream: true`` and ``store: false`` always. A client that
  did not ask for a stream gets the upstream stream translated and folded into one message
  (``assemble_reply``).
* It refuses many public parameters by name (``400 {"detail":"Unsupported parameter: ..."}``):
  only the fields in ``BACKEND_FIELDS`` are sent. So ``max_tokens`` (-> ``max_output_tokens``),
  ``temperature``, ``top_p`` and ``metadata`` (-> ``user``/``safety_identifier``) are dropped;
  the plan decides the output budget.
* ``instructions`` is required: a request without ``system`` gets ``DEFAULT_INSTRUCTIONS``.
* Headers: bearer access token, ``chatgpt-account-id``, ``OpenAI-Beta: responses=experimental``,
  an ``originator`` and User-Agent that name anthroxy (not the Codex CLI), and a ``session_id``
  equal to the body's ``prompt_cache_key`` so the backend's prompt cache follows a conversation.

Credentials live in ``codex_auth``; one ``CodexCredentials`` per auth.json file, made when the
app starts (``setup``). ``access`` is the provider's ``Access`` (``base.py``) for one request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from anthroxy import __version__
from anthroxy.errors import AnthroxyError, AuthenticationFailed
from anthroxy.routing.live_models import LiveModel
from anthroxy.upstream_errors import connection_error, error_from_upstream

from ..gateway.call import Call
from ..gateway.dialects import Plan
from ..gateway.state import SETTINGS
from ..gateway.upstream import join_url
from .accounts import account_provider, listing_provider, login_file
from .base import Outgoing, body_bytes
from .codex_auth import CodexCredentials, CodexTokens, credentials_of
from .conversation import conversation_key
from .quota_store import record_codex

if TYPE_CHECKING:
    from ..config.schema import ResolvedProvider

# provider id -> its credentials (providers sharing one auth.json share one object and lock).
CODEX_CREDENTIALS: web.AppKey[dict[str, CodexCredentials]] = web.AppKey("codex_credentials")

# What the ChatGPT backend accepts (the fields the Codex CLI sends); everything else is dropped.
BACKEND_FIELDS = (
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "store",
    "include",
    "stream",
    "prompt_cache_key",
    "text",
)
# Sent when the client gave no system prompt: the backend answers 400 "Instructions are required".
DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
ORIGINATOR = "anthroxy"
USER_AGENT = f"anthroxy/{__version__} (ChatGPT via Codex login)"
# Claude Code's conversation id (docs/protocol/claude-code.md §3)


def make_credentials(providers: Mapping[str, ResolvedProvider]) -> dict[str, CodexCredentials]:
    """One CodexCredentials per login (Codex home and own file) for the ``auth = "codex"``
    providers."""
    by_file: dict[tuple[str, str | None, str | None], CodexCredentials] = {}
    out = {}
    for pid, provider in providers.items():
        if provider.auth != "codex" or provider.codex_home is None:
            continue
        own = provider.codex_login.login_file if provider.codex_login else None
        key = (provider.codex_home, provider.token_url, own)
        if key not in by_file:
            by_file[key] = credentials_of(provider)
        out[pid] = by_file[key]
    return out


def setup(app: web.Application) -> None:
    app[CODEX_CREDENTIALS] = make_credentials(app[SETTINGS].providers)


def credentials_for(
    app: web.Application, provider: ResolvedProvider, account: str | None = None
) -> CodexCredentials:
    """The provider's login, or that of its named login ``account`` (made when first used)."""
    table = app.get(CODEX_CREDENTIALS)
    found = table.get(provider.id) if table is not None else None
    if table is not None and account is not None:
        wanted = account_provider(provider, account)
        name, own = f"{provider.id}/{account}", login_file(wanted)
        found = table.get(name)
        if found is None or found.own_path != own:  # added or changed by a reload
            found = table[name] = credentials_of(wanted)
    if found is None:  # only if the app was built without ``setup``
        raise AnthroxyError(f"provider '{provider.id}': Codex credentials are not set up")
    return found


# ---------------------------------------------------------------------------------------------
# Request shaping.


def backend_body(translated: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The Responses body trimmed to what the backend takes; a new dict."""
    body = {name: translated[name] for name in BACKEND_FIELDS if name in translated}
    if not body.get("instructions"):
        body["instructions"] = DEFAULT_INSTRUCTIONS
    body["stream"] = True
    body["store"] = False
    body["include"] = ["reasoning.encrypted_content"]
    body["prompt_cache_key"] = key
    return body


def backend_headers(provider: ResolvedProvider, tokens: CodexTokens, key: str) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "openai-beta": "responses=experimental",
        "originator": ORIGINATOR,
        "user-agent": USER_AGENT,
        "session_id": key,
    }
    headers.update(provider.headers)
    # Credentials last: a configured extra header cannot replace them.
    headers["authorization"] = f"Bearer {tokens.access_token}"
    if tokens.account_id:
        headers["chatgpt-account-id"] = tokens.account_id
    return headers


# ---------------------------------------------------------------------------------------------
# 401 recovery: re-read the file and retry; then refresh once and retry; then give up.


class Recovery:
    """Steps after a 401 (the Codex CLI's order); ``next`` gives headers to retry with."""

    def __init__(
        self,
        credentials: CodexCredentials,
        session: aiohttp.ClientSession,
        tokens: CodexTokens,
        make_headers: Callable[[CodexTokens], dict[str, str]],
    ) -> None:
        self._credentials = credentials
        self._session = session
        self._tokens = tokens
        self._make_headers = make_headers
        self._step = 0

    async def next(self, rejected_body: bytes) -> Mapping[str, str]:
        if self._step == 0:
            self._step = 1
            fresh = self._credentials.reload()
            if fresh.access_token != self._tokens.access_token:
                self._tokens = fresh
                return self._make_headers(fresh)
            # The file holds the refused token too: straight on to refreshing it.
        if self._step == 1:
            self._step = 2
            self._tokens = await self._credentials.refresh(self._session, self._tokens)
            return self._make_headers(self._tokens)
        refused = error_from_upstream(401, rejected_body, provider=self._credentials.provider)
        hint = self._credentials.hint
        raise AuthenticationFailed(f"{refused.message}; {hint}", should_retry=False)


# ---------------------------------------------------------------------------------------------
# The provider's access for one request.


class ChatGPTAccess:
    """Codex credentials, the backend's body and headers, and the 401 recovery."""

    streams_only = True

    def __init__(self, call: Call) -> None:
        self._call = call
        self._provider = call.provider
        self._key = conversation_key(call.request.headers, call.body)
        self._credentials = credentials_for(call.request.app, call.provider, self._account())
        self._recovery: Recovery | None = None

    def _account(self) -> str | None:
        """The named login this request uses (``chatgpt_accounts.py`` picks one)."""
        return None

    async def outgoing(self, plan: Plan) -> Outgoing:
        if not isinstance(plan.body, Mapping):
            raise AnthroxyError(f"provider '{self._provider.id}' speaks only the Responses API")
        self._plan = plan
        self._used = self._account()  # the account whose answer ``observe`` will see
        tokens = await self._credentials.current(self._call.session)
        self._recovery = Recovery(self._credentials, self._call.session, tokens, self._headers)
        self._data = body_bytes(backend_body(plan.body, self._key))
        self._url = join_url(self._provider.base_url, plan.path)
        return Outgoing(self._url, self._data, self._headers(tokens))

    def _headers(self, tokens: CodexTokens) -> dict[str, str]:
        return backend_headers(self._provider, tokens, self._key)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Keep the usage windows the answer's ``x-codex-*`` headers carry (dashboard)."""
        record_codex(self._call.request.app, self._provider.id, self._used, status, headers)

    async def reauthenticate(self, refused_body: bytes) -> Mapping[str, str] | None:
        assert self._recovery is not None  # outgoing() came first
        return await self._recovery.next(refused_body)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> AnthroxyError:
        return error_from_upstream(status, body, provider=self._provider.id, headers=headers)


# ---------------------------------------------------------------------------------------------
# The live model list: ``GET <base_url>/models?client_version=...`` (openai/codex,
# ``codex-rs/codex-api/src/endpoint/models.rs``), answered with ``{"models": [ModelInfo]}``.
# ``visibility`` is "list" for the models Codex's picker offers ("hide", "none" otherwise);
# ``priority`` orders them, lowest first. A model may need a newer client than the one named,
# so the version sent is a recent Codex release's.

CLIENT_VERSION = "0.147.0"


def models_url(provider: ResolvedProvider) -> str:
    url = provider.models_url or join_url(provider.base_url, "/models")
    if "client_version=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}client_version={CLIENT_VERSION}"


def visible_models(payload: Any) -> list[LiveModel]:
    """The models the picker shows, by the backend's priority (then name)."""
    entries = payload.get("models") if isinstance(payload, Mapping) else None
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or entry.get("visibility") != "list":
            continue
        slug, priority = entry.get("slug"), entry.get("priority")
        if not isinstance(slug, str) or not slug:
            continue
        rank = priority if isinstance(priority, int) and not isinstance(priority, bool) else None
        name = entry.get("display_name")
        shown = name if isinstance(name, str) and name else None
        found.append(LiveModel(slug, priority=rank, display_name=shown))
    return sorted(found, key=lambda m: (m.priority is None, m.priority or 0, m.id))


async def list_models(
    provider: ResolvedProvider, session: aiohttp.ClientSession
) -> list[LiveModel]:
    """The lister (``providers.LISTERS``): the login's visible models."""
    credentials = credentials_of(listing_provider(provider))  # the first of several accounts
    tokens = await credentials.current(session)
    url = models_url(provider)
    status, raw = await _get_models(provider, session, tokens, url)
    if status == 401:  # revoked before its expiry: refresh once, as a request would
        tokens = await credentials.refresh(session, tokens)
        status, raw = await _get_models(provider, session, tokens, url)
    if status != 200:
        raise error_from_upstream(status, raw, provider=provider.id)
    try:
        return visible_models(json.loads(raw))
    except ValueError:
        raise AnthroxyError(f"provider '{provider.id}': {url} did not answer JSON") from None


async def _get_models(
    provider: ResolvedProvider, session: aiohttp.ClientSession, tokens: CodexTokens, url: str
) -> tuple[int, bytes]:
    headers = backend_headers(provider, tokens, "")
    del headers["session_id"], headers["content-type"]
    headers["accept"] = "application/json"
    try:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.read()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise connection_error(provider.id, url, str(exc) or type(exc).__name__) from exc
