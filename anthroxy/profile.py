"""What a translator needs to know about one upstream: its quirks (a ProviderProfile) and the
concrete model a request goes to (a Target).

Profiles are frozen values built once per provider (from the catalogue, overridable in the
server's config) and shared read-only by every request. Each field documents the upstream
behaviour it exists for, so a new provider is described, not special-cased in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dialect = Literal["anthropic", "chat", "responses"]

# How the Anthropic ``thinking`` request field reaches a Chat Completions upstream.
#   none             -> dropped
#   reasoning_effort -> ``reasoning_effort: low|medium|high`` (OpenAI, most compat servers)
#   openrouter       -> ``reasoning: {effort}`` or ``reasoning: {max_tokens}``
#   deepseek         -> ``thinking: {type: enabled}`` (DeepSeek's OpenAI endpoint)
ReasoningParam = Literal["none", "reasoning_effort", "openrouter", "deepseek"]

# What happens to assistant ``thinking`` blocks of unknown origin in history sent to a Chat
# Completions upstream. A block anthroxy signed on a Chat reply names its producer and goes back to
# that provider and model only, in its own field, whatever this says (chat/replay.py).
#   drop              -> removed (ordinary providers)
#   reasoning_content -> joined text replayed as ``reasoning_content`` on the assistant message,
#                        and the key sent empty on every tool-call turn without it
#                        (DeepSeek thinking mode refuses tool loops without it; Kimi, GLM, Qwen)
#   reasoning_details -> OpenRouter's ``reasoning_details`` list, decoded from our signature
ThinkingReplay = Literal["drop", "reasoning_content", "reasoning_details"]

# Which JSON Schema subset tool parameters must fit.
#   openai     -> drop only ``$schema`` (OpenAI and most compat servers accept the rest)
#   gemini     -> Gemini's OpenAPI-3.0-like subset (docs/protocol/chat-completions.md §7.4)
#   passthrough-> unchanged
SchemaDialect = Literal["openai", "gemini", "passthrough"]

# Which tool call ids the upstream accepts in history (``ids.upstream_tool_id``).
#   any    -> any string up to ``tool_call_id_max`` characters (OpenAI and most compat servers)
#   alnum9 -> exactly 9 characters of [a-zA-Z0-9]; Mistral answers 400 "Tool call id was ... but
#             must be a-z, A-Z, 0-9, with a length of 9" to anything else
ToolCallIdStyle = Literal["any", "alnum9"]


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """Per-provider behaviour flags for the Chat Completions and Responses translators."""

    # ``max_tokens`` (most compat servers) or ``max_completion_tokens`` (OpenAI reasoning models
    # reject ``max_tokens`` with 400 unsupported_parameter).
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    reasoning_param: ReasoningParam = "none"
    thinking_replay: ThinkingReplay = "drop"
    schema_dialect: SchemaDialect = "openai"
    # OpenAI's Chat API takes ``{"type":"file"}`` parts with a PDF; most compat servers do not.
    accepts_pdf: bool = False
    # ``system`` for almost everyone; OpenAI's o-series/gpt-5 also accept ``developer``.
    system_role: Literal["system", "developer"] = "system"
    # Function names longer than this are shortened reversibly (OpenAI: 64).
    tool_name_max: int = 64
    # Gemini: function names must start with a letter or an underscore.
    tool_name_must_start_alpha: bool = False
    # Longest tool call id the upstream accepts in history (OpenAI enforces 40).
    tool_call_id_max: int = 40
    tool_call_id_style: ToolCallIdStyle = "any"
    # Where ``metadata.user_id`` goes, hashed to at most ``user_max`` characters.
    user_field: Literal["user", "safety_identifier", "none"] = "user"
    user_max: int = 64
    # How many ``stop`` strings the upstream takes: OpenAI's Chat Completions and most servers
    # modelled on it take at most 4 (docs/protocol/chat-completions.md §2); Anthropic has no
    # limit. The first ones go upstream; None: all.
    stop_max: int | None = 4
    # ``stream_options: {include_usage: true}``: without it OpenAI sends no usage in a stream.
    stream_usage: bool = True
    # Gemini 3: tool calls carry ``extra_content.google.thought_signature`` that must be replayed;
    # a turn with none gets Google's placeholder. (Signatures go back to the model that made them
    # either way; this adds the placeholder and the replay of signatures of unknown origin.)
    thought_signatures: bool = False
    # Responses API: ``store: false`` plus ``include: ["reasoning.encrypted_content"]``.
    responses_stateless: bool = True
    # ``anthropic-beta`` values an Anthropic-dialect upstream refuses (prefix match); "*" = all.
    drop_betas: tuple[str, ...] = ()


DEFAULT_PROFILE = ProviderProfile()


@dataclass(frozen=True, slots=True)
class Target:
    """The upstream model one request goes to, with everything the translators need."""

    provider: str  # provider id, used in error messages ("deepseek", "mock")
    model: str  # the upstream's model name
    profile: ProviderProfile = DEFAULT_PROFILE
    max_output_tokens: int | None = None  # known output cap: max_tokens is clamped to it
    context_window: int | None = None  # known input window, for the too-long check
