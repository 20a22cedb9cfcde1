"""Thinking blocks in history -> what goes back to a Chat Completions upstream.

Reasoning goes back to whoever produced it (docs/protocol/translation-rules.md §5.3). A thinking
block anthroxy signed on a Chat reply names its origin in the signature (``signature.origin``:
the provider id and upstream model, and the field the reasoning came in):

* same provider id and model as the target: the block's text goes back in the field it came in
  (``reasoning_content`` or ``reasoning``), its OpenRouter items as ``reasoning_details``, its
  Gemini thought signatures on their tool calls, whatever the provider's profile says. An
  upstream that sends reasoning in a field and refuses to continue without it (DeepSeek's
  thinking mode, docs/protocol/chat-completions.md §7.2) thus gets it back under any provider id.
* any other target: dropped. Another provider refuses a field it does not know (Groq answers 400
  to ``reasoning_content``), and another model cannot use a signature it did not make.
* origin unknown (a real Anthropic or foreign signature, an anthroxy one minted before origins
  were recorded, a Responses one): the profile decides, as ``ProviderProfile.thinking_replay``
  and ``thought_signatures`` say.

The profile also adds what no signature can know: ``thinking_replay = "reasoning_content"`` puts
the key, empty if need be, on every tool-call turn (DeepSeek requires it even when the turn had
no thinking, docs/protocol/chat-completions.md §7.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import signature
from ..messages.blocks import ThinkingBlock
from ..profile import Target

# Fields whose content is the block's own text (``reasoning_details`` carries its items instead).
_TEXT_FIELDS = ("reasoning_content", "reasoning")


@dataclass(slots=True)
class Reasoning:
    """What the thinking blocks of one assistant turn give back to ``target``."""

    target: Target
    texts: dict[str, list[str]] = field(default_factory=dict)  # field -> texts, in block order
    details: list[Any] = field(default_factory=list)  # OpenRouter reasoning_details
    thought_signatures: dict[str, Any] = field(default_factory=dict)  # Gemini, by tool_use id

    def add(self, block: ThinkingBlock) -> None:
        payload = signature.decode(block.signature) or {}
        origin = signature.origin(payload)
        if origin is None:
            self._add_by_profile(block, payload)
        elif origin == (self.target.provider, self.target.model):
            self._add_by_origin(block, payload)
        # else: another provider or model produced it; nothing of it goes back.

    def message_fields(self, *, tool_calls: bool) -> dict[str, Any]:
        """The reasoning keys of the turn's assistant message."""
        out: dict[str, Any] = {key: "\n\n".join(texts) for key, texts in self.texts.items()}
        if self.details:
            out["reasoning_details"] = self.details
        if tool_calls and self.target.profile.thinking_replay == "reasoning_content":
            out.setdefault("reasoning_content", "")  # docs/protocol/chat-completions.md §7.2
        return out

    def _add_by_origin(self, block: ThinkingBlock, payload: dict[str, Any]) -> None:
        where = signature.reasoning_field(payload)
        text = _text_of(block, payload)
        if where in _TEXT_FIELDS and text:
            self.texts.setdefault(where, []).append(text)
        elif where == "reasoning_details":
            self._add_details(payload)
        self._add_thought_signatures(payload)

    def _add_by_profile(self, block: ThinkingBlock, payload: dict[str, Any]) -> None:
        profile = self.target.profile
        text = _text_of(block, payload)
        if profile.thinking_replay == "reasoning_content" and text:
            self.texts.setdefault("reasoning_content", []).append(text)
        elif profile.thinking_replay == "reasoning_details":
            self._add_details(payload)
        if profile.thought_signatures:
            self._add_thought_signatures(payload)

    def _add_details(self, payload: dict[str, Any]) -> None:
        details = payload.get("rd")
        if isinstance(details, list):
            self.details.extend(details)

    def _add_thought_signatures(self, payload: dict[str, Any]) -> None:
        signatures = payload.get("ts")
        if isinstance(signatures, dict):
            self.thought_signatures.update(signatures)


def _text_of(block: ThinkingBlock, payload: Mapping[str, Any]) -> str:
    """The block's reasoning text: as shown, or as kept in the signature when it was hidden."""
    hidden = payload.get(signature.HIDDEN_TEXT)
    return block.thinking or (hidden if isinstance(hidden, str) else "")
