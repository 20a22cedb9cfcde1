"""The ``[providers.chatgpt]`` login settings resolved: the URLs ``anthroxy login chatgpt`` uses
and the file it writes (docs/providers/chatgpt.md).

The defaults are the endpoints of the Codex CLI's device-code login (openai/codex,
``codex-rs/login/src/device_code_auth.rs``): the code from ``/api/accounts/deviceauth/usercode``,
the polls to ``/api/accounts/deviceauth/token``, the person enters the code at ``/codex/device``,
all on ``https://auth.openai.com``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .paths import credentials_dir
from .schema import Auth, CodexLogin, ProviderConfig

ISSUER = "https://auth.openai.com"
DEFAULTS = {
    "device_auth_url": f"{ISSUER}/api/accounts/deviceauth/usercode",
    "device_token_url": f"{ISSUER}/api/accounts/deviceauth/token",
    "verification_url": f"{ISSUER}/codex/device",
}


def resolve_codex_login(
    where: str,
    pid: str,
    cfg: ProviderConfig,
    auth: Auth,
    env: Mapping[str, str],
    problems: list[str],
) -> CodexLogin | None:
    """The login settings for ``auth = "codex"``; the keys anywhere else are reported."""
    if auth != "codex":
        problems.extend(
            f'{where}.{name}: only used with auth = "codex"'
            for name in DEFAULTS
            if getattr(cfg, name) is not None
        )
        return None
    urls = {name: getattr(cfg, name) or default for name, default in DEFAULTS.items()}
    for name, value in urls.items():
        if not value.startswith(("http://", "https://")):
            problems.append(f"{where}.{name}: must start with http:// or https://")
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    return CodexLogin(login_file=str(credentials_dir(env, home) / f"{pid}.json"), **urls)
