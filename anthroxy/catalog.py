"""Built-in provider presets: base URL, dialect, key variables and quirks of each known provider.

CONTRACT (stub written by the lead; the catalogue helper fills in CATALOG and the functions,
keeping the names). Pure data: environment values are passed in, never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .profile import DEFAULT_PROFILE, Dialect, ProviderProfile

AuthStyle = Literal["bearer", "x-api-key", "none"]


@dataclass(frozen=True, slots=True)
class ProviderPreset:
    id: str  # "deepseek", "groq", "openrouter", ...
    name: str  # display name: "DeepSeek"
    api: Dialect  # "anthropic" | "chat" | "responses"
    base_url: str  # for chat: ends before /chat/completions; for anthropic: before /v1/messages
    key_env: tuple[str, ...]  # key variables, first present wins ("ZAI_API_KEY", "ZHIPU_API_KEY")
    auth: AuthStyle = "bearer"
    needs_key: bool = True  # False for local servers (Ollama, LM Studio)
    profile: ProviderProfile = DEFAULT_PROFILE
    models: tuple[str, ...] = field(default=())  # well-known model names
    default_model: str | None = None

    @property
    def base_url_env(self) -> str:
        """``<PROVIDER>_BASE_URL`` override variable, e.g. ``DEEPSEEK_BASE_URL``."""
        return f"{self.id.upper().replace('-', '_')}_BASE_URL"


CATALOG: Mapping[str, ProviderPreset] = {}


def find_key(preset: ProviderPreset, env: Mapping[str, str]) -> str | None:
    """The first non-empty key variable of ``preset`` in ``env``."""
    raise NotImplementedError
