"""Anthropic Messages request -> OpenAI Responses API request (docs/protocol/responses.md §2, §3;
translation-rules.md).

``to_request(request, target, reply_model=..., input_tokens=...)`` renders a parsed request
(``messages.request.MessagesRequest``; a raw body is parsed first) and returns the Responses
body with the complete ReplyContext the reply side needs. The request was validated by the
parser; what is refused here is what a Responses upstream cannot carry (UnsupportedFeature with
the JSON path). Nested JSON schemas are shared with the client's body, not copied. Messages
become input items in ``input.py``, tools in ``tools.py``.

Decisions this module makes (each one visible, none silent):

* ``system`` (string or text blocks) -> ``instructions``, texts joined with a blank line.
  ``role: "system"`` entries inside ``messages`` (Claude Code's mid-conversation system text,
  docs/protocol/docs/protocol/claude-code.md §4.4 §4.4) -> a ``developer`` message item AT THAT
  POSITION, so their place in the
  conversation is kept.
* ``stop_sequences``: the Responses API has no stop parameter (docs/protocol/responses.md §2,
translation-rules.md §8). They are
  not sent upstream; they are carried in ``ReplyContext.stop_sequences``, and the reply
  translators (``responses_response``, ``responses_stream``) cut the text at the first match and
  report ``stop_reason: "stop_sequence"`` themselves. The model still generates (and is billed
  for) the tokens after the stop string.
* ``top_k`` has no Responses field and is dropped; so are ``context_management``,
  ``service_tier``, ``container``, ``cache_control``, ``inference_geo``, ``speed`` (Anthropic
  service knobs without an upstream meaning). ``cache_control`` on blocks is dropped likewise.
  A non-empty ``mcp_servers`` is refused (it would change what the model can do).
* ``thinking`` -> ``reasoning: {effort, summary: "auto"}``: the requested effort
  (``MessagesRequest.thinking_effort``: an ``enabled`` budget bucketed, else
  ``output_config.effort``, default ``high``) with ``max`` -> ``xhigh``, the Responses API's top.
  ``disabled``/absent -> no ``reasoning`` (non-reasoning models reject the field).
* Assistant ``thinking`` blocks are replayed as ``reasoning`` items only when their signature is
  anthroxy's and holds the encrypted reasoning (``enc``) and item id (``rid``); a bare ``rid`` is
  replayed by reference only when the upstream stores responses (not stateless). Any other
  thinking or redacted_thinking block (a real Anthropic signature, a foreign one) is dropped:
  OpenAI could not verify it. Server-tool transcript blocks are dropped (no Responses input form).
* Tool call ids go upstream through ``ids.upstream_tool_id(id, 64)`` (``call_id`` max 64,
  docs/protocol/responses.md §3); function names through the request's ToolNames table.
* ``metadata.user_id`` -> sha256 hex, cut to ``profile.user_max``, in ``profile.user_field``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..context import ReplyContext
from ..errors import UnsupportedFeature
from ..messages.request import MessagesRequest, parse_request
from ..profile import ProviderProfile, Target
from ..schema import sanitize
from ..toolnames import ToolNames
from .input import input_items
from .tools import tool_choice, tools_for

# docs/protocol/responses.md §2: ``max_output_tokens`` below 16 is rejected
# (integer_below_min_value).
MIN_OUTPUT_TOKENS = 16
# The requested effort -> reasoning.effort; Responses has no "max", its highest is "xhigh".
REASONING_EFFORTS: Mapping[str, str] = {
    "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh",
}  # fmt: skip


def to_request(
    request: MessagesRequest | Mapping[str, Any],
    target: Target,
    *,
    reply_model: str | None = None,
    input_tokens: int = 0,
) -> tuple[dict[str, Any], ReplyContext]:
    """Translate one Anthropic Messages request for a Responses API upstream.

    ``reply_model`` is the model name replies report (default: the one the client asked for);
    ``input_tokens`` the input estimate ``message_start`` shows until the upstream reports usage.
    """
    if not isinstance(request, MessagesRequest):
        request = parse_request(request)
    profile = target.profile
    names = ToolNames((), profile.tool_name_max, profile.tool_name_must_start_alpha)

    out: dict[str, Any] = {"model": target.model}
    if request.system_text:
        out["instructions"] = request.system_text
    tools = tools_for(request.offered_tools, names, profile)
    out["input"] = input_items(request.messages, names, profile)
    if tools:
        out["tools"] = tools
        # Without tools OpenAI refuses any tool_choice (as Chat, which sends none then).
        out.update(tool_choice(request.tool_choice, names))
    effort = request.thinking_effort
    if effort is not None:
        out["reasoning"] = {"effort": REASONING_EFFORTS[effort]}
        if not request.omits_thinking:  # omitted: no summary to write, nor to wait for
            out["reasoning"]["summary"] = "auto"
    _add_parameters(out, request, target)
    if request.mcp_servers:
        raise UnsupportedFeature(
            "mcp_servers is not supported by a Responses API upstream", path="$.mcp_servers"
        )
    ctx = ReplyContext(
        requested_model=reply_model or request.model,
        target=target,
        tool_names=names,
        stop_sequences=request.stop_sequences,
        thinking=effort is not None,
        input_tokens_estimate=input_tokens,
        omit_thinking=request.omits_thinking,
    )
    return out, ctx


def _add_parameters(out: dict[str, Any], request: MessagesRequest, target: Target) -> None:
    """Output cap, sampling, user, stream, statelessness and output format."""
    profile = target.profile
    out["max_output_tokens"] = _max_output_tokens(request.max_tokens, target.max_output_tokens)
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.top_p is not None:
        out["top_p"] = request.top_p
    out.update(_user_field(request.user_id, profile))
    if request.stream is not None:
        out["stream"] = request.stream
    if profile.responses_stateless:
        # docs/protocol/responses.md §3: with store:false reasoning replays only through
        # encrypted_content.
        out["store"] = False
        out["include"] = ["reasoning.encrypted_content"]
    if request.output_schema is not None:
        out["text"] = {"format": _text_format(request.output_schema)}


def _max_output_tokens(max_tokens: int, cap: int | None) -> int:
    if cap is not None:
        max_tokens = min(max_tokens, cap)
    return max(max_tokens, MIN_OUTPUT_TOKENS)


def _user_field(user_id: str | None, profile: ProviderProfile) -> dict[str, Any]:
    if user_id is None or profile.user_field == "none":
        return {}
    # Claude Code sends ~150 characters; OpenAI caps the field at 64
    # (docs/protocol/translation-rules.md §8).
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[
        : profile.user_max
    ]
    return {profile.user_field: digest}


def _text_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    # strict:false: OpenAI's strict mode accepts only a subset of JSON Schema
    # (docs/protocol/responses.md §2).
    return {
        "type": "json_schema",
        "name": "output",
        "schema": sanitize(schema, "openai", path="$.output_config.format.schema"),
        "strict": False,
    }
