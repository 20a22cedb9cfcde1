"""Several logins of one subscription provider (``accounts``, docs/configuration.md, "Several
keys"): each named account is the provider as configured, with a login file of its own
(``<provider>-<account>.json`` next to the unnamed ``<provider>.json``). Everything that reads
or writes a login (the token exchange, ``anthroxy login``, ``logout``, ``status``) is handed
that provider, so it needs no notion of accounts; the credential pool (``credentials.py``)
names the account a request uses."""

from __future__ import annotations

from pathlib import Path

import attrs

from anthroxy.errors import AnthroxyError

from ..config.schema import ResolvedProvider
from . import credential_files


def account_provider(provider: ResolvedProvider, account: str | None) -> ResolvedProvider:
    """``provider`` as the login ``account`` sees it; ``provider`` itself for None."""
    if account is None:
        return provider
    if provider.copilot is not None:
        file = _beside(provider.copilot.credentials_file, provider.id, account)
        return attrs.evolve(provider, copilot=attrs.evolve(provider.copilot, credentials_file=file))
    if provider.codex_login is not None:
        file = _beside(provider.codex_login.login_file, provider.id, account)
        # A named account is anthroxy's own login only: the Codex CLI's auth.json is the
        # unnamed one, so the Codex home points where no auth.json is looked for first.
        login = attrs.evolve(provider.codex_login, login_file=file)
        return attrs.evolve(provider, codex_login=login, codex_home=str(Path(file).parent))
    raise AnthroxyError(f"provider {provider.id!r} has no login, so no accounts", status=400)


def login_file(provider: ResolvedProvider) -> Path | None:
    """Where ``anthroxy login`` stores this provider's (or account's) login."""
    if provider.copilot is not None:
        return Path(provider.copilot.credentials_file)
    if provider.codex_login is not None:
        return Path(provider.codex_login.login_file)
    return None


def _beside(path: str, pid: str, account: str) -> str:
    return str(Path(path).with_name(f"{pid}-{account}.json"))


def listing_provider(provider: ResolvedProvider) -> ResolvedProvider:
    """The login the live model list is read as: the first named account, else the one."""
    return account_provider(provider, provider.accounts[0] if provider.accounts else None)


def login_identity(provider: ResolvedProvider) -> str:
    """Who the live model list is read as, so each account keeps its own cached list: the
    GitHub login (Copilot), the ChatGPT account id (ChatGPT); "" for a keyed provider or a
    login that cannot be read. Never a token."""
    listed = listing_provider(provider)
    if listed.copilot is not None:
        found = credential_files.load(Path(listed.copilot.credentials_file))
        user = found.get("user") if found is not None else None
        return f"github:{user}" if isinstance(user, str) else ""
    if listed.codex_home is not None:
        from .codex_auth import credentials_of  # aiohttp: only for a ChatGPT login

        try:
            account = credentials_of(listed).load().account_id
        except AnthroxyError:
            return ""
        return f"chatgpt:{account}" if account else ""
    return ""
