"""Invariant: reasoning goes back to whoever produced it (docs/protocol/translation-rules.md §5.3).

A Chat reply's thinking block is signed with its origin (provider id, upstream model, the field
the reasoning came in). On a later turn it is replayed in that field to that provider and model,
whatever the profile says, and dropped for any other target; the profile only adds what a
signature cannot know (DeepSeek's empty ``reasoning_content`` on tool-call turns) and decides for
blocks whose origin is unknown (old anthroxy signatures, real and foreign ones).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from anthroxy import signature
from anthroxy.chat import request as chat
from anthroxy.chat.reply import from_response
from anthroxy.context import ReplyContext
from anthroxy.passthrough import request_bytes
from anthroxy.profile import ProviderProfile, Target
from anthroxy.responses import request as responses
from anthroxy.toolnames import ToolNames
from tests.anthropic_stream_validator import accumulate
from tests.core.chat_cases import translate

THOUGHT = "The user wants the weather; call get_weather for Paris."
DEEPSEEK = Target("myds", "deepseek-reasoner")  # a provider id the catalogue does not know
DEEPSEEK_PROFILE = ProviderProfile(thinking_replay="reasoning_content")
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object"}}]


def _ctx(target: Target) -> ReplyContext:
    return ReplyContext("claude-x", target, ToolNames(["get_weather"]), thinking=True)


def _call(thought_signature: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    if thought_signature is not None:
        call["extra_content"] = {"google": {"thought_signature": thought_signature}}
    return call


def _reasoning(field: str) -> dict[str, Any]:
    """One delta's reasoning in ``field``, as the providers that use it send it."""
    if field == "reasoning_details":
        # OpenRouter sends the text in ``reasoning`` and the item in ``reasoning_details``.
        item = {"type": "reasoning.text", "text": THOUGHT, "signature": "sig", "index": 0}
        return {"reasoning": THOUGHT, "reasoning_details": [item]}
    return {"content": None, field: THOUGHT}


def _streamed_turn(target: Target, field: str | None, thought_signature: str | None = None):
    """The assistant content Claude Code sends back after a streamed reasoning + tool call."""
    chunks = [{"choices": [{"index": 0, "delta": _reasoning(field)}]}] if field else []
    chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [_call(thought_signature)]}}]})
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    return accumulate(translate(_ctx(target), chunks, "msg_1"))["content"]


def _json_turn(target: Target, field: str) -> list[dict[str, Any]]:
    message = {"role": "assistant", "content": None, "tool_calls": [_call()], **_reasoning(field)}
    upstream = {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    return from_response(upstream, _ctx(target), message_id="msg_1")["content"]


def _next_request(content: list[dict[str, Any]]) -> dict[str, Any]:
    tool_id = next(b["id"] for b in content if b["type"] == "tool_use")
    return {
        "model": "claude-x",
        "max_tokens": 1000,
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id}]},
        ],
    }


def _assistant_sent(content: list[dict[str, Any]], target: Target) -> dict[str, Any]:
    body, _ = chat.to_request(_next_request(content), target)
    (message,) = [m for m in body["messages"] if m["role"] == "assistant"]
    return message


def _payload(content: list[dict[str, Any]]) -> dict[str, Any]:
    (block,) = [b for b in content if b["type"] == "thinking"]
    payload = signature.decode(block["signature"])
    assert payload is not None
    return payload


# -- the signature records the origin -------------------------------------------------------

FIELDS = ["reasoning_content", "reasoning", "reasoning_details"]
TURNS = {"stream": _streamed_turn, "json": _json_turn}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("reply", TURNS)
def test_signature_names_provider_model_and_field(reply: str, field: str) -> None:
    payload = _payload(TURNS[reply](DEEPSEEK, field))
    assert signature.origin(payload) == ("myds", "deepseek-reasoner")
    assert signature.reasoning_field(payload) == field


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("reply", TURNS)
def test_signature_holds_the_origin_and_no_copy_of_the_text(reply: str, field: str) -> None:
    content = TURNS[reply](DEEPSEEK, field)
    assert _payload(content) == {"p": "myds", "m": "deepseek-reasoner", "f": field}
    (block,) = [b for b in content if b["type"] == "thinking"]
    assert block["thinking"] == THOUGHT
    assert THOUGHT not in base64.urlsafe_b64decode(block["signature"][10:] + "==").decode()
    assert len(block["signature"]) < 100


def test_a_thought_signature_alone_records_who_made_it_but_no_field() -> None:
    gemini = Target("gem", "gemini-3-pro-preview")
    payload = _payload(_streamed_turn(gemini, None, thought_signature="U0lH"))
    assert payload == {"p": "gem", "m": "gemini-3-pro-preview", "ts": {"call_1": "U0lH"}}


# -- replay matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("reply", TURNS)
def test_same_provider_and_model_get_the_reasoning_back_in_its_field(reply: str, field: str):
    """Whatever the profile (here the default, which drops thinking) or provider id."""
    message = _assistant_sent(TURNS[reply](DEEPSEEK, field), DEEPSEEK)
    if field == "reasoning_details":
        assert message["reasoning_details"] == [
            {"type": "reasoning.text", "text": THOUGHT, "signature": "sig", "index": 0}
        ]
    else:
        assert message[field] == THOUGHT
    others = {"reasoning_content", "reasoning", "reasoning_details"} - {field}
    assert not others & message.keys()
    assert message["tool_calls"][0]["id"] == "call_1"


OTHER_TARGETS = {
    "other model": Target("myds", "deepseek-chat"),
    "other provider": Target("groq", "deepseek-reasoner"),
    "other provider, same profile": Target("kimi", "deepseek-reasoner", DEEPSEEK_PROFILE),
    "openrouter profile": Target(
        "or", "deepseek-reasoner", ProviderProfile(thinking_replay="reasoning_details")
    ),
}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("other", OTHER_TARGETS)
def test_any_other_target_gets_none_of_it(other: str, field: str) -> None:
    target = OTHER_TARGETS[other]
    message = _assistant_sent(_streamed_turn(DEEPSEEK, field), target)
    sent = json.dumps(message)
    assert THOUGHT not in sent and "reasoning_details" not in sent and '"reasoning"' not in sent
    # The profile still adds what DeepSeek-style upstreams require on a tool-call turn.
    if target.profile.thinking_replay == "reasoning_content":
        assert message["reasoning_content"] == ""
    else:
        assert "reasoning_content" not in message


def test_the_profile_adds_an_empty_reasoning_content_to_tool_call_turns_without_thinking():
    content = [b for b in _streamed_turn(DEEPSEEK, None) if b["type"] == "tool_use"]
    target = Target("myds", "deepseek-reasoner", DEEPSEEK_PROFILE)
    assert _assistant_sent(content, target)["reasoning_content"] == ""
    assert "reasoning_content" not in _assistant_sent(content, DEEPSEEK)  # no profile: no key


def test_replayed_text_and_profile_agree_on_the_field() -> None:
    target = Target("myds", "deepseek-reasoner", DEEPSEEK_PROFILE)
    content = _streamed_turn(target, "reasoning_content")
    assert _assistant_sent(content, target)["reasoning_content"] == THOUGHT


def test_each_block_of_a_turn_is_judged_on_its_own_origin() -> None:
    ours = _streamed_turn(DEEPSEEK, "reasoning_content")
    theirs = _streamed_turn(Target("kimi", "kimi-k2-thinking"), "reasoning_content")
    other_thinking = next(b for b in theirs if b["type"] == "thinking")
    content = [{**other_thinking, "thinking": "not mine"}, *ours]
    assert _assistant_sent(content, DEEPSEEK)["reasoning_content"] == THOUGHT


def test_a_reasoning_only_turn_keeps_its_reasoning_and_gets_empty_content() -> None:
    content = [b for b in _streamed_turn(DEEPSEEK, "reasoning") if b["type"] == "thinking"]
    body, _ = chat.to_request(
        {
            "model": "claude-x",
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": content},
                {"role": "user", "content": "again"},
            ],
        },
        DEEPSEEK,
    )
    assert body["messages"][1] == {"role": "assistant", "content": "", "reasoning": THOUGHT}


# -- Gemini thought signatures follow the same rule -----------------------------------------

GEMINI = Target("gem", "gemini-3-pro-preview", ProviderProfile(thought_signatures=True))


def _extra(message: dict[str, Any]) -> Any:
    return message["tool_calls"][0].get("extra_content")


def test_thought_signatures_go_back_to_the_gemini_model_that_made_them() -> None:
    content = _streamed_turn(GEMINI, None, thought_signature="U0lH")
    assert _extra(_assistant_sent(content, GEMINI)) == {"google": {"thought_signature": "U0lH"}}
    # Under a provider id without the Gemini profile too: the producer wants its own back.
    plain = Target("gem", "gemini-3-pro-preview")
    assert _extra(_assistant_sent(_streamed_turn(plain, None, "U0lH"), plain)) is not None


def test_another_gemini_model_gets_the_placeholder_not_the_signature() -> None:
    content = _streamed_turn(GEMINI, None, thought_signature="U0lH")
    flash = Target("gem", "gemini-3-flash-preview", GEMINI.profile)
    placeholder = {"google": {"thought_signature": chat.GEMINI_SKIP_SIGNATURE}}
    assert _extra(_assistant_sent(content, flash)) == placeholder
    assert _extra(_assistant_sent(content, Target("groq", "gemini-3-pro-preview"))) is None


# -- signatures without an origin: the profile decides, as before ---------------------------

LEGACY = {
    "empty anthroxy": signature.encode({}),
    "real Anthropic": "EqQBCkgIARABGAIiQL2ZF",
}


@pytest.mark.parametrize("sig", LEGACY.values(), ids=list(LEGACY))
@pytest.mark.parametrize(
    ("replay", "expected"),
    [("drop", None), ("reasoning_content", THOUGHT)],
)
def test_unknown_origin_text_is_replayed_only_where_the_profile_asks(sig, replay, expected):
    content = [
        {"type": "thinking", "thinking": THOUGHT, "signature": sig},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    ]
    target = Target("myds", "deepseek-reasoner", ProviderProfile(thinking_replay=replay))
    assert _assistant_sent(content, target).get("reasoning_content") == expected


def test_unknown_origin_details_and_thought_signatures_follow_the_profile() -> None:
    item = {"type": "reasoning.text", "text": "t", "signature": "s", "index": 0}
    sig = signature.encode({"rd": [item], "ts": {"toolu_1": "U0lH"}})
    content = [
        {"type": "thinking", "thinking": "t", "signature": sig},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    ]
    plain = _assistant_sent(content, Target("x", "m"))
    assert "reasoning_details" not in plain and _extra(plain) is None
    profile = ProviderProfile(thinking_replay="reasoning_details", thought_signatures=True)
    replayed = _assistant_sent(content, Target("x", "m", profile))
    assert replayed["reasoning_details"] == [item]
    assert _extra(replayed) == {"google": {"thought_signature": "U0lH"}}


def test_an_origin_with_an_unknown_field_replays_no_text() -> None:
    sig = signature.encode({"p": "myds", "m": "deepseek-reasoner", "f": "thoughts"})
    content = [{"type": "thinking", "thinking": THOUGHT, "signature": sig}]
    request = _next_request([*content, {"type": "tool_use", "id": "t", "name": "x", "input": {}}])
    body, _ = chat.to_request(request, DEEPSEEK)
    assert THOUGHT not in json.dumps(body)


# -- the other dialects ----------------------------------------------------------------------


def test_responses_drops_a_chat_origin_thinking_block() -> None:
    content = _streamed_turn(DEEPSEEK, "reasoning_content")
    body, _ = responses.to_request(_next_request(content), Target("myds", "deepseek-reasoner"))
    assert [i["type"] for i in body["input"] if i.get("type") == "reasoning"] == []
    assert THOUGHT not in json.dumps(body)


def test_pass_through_drops_a_chat_origin_thinking_block() -> None:
    content = _streamed_turn(DEEPSEEK, "reasoning_content")
    body = _next_request(content)
    sent = json.loads(request_bytes(json.dumps(body).encode(), body, "claude-sonnet-4-6"))
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]
