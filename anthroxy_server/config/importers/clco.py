"""clco-proxy's ``~/.clco-proxy/config.json``, as the README of its npm package documents it
(https://www.npmjs.com/package/clco-proxy; its minimal and its full example):

    {"port": 8080,
     "providers": [{"id": "...", "name": "...", "apiKey": "...", "baseUrl": "...",
                    "models": ["..."], "anthropicCompat": true}],
     "modelMapping": {"opus": {"provider": "<id>", "model": "..."}, "sonnet": ..., "haiku": ...,
                      "default": ...}}

A provider whose ``baseUrl`` is a catalogue provider's becomes that catalogue id (its cleaner and
profile apply); any other becomes ``[providers.<id>]`` with ``api`` from ``anthropicCompat``
(Mode A, pass-through -> ``anthropic``; Mode B, translation -> ``chat``).

Subscriptions (its "Subscription Stealth"): an entry with id ``chatgpt`` or ``codex`` is the
ChatGPT subscription through the Codex CLI's login, anthroxy's ``chatgpt`` provider
(docs/providers/chatgpt.md); ``gemini`` is Gemini with its AI Studio key, like any key; GitHub
Copilot is anthroxy's ``copilot`` provider, logged in with ``anthroxy login copilot``
(docs/providers/copilot.md).

``@auto``, ``@auto:pro``, ``@auto:flash`` ask clco-proxy to pick the newest model from the
provider's live list; anthroxy's targets do the same (``provider/@auto:pro``, docs/configuration.md
"Live model lists and @auto"), so they carry over as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import Imported, provider_entry, server_entry, unknown_keys

_TOP = {"port", "providers", "modelMapping"}
_PROVIDER = {"id", "name", "apiKey", "baseUrl", "models", "anthropicCompat"}
_TIERS = ("opus", "sonnet", "haiku", "default")
_CHATGPT = {"chatgpt", "codex"}
_COPILOT = {"copilot", "github-copilot"}


def from_clco(data: Mapping[str, Any]) -> Imported:
    result = Imported("clco-proxy")
    server_entry(result, "port", None, data.get("port"))
    providers = data.get("providers")
    if providers is not None and not isinstance(providers, list):
        result.dropped.append("providers: not a list")
    unsupported: set[str] = set()
    for i, p in enumerate(providers if isinstance(providers, list) else []):
        if not isinstance(p, dict) or not isinstance(p.get("id"), str) or not p["id"]:
            result.dropped.append(f"providers[{i}]: not an object with an id")
            continue
        where = f"providers[{i}] ({p['id']})"
        if not _provider(result, where, p):
            unsupported.add(p["id"])
        unknown_keys(result, f"{where}.", p, _PROVIDER)
    mapping = data.get("modelMapping")
    for tier, entry in (mapping if isinstance(mapping, dict) else {}).items():
        _tier(result, f"modelMapping.{tier}", tier, entry, unsupported)
    unknown_keys(result, "", data, _TOP)
    return result


def _provider(result: Imported, where: str, p: Mapping[str, Any]) -> bool:
    """Add one provider; False when anthroxy cannot serve it (reported here)."""
    sid = p["id"]
    url = p.get("baseUrl") if isinstance(p.get("baseUrl"), str) else None
    if sid.lower() in _COPILOT or (url and "githubcopilot.com" in url):
        result.ids[sid] = "copilot"
        result.set("providers", "copilot", {})
        result.changed.append(
            f"{where} → [providers.copilot]: the GitHub Copilot subscription; log in once with "
            "`anthroxy login copilot` (GitHub's device flow, as clco-proxy's login)"
        )
    elif sid.lower() in _CHATGPT:
        result.ids[sid] = "chatgpt"
        result.set("providers", "chatgpt", {})
        result.changed.append(
            f"{where} → [providers.chatgpt]: the ChatGPT subscription through the Codex CLI's "
            "login (~/.codex/auth.json, as clco-proxy read it; `codex login` if it is missing)"
        )
    else:
        api = "anthropic" if p.get("anthropicCompat") is True else "chat"
        provider_entry(result, where, sid, url, api, p.get("apiKey"))
    models = [m for m in p.get("models") or [] if isinstance(m, str) and m]
    if models:
        result.set("providers", result.ids[sid], "models", models)
    return True


def _tier(result: Imported, where: str, tier: str, entry: object, unsupported: set[str]) -> None:
    if tier not in _TIERS:
        result.dropped.append(f"{where}: anthroxy's tiers are {', '.join(_TIERS)}")
        return
    provider = entry.get("provider") if isinstance(entry, dict) else None
    model = entry.get("model") if isinstance(entry, dict) else None
    if not isinstance(provider, str) or not isinstance(model, str) or not model:
        result.dropped.append(f"{where}: not {{provider, model}}")
        return
    if provider in unsupported:
        result.dropped.append(f"{where}: provider {provider!r} is not supported yet")
        return
    target = result.target(where, provider, model)
    if target is not None:
        result.set("tiers", tier, target)
