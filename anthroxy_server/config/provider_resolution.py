"""Resolving one ``[providers.<id>]`` table into a ready-to-call provider: its catalogue preset,
URL, key (or keys, or login), headers, profile and cleaner, with a problem line for each thing
wrong. Providers the environment offers without a table are found by ``discover_providers``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Mapping
from typing import Any, TypedDict

from anthroxy.profile import DEFAULT_PROFILE, ProviderProfile
from anthroxy.routing import catalog
from anthroxy.routing.catalog import ProviderPreset

from .aws import KEYLESS_SOURCES, aws_settings
from .cleaners import resolve_cleaner
from .cloud import google_place
from .codex_login import resolve_codex_login
from .copilot import resolve_copilot
from .environment import label_of
from .files import (
    CONVERTER,
    problem_lines,
    unknown_key,
)
from .keyring import gather_accounts, gather_keys
from .schema import (
    KEYLESS_AUTH,
    PROVIDER_ID,
    Api,
    ApiKey,
    Auth,
    CodexLogin,
    CopilotSettings,
    ProviderConfig,
    ResolvedProvider,
)


def discover_providers(env: Mapping[str, str]) -> dict[str, ProviderConfig]:
    """Catalogue providers usable with ``env`` alone: key present (or none needed, i.e. Ollama)."""
    return {preset.id: ProviderConfig() for preset in catalog.available_presets(env)}


def _env_key(names: tuple[str, ...], env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(key, "env:NAME") for the first non-empty variable among ``names`` (``./.env:NAME`` and
    so on for one read from a file)."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value, label_of(env, name)
    return None, None


def resolve_provider(
    pid: str, cfg: ProviderConfig, env: Mapping[str, str], problems: list[str]
) -> ResolvedProvider | None:
    where = f"providers.{pid}"
    before = len(problems)
    preset = catalog.CATALOG.get(pid)
    if not PROVIDER_ID.match(pid):
        problems.append(f"{where}: provider id may hold only letters, digits, '-' and '_'")
    api = cfg.api or (preset.api if preset else None)
    if api is None:
        problems.append(
            f"{where}.api: required for a provider not in the catalogue "
            '(one of "anthropic", "chat", "responses")'
        )
    aws = aws_settings(where, cfg, cfg.auth or (preset.auth if preset else None), env, problems)
    if aws["region"]:  # the Bedrock preset's URL names the region (catalog.BEDROCK_URL)
        env = {**env, "AWS_REGION": aws["region"]}
    # A Bedrock URL without its region: the region's own problem line says it all.
    unplaced = preset is not None and "AWS_REGION" in preset.url_vars and not aws["region"]
    base_url = _base_url(where, cfg, preset, env, [] if unplaced else problems)
    problems.extend(_connection_problems(where, cfg, base_url))
    key, key_source = _find_key(pid, cfg, preset, env, problems)
    keys = gather_keys(pid, cfg, (key, key_source), env, problems)
    auth = cfg.auth or (preset.auth if preset else _default_auth(api))
    logins = _login_settings(pid, cfg, api, auth, env, problems)
    profile = _profile(where, cfg.profile, preset.profile if preset else DEFAULT_PROFILE, problems)
    cleaner = resolve_cleaner(pid, cfg, api, problems)
    if len(problems) > before or api is None or not base_url or profile is None:
        return None
    assert cleaner is not None  # None only after a problem
    return ResolvedProvider(
        id=pid,
        name=preset.name if preset else pid,
        api=api,
        base_url=base_url.rstrip("/"),
        api_key=None if auth == "entra" else (keys[0].secret if keys else key),
        auth=auth,
        headers=dict(cfg.headers),
        profile=profile,
        models=tuple(cfg.models) or (preset.models if preset else ()),
        connect_timeout=cfg.connect_timeout,
        read_timeout=cfg.read_timeout,
        key_source=_key_source(auth, key_source, keys),
        token_url=cfg.token_url if auth == "codex" else None,
        cleaner=cleaner,
        learn_fields=cfg.learn_fields,
        models_url=cfg.models_url,
        **logins,
        region=aws["region"],
        aws_profile=aws["aws_profile"],
        keys=keys,
        rotation=cfg.rotation,
    )


class _Logins(TypedDict):
    codex_home: str | None
    copilot: CopilotSettings | None
    codex_login: CodexLogin | None
    accounts: tuple[str, ...]
    project: str | None
    location: str | None
    credentials_file: str | None


def _login_settings(
    pid: str,
    cfg: ProviderConfig,
    api: Api | None,
    auth: Auth,
    env: Mapping[str, str],
    problems: list[str],
) -> _Logins:
    """What a provider that authenticates with a login or a platform account needs (each part
    reports its keys on a provider of another kind)."""
    where = f"providers.{pid}"
    place = google_place(where, cfg, auth, env, problems)
    return _Logins(
        codex_home=_codex_problems(where, cfg, api, auth, env, problems),
        copilot=resolve_copilot(where, pid, cfg, auth, env, problems),
        codex_login=resolve_codex_login(where, pid, cfg, auth, env, problems),
        accounts=gather_accounts(pid, cfg, auth, problems),
        project=place.project,
        location=place.location,
        credentials_file=place.credentials_file,
    )


def _connection_problems(where: str, cfg: ProviderConfig, base_url: str | None) -> list[str]:
    """The URLs, timeouts and extra headers of one provider table, checked."""
    lines = []
    if base_url and not base_url.startswith(("http://", "https://")):
        lines.append(f"{where}.base_url: must start with http:// or https://, got {base_url!r}")
    if cfg.models_url is not None and not cfg.models_url.startswith(("http://", "https://")):
        lines.append(f"{where}.models_url: must start with http:// or https://")
    for name in ("connect_timeout", "read_timeout"):
        value = getattr(cfg, name)
        if not value > 0:
            lines.append(f"{where}.{name}: must be > 0 seconds, got {value}")
    return lines + _header_problems(where, cfg.headers)


def _key_source(auth: Auth, found: str | None, keys: tuple[ApiKey, ...]) -> str | None:
    """Where the provider's credential comes from, as ``config show`` and /healthz name it."""
    if auth in ("codex", "copilot", "google"):
        return auth
    if auth == "entra" or (auth == "azure" and found is None and not keys):
        return "entra id"
    return found or (keys[0].label if keys else None) or KEYLESS_SOURCES.get(auth)


def _codex_problems(
    where: str,
    cfg: ProviderConfig,
    api: Api | None,
    auth: Auth,
    env: Mapping[str, str],
    problems: list[str],
) -> str | None:
    """For ``auth = "codex"``: the Codex home (config, else ``$CODEX_HOME``, else ``~/.codex``,
    the Codex CLI's own order). Codex settings on any other provider are reported, not ignored."""
    if auth != "codex":
        for name in ("codex_home", "token_url"):
            if getattr(cfg, name) is not None:
                problems.append(f'{where}.{name}: only used with auth = "codex"')
        return None
    if api != "responses":
        problems.append(f'{where}.auth: "codex" needs api = "responses", got {api!r}')
    if cfg.token_url is not None and not cfg.token_url.startswith(("http://", "https://")):
        problems.append(f"{where}.token_url: must start with http:// or https://")
    home = cfg.codex_home or env.get("CODEX_HOME", "").strip()
    if not home:
        return os.path.join(env.get("HOME") or os.path.expanduser("~"), ".codex")
    if home.startswith("~"):
        home = (env.get("HOME") or os.path.expanduser("~")) + home[1:]
    return home


def _base_url(
    where: str,
    cfg: ProviderConfig,
    preset: ProviderPreset | None,
    env: Mapping[str, str],
    problems: list[str],
) -> str | None:
    """The file's ``base_url``, else ``<ID>_BASE_URL``, else the catalogue's URL."""
    if cfg.base_url:
        return cfg.base_url
    if preset is None:
        problems.append(f"{where}.base_url: required for a provider not in the catalogue")
        return None
    try:
        return catalog.base_url_for(preset, env)
    except ValueError as exc:  # a placeholder variable is missing, or the override is no URL
        problems.append(f"{where}.base_url: {exc}")
        return None


# RFC 9110 5.1/5.5: a field name is a token; a value must not hold CR, LF or NUL (header
# injection), which aiohttp would otherwise only refuse on the first request.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _header_problems(where: str, headers: Mapping[str, str]) -> list[str]:
    lines = []
    for name, value in headers.items():
        if not _TOKEN.match(name):
            lines.append(f"{where}.headers: {name!r} is not a valid header name")
        elif any(c in value for c in "\r\n\0"):
            lines.append(f"{where}.headers.{name}: value must not contain line breaks")
    return lines


def _default_auth(api: Api | None) -> Auth:
    # Anthropic's API authenticates with x-api-key; OpenAI-style APIs with a bearer token.
    return "x-api-key" if api == "anthropic" else "bearer"


def _find_key(
    pid: str,
    cfg: ProviderConfig,
    preset: ProviderPreset | None,
    env: Mapping[str, str],
    problems: list[str],
) -> tuple[str | None, str | None]:
    """Key order: ``api_key_env`` (else the catalogue's variables), then ``api_key`` in the file."""
    names = (cfg.api_key_env,) if cfg.api_key_env else (preset.key_env if preset else ())
    key, source = _env_key(names, env)
    if key is None and cfg.api_key:
        key, source = cfg.api_key, "file"
    needs_key = preset.needs_key if preset else True
    # Codex and Copilot providers authenticate with a login, Azure ones may with Entra ID.
    listed = cfg.api_keys_env is not None or cfg.api_keys is not None  # gather_keys checks them
    auth = cfg.auth or (preset.auth if preset else None)
    if key is None and needs_key and auth not in KEYLESS_AUTH and not listed:
        wanted = " or ".join(names) if names else "a variable named by api_key_env"
        hint = "" if preset else ' (or set auth = "none" for a server without keys)'
        problems.append(f"providers.{pid}: no API key found: set {wanted}{hint}")
    return key, source


def _profile(
    where: str, overrides: Mapping[str, object], base: ProviderProfile, problems: list[str]
) -> ProviderProfile | None:
    hints = typing.get_type_hints(ProviderProfile)
    changes: dict[str, Any] = {}
    ok = True
    for key, value in overrides.items():
        if key not in hints:
            problems.append(unknown_key((*where.split("."), "profile"), key, list(hints)))
            ok = False
            continue
        try:
            changes[key] = CONVERTER.structure(value, hints[key])
        except Exception as exc:
            problems.extend(problem_lines(exc, (*where.split("."), "profile", key)))
            ok = False
    return dataclasses.replace(base, **changes) if ok else None
