"""``anthroxy login chatgpt``: use the Codex CLI's login when there is one, else the Codex CLI's
own device-code login, written in the Codex CLI's ``auth.json`` format to anthroxy's credentials
directory (0600, atomic), where the provider finds it (``codex_auth.CodexCredentials.path``).

The flow (openai/codex ``codex-rs/login/src/device_code_auth.rs``), all JSON bodies:

1. ``POST device_auth_url`` ``{client_id}`` -> ``{device_auth_id, user_code, interval}`` (the
   interval arrives as a string); 404 means the server offers no device-code login.
2. The person enters the code at ``verification_url``; the code lives 15 minutes.
3. ``POST device_token_url`` ``{device_auth_id, user_code}`` every ``interval`` seconds: 403 or
   404 while nobody has approved, 200 ``{authorization_code, code_verifier, code_challenge}``
   once someone has.
4. The code is exchanged at the OAuth token endpoint (form: ``grant_type=authorization_code``,
   ``code``, ``redirect_uri``, ``client_id``, ``code_verifier``) for ``id_token``,
   ``access_token`` and ``refresh_token``.

Step 3's answers are mapped onto RFC 8628's (``poll_answer``) so ``DevicePoll`` keeps the
interval and the deadline; ``slow_down`` (HTTP 429, or the word in an error), a refusal and an
expiry end or slow the polling as they do for Copilot.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from ..config.schema import CodexLogin, ResolvedProvider
from ..providers import credential_files
from ..providers.codex_auth import (
    AUTH_CLAIM,
    CLIENT_ID,
    CodexCredentials,
    credentials_of,
    jwt_claims,
)
from ..providers.device_flow import DeviceCode, DevicePoll, LoginFailed

if TYPE_CHECKING:
    from .login_io import LoginIO

# The redirect URI the device code was issued for; sent with the exchange, never visited.
REDIRECT_URI = "https://auth.openai.com/deviceauth/callback"
CODE_LIFETIME = 15 * 60  # seconds; the Codex CLI stops polling after 15 minutes
DEFAULT_INTERVAL = 5
_JSON = {"accept": "application/json", "content-type": "application/json"}


def _settings(provider: ResolvedProvider) -> CodexLogin:
    if provider.codex_login is None:
        raise LoginFailed(f'provider {provider.id!r} is not an auth = "codex" provider')
    return provider.codex_login


async def login(provider: ResolvedProvider, session: aiohttp.ClientSession, io: LoginIO) -> None:
    settings = _settings(provider)
    credentials = credentials_of(provider)
    if credentials.path.exists():
        io.out.write(_already(credentials, io.clock()) + "\n")
        return
    code = await _request_code(session, settings)
    copied = " (copied to the clipboard)" if io.copy(code.user_code) else ""
    io.out.write(
        f"Open {code.verification_uri} and enter the code {code.user_code}{copied}.\n"
        "Never share this code: device codes are a phishing target.\n"
        f"Waiting for OpenAI ({CODE_LIFETIME // 60} minutes at most) ...\n"
    )
    io.out.flush()
    grant = await _wait_for_grant(session, settings.device_token_url, code, io, provider.id)
    tokens = await _exchange(session, credentials.token_url, grant)
    path = Path(settings.login_file)
    credential_files.save(path, auth_file(tokens, io.clock()))
    facts = login_facts(credential_files.load(path) or {})
    who = f" as {facts['email']}" if facts.get("email") else ""
    plan = f" (plan: {facts['plan']})" if facts.get("plan") else ""
    io.out.write(f"Logged in to ChatGPT{who}{plan}; the login is in {path}\n")


def _already(credentials: CodexCredentials, now: float) -> str:
    path = credentials.path
    facts = login_facts(credential_files.load(path) or {})
    if not facts["tokens"]:
        # Used first but useless: a new login elsewhere would never be read.
        raise LoginFailed(
            f"{path} holds no ChatGPT login (an API key only, or a damaged file); run `codex "
            f"login` and choose Sign in with ChatGPT, or move the file aside and run `anthroxy "
            f"login {credentials.provider}` again"
        )
    whose = "anthroxy's own" if path == credentials.own_path else "the Codex CLI's"
    again = (
        f"`anthroxy logout {credentials.provider}` first to log in anew"
        if path == credentials.own_path
        else "`codex logout` first to log in with anthroxy instead"
    )
    return (
        f"Already logged in to ChatGPT: {whose} login at {path} is used.\n"
        f"  {describe(facts, now)}\n"
        f"Nothing to do; run {again}."
    )


# ---------------------------------------------------------------------------------------------
# The HTTP steps.


async def _post(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    """POST; the status and the JSON answer (None when it is not JSON)."""
    try:
        async with session.post(url, **kwargs) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise LoginFailed(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    if status >= 500:
        raise LoginFailed(f"{url} answered HTTP {status}; try again later")
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


async def _request_code(session: aiohttp.ClientSession, settings: CodexLogin) -> DeviceCode:
    url = settings.device_auth_url
    status, payload = await _post(session, url, json={"client_id": CLIENT_ID}, headers=_JSON)
    if status == 404:
        raise LoginFailed(
            f"{url} offers no device-code login (HTTP 404); log in with `codex login` in a "
            "browser instead, or check device_auth_url"
        )
    if status != 200 or not isinstance(payload, Mapping):
        raise LoginFailed(f"{url} answered HTTP {status} without a device code")
    return device_code(payload, settings.verification_url)


def device_code(payload: Mapping[str, Any], verification_url: str) -> DeviceCode:
    """The usercode answer as a ``DeviceCode`` (``device_code`` holds ``device_auth_id``)."""
    auth_id = payload.get("device_auth_id")
    user_code = payload.get("user_code", payload.get("usercode"))
    if not isinstance(auth_id, str) or not isinstance(user_code, str):
        raise LoginFailed("the device-code answer lacks device_auth_id or user_code")
    try:
        interval = int(str(payload.get("interval", DEFAULT_INTERVAL)).strip())
    except ValueError:
        interval = DEFAULT_INTERVAL
    return DeviceCode(auth_id, user_code, verification_url, CODE_LIFETIME, max(interval, 1))


def poll_answer(status: int, payload: Any) -> dict[str, str]:
    """A poll's answer (not a grant) in RFC 8628's words, for ``DevicePoll.answer``."""
    code = _error_code(payload)
    if code is not None:
        for word, meaning in (
            ("denied", "access_denied"),
            ("declined", "access_denied"),
            ("expired", "expired_token"),
            ("slow_down", "slow_down"),
        ):
            if word in code:
                return {"error": meaning}
    if status in (403, 404):
        return {"error": "authorization_pending"}
    if status == 429:
        return {"error": "slow_down"}
    return {"error": code or f"HTTP {status}", "error_description": _message(payload, status)}


def _error_code(payload: Any) -> str | None:
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(error, Mapping):
        error = error.get("code")
    return error.lower() if isinstance(error, str) else None


def _message(payload: Any, status: int) -> str:
    error = payload.get("error") if isinstance(payload, Mapping) else None
    text = error.get("message") if isinstance(error, Mapping) else None
    return f"HTTP {status}" + (f": {str(text)[:200]}" if text else "")


def _grant(status: int, payload: Any) -> Mapping[str, str] | None:
    if status != 200 or not isinstance(payload, Mapping):
        return None
    fields = ("authorization_code", "code_verifier")
    return payload if all(isinstance(payload.get(f), str) for f in fields) else None


async def _wait_for_grant(
    session: aiohttp.ClientSession, url: str, code: DeviceCode, io: LoginIO, pid: str
) -> Mapping[str, str]:
    poll = DevicePoll(code, io.clock(), login_hint=f"anthroxy login {pid}")
    body = {"device_auth_id": code.device_code, "user_code": code.user_code}
    while True:
        await io.sleep(poll.interval)
        status, payload = await _post(session, url, json=body, headers=_JSON)
        grant = _grant(status, payload)
        if grant is not None:
            return grant
        poll.answer(poll_answer(status, payload), io.clock())


async def _exchange(
    session: aiohttp.ClientSession, url: str, grant: Mapping[str, str]
) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": grant["authorization_code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_verifier": grant["code_verifier"],
    }
    status, payload = await _post(session, url, data=form, headers={"accept": "application/json"})
    names = ("id_token", "access_token", "refresh_token")
    if status != 200 or not isinstance(payload, Mapping):
        why = _error_code(payload) or f"HTTP {status}"
        raise LoginFailed(f"OpenAI approved the code, but {url} refused the exchange ({why})")
    if not all(isinstance(payload.get(name), str) and payload[name] for name in names):
        raise LoginFailed(f"the answer of {url} lacks one of {', '.join(names)}")
    return {name: str(payload[name]) for name in names}


# ---------------------------------------------------------------------------------------------
# The file, and what status says of it.


def auth_file(tokens: Mapping[str, str], now: float) -> dict[str, Any]:
    """The Codex CLI's ``auth.json`` for a ChatGPT login (``codex-rs/login`` ``AuthDotJson``)."""
    auth = jwt_claims(tokens["id_token"]).get(AUTH_CLAIM)
    account = auth.get("chatgpt_account_id") if isinstance(auth, Mapping) else None
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {**tokens, "account_id": account if isinstance(account, str) else None},
        "last_refresh": _iso(now),
    }


def login_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """What may be shown of a login file: email, plan, account, access-token expiry."""
    tokens = data.get("tokens")
    tokens = tokens if isinstance(tokens, Mapping) else {}
    id_claims = jwt_claims(str(tokens.get("id_token") or ""))
    access_claims = jwt_claims(str(tokens.get("access_token") or ""))
    auth = id_claims.get(AUTH_CLAIM)
    auth = auth if isinstance(auth, Mapping) else {}
    exp = access_claims.get("exp")
    return {
        "tokens": bool(tokens.get("access_token")),
        "email": id_claims.get("email") if isinstance(id_claims.get("email"), str) else None,
        "plan": auth.get("chatgpt_plan_type"),
        "account": tokens.get("account_id") or auth.get("chatgpt_account_id"),
        "expires": exp if isinstance(exp, int | float) and not isinstance(exp, bool) else None,
    }


def describe(facts: Mapping[str, Any], now: float) -> str:
    if not facts.get("tokens"):
        return "no ChatGPT tokens in the file (an API key only, or damaged)"
    plan = f"ChatGPT {facts['plan']}" if facts.get("plan") else "ChatGPT (plan unknown)"
    who = f", {facts['email']}" if facts.get("email") else ""
    account = f" (account {facts['account']})" if facts.get("account") else ""
    expires = facts.get("expires")
    if expires is None:
        when = "access token expiry unknown"
    elif expires > now:
        when = f"access token valid until {_iso(expires)} (renewed by the proxy)"
    else:
        when = f"access token expired {_iso(expires)} (renewed on the next request)"
    return f"{plan}{who}{account}; {when}"


def status(provider: ResolvedProvider) -> str:
    credentials = credentials_of(provider)
    path = credentials.path
    data = credential_files.load(path)
    if data is None:
        return f"not logged in (`anthroxy login {provider.id}` or `codex login`)"
    whose = "anthroxy's login" if path == credentials.own_path else "the Codex CLI's login"
    now = datetime.datetime.now(tz=datetime.UTC).timestamp()
    return f"{describe(login_facts(data), now)}; {whose} in {path}"


def logout(provider: ResolvedProvider) -> str:
    credentials = credentials_of(provider)
    own = Path(_settings(provider).login_file)
    removed = credential_files.remove(own)
    codex = credentials.codex_path
    if codex.exists():
        done = f"removed {own}; " if removed else ""
        return (
            f"{provider.id}: {done}the Codex CLI's login at {codex} is still used; "
            "`codex logout` ends it (anthroxy leaves that file alone)"
        )
    if not removed:
        return f"{provider.id}: not logged in (no {own})"
    return f"{provider.id}: logged out ({own} removed)"


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")
