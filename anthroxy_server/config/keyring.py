"""A provider's several keys: ``api_keys_env`` (variables) and ``api_keys`` (in the file), after
the one key ``api_key_env``/``api_key`` give (docs/configuration.md, "Several keys").

Each key gets a label that is safe to print (the variable's name and where it was read, or its
place in the file's list), because /healthz, ``anthroxy status`` and the log name a key only by
its label. The same key reached twice (the variable named in both ``api_key_env`` and
``api_keys_env``, say) is kept once, under its first label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .environment import label_of
from .schema import ApiKey, ProviderConfig

# Providers that authenticate without a key of their own.
KEYLESS_AUTH = ("none", "codex")
# Providers whose several credentials are logins (``anthroxy login PROVIDER --account NAME``).
ACCOUNT_AUTH = ("copilot", "codex")
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # it becomes part of a file name


def gather_keys(
    pid: str,
    cfg: ProviderConfig,
    first: tuple[str | None, str | None],
    env: Mapping[str, str],
    problems: list[str],
) -> tuple[ApiKey, ...]:
    """Every key of provider ``pid``: ``first`` (the single key and its source, as found
    before), then the listed variables, then the listed literal keys. A problem for an empty
    list, a variable that is not set, and lists on a provider that takes no key."""
    where = f"providers.{pid}"
    found: list[ApiKey] = []
    key, source = first
    if key is not None:
        found.append(ApiKey("api_key" if source == "file" else source or "api_key", key))
    if cfg.auth in KEYLESS_AUTH and (cfg.api_keys_env is not None or cfg.api_keys is not None):
        problems.append(f'{where}: auth = "{cfg.auth}" takes no keys; remove api_keys_env/api_keys')
        return tuple(found)
    for name in _listed(f"{where}.api_keys_env", cfg.api_keys_env, problems, "a variable name"):
        value = env.get(name, "").strip()
        if value:
            found.append(ApiKey(label_of(env, name), value))
        else:
            problems.append(
                f"{where}.api_keys_env: variable {name} is not set (or empty); "
                "set it, or remove it from the list"
            )
    for index, value in enumerate(_listed(f"{where}.api_keys", cfg.api_keys, problems, "a key")):
        found.append(ApiKey(f"api_keys #{index + 1}", value.strip()))
    return _unique(found)


def gather_accounts(
    pid: str, cfg: ProviderConfig, auth: str, problems: list[str]
) -> tuple[str, ...]:
    """The provider's named logins (``accounts``), each once; a problem for a name that cannot
    be a file name and for accounts on a provider without a login."""
    where = f"providers.{pid}.accounts"
    if cfg.accounts is not None and auth not in ACCOUNT_AUTH:
        problems.append(f'{where}: only used with auth = "copilot" or "codex" (logins)')
        return ()
    names = _listed(where, cfg.accounts, problems, "an account name")
    bad = [name for name in names if not ACCOUNT_NAME.match(name)]
    if bad:
        problems.append(
            f"{where}: {bad[0]!r} is not an account name (letters, digits, '-' and '_', at most 40)"
        )
        return ()
    return tuple(dict.fromkeys(names))


def _listed(path: str, values: list[str] | None, problems: list[str], what: str) -> list[str]:
    """The list's entries, or none after naming what is wrong with it."""
    if values is None:
        return []
    if not values:
        problems.append(f"{path}: the list is empty; give at least one entry or remove the setting")
        return []
    blank = [i + 1 for i, value in enumerate(values) if not value.strip()]
    if blank:
        places = ", ".join(f"#{i}" for i in blank)
        problems.append(f"{path}: entry {places} is empty; each entry must be {what}")
        return []
    return values


def _unique(keys: list[ApiKey]) -> tuple[ApiKey, ...]:
    seen: dict[str, ApiKey] = {}
    for key in keys:
        seen.setdefault(key.secret, key)
    return tuple(seen.values())
