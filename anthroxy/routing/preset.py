"""What a catalogue entry is (``ProviderPreset``), the ways a provider authenticates, and the
request profiles several entries share (``catalog.py`` lists the entries)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..cleaning import NO_RULES, Cleaner
from ..profile import DEFAULT_PROFILE, Dialect, ProviderProfile

# "codex": the Codex CLI's ChatGPT login (auth.json with OAuth tokens), not an API key.
# "copilot": a GitHub login exchanged for Copilot tokens (`anthroxy login copilot`).
# "azure": the key in Azure's ``api-key`` header; without a key, a Microsoft Entra ID token.
# "google": Google Application Default Credentials (Vertex AI), not an API key.
# "bedrock": a Bedrock API key, else AWS SigV4 with the AWS credential chain.
AuthStyle = Literal[
    "bearer", "x-api-key", "none", "codex", "copilot", "azure", "google", "bedrock"
]  # fmt: skip

# The day the ``checked`` pages below were read (docs/providers.md, "verified").
CHECKED_ON = "2026-12-04"
PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


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
    # False for local servers that must be asked for explicitly (config or <ID>_BASE_URL):
    # probing every localhost port a user might not run would only produce connection errors.
    auto_enable: bool = True
    local: bool = False  # a server on this machine (plain http allowed)
    # What changes in a request before this provider sees it (for its own ``api`` only).
    cleaner: Cleaner = NO_RULES
    variant_of: str | None = None  # the base preset of a region/plan variant ("glm" for glm-cn)
    verified: str = ""  # ISO day the URL was checked against ``source`` ("" = not checked)
    source: str = ""  # the provider's own page that documents ``base_url``

    @property
    def base_url_env(self) -> str:
        """``<PROVIDER>_BASE_URL`` override variable, e.g. ``DEEPSEEK_BASE_URL``."""
        return f"{self.id.upper().replace('-', '_')}_BASE_URL"

    @property
    def url_vars(self) -> tuple[str, ...]:
        """Environment variables the built-in ``base_url`` needs (``{NAME}`` placeholders)."""
        return tuple(PLACEHOLDER.findall(self.base_url))


# Third-party Anthropic-compatible endpoint: drop anthropic-beta (see module docstring).
ANTHROPIC_COMPAT = ProviderProfile(drop_betas=("*",))
OPENAI = ProviderProfile(
    # gpt-5*/o* reject max_tokens (docs/protocol/chat-completions.md §2)
    max_tokens_field="max_completion_tokens",
    reasoning_param="reasoning_effort",
    accepts_pdf=True,
)
GEMINI = ProviderProfile(
    reasoning_param="reasoning_effort",
    schema_dialect="gemini",
    tool_name_must_start_alpha=True,
    thought_signatures=True,
    user_field="none",  # Gemini's compat layer rejects unknown fields ("Unknown name")
)
# Mistral answers 400 to any tool call id in history that is not 9 characters of [a-zA-Z0-9].
MISTRAL = ProviderProfile(tool_call_id_style="alnum9")
OPENROUTER = ProviderProfile(
    reasoning_param="openrouter",
    thinking_replay="reasoning_details",
    # OpenRouter caps ``user`` at 128 characters (docs/protocol/chat-completions.md §7.3)
    user_max=128,
)
