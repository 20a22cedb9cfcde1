"""Chat Completions stream chunks → Anthropic stream events: a sans-I/O state machine.

``ChatStream(ctx, message_id=...)`` follows the stream protocol of ``anthroxy.streams``: ``feed``
takes one decoded upstream chunk and returns the Anthropic events to send (``anthroxy.events``);
``close`` at ``[DONE]`` or EOF; ``fail`` for a failure the caller noticed (upstream reset,
timeout); ``finished`` and ``usage`` for the caller. ``sse_stream`` gives the same translator
behind an SSE decoder (upstream bytes in).

Contract (docs/protocol/anthropic.md §9, translation-rules.md §9; claude-code.md §6):
* ``message_start`` first (model = the name the client asked for, input_tokens = the request-side
  estimate), then strictly sequential blocks with indices 0, 1, 2…, then ONE ``message_delta``
  with the stop reason and cumulative usage, then ``message_stop``.
* Reasoning (``reasoning_content`` / ``reasoning`` / ``reasoning_details``) → a thinking block,
  closed by one ``signature_delta`` carrying an anthroxy signature: its origin (``p``/``m`` = the
  target's provider id and model, ``f`` = the field the reasoning came in; ``reasoning_details``
  when there were any) and ``rd`` = merged OpenRouter reasoning_details.
* Tool calls are keyed by ``tool_calls[].index`` (injected when missing, as Gemini omits it); a new
  index, or a new id on a known index, is a new call. The first call streams live; fragments of any
  other call are buffered and each such call is emitted whole after the live block closes, so
  blocks never overlap. A fragment for a call whose block already closed (text came in between)
  cannot be represented and ends the stream with an error.
* A Gemini thought signature on a call goes into the open thinking block, or into an empty thinking
  block just before that call's tool_use block (``ts: {tool_use id: signature}``); one that arrives
  after its call's block opened goes into an empty thinking block after the last block.
* ``finish_reason`` and usage are remembered; the message ends only at ``close``. No finish_reason
  by then → an ``error`` event with the open block left open, so Claude Code retries.
* An in-band error object (OpenRouter: a chunk with a top-level ``error``, with or without
  ``choices``) → an ``error`` event; this is the one place a Chat stream's in-band error is
  recognised. After an ``error`` event or ``message_stop`` the machine is finished: later
  ``feed``/``close``/``fail`` calls return ``[]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    MessageStart,
    MessageStop,
    Usage,
)
from ..ids import ToolIdMinter
from ..messages.message import message_start
from ..streams import SSEStream
from .chunks import (
    ReasoningDetails,
    anthropic_usage,
    chunk_parts,
    estimated_usage,
    stop_reason,
    upstream_error,
)


class _State(Enum):
    NEW = "new"  # nothing emitted yet
    STREAMING = "streaming"  # message_start sent
    FINISHED = "finished"  # message_stop or error sent; nothing more will be emitted


class _Kind(Enum):
    TEXT = "text"
    THINKING = "thinking"
    TOOL = "tool"


class _Call:
    """One upstream tool call: its identity, its name, and fragments not yet emitted."""

    __slots__ = ("buffered", "client_id", "done", "name", "position", "signature", "upstream_id")

    def __init__(self, upstream_id: str | None, name: str | None, position: int) -> None:
        self.upstream_id = upstream_id
        self.name = name
        self.position = position  # order of appearance, for the id minter
        self.buffered: list[str] = []
        self.signature: str | None = None  # Gemini thought signature, until the block opens
        self.client_id: str | None = None  # set when its tool_use block opens
        self.done = False  # its block was closed


class ChatStream:
    """Translates one Chat Completions stream; one instance per response."""

    def __init__(self, ctx: ReplyContext, *, message_id: str) -> None:
        self._ctx = ctx
        self._provider = ctx.target.provider
        self._message_id = message_id
        self._state = _State.NEW
        # The one open block: its kind and index (-1 before the first block).
        self._open: _Kind | None = None
        self._index = -1
        self._live: _Call | None = None  # the call whose tool_use block is open
        self._calls: dict[int, _Call] = {}  # by upstream index: the current call for it
        self._pending: list[_Call] = []  # calls not yet emitted, in order of appearance
        self._last_call: _Call | None = None
        self._call_count = 0
        self._next_injected = -1  # keys for calls without an index (never clash with real ones)
        self._minter = ToolIdMinter(message_id)
        self._details: ReasoningDetails | None = None  # of the open thinking block
        self._field: str | None = None  # the field the open thinking block's text came in
        self._hidden: list[str] = []  # the open block's text the client asked not to see
        self._block_ts: dict[str, str] = {}  # thought signatures for the open thinking block
        self._late_ts: dict[str, str] = {}
        self._finish: str | None = None
        self._matched: object = None
        self._usage: Mapping[str, Any] | None = None
        self._refused = False
        self._chars = 0
        self._counts = Usage()

    @property
    def finished(self) -> bool:
        """Whether message_stop or an error went out; nothing follows it."""
        return self._state is _State.FINISHED

    @property
    def usage(self) -> Usage:
        """The counts of the final ``message_delta`` once sent (unknown before)."""
        return self._counts

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        if self._state is _State.FINISHED:
            return []
        if self._open is _Kind.TEXT:
            text = _plain_text(chunk)
            if text:  # the commonest chunk, while a text block is open: one more delta
                self._chars += len(text)
                return [BlockDelta(self._index, "text_delta", text)]
        events: list[Event] = []
        if self._state is _State.NEW:
            events.append(self._message_start())
        try:
            for part in chunk_parts(chunk, self._provider):
                kind = part[0]
                if kind == "text":
                    self._text(events, part[1], part[2])
                elif kind == "thinking":
                    self._thinking(events, part[1], part[2])
                elif kind == "detail":
                    self._detail(events, part[1])
                elif kind == "tool":
                    self._tool(events, part)
                elif kind == "finish":
                    self._finish, self._matched = part[1], part[2]
                elif kind == "usage":
                    self._usage = part[1]
                else:  # "error"
                    raise upstream_error(part[1], self._provider)
        except AnthroxyError as error:
            events.extend(self.fail(error))
        return events

    def close(self) -> list[Event]:
        if self._state is _State.FINISHED:
            return []
        events: list[Event] = []
        if self._state is _State.NEW:
            events.append(self._message_start())
        try:
            if self._finish is None:
                raise UpstreamProtocolError(
                    f"{self._provider}: the stream ended before a finish_reason (answer incomplete)"
                )
            # Decided before any block is closed: a failed generation leaves its block open.
            reason, sequence = stop_reason(
                self._finish,
                self._matched,
                has_tools=self._call_count > 0,
                refused=self._refused,
                stop_sequences=self._ctx.stop_sequences,
                provider=self._provider,
                path="$.choices[0].finish_reason",
            )
            if self._usage is not None:
                usage = anthropic_usage(self._usage)
            else:
                usage = estimated_usage(self._ctx.input_tokens_estimate, self._chars)
            self._end_tools(events)
            self._end_block(events)
            if self._late_ts:
                self._open_block(events, _Kind.THINKING, _empty_block(_Kind.THINKING))
                self._block_ts = self._late_ts
                self._end_block(events)
        except AnthroxyError as error:
            return events + self.fail(error)
        events.append(MessageDelta(reason, sequence, usage))
        events.append(MessageStop())
        self._counts = Usage.of(usage)
        self._state = _State.FINISHED
        return events

    def fail(self, error: AnthroxyError) -> list[Event]:
        """An ``error`` event; the open block stays open (docs/protocol/claude-code.md §6: the
        client retries)."""
        if self._state is _State.FINISHED:
            return []
        events: list[Event] = [self._message_start()] if self._state is _State.NEW else []
        events.append(Error(error))
        self._state = _State.FINISHED
        return events

    # -- parts ------------------------------------------------------------------------------

    def _text(self, events: list[Event], text: str, refusal: bool) -> None:
        if refusal:
            self._refused = True
        if self._open is not _Kind.TEXT:
            self._switch(events, _Kind.TEXT)
        self._chars += len(text)
        events.append(BlockDelta(self._index, "text_delta", text))

    def _thinking(self, events: list[Event], text: str, field: str) -> None:
        if self._open is not _Kind.THINKING:
            self._switch(events, _Kind.THINKING)
        if self._field is None:
            self._field = field
        self._chars += len(text)
        if self._ctx.omit_thinking:
            self._hidden.append(text)  # kept in the signature, for the upstream's replay
        else:
            events.append(BlockDelta(self._index, "thinking_delta", text))

    def _detail(self, events: list[Event], item: Mapping[str, Any]) -> None:
        if self._open is not _Kind.THINKING:
            self._switch(events, _Kind.THINKING)
        if self._details is None:
            self._details = ReasoningDetails()
        self._details.add(item)

    def _tool(self, events: list[Event], part: tuple[Any, ...]) -> None:
        _, index, call_id, name, arguments, thought_sig = part
        call = self._find_call(index, call_id, name)
        if call.name is None:
            call.name = name
        if thought_sig is not None:
            if call.client_id is None:
                call.signature = thought_sig
            else:
                self._late_ts[call.client_id] = thought_sig
        if call.done:
            if arguments:
                raise UpstreamProtocolError(
                    f"{self._provider}: arguments for tool call {call.position} arrived after "
                    "other content followed it; Anthropic blocks cannot be reopened",
                    path="$.choices[0].delta.tool_calls",
                )
            return
        self._chars += len(arguments)
        if call is self._live:
            if arguments:
                events.append(self._json_delta(arguments))
            return
        if arguments:
            call.buffered.append(arguments)
        if self._open is not _Kind.TOOL and call.name is not None:
            self._pending.remove(call)
            self._open_tool(events, call)

    def _find_call(self, index: int | None, call_id: str | None, name: str | None) -> _Call:
        if index is None:
            last = self._last_call
            # Gemini: no index, each call whole in one entry. A name or a different id starts a
            # new call; a bare fragment (or the same id again) continues the latest one.
            same_id = bool(call_id) and last is not None and call_id == last.upstream_id
            if last is not None and (same_id or (name is None and not call_id)):
                return last
            index = self._next_injected
            self._next_injected -= 1
        else:
            known = self._calls.get(index)
            if known is not None and not (
                call_id and known.upstream_id and call_id != known.upstream_id
            ):
                return known
        call = _Call(call_id, name, self._call_count)
        self._call_count += 1
        self._calls[index] = call
        self._pending.append(call)
        self._last_call = call
        return call

    # -- blocks: the only place blocks open and close ---------------------------------------

    def _switch(self, events: list[Event], kind: _Kind) -> None:
        """Close whatever is open (all tool calls, if a tool block is) and open a ``kind`` block."""
        if self._open is _Kind.TOOL:
            self._end_tools(events)
        self._end_block(events)
        self._open_block(events, kind, _empty_block(kind))

    def _open_block(self, events: list[Event], kind: _Kind, block: dict[str, Any]) -> None:
        self._index += 1
        self._open = kind
        events.append(BlockStart(self._index, block))

    def _end_block(self, events: list[Event]) -> None:
        if self._open is None:
            return
        if self._open is _Kind.THINKING:
            payload: dict[str, Any] = {}
            if self._details is not None and self._details.items:
                payload["rd"] = self._details.items
            if self._block_ts:
                payload["ts"] = self._block_ts
            field = "reasoning_details" if "rd" in payload else self._field
            if self._hidden:
                payload[signature.HIDDEN_TEXT] = "".join(self._hidden)
                self._hidden = []
            target = self._ctx.target
            sig = signature.encode(
                signature.with_origin(payload, target.provider, target.model, field)
            )
            events.append(BlockDelta(self._index, "signature_delta", sig))
            self._details = None
            self._field = None
            self._block_ts = {}
        elif self._live is not None:
            self._live.done = True
            self._live = None
        events.append(BlockStop(self._index))
        self._open = None

    def _open_tool(self, events: list[Event], call: _Call) -> None:
        """Open ``call``'s tool_use block (a thinking block for its thought signature first)."""
        assert call.name is not None
        client_id = self._minter.assign(call.upstream_id, call.position)
        call.client_id = client_id
        if call.signature is not None:
            if self._open is not _Kind.THINKING:
                self._end_block(events)
                self._open_block(events, _Kind.THINKING, _empty_block(_Kind.THINKING))
            self._block_ts[client_id] = call.signature
        self._end_block(events)
        block = {
            "type": "tool_use",
            "id": client_id,
            "name": self._ctx.tool_names.to_client(call.name),
            "input": {},
        }
        self._open_block(events, _Kind.TOOL, block)
        self._live = call
        if call.buffered:
            events.append(self._json_delta("".join(call.buffered)))
            call.buffered = []

    def _end_tools(self, events: list[Event]) -> None:
        """Close the live tool block, then emit every buffered call as a whole block."""
        if self._open is _Kind.TOOL:
            self._end_block(events)
        while self._pending:
            call = self._pending.pop(0)
            if call.name is None:
                raise UpstreamProtocolError(
                    f"{self._provider}: tool call {call.position} never got a function name",
                    path="$.choices[0].delta.tool_calls",
                )
            self._open_tool(events, call)
            self._end_block(events)

    def _json_delta(self, partial: str) -> BlockDelta:
        return BlockDelta(self._index, "input_json_delta", partial)

    def _message_start(self) -> MessageStart:
        self._state = _State.STREAMING
        return message_start(self._ctx, message_id=self._message_id)


def _plain_text(chunk: Mapping[str, Any]) -> str | None:
    """The text of a chunk that carries nothing but answer text (``{"content": ...}``, no role,
    refusal, finish_reason, usage or error), else None: the chunk ``chunk_parts`` would turn
    into the single part ``("text", text, False)``, recognised without building the parts."""
    if type(chunk) is not dict or chunk.get("error") is not None or chunk.get("usage"):
        return None
    choices = chunk.get("choices")
    if type(choices) is not list or not choices:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("finish_reason") is not None:
        return None
    delta = choice.get("delta")
    if type(delta) is not dict or len(delta) != 1:
        return None
    text = delta.get("content")
    return text if type(text) is str else None


def _empty_block(kind: _Kind) -> dict[str, Any]:
    """The content of a text or thinking block's ``content_block_start``; docs/protocol/anthropic.md
    §9.3."""
    if kind is _Kind.TEXT:
        return {"type": "text", "text": ""}
    return {"type": "thinking", "thinking": "", "signature": ""}


def sse_stream(
    ctx: ReplyContext, *, message_id: str, loads: Callable[[bytes], Any] | None = None
) -> SSEStream:
    """A ``ChatStream`` fed from the upstream's SSE bytes (``[DONE]`` ends it, like EOF);
    ``loads``: a faster JSON decoder to try first (``SSEStream``)."""
    translator = ChatStream(ctx, message_id=message_id)
    return SSEStream(translator, provider=ctx.target.provider, what="stream chunk", loads=loads)
