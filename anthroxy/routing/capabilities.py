"""What a model can take: context window, output cap, and support for tools, images, thinking
and tool_choice, for the catalogue's well-known models.

``lookup(model)`` matches, on the lower-cased name: the exact name; then the name's last ``/``
segment (so ``openrouter``'s ``deepseek/deepseek-v4-pro``, Fireworks'
``accounts/fireworks/models/...`` and Cloudflare's ``@cf/openai/gpt-oss-120b`` find the same
row); then the longest family prefix of either (``gpt-5.4-mini`` -> ``gpt-5``). Ollama-style
tags (``gpt-oss:120b``) are read with ``-`` for ``:``; Bedrock's model and inference-profile
ids lose their geography and vendor prefixes (``us.anthropic.claude-sonnet-4-5-…-v1:0`` ->
``claude-sonnet-4-5-…``). Anything else gets ``DEFAULT_LIMITS``.

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

Overrides (the server's ``[models."<upstream model>"]`` tables): ``parse_overrides`` validates
them once at start-up; ``lookup(model, overrides)`` then replaces the fields an override sets.
An override is found by the lower-cased model name, then by its last ``/`` segment.

``fit_request(body, limits, model=..., input_tokens=...)`` makes a Messages request fit a model
before any dialect sees it (every refusal happens without calling the upstream). It looks at the
client's body (an Anthropic upstream gets that body, unparsed); ``plan_fit`` gives the same
decisions as a ``Fit`` value, which applies to the body or to the parsed ``MessagesRequest``:

* estimated input above ``context_window``: 400 ``prompt is too long: N tokens > M maximum``
  (Claude Code compacts on that wording; docs/protocol/claude-code.md §5, anthropic.md §10.2);
* client tools on a model without tool support: 400 naming the model and the fix (Claude Code
  cannot work without its tools, so silently dropping them would only hide the problem; server
  tools such as ``web_search_*`` are left to the dialect, which runs or drops them);
* images (also inside ``tool_result``) on a text-only model: 400 naming the model;
* ``max_tokens`` above ``max_output_tokens``: clamped (Claude Code asks 32k-64k; many providers
  refuse more than their cap), and an ``enabled`` thinking budget kept below it
  (docs/protocol/anthropic.md §6: ``budget_tokens`` < ``max_tokens``; below Anthropic's 1024
  minimum, thinking is dropped);
* ``thinking`` on a model without reasoning, ``tool_choice`` on one without it: dropped.

It returns ``body`` itself when nothing changes (the server then forwards the raw bytes) and a
shallow copy otherwise; the caller's dict is never changed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from ..errors import InvalidRequest, UnsupportedFeature, json_path
from ..messages.request import MIN_THINKING_BUDGET, SERVER_TOOL_PREFIXES, MessagesRequest


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


# A validated override: the ModelLimits fields it sets (field name -> int or bool).
Override = Mapping[str, int | bool]
Overrides = Mapping[str, Override]  # lower-cased model name -> override
_INT_FIELDS = ("context_window", "max_output_tokens")
_BOOL_FIELDS = ("tools", "images", "thinking", "tool_choice")


def lookup(model: str, overrides: Overrides | None = None) -> ModelLimits:
    """The limits of ``model`` (see the module docstring for the matching rules), with the
    fields of a matching override (from ``parse_overrides``) replaced."""
    name = model.lower().replace(":", "-")
    last = _BEDROCK_PREFIX.sub("", name.rpartition("/")[2])
    limits = _table_row(name, last)
    if overrides:
        override = overrides.get(model.lower()) or overrides.get(name) or overrides.get(last)
        if override:
            # parse_overrides checked every key is a field and every value's type.
            limits = dataclasses.replace(limits, **cast(dict[str, Any], override))
    return limits


# Bedrock: an inference profile's geography (``us.``, ``eu.``, ``apac.``, ``global.``, ...),
# then the vendor (``anthropic.``, ``openai.``, ...); docs/providers/bedrock.md.
_BEDROCK_PREFIX = re.compile(r"^(?:[a-z]{2,6}\.)?(?:anthropic|openai|meta|mistral|deepseek|qwen)\.")


def _table_row(name: str, last: str) -> ModelLimits:
    found = _EXACT.get(name) or _EXACT.get(last)
    if found is not None:
        return found
    for prefix in _PREFIXES:
        if name.startswith(prefix) or last.startswith(prefix):
            return _FAMILIES[prefix]
    return DEFAULT_LIMITS


def parse_overrides(raw: Mapping[str, Mapping[str, object]]) -> Overrides:
    """Validated overrides keyed by lower-cased model name; ``None`` values mean "not set".

    Raises ``ValueError`` naming ``models."<name>".<field>`` for an unknown field, a non-positive
    or non-integer size, or a non-boolean flag.
    """
    parsed: dict[str, Override] = {}
    for model, fields in raw.items():
        where = f'models."{model}"'
        if not model:
            raise ValueError(f"{where}: the model name must not be empty")
        override: dict[str, int | bool] = {}
        for key, value in fields.items():
            if value is None:
                continue
            if key in _INT_FIELDS:
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"{where}.{key}: must be a positive integer, got {value!r}")
            elif key in _BOOL_FIELDS:
                if not isinstance(value, bool):
                    raise ValueError(f"{where}.{key}: must be true or false, got {value!r}")
            else:
                allowed = ", ".join((*_INT_FIELDS, *_BOOL_FIELDS))
                raise ValueError(f"{where}: unknown field {key!r}; allowed: {allowed}")
            override[key] = value
        parsed[model.lower()] = MappingProxyType(override)
    return MappingProxyType(parsed)


@dataclass(frozen=True, slots=True)
class Fit:
    """What fitting a request to a model changes (``plan_fit``); the default changes nothing.

    The same decisions apply to the client's body (``to_body``: an Anthropic upstream gets its
    bytes) and to the parsed request (``to_request``: the translating dialects render it).
    """

    max_tokens: int | None = None  # the clamped max_tokens
    budget_tokens: int | None = None  # the clamped ``enabled`` thinking budget
    drop_thinking: bool = False
    drop_tool_choice: bool = False

    def to_body(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """``body`` itself when nothing changes, else a shallow copy with the changes."""
        if self == NO_FIT:
            return body
        drop = {"thinking"} if self.drop_thinking else set()
        if self.drop_tool_choice:
            drop.add("tool_choice")
        fitted = {k: v for k, v in body.items() if k not in drop}
        if self.max_tokens is not None:
            fitted["max_tokens"] = self.max_tokens
        if self.budget_tokens is not None and not self.drop_thinking:
            fitted["thinking"] = {**body["thinking"], "budget_tokens": self.budget_tokens}
        return fitted

    def to_request(self, request: MessagesRequest) -> MessagesRequest:
        """``request`` itself when nothing changes, else a copy with the changes."""
        if self == NO_FIT:
            return request
        thinking = None if self.drop_thinking else request.thinking
        if thinking is not None and self.budget_tokens is not None:
            thinking = dataclasses.replace(thinking, budget_tokens=self.budget_tokens)
        return dataclasses.replace(
            request,
            max_tokens=request.max_tokens if self.max_tokens is None else self.max_tokens,
            thinking=thinking,
            tool_choice=None if self.drop_tool_choice else request.tool_choice,
        )


NO_FIT = Fit()


def fit_request(
    body: Mapping[str, Any], limits: ModelLimits, *, model: str, input_tokens: int
) -> Mapping[str, Any]:
    """``body`` made to fit ``limits`` (see the module docstring); raises InvalidRequest /
    UnsupportedFeature (400) for what cannot fit. ``model`` names the upstream model in errors.
    ``input_tokens`` is the input estimate, or any upper bound of it that fits the window."""
    return plan_fit(body, limits, model=model, input_tokens=input_tokens).to_body(body)


def plan_fit(body: Mapping[str, Any], limits: ModelLimits, *, model: str, input_tokens: int) -> Fit:
    """What ``fit_request`` would change in ``body``, as a Fit; raises like it."""
    if input_tokens > limits.context_window:
        raise InvalidRequest(
            f"prompt is too long: {input_tokens} tokens > {limits.context_window} maximum "
            f"(estimated by anthroxy for model '{model}'; if the model takes more, set "
            f'[models."{model}"] context_window in the config)',
            path="$.messages",
        )
    if not limits.tools:
        _refuse_client_tools(body.get("tools"), model)
    if not limits.images:
        _refuse_images(body.get("messages"), model)
    max_tokens = body.get("max_tokens")
    clamped = (
        isinstance(max_tokens, int)
        and not isinstance(max_tokens, bool)
        and max_tokens > limits.max_output_tokens
    )
    thinking = body.get("thinking")
    budget = None
    drop_thinking = thinking is not None and not limits.thinking
    cap = limits.max_output_tokens
    if clamped and not drop_thinking and _budget_reaches(thinking, cap):
        # The budget must stay below max_tokens; below Anthropic's minimum, no thinking at all.
        if cap - 1 < MIN_THINKING_BUDGET:
            drop_thinking = True
        else:
            budget = cap - 1
    return Fit(
        max_tokens=cap if clamped else None,
        budget_tokens=budget,
        drop_thinking=drop_thinking,
        drop_tool_choice="tool_choice" in body and not limits.tool_choice,
    )


def _budget_reaches(thinking: object, max_tokens: int) -> bool:
    """An ``enabled`` thinking whose budget is not below ``max_tokens``."""
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return False
    budget = thinking.get("budget_tokens")
    return isinstance(budget, int) and budget >= max_tokens


def _refuse_client_tools(tools: object, model: str) -> None:
    if not isinstance(tools, list):
        return
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if isinstance(kind, str) and kind.startswith(SERVER_TOOL_PREFIXES):
            continue
        raise UnsupportedFeature(
            f"model '{model}' does not support tools (function calling), and this request "
            "offers tools; route it to a model with tool support, or, if this model has it, "
            f'set [models."{model}"] tools = true in the config',
            path=json_path("$.tools", i),
        )


def _refuse_images(messages: object, model: str) -> None:
    if not isinstance(messages, list):
        return
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        path = _image_path(content, json_path(json_path("$.messages", i), "content"))
        if path is not None:
            raise UnsupportedFeature(
                f"model '{model}' does not accept images, and this request carries one; "
                "route image requests to a vision model (e.g. [routing.scenarios] image), or, "
                f'if this model takes images, set [models."{model}"] images = true in the config',
                path=path,
            )


def _image_path(content: object, path: str) -> str | None:
    """The path of the first image block in ``content`` (a block list), tool results included."""
    if not isinstance(content, list):
        return None
    for j, block in enumerate(content):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "image":
            return json_path(path, j)
        if kind == "tool_result":
            inner = _image_path(block.get("content"), json_path(json_path(path, j), "content"))
            if inner is not None:
                return inner
    return None
