"""``thinking: {display: "omitted"}`` (what Claude Code 2.1.332 asks): thinking blocks reach the
client without their text but with their signature, and the upstream that produced the reasoning
still gets it back on the next turn. Without ``display`` the text is shown, as before."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from anthroxy import Target, responses, signature
from anthroxy.chat import request as chat
from anthroxy.chat.reply import from_response
from anthroxy.context import ReplyContext
from anthroxy.events import BlockDelta
from anthroxy.profile import ProviderProfile
from anthroxy.responses.stream import ResponsesStream
from anthroxy.toolnames import ToolNames
from tests.anthropic_stream_validator import accumulate
from tests.core.chat_cases import payloads, translate

THOUGHT = "Paris first, then the tool."
DEEPSEEK = Target("myds", "deepseek-reasoner", profile=ProviderProfile())
CALL = {"index": 0, "id": "c1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"}}  # fmt: skip


def ctx(omit: bool) -> ReplyContext:
    names = ToolNames(["get_weather"])
    return ReplyContext("claude-x", DEEPSEEK, names, thinking=True, omit_thinking=omit)


def streamed(omit: bool) -> tuple[list[Any], list[dict[str, Any]]]:
    chunks = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": THOUGHT}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [CALL]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    events = translate(ctx(omit), chunks, "msg_1")
    return events, accumulate(events)["content"]


def replied(omit: bool) -> list[dict[str, Any]]:
    message = {"role": "assistant", "content": None, "tool_calls": [CALL],
               "reasoning_content": THOUGHT}  # fmt: skip
    upstream = {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    return list(from_response(upstream, ctx(omit), message_id="msg_1")["content"])


def thinking_of(content: list[dict[str, Any]]) -> dict[str, Any]:
    (block,) = [b for b in content if b["type"] == "thinking"]
    return block


def replayed(content: list[dict[str, Any]]) -> Any:
    body = {
        "model": "claude-x",
        "max_tokens": 100,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}]},
        ],
    }
    for block in content:
        if block["type"] == "tool_use":
            body["messages"][2]["content"][0]["tool_use_id"] = block["id"]
    upstream, _ = chat.to_request(body, DEEPSEEK)
    (assistant,) = [m for m in upstream["messages"] if m["role"] == "assistant"]
    return assistant.get("reasoning_content")


def test_a_streamed_thinking_block_goes_out_without_text_when_omitted() -> None:
    events, content = streamed(omit=True)
    assert not [e for e in events if isinstance(e, BlockDelta) and e.kind == "thinking_delta"]
    block = thinking_of(content)
    assert block["thinking"] == "" and signature.is_anthroxy(block["signature"])
    _, shown = streamed(omit=False)
    assert thinking_of(shown)["thinking"] == THOUGHT


@pytest.mark.parametrize("turn", [streamed, replied])
def test_the_hidden_reasoning_still_goes_back_to_its_model(turn: Any) -> None:
    content = turn(True)[1] if turn is streamed else turn(True)
    assert thinking_of(content)["thinking"] == ""
    assert replayed(content) == THOUGHT
    # Shown text replays as before, and no copy of it rides in the signature then.
    shown = turn(False)[1] if turn is streamed else turn(False)
    assert replayed(shown) == THOUGHT
    assert signature.HIDDEN_TEXT not in (signature.decode(thinking_of(shown)["signature"]) or {})


def test_a_responses_upstream_is_asked_for_no_summary_when_omitted() -> None:
    body = {"model": "x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "adaptive", "display": "omitted"}}  # fmt: skip
    upstream, rctx = responses.to_request(body, Target("oa", "gpt-5"))
    assert upstream["reasoning"] == {"effort": "high"}
    assert rctx.omit_thinking
    body["thinking"] = {"type": "adaptive"}
    upstream, rctx = responses.to_request(body, Target("oa", "gpt-5"))
    assert upstream["reasoning"] == {"effort": "high", "summary": "auto"}


def test_a_responses_summary_is_not_shown_when_omitted() -> None:
    events = [
        {"type": "response.created", "response": {"id": "r"}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "reasoning", "id": "rs_1"}},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0,
         "summary_index": 0, "delta": THOUGHT},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "reasoning", "id": "rs_1", "encrypted_content": "enc",
                  "summary": [{"type": "summary_text", "text": THOUGHT}]}},
        {"type": "response.completed", "response": {"id": "r", "usage": {}}},
    ]  # fmt: skip
    base = ReplyContext("claude-x", Target("oa", "gpt-5"), ToolNames([]), thinking=True)
    for omit, shown in ((True, ""), (False, THOUGHT)):
        stream = ResponsesStream(dataclasses.replace(base, omit_thinking=omit), message_id="m")
        out = [e for payload in events for e in stream.feed(payload)] + stream.close()
        block = thinking_of(accumulate(payloads(out))["content"])
        assert block["thinking"] == shown
        assert signature.decode(block["signature"]) == {"enc": "enc", "rid": "rs_1"}
