"""``anthroxy login copilot``: GitHub's device flow with the Copilot editor app's public client
id, then the login name (GitHub's ``/user``) and the plan (one token exchange, which also shows
the account has Copilot), stored 0600 in anthroxy's credentials directory."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from anthroxy.errors import AnthroxyError

from ..config.schema import ResolvedProvider
from ..providers import credential_files
from ..providers.copilot_auth import (
    CLIENT_ID,
    EDITOR_HEADERS,
    REFUSED,
    SCOPE,
    get_json,
    settings_of,
)
from ..providers.device_flow import LoginFailed, request_code, wait_for_token

if TYPE_CHECKING:
    from .login_io import LoginIO

REVOKE_URL = "https://github.com/settings/applications"


async def login(provider: ResolvedProvider, session: aiohttp.ClientSession, io: LoginIO) -> None:
    settings = settings_of(provider)
    code = await request_code(session, settings.device_code_url, CLIENT_ID, SCOPE)
    copied = " (copied to the clipboard)" if io.copy(code.user_code) else ""
    io.out.write(
        f"Open {code.verification_uri} and enter the code {code.user_code}{copied}.\n"
        f"Waiting for GitHub ({code.expires_in // 60} minutes at most) ...\n"
    )
    io.out.flush()
    answer = await wait_for_token(
        session,
        settings.access_token_url,
        CLIENT_ID,
        code,
        sleep=io.sleep,
        clock=io.clock,
        login_hint=f"anthroxy login {provider.id}",
    )
    github = str(answer["access_token"])
    user, plan = await _who(provider, session, github)
    now = io.clock()
    record: dict[str, Any] = {
        "github_token": github,
        "host": settings.domain,
        "user": user,
        "plan": plan,
        "logged_in_at": _iso(now),
    }
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, int):  # GitHub App tokens with expiry enabled
        record["expires_at"] = _iso(now + expires_in)
    path = Path(settings.credentials_file)
    credential_files.save(path, record)
    who = f" as {user}" if user else ""
    on_plan = f" (plan: {plan})" if plan else ""
    io.out.write(f"Logged in to GitHub Copilot{who}{on_plan}; the login is in {path}\n")


async def _who(
    provider: ResolvedProvider, session: aiohttp.ClientSession, github: str
) -> tuple[str | None, str | None]:
    """The login name and the Copilot plan; a refused exchange means no Copilot access."""
    settings = settings_of(provider)
    headers = {**EDITOR_HEADERS, "accept": "application/json", "authorization": f"token {github}"}
    try:
        _, me = await get_json(session, settings.user_url, headers, provider=provider.id)
        status, exchange = await get_json(
            session, settings.copilot_token_url, headers, provider=provider.id
        )
    except AnthroxyError as exc:
        raise LoginFailed(f"logged in to GitHub, but {exc.message}") from None
    if status in REFUSED:
        raise LoginFailed(
            f"GitHub accepted the login, but this account has no GitHub Copilot access on "
            f"{settings.domain} (the token exchange answered HTTP {status})"
        )
    user = me.get("login") if isinstance(me, dict) else None
    sku = exchange.get("sku") if isinstance(exchange, dict) else None
    return (user if isinstance(user, str) else None), (sku if isinstance(sku, str) else None)


def logout(provider: ResolvedProvider) -> str:
    path = Path(settings_of(provider).credentials_file)
    if not credential_files.remove(path):
        return f"{provider.id}: not logged in (no {path})"
    return (
        f"{provider.id}: logged out ({path} removed). GitHub still knows the authorization; "
        f"revoke it at {REVOKE_URL} if this machine should lose it for good"
    )


def status(provider: ResolvedProvider) -> str:
    settings = settings_of(provider)
    found = credential_files.load(Path(settings.credentials_file))
    if found is None:
        return f"not logged in (`anthroxy login {provider.id}`)"
    user = found.get("user") or "unknown user"
    plan = found.get("plan") or "plan unknown"
    since = found.get("logged_in_at") or "unknown"
    expiry = found.get("expires_at") or "never (Copilot tokens are renewed by the proxy)"
    host = found.get("host", settings.domain)
    return f"GitHub Copilot, {user} on {host} ({plan}); logged in {since}; login expires {expiry}"


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")
