"""``anthroxy config show``: every effective value, secrets masked, labelled with where it came
from (a file, a variable, a flag)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config.schema import Settings


_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie")


def mask_secret(value: str) -> str:
    """``sk-…abcd`` for a long secret (enough to tell two keys apart), ``***`` otherwise."""
    if not value:
        return ""
    if len(value) >= 16:
        return f"{value[:3]}…{value[-4:]}"
    return "***"


def _is_secret(dotted: str) -> bool:
    leaf = dotted.rsplit(".", 1)[-1]
    if leaf in ("api_key", "api_keys", "auth_token", "metrics_token"):
        return True
    return ".headers." in dotted and any(w in leaf.lower() for w in _SECRET_HEADER_WORDS)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), sub)
    else:
        yield prefix, value


def _line(key: str, value: Any, source: str) -> str:
    if isinstance(value, str) and _is_secret(key):
        value = mask_secret(value)
    elif isinstance(value, list) and _is_secret(key):  # api_keys
        value = [mask_secret(str(v)) for v in value]
    shown = "(none)" if value is None else json.dumps(value, ensure_ascii=False)
    return f"{key} = {shown}".ljust(60) + f"  # {source}"


def show_config_lines(settings: Settings, env: Mapping[str, str]) -> list[str]:
    import attrs

    origins = settings.origins
    lines = [f"# files read: {', '.join(settings.sources) or '(none: built-in defaults)'}"]
    config = attrs.asdict(settings.config)
    for key, value in _flatten("", config):
        source = origins.get(key, "default")
        if source == "default" and key.startswith("providers."):
            source = "default (see resolved values below)"
        if key.startswith("tiers.") and key not in origins:
            source = "default (first usable provider)"
        lines.append(_line(key, value, source))
    lines.append("# providers as resolved (catalogue + file + environment)")
    for pid, p in settings.providers.items():
        url_env = f"{pid.upper().replace('-', '_')}_BASE_URL"
        url_src = origins.get(f"providers.{pid}.base_url") or (
            f"env:{url_env}" if env.get(url_env) else "catalogue"
        )
        lines.append(_line(f"{pid}.api", p.api, origins.get(f"providers.{pid}.api", "catalogue")))
        lines.append(_line(f"{pid}.base_url", p.base_url, url_src))
        lines.append(_line(f"{pid}.auth", p.auth, "resolved"))
        key_src = p.key_source or "missing"
        key_src = origins.get(f"providers.{pid}.api_key", "file") if key_src == "file" else key_src
        lines.append(_line(f"{pid}.api_key", p.api_key, key_src))
        # What changes in its requests (docs/providers.md lists each catalogue rule).
        rules = [_rule_text(rule) for rule in p.cleaner.rules]
        lines.append(_line(f"{pid}.cleaner", rules, "resolved"))
        lines.append(_line(f"{pid}.thinking_signatures", p.cleaner.signer, "resolved"))
    return lines


def _rule_text(rule: Any) -> str:
    """A cleaner rule in a few words: its kind, what it names, where it comes from."""
    name = getattr(rule, "path", None) or getattr(rule, "type", "")
    return f"{type(rule).__name__} {name} ({rule.source})".replace("  ", " ")
