"""``anthroxy login PROVIDER``, ``anthroxy logout PROVIDER`` and the subscription lines of
``anthroxy status``.

``LOGINS`` maps a provider's ``auth`` value to its ``Login``: how to log in (a coroutine given
the resolved provider and the surroundings), how to log out, and what status says. A provider
the user's file does not name yet is logged in with its catalogue preset, so `anthroxy login
copilot` works before any configuration. Logins are stored by the provider modules in
anthroxy's credentials directory (``config.paths.credentials_dir``), never in a config file.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import TextIO

import aiohttp

from anthroxy.routing import catalog

from ..config.paths import CommandError, Locations
from ..config.schema import ResolvedProvider
from . import chatgpt_login, copilot_login
from .login_io import LoginIO


@dataclasses.dataclass(frozen=True)
class Login:
    login: Callable[[ResolvedProvider, aiohttp.ClientSession, LoginIO], Awaitable[None]]
    logout: Callable[[ResolvedProvider], str]  # what was done, one line
    status: Callable[[ResolvedProvider], str]  # one line, never a secret


# provider.auth -> its login.
LOGINS: dict[str, Login] = {
    "copilot": Login(copilot_login.login, copilot_login.logout, copilot_login.status),
    "codex": Login(chatgpt_login.login, chatgpt_login.logout, chatgpt_login.status),
}


def provider_for(loc: Locations, pid: str, config_path: str | None) -> ResolvedProvider:
    """The provider as the user's file configures it, else its catalogue preset alone."""
    from ..config import settings_from_config, structure_config
    from .daemon import load_settings

    settings = load_settings(loc, config_path)
    found = settings.providers.get(pid)
    if found is None:
        preset = catalog.CATALOG.get(pid)
        if preset is None or preset.auth not in LOGINS:
            raise CommandError(f"no provider {pid!r} with a login; {_known()}", code=2)
        alone = settings_from_config(structure_config({"providers": {pid: {}}}), loc.env)
        found = alone.providers[pid]
    if found.auth not in LOGINS:
        raise CommandError(f"provider {pid!r} uses a key, not a login; {_known()}", code=2)
    return found


def for_account(provider: ResolvedProvider, account: str | None) -> ResolvedProvider:
    """The provider as the login ``account`` (``--account``) sees it: its own login file."""
    from ..config.keyring import ACCOUNT_NAME
    from ..providers.accounts import account_provider

    if account is None:
        return provider
    if not ACCOUNT_NAME.match(account):
        raise CommandError(
            f"--account {account!r}: letters, digits, '-' and '_' only (at most 40)", code=2
        )
    return account_provider(provider, account)


def _known() -> str:
    ids = sorted(p.id for p in catalog.CATALOG.values() if p.auth in LOGINS)
    return f"providers with a login: {', '.join(ids)}"


async def run_login(provider: ResolvedProvider, io: LoginIO) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=provider.connect_timeout, sock_read=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await LOGINS[provider.auth].login(provider, session, io)


def login_command(
    loc: Locations, out: TextIO, pid: str, config_path: str | None, account: str | None = None
) -> int:
    from ..providers.device_flow import LoginFailed

    provider = for_account(provider_for(loc, pid, config_path), account)
    try:
        asyncio.run(run_login(provider, LoginIO(out)))
    except LoginFailed as exc:
        raise CommandError(exc.message) from None
    return 0


def logout_command(
    loc: Locations, out: TextIO, pid: str, config_path: str | None, account: str | None = None
) -> int:
    provider = for_account(provider_for(loc, pid, config_path), account)
    said = LOGINS[provider.auth].logout(provider)
    if account is not None:
        said = said.replace(f"{provider.id}:", f"{provider.id} (account {account}):", 1)
    out.write(said + "\n")
    return 0


def status_lines(providers: Mapping[str, ResolvedProvider]) -> list[str]:
    """One line per configured provider with a login; one per account for named logins."""
    from ..providers.accounts import account_provider, login_file

    lines = []
    for pid, p in providers.items():
        if p.auth not in LOGINS:
            continue
        status = LOGINS[p.auth].status
        if not p.accounts:
            lines.append(f"{pid}: {status(p)}")
        for name in p.accounts:
            account = account_provider(p, name)
            found = login_file(account)
            line = (
                status(account)
                if found is not None and found.exists()
                else f"not logged in (`anthroxy login {pid} --account {name}`)"
            )
            lines.append(f"{pid} (account {name}): {line}")
    return lines


def write_status(loc: Locations, out: TextIO) -> None:
    """The subscriptions part of ``anthroxy status``; nothing when the config does not load."""
    from .daemon import load_settings

    try:
        lines = status_lines(load_settings(loc).providers)
    except CommandError:
        return
    out.write("subscriptions:\n" + "".join(f"  {line}\n" for line in lines) if lines else "")
