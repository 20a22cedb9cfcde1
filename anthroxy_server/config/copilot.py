"""The ``[providers.copilot]`` settings resolved: the GitHub host, every URL the login and the
token exchange use, and where the login is stored (docs/providers/copilot.md).

github.com's URLs are GitHub's documented device flow (``/login/device/code``,
``/login/oauth/access_token``) and the token exchange editors use
(``api.github.com/copilot_internal/v2/token``). An Enterprise host follows GitHub's API layouts:
``api.<host>`` for GHE.com (data residency), ``<host>/api/v3`` for GHE Server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from .paths import credentials_dir
from .schema import Auth, CopilotSettings, ProviderConfig

DEFAULT_DOMAIN = "github.com"
URL_KEYS = ("device_code_url", "access_token_url", "copilot_token_url", "user_url")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")


def api_root(domain: str) -> str:
    """GitHub's REST API root for a host."""
    if domain == DEFAULT_DOMAIN:
        return "https://api.github.com"
    if domain.endswith(".ghe.com"):
        return f"https://api.{domain}"
    return f"https://{domain}/api/v3"


def resolve_copilot(
    where: str,
    pid: str,
    cfg: ProviderConfig,
    auth: Auth,
    env: Mapping[str, str],
    problems: list[str],
) -> CopilotSettings | None:
    """The provider's Copilot settings for ``auth = "copilot"``; Copilot keys anywhere else are
    reported, not ignored."""
    keys = ("github_domain", *URL_KEYS)
    if auth != "copilot":
        problems.extend(
            f'{where}.{name}: only used with auth = "copilot"'
            for name in keys
            if getattr(cfg, name) is not None
        )
        return None
    domain = (cfg.github_domain or DEFAULT_DOMAIN).strip().lower()
    if domain.startswith(("http://", "https://")) or not _DOMAIN.match(domain):
        problems.append(f'{where}.github_domain: a host name such as "example.ghe.com"')
        return None
    for name in URL_KEYS:
        value = getattr(cfg, name)
        if value is not None and not value.startswith(("http://", "https://")):
            problems.append(f"{where}.{name}: must start with http:// or https://")
    api = api_root(domain)
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    return CopilotSettings(
        domain=domain,
        device_code_url=cfg.device_code_url or f"https://{domain}/login/device/code",
        access_token_url=cfg.access_token_url or f"https://{domain}/login/oauth/access_token",
        copilot_token_url=cfg.copilot_token_url or f"{api}/copilot_internal/v2/token",
        user_url=cfg.user_url or f"{api}/user",
        credentials_file=str(credentials_dir(env, home) / f"{pid}.json"),
        pinned_api=cfg.base_url is not None,
    )
