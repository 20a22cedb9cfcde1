"""OpenAI Responses API stream events -> Anthropic SSE events (docs/protocol/responses.md §5,
anthropic.md §9, translation-rules.md §9).

``ResponsesStream(ctx, message_id=...)`` follows the stream protocol of ``anthroxy.streams``:
``feed(payload)`` takes one decoded event (the JSON of a ``data:`` line; its ``type`` names the
event) and returns Anthropic events (``anthroxy.events``); ``close()`` is called at end of body;
``fail(error)`` reports an error after the stream started; ``finished`` and ``usage`` for the
caller. ``sse_stream`` gives the same translator behind an SSE decoder (upstream bytes in).

* ``message_start`` goes out with the first upstream event (usage: the request's estimate).
* ``response.output_item.added`` of a ``function_call`` opens a ``tool_use`` block at once (id
  minted from ``call_id``, name mapped back); its ``function_call_arguments.delta`` events become
  ``input_json_delta``. Text blocks open on the first non-empty ``output_text.delta`` (or
  ``refusal.delta``), one block per content part.
* Reasoning: the first ``reasoning_summary_text.delta`` (or raw ``reasoning_text.delta``) opens
  ONE ``thinking`` block per reasoning item; a new ``summary_index`` is preceded by a blank line.
  The block stays open until that item's ``output_item.done``, whose ``encrypted_content`` goes
  into the single ``signature_delta`` that closes it. A reasoning item that streamed no text gets
  a ``thinking`` block from the done item's summary, or a ``redacted_thinking`` block carrying
  the signature when there is only encrypted content (same rules as ``from_response``).
* Upstreams that skip deltas (complete items only in ``output_item.done``) are covered: whatever
  text or arguments the done item holds beyond what was streamed is emitted then.
* Terminal events: ``response.completed`` -> ``message_delta`` (``tool_use`` if a tool block was
  emitted, ``refusal`` after a refusal, else ``end_turn``) and ``message_stop``;
  ``response.incomplete`` -> ``max_tokens`` (``refusal`` for content_filter);
  ``response.failed`` and ``error`` (flat or nested shape) -> an ``error`` event, the open block
  left open so Claude Code retries (docs/protocol/claude-code.md §6); this is the one place a
  Responses stream's
  in-band error is recognised. The final message is built from the events seen, never from
  ``response.completed``'s ``output`` (the ChatGPT backend sends it empty).
* ``close()`` before a terminal event -> an ``error`` event; after one -> nothing.
* Stop sequences (not sent upstream, see ``responses``): text is held back by
  ``len(longest stop) - 1`` characters; when a stop string completes, the text before it is
  emitted, every later upstream output is ignored and the stop reason is ``stop_sequence``.
* Any other event type (``response.created``, annotations, built-in tool progress, ...) and
  unknown fields (``obfuscation``, ``sequence_number``) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .. import signature
from ..context import ReplyContext
from ..errors import AnthroxyError, UpstreamProtocolError
from ..events import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Error,
    Event,
    MessageDelta,
    MessageStop,
    Usage,
)
from ..ids import ToolIdMinter
from ..messages.message import message_start
from ..streams import SSEStream
from ..upstream_errors import error_from_payload
from .reply import (
    SUMMARY_JOIN,
    failed_error,
    first_stop,
    incomplete_stop,
    reasoning_signature,
    reasoning_text,
    usage,
)

Events = list[Event]
# A block's upstream identity: ("text", output_index, content_index), ("reasoning", output_index)
# or ("tool", output_index).
Key = tuple[Any, ...]


def _position(payload: Mapping[str, Any], name: str) -> int | None:
    """An index field of an event; anything but an integer counts as absent (junk never crashes)."""
    value = payload.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _State(Enum):
    READY = "ready"  # nothing sent yet
    STREAMING = "streaming"  # message_start sent
    FINISHED = "finished"  # message_stop sent
    FAILED = "failed"  # an error event sent


@dataclass(slots=True)
class _Block:
    """The one open Anthropic content block."""

    kind: str  # "text" | "thinking" | "tool_use"
    index: int
    key: Key
    sent: str = ""  # text / arguments emitted so far (to top up from a done item)
    summary_index: int | None = None  # thinking: the summary part being streamed
    item: Mapping[str, Any] = field(default_factory=dict)  # thinking: its reasoning item


class ResponsesStream:
    """Translates one Responses API event stream; one instance per request."""

    def __init__(self, ctx: ReplyContext, *, message_id: str) -> None:
        self._ctx = ctx
        self._message_id = message_id
        self._minter = ToolIdMinter(message_id)
        self._state = _State.READY
        self._block: _Block | None = None
        self._next_index = 0
        self._tools = 0
        self._refused = False
        self._streamed: set[Key] = set()  # keys that got text deltas
        self._stops = ctx.stop_sequences
        self._hold = max((len(s) for s in self._stops), default=1) - 1
        self._held: tuple[Key, str] | None = None  # text withheld while a stop may be forming
        self._matched: str | None = None  # the stop sequence that ended the answer
        self._counts = Usage()

    @property
    def finished(self) -> bool:
        """Whether message_stop or an error went out; nothing follows it."""
        return self._state in (_State.FINISHED, _State.FAILED)

    @property
    def usage(self) -> Usage:
        """The counts of the final ``message_delta`` once sent (unknown before)."""
        return self._counts

    def feed(self, payload: Mapping[str, Any]) -> Events:
        if self._state in (_State.FINISHED, _State.FAILED):
            return []
        out = self._start()
        kind = payload.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None  # junk never crashes
        if handler is None:
            return out
        try:
            return out + handler(self, payload)
        except AnthroxyError as error:
            return out + self.fail(error)

    def close(self) -> Events:
        if self._state in (_State.FINISHED, _State.FAILED):
            return []
        return self.fail(
            UpstreamProtocolError("the upstream stream ended before the response was complete")
        )

    def fail(self, error: AnthroxyError) -> Events:
        if self._state in (_State.FINISHED, _State.FAILED):
            return []
        out = self._start()
        self._state = _State.FAILED
        # The open block stays open: Claude Code then retries the request
        # (docs/protocol/claude-code.md §6).
        return [*out, Error(error)]

    # -- the one place blocks open and close ---------------------------------------------------

    def _start(self) -> Events:
        if self._state is not _State.READY:
            return []
        self._state = _State.STREAMING
        return [message_start(self._ctx, message_id=self._message_id)]

    def _open(self, kind: str, key: Key, content_block: dict[str, Any]) -> Events:
        out = self._close()
        self._block = _Block(kind, self._next_index, key)
        self._next_index += 1
        return [*out, BlockStart(self._block.index, content_block)]

    def _close(self) -> Events:
        out = self._release_held()
        block = self._block
        if block is None:
            return out
        if block.kind == "thinking":
            sig = reasoning_signature(block.item) or signature.encode({})
            out.append(BlockDelta(block.index, "signature_delta", sig))
        out.append(BlockStop(block.index))
        self._block = None
        return out

    def _finish(self, stop_reason: str, response: Any) -> Events:
        out = self._close()
        self._state = _State.FINISHED
        if self._matched is not None:
            stop_reason = "stop_sequence"
        raw_usage = response.get("usage") if isinstance(response, Mapping) else None
        counts = usage(raw_usage)
        out.append(MessageDelta(stop_reason, self._matched, counts))
        out.append(MessageStop())
        self._counts = Usage.of(counts)
        return out

    # -- text, with the stop-sequence hold-back ---------------------------------------------

    def _text(self, key: Key, delta: Any) -> Events:
        if self._matched is not None or not isinstance(delta, str) or not delta:
            return []
        self._streamed.add(key)
        if not self._stops:
            return self._emit_text(key, delta)
        out: Events = []
        if self._held is not None and self._held[0] != key:
            out += self._release_held()
        buffer = (self._held[1] if self._held is not None else "") + delta
        self._held = None
        found = first_stop(buffer, self._stops)
        if found is not None:
            self._matched = found[1]
            return out + self._emit_text(key, buffer[: found[0]]) + self._close()
        cut = max(len(buffer) - self._hold, 0)
        out += self._emit_text(key, buffer[:cut])  # may open the block: before holding the rest
        if cut < len(buffer):
            self._held = (key, buffer[cut:])
        return out

    def _release_held(self) -> Events:
        if self._held is None:
            return []
        key, text = self._held
        self._held = None
        return self._emit_text(key, text)

    def _emit_text(self, key: Key, text: str) -> Events:
        if not text:
            return []
        out: Events = []
        if self._block is None or self._block.key != key:
            out += self._open("text", key, {"type": "text", "text": ""})
        assert self._block is not None
        self._block.sent += text
        return [*out, BlockDelta(self._block.index, "text_delta", text)]

    # -- event handlers -----------------------------------------------------------------------

    def _output_text_delta(self, payload: Mapping[str, Any]) -> Events:
        key = ("text", _position(payload, "output_index"), _position(payload, "content_index"))
        return self._text(key, payload.get("delta"))

    def _refusal_delta(self, payload: Mapping[str, Any]) -> Events:
        self._refused = self._refused or self._matched is None
        return self._output_text_delta(payload)

    def _reasoning_delta(self, payload: Mapping[str, Any]) -> Events:
        delta = payload.get("delta")
        if self._matched is not None or not isinstance(delta, str) or not delta:
            return []
        key = ("reasoning", _position(payload, "output_index"))
        part = payload.get("summary_index", _position(payload, "content_index"))
        out: Events = []
        if self._block is None or self._block.key != key:
            out += self._open(
                "thinking", key, {"type": "thinking", "thinking": "", "signature": ""}
            )
        block = self._block
        assert block is not None
        if block.sent and part != block.summary_index:
            delta = SUMMARY_JOIN + delta  # a new summary part in the same thinking block
        block.summary_index = part if isinstance(part, int) else None
        block.sent += delta
        if self._ctx.omit_thinking:  # display "omitted": the block, its signature, no text
            return out
        return [*out, BlockDelta(block.index, "thinking_delta", delta)]

    def _item_added(self, payload: Mapping[str, Any]) -> Events:
        item = payload.get("item")
        if self._matched is not None or not isinstance(item, Mapping):
            return []
        if item.get("type") != "function_call":
            return []  # reasoning and message blocks open on their first delta
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise UpstreamProtocolError("function_call item without a name")
        call_id = item.get("call_id")
        block_id = self._minter.assign(call_id if isinstance(call_id, str) else None, self._tools)
        self._tools += 1
        tool = {
            "type": "tool_use",
            "id": block_id,
            "name": self._ctx.tool_names.to_client(name),
            "input": {},
        }
        out = self._open("tool_use", ("tool", _position(payload, "output_index")), tool)
        return out + self._arguments(_position(payload, "output_index"), item.get("arguments"))

    def _arguments_delta(self, payload: Mapping[str, Any]) -> Events:
        delta = payload.get("delta")
        if self._matched is not None or not isinstance(delta, str) or not delta:
            return []
        block = self._block
        if block is None or block.key != ("tool", _position(payload, "output_index")):
            raise UpstreamProtocolError("function call arguments for an item that is not open")
        block.sent += delta
        return [BlockDelta(block.index, "input_json_delta", delta)]

    def _arguments(self, output_index: Any, full: Any) -> Events:
        """Emit what a complete ``arguments`` string holds beyond what was streamed."""
        block = self._block
        if block is None or block.key != ("tool", output_index) or not isinstance(full, str):
            return []
        if not full.startswith(block.sent) or full == block.sent:
            return []
        rest = full[len(block.sent) :]
        block.sent = full
        return [BlockDelta(block.index, "input_json_delta", rest)]

    def _arguments_done(self, payload: Mapping[str, Any]) -> Events:
        return self._arguments(_position(payload, "output_index"), payload.get("arguments"))

    def _item_done(self, payload: Mapping[str, Any]) -> Events:
        item = payload.get("item")
        index = _position(payload, "output_index")
        if self._matched is not None or not isinstance(item, Mapping):
            return []
        kind = item.get("type")
        if kind == "reasoning":
            return self._reasoning_done(index, item)
        if kind == "function_call":
            return self._arguments(index, item.get("arguments")) + self._close()
        if kind == "message":
            return self._message_done(index, item)
        return []

    def _reasoning_done(self, index: Any, item: Mapping[str, Any]) -> Events:
        block = self._block
        if block is not None and block.key == ("reasoning", index):
            block.item = item
            return self._close()
        text = reasoning_text(item)
        sig = reasoning_signature(item)
        if text:
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            out = self._open("thinking", ("reasoning", index), empty)
            assert self._block is not None
            self._block.item = item
            if self._ctx.omit_thinking:
                return [*out, *self._close()]
            delta = BlockDelta(self._block.index, "thinking_delta", text)
            return [*out, delta, *self._close()]
        if sig is not None:
            redacted = {"type": "redacted_thinking", "data": sig}
            return self._open("redacted_thinking", ("reasoning", index), redacted) + self._close()
        return []

    def _message_done(self, index: Any, item: Mapping[str, Any]) -> Events:
        out: Events = []
        parts = item.get("content")
        for content_index, part in enumerate(parts if isinstance(parts, list) else []):
            key = ("text", index, content_index)
            if key in self._streamed or not isinstance(part, Mapping):
                continue  # streamed already (possibly held back): nothing to top up
            if part.get("type") == "refusal":
                self._refused = True
            text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
            out += self._text(key, text)
        block = self._block
        if block is not None and block.key[:2] == ("text", index):
            out += self._close()
        return out

    def _completed(self, payload: Mapping[str, Any]) -> Events:
        stop_reason = "refusal" if self._refused else "tool_use" if self._tools else "end_turn"
        return self._finish(stop_reason, payload.get("response"))

    def _incomplete(self, payload: Mapping[str, Any]) -> Events:
        response = payload.get("response")
        reason = incomplete_stop(response if isinstance(response, Mapping) else {})
        return self._finish(reason, response)

    def _failed(self, payload: Mapping[str, Any]) -> Events:
        response = payload.get("response")
        return self.fail(failed_error(response if isinstance(response, Mapping) else {}, self._ctx))

    def _error(self, payload: Mapping[str, Any]) -> Events:
        # Both the documented flat shape and the observed nested one (docs/protocol/responses.md
        # §5.4).
        return self.fail(error_from_payload(payload, provider=self._ctx.target.provider))


_HANDLERS: dict[str, Callable[[ResponsesStream, Mapping[str, Any]], Events]] = {
    "response.output_item.added": ResponsesStream._item_added,
    "response.output_item.done": ResponsesStream._item_done,
    "response.output_text.delta": ResponsesStream._output_text_delta,
    "response.refusal.delta": ResponsesStream._refusal_delta,
    "response.reasoning_summary_text.delta": ResponsesStream._reasoning_delta,
    "response.reasoning_text.delta": ResponsesStream._reasoning_delta,
    "response.function_call_arguments.delta": ResponsesStream._arguments_delta,
    "response.function_call_arguments.done": ResponsesStream._arguments_done,
    "response.completed": ResponsesStream._completed,
    "response.incomplete": ResponsesStream._incomplete,
    "response.failed": ResponsesStream._failed,
    "error": ResponsesStream._error,
}


def sse_stream(
    ctx: ReplyContext, *, message_id: str, loads: Callable[[bytes], Any] | None = None
) -> SSEStream:
    """A ``ResponsesStream`` fed from the upstream's SSE bytes; ``loads``: a faster JSON
    decoder to try first (``SSEStream``)."""
    translator = ResponsesStream(ctx, message_id=message_id)
    return SSEStream(translator, provider=ctx.target.provider, what="stream event", loads=loads)
