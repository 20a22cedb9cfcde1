"""A strict validator for Anthropic Messages streams, shared by the tests of every translator.

    validate_events(events)  # list of event payload dicts; raises AssertionError on a violation
    validate_sse(data)       # the SSE bytes as sent; checks framing too, returns the payloads
    accumulate(events)       # the final message a client builds from a valid stream

Rules (docs/protocol/anthropic.md §9, claude-code.md §6): ``message_start`` first; blocks strictly
sequential with
indices 0, 1, 2…, each started once and stopped once; delta types match the block type;
``signature_delta`` only in a thinking block, exactly once, immediately before its stop; one
``message_delta`` after the last block, then ``message_stop`` last — unless the stream ends with an
``error`` event, after which nothing may follow (an open block may stay open then). ``ping`` may
appear anywhere after ``message_start``. Written independently of anthroxy's code on purpose.
"""

from __future__ import annotations

import json
import re
from typing import Any

STOP_REASONS = {
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
}
ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
}
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
DELTAS_BY_BLOCK = {
    "text": {"text_delta", "citations_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "redacted_thinking": set(),
}


def _fail(position: int, event: dict[str, Any], problem: str) -> None:
    raise AssertionError(f"event #{position} ({event.get('type')!r}): {problem}\n  {event!r}")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Checker:
    def __init__(self) -> None:
        self.started = False
        self.ended = False  # message_stop or error seen
        self.next_index = 0
        self.open: dict[str, Any] | None = None  # the open block's start payload
        self.open_index = -1
        self.signed = False  # the open thinking block got its signature_delta
        self.json = ""  # concatenated partial_json of the open tool block
        self.message_delta: dict[str, Any] | None = None
        self.tool_json: list[str] = []

    def check(self, pos: int, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        if self.ended:
            _fail(pos, ev, "event after message_stop or error")
        if kind == "error":
            self._error(pos, ev)
            return
        if not self.started and kind != "message_start":
            _fail(pos, ev, "the first event must be message_start")
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            _fail(pos, ev, "unknown event type")
        handler(pos, ev)

    def _message_start(self, pos: int, ev: dict[str, Any]) -> None:
        if self.started:
            _fail(pos, ev, "second message_start")
        self.started = True
        msg = ev.get("message")
        if not isinstance(msg, dict):
            _fail(pos, ev, "message_start without a message object")
        assert isinstance(msg, dict)
        expect = {"type": "message", "role": "assistant", "content": [], "stop_reason": None}
        for key, value in expect.items():
            if msg.get(key) != value:
                _fail(pos, ev, f"message.{key} must be {value!r}")
        for key in ("id", "model"):
            if not isinstance(msg.get(key), str) or not msg[key]:
                _fail(pos, ev, f"message.{key} must be a non-empty string")
        usage = msg.get("usage")
        if not isinstance(usage, dict) or not all(
            _is_count(usage.get(k)) for k in ("input_tokens", "output_tokens")
        ):
            _fail(pos, ev, "message.usage needs input_tokens and output_tokens counts")

    def _ping(self, pos: int, ev: dict[str, Any]) -> None:
        pass

    def _content_block_start(self, pos: int, ev: dict[str, Any]) -> None:
        if self.open is not None:
            _fail(pos, ev, f"block {self.open_index} is still open (blocks must not overlap)")
        if self.message_delta is not None:
            _fail(pos, ev, "block after message_delta")
        if ev.get("index") != self.next_index:
            _fail(pos, ev, f"index must be {self.next_index}")
        block = ev.get("content_block")
        if not isinstance(block, dict) or block.get("type") not in DELTAS_BY_BLOCK:
            _fail(pos, ev, "content_block missing or of an unknown type")
        assert isinstance(block, dict)
        btype = block["type"]
        if btype == "text" and block.get("text") != "":
            _fail(pos, ev, "a text block starts with text ''")
        if btype == "thinking" and (block.get("thinking") != "" or block.get("signature") != ""):
            _fail(pos, ev, "a thinking block starts with thinking '' and signature ''")
        if btype in ("tool_use", "server_tool_use"):
            if not isinstance(block.get("id"), str) or not TOOL_ID.match(block["id"]):
                _fail(pos, ev, "tool_use id must match ^[a-zA-Z0-9_-]+$")
            if not isinstance(block.get("name"), str) or not block["name"]:
                _fail(pos, ev, "tool_use name must be a non-empty string")
            if block.get("input") != {}:
                _fail(pos, ev, "tool_use starts with input {}")
        self.open, self.open_index, self.signed, self.json = block, self.next_index, False, ""
        self.next_index += 1

    def _content_block_delta(self, pos: int, ev: dict[str, Any]) -> None:
        if self.open is None or ev.get("index") != self.open_index:
            _fail(pos, ev, "delta for a block that is not open")
        assert self.open is not None
        delta = ev.get("delta")
        dtype = delta.get("type") if isinstance(delta, dict) else None
        assert isinstance(delta, dict)
        if dtype not in DELTAS_BY_BLOCK[self.open["type"]]:
            _fail(pos, ev, f"{dtype!r} does not belong in a {self.open['type']} block")
        if self.signed:
            _fail(pos, ev, "nothing but content_block_stop may follow signature_delta")
        field = {
            "text_delta": "text",
            "thinking_delta": "thinking",
            "signature_delta": "signature",
            "input_json_delta": "partial_json",
        }.get(str(dtype))
        if field is not None and not isinstance(delta.get(field), str):
            _fail(pos, ev, f"{dtype} needs a string {field}")
        if dtype == "signature_delta":
            if not delta["signature"]:
                _fail(pos, ev, "empty signature")
            self.signed = True
        if dtype == "input_json_delta":
            self.json += delta["partial_json"]

    def _content_block_stop(self, pos: int, ev: dict[str, Any]) -> None:
        if self.open is None or ev.get("index") != self.open_index:
            _fail(pos, ev, "stop for a block that is not open")
        assert self.open is not None
        if self.open["type"] == "thinking" and not self.signed:
            _fail(pos, ev, "a thinking block must get one signature_delta right before its stop")
        if self.open["type"] in ("tool_use", "server_tool_use"):
            self.tool_json.append(self.json)
        self.open = None

    def _message_delta(self, pos: int, ev: dict[str, Any]) -> None:
        if self.open is not None:
            _fail(pos, ev, f"message_delta while block {self.open_index} is open")
        if self.message_delta is not None:
            _fail(pos, ev, "more than one message_delta")
        delta, usage = ev.get("delta"), ev.get("usage")
        if not isinstance(delta, dict) or delta.get("stop_reason") not in STOP_REASONS:
            _fail(pos, ev, "delta.stop_reason missing or unknown")
        assert isinstance(delta, dict)
        seq = delta.get("stop_sequence")
        if (delta["stop_reason"] == "stop_sequence") != isinstance(seq, str):
            _fail(pos, ev, "stop_sequence is a string exactly when stop_reason is stop_sequence")
        if not isinstance(usage, dict) or not _is_count(usage.get("output_tokens")):
            _fail(pos, ev, "usage.output_tokens must be a count")
        assert isinstance(usage, dict)
        for key, value in usage.items():
            if key.endswith("_tokens") and value is not None and not _is_count(value):
                _fail(pos, ev, f"usage.{key} must be a count")
        self.message_delta = ev
        if delta["stop_reason"] != "max_tokens":
            for text in self.tool_json:
                if text and not isinstance(json.loads(text), dict):
                    _fail(pos, ev, f"tool input is not a JSON object: {text!r}")

    def _message_stop(self, pos: int, ev: dict[str, Any]) -> None:
        if self.message_delta is None:
            _fail(pos, ev, "message_stop without a message_delta")
        self.ended = True

    def _error(self, pos: int, ev: dict[str, Any]) -> None:
        err = ev.get("error")
        if not isinstance(err, dict) or err.get("type") not in ERROR_TYPES:
            _fail(pos, ev, "error event needs error.type (an Anthropic error type)")
        assert isinstance(err, dict)
        if not isinstance(err.get("message"), str) or not err["message"]:
            _fail(pos, ev, "error event needs a message")
        self.ended = True


def validate_events(events: list[dict[str, Any]]) -> None:
    """Raise AssertionError unless ``events`` is one complete, valid Anthropic stream."""
    if not events:
        raise AssertionError("empty stream")
    checker = _Checker()
    for pos, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise AssertionError(f"event #{pos} is not a dict: {ev!r}")
        checker.check(pos, ev)
    if not checker.ended:
        raise AssertionError(f"stream ends without message_stop or error: last {events[-1]!r}")


def validate_sse(data: bytes) -> list[dict[str, Any]]:
    """Check the framing ``event: T\\ndata: JSON\\n\\n`` (T == JSON type), then the events."""
    text = data.decode("utf-8")
    if not text.endswith("\n\n"):
        raise AssertionError("SSE body must end with a blank line")
    events = []
    for n, frame in enumerate(text[:-2].split("\n\n")):
        lines = frame.split("\n")
        if (
            len(lines) != 2
            or not lines[0].startswith("event: ")
            or not lines[1].startswith("data: ")
        ):
            raise AssertionError(f"frame #{n} is not 'event: …\\ndata: …': {frame!r}")
        payload = json.loads(lines[1][len("data: ") :])
        if payload.get("type") != lines[0][len("event: ") :]:
            raise AssertionError(f"frame #{n}: event name differs from data.type: {frame!r}")
        events.append(payload)
    validate_events(events)
    return events


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The message a client assembles from a valid stream (tool input parsed; '' → {})."""
    validate_events(events)
    message = json.loads(json.dumps(events[0]["message"]))
    partial: dict[int, str] = {}
    for ev in events[1:]:
        kind = ev["type"]
        if kind == "content_block_start":
            message["content"].append(json.loads(json.dumps(ev["content_block"])))
        elif kind == "content_block_delta":
            block, delta = message["content"][ev["index"]], ev["delta"]
            field = {"text_delta": "text", "thinking_delta": "thinking"}.get(delta["type"])
            if field is not None:
                block[field] += delta[field]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[ev["index"]] = partial.get(ev["index"], "") + delta["partial_json"]
        elif kind == "content_block_stop" and ev["index"] in partial:
            text = partial.pop(ev["index"])
            message["content"][ev["index"]]["input"] = json.loads(text) if text else {}
        elif kind == "message_delta":
            message.update(ev["delta"])
            message["usage"].update(ev["usage"])
    return message
