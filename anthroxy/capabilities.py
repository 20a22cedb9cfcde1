"""What a model can take: context window, output cap, and support for tools, images, thinking
and tool_choice, for the catalogue's well-known models.

``lookup(model)`` matches, on the lower-cased name: the exact name; then the name's last ``/``
segment (so ``openrouter``'s ``deepseek/deepseek-v4-pro``, Fireworks'
``accounts/fireworks/models/...`` and Cloudflare's ``@cf/openai/gpt-oss-120b`` find the same
row); then the longest family prefix of either (``gpt-5.4-mini`` -> ``gpt-5``). Ollama-style
tags (``gpt-oss:120b``) are read with ``-`` for ``:``. Anything else gets ``DEFAULT_LIMITS``.

``DEFAULT_LIMITS`` (unknown models) are chosen so Claude Code keeps working:
* ``max_output_tokens=8192``: Claude Code asks 32000 for unknown ids; many compatible servers
  refuse a ``max_tokens`` above their cap with a final 400, while an answer cut at 8192 ends with
  ``stop_reason: max_tokens`` and Claude Code simply continues.
* ``context_window=128_000``: the common floor of current models.
* ``tools=True``, ``images=True``, ``tool_choice=True``: refusing a feature the model actually
  has breaks Claude Code for good; if the model lacks it, the upstream's own error says so.
* ``thinking=False``: reasoning controls (``reasoning_effort`` ...) sent to a non-reasoning model
  are a 400 on OpenAI-style servers, while not sending them only costs the thinking.

Numbers come from the providers' model pages where known; rows marked "uncertain" are best
knowledge (2026-11) and only shape clamping and refusals, never the wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ModelLimits:
    context_window: int
    max_output_tokens: int
    tools: bool
    images: bool
    thinking: bool
    tool_choice: bool


DEFAULT_LIMITS = ModelLimits(
    context_window=128_000,
    max_output_tokens=8192,
    tools=True,
    images=True,
    thinking=False,
    tool_choice=True,
)


def _m(
    context: int,
    output: int,
    *,
    images: bool = False,
    thinking: bool = False,
    tools: bool = True,
    tool_choice: bool = True,
) -> ModelLimits:
    return ModelLimits(context, output, tools, images, thinking, tool_choice)


_K = 1024
_1M = 1_000_000
_GEMINI = _m(1_048_576, 65_536, images=True, thinking=True)

# Exact model names (lower case).
_EXACT: Mapping[str, ModelLimits] = MappingProxyType({
    # Anthropic
    "claude-opus-4-6": _m(_1M, 128_000, images=True, thinking=True),  # uncertain: 1M window
    "claude-sonnet-4-6": _m(_1M, 64_000, images=True, thinking=True),  # uncertain: 1M window
    "claude-opus-4-5": _m(200_000, 64_000, images=True, thinking=True),
    "claude-sonnet-4-5": _m(200_000, 64_000, images=True, thinking=True),
    "claude-haiku-4-5": _m(200_000, 64_000, images=True, thinking=True),
    # DeepSeek (Anthropic endpoint: no image or document blocks)
    "deepseek-v4-pro": _m(_1M, 384_000, thinking=True),  # uncertain: window
    "deepseek-v4-flash": _m(_1M, 384_000, thinking=True),  # uncertain: window
    "deepseek-chat": _m(128_000, 8192),
    "deepseek-reasoner": _m(128_000, 64_000, thinking=True),
    # Z.AI GLM
    "glm-4.6": _m(200_000, 128_000, thinking=True),
    "glm-4.5-air": _m(128_000, 96_000, thinking=True),
    "glm-5": _m(200_000, 128_000, thinking=True),  # uncertain
    # Moonshot Kimi
    "kimi-k2.6": _m(256 * _K, 32_768, images=True, thinking=True),  # uncertain
    "kimi-k2.5": _m(256 * _K, 32_768, images=True, thinking=True),  # uncertain
    "kimi-k2-thinking": _m(256 * _K, 32_768, thinking=True),
    "kimi-k2-turbo-preview": _m(256 * _K, 32_768),
    # MiniMax
    "minimax-m2.7": _m(204_800, 128_000, thinking=True),  # uncertain: output
    "minimax-m2.5": _m(204_800, 128_000, thinking=True),  # uncertain: output
    "minimax-m2": _m(204_800, 128_000, thinking=True),
    # Qwen (DashScope)
    "qwen3.5-plus": _m(_1M, 65_536, images=True, thinking=True),  # uncertain: images
    "qwen3-max": _m(262_144, 65_536, thinking=True),
    "qwen3-coder-plus": _m(_1M, 65_536),
    "qwen-flash": _m(_1M, 32_768, thinking=True),
    # Xiaomi MiMo
    "mimo-v2.5-pro": _m(_1M, 131_072, thinking=True),  # uncertain
    "mimo-v2-flash": _m(256 * _K, 65_536, thinking=True),  # uncertain
    # Google Gemini
    "gemini-3.1-pro-preview": _GEMINI,
    "gemini-3-pro-preview": _GEMINI,
    "gemini-3-flash-preview": _GEMINI,
    "gemini-2.5-pro": _GEMINI,
    "gemini-2.5-flash": _GEMINI,
    # OpenAI
    "gpt-4.1": _m(1_047_576, 32_768, images=True),
    "gpt-4o": _m(128_000, 16_384, images=True),
    "gpt-oss-120b": _m(131_072, 32_768, thinking=True),  # output: varies by host
    "gpt-oss-20b": _m(131_072, 32_768, thinking=True),
    # Groq-hosted Llama
    "llama-3.1-8b-instant": _m(131_072, 131_072),
    "llama-3.3-70b-versatile": _m(131_072, 32_768),
    # Perplexity: Sonar takes images but no tools
    "sonar": _m(128_000, 8192, images=True, tools=False, tool_choice=False),
    "sonar-pro": _m(200_000, 8192, images=True, tools=False, tool_choice=False),
    "sonar-reasoning-pro": _m(128_000, 8192, images=True, thinking=True, tools=False,
                              tool_choice=False),
    # Cohere
    "command-a-03-2025": _m(256_000, 8192),
    "command-a-reasoning-08-2025": _m(256_000, 32_768, thinking=True),
    # xAI
    "grok-4": _m(256_000, 64_000, images=True, thinking=True),  # uncertain: output
    "grok-code-fast-1": _m(256_000, 32_768, thinking=True),  # uncertain: output
    "grok-4-fast-reasoning": _m(2_000_000, 30_000, images=True, thinking=True),  # uncertain
    # Others
    "jamba-large": _m(256_000, 4096),  # uncertain: output
    "jamba-mini": _m(256_000, 4096),  # uncertain: output
    "hermes-4-405b": _m(131_072, 32_768, thinking=True),  # uncertain: output
    "hermes-4-70b": _m(131_072, 32_768, thinking=True),  # uncertain: output
    "step-3": _m(65_536, 8192, images=True, thinking=True),  # uncertain
    "step-2-16k": _m(16_384, 4096),  # uncertain: output
    "zai-glm-4.6": _m(131_072, 40_960, thinking=True),  # Cerebras-hosted GLM; uncertain
})  # fmt: skip

# Family prefixes (lower case); the longest matching prefix wins.
_FAMILIES: Mapping[str, ModelLimits] = MappingProxyType({
    "claude-": _m(200_000, 32_000, images=True, thinking=True),
    "claude-opus-4": _m(200_000, 32_000, images=True, thinking=True),
    "claude-sonnet-4": _m(200_000, 64_000, images=True, thinking=True),
    "claude-haiku-4": _m(200_000, 64_000, images=True, thinking=True),
    "claude-3-5-haiku": _m(200_000, 8192, images=True),
    "deepseek-v4": _m(_1M, 384_000, thinking=True),  # uncertain: window
    "deepseek-v3": _m(128_000, 8192),
    "deepseek-r1": _m(128_000, 32_768, thinking=True),
    "glm-4.5v": _m(64_000, 16_384, images=True, thinking=True),
    "glm-": _m(128_000, 32_768, thinking=True),
    "kimi-k2": _m(256 * _K, 32_768),
    "minimax-m": _m(204_800, 128_000, thinking=True),
    "qwen3-coder": _m(262_144, 65_536),
    "qwen3-vl": _m(262_144, 32_768, images=True),
    "qwen3": _m(131_072, 32_768, thinking=True),
    "qwen-": _m(131_072, 8192),
    "mimo-": _m(256 * _K, 65_536, thinking=True),  # uncertain
    "gemini-": _m(1_048_576, 8192, images=True),
    "gemini-2.5": _GEMINI,
    "gemini-3": _GEMINI,
    "gpt-5": _m(400_000, 128_000, images=True, thinking=True),
    "gpt-4.1": _m(1_047_576, 32_768, images=True),
    "gpt-4o": _m(128_000, 16_384, images=True),
    "gpt-oss": _m(131_072, 32_768, thinking=True),
    "o3": _m(200_000, 100_000, images=True, thinking=True),
    "o4-mini": _m(200_000, 100_000, images=True, thinking=True),
    "llama-4": _m(131_072, 8192, images=True),  # hosted windows vary; Meta's is larger
    "llama-3": _m(131_072, 8192),
    "meta-llama-3": _m(131_072, 8192),
    "mistral-large": _m(131_072, 32_768, images=True),  # uncertain: output
    "mistral-medium": _m(131_072, 32_768, images=True),  # uncertain: output
    "devstral": _m(131_072, 32_768),  # uncertain: output
    "codestral": _m(256_000, 32_768),  # uncertain: output
    "sonar": _m(128_000, 8192, images=True, tools=False, tool_choice=False),
    "command-": _m(128_000, 4096),
    "grok-4": _m(256_000, 64_000, images=True, thinking=True),  # uncertain: output
    "grok-code": _m(256_000, 32_768, thinking=True),  # uncertain: output
    "hermes-4": _m(131_072, 32_768, thinking=True),  # uncertain
    "doubao-seed": _m(256_000, 32_768, images=True, thinking=True),  # uncertain
    "trinity": _m(131_072, 32_768),  # uncertain
})  # fmt: skip

_PREFIXES: tuple[str, ...] = tuple(sorted(_FAMILIES, key=len, reverse=True))


def lookup(model: str) -> ModelLimits:
    """The limits of ``model`` (see the module docstring for the matching rules)."""
    name = model.lower().replace(":", "-")
    last = name.rpartition("/")[2]
    found = _EXACT.get(name) or _EXACT.get(last)
    if found is not None:
        return found
    for prefix in _PREFIXES:
        if name.startswith(prefix) or last.startswith(prefix):
            return _FAMILIES[prefix]
    return DEFAULT_LIMITS


def known_models() -> list[str]:
    """Every exactly-listed model name (lower case), for docs and tests."""
    return list(_EXACT)
