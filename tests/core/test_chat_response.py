"""from_response: a Chat Completions body → an Anthropic message.

Golden cases in tests/golden/chat_response/<case>/ (upstream.json, context.json, expected.json,
written by hand; anthroxy signatures appear as ``{"anthroxy_payload": <decoded payload>}``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from anthroxy import signature
from anthroxy.chat.reply import from_response
from anthroxy.errors import AnthroxyError, UpstreamProtocolError
from tests.core.chat_cases import GOLDEN, make_context

CASES = sorted(p.name for p in (GOLDEN / "chat_response").iterdir() if p.is_dir())
CTX = make_context({"requested_model": "claude-x", "provider": "mock", "tools": ["Bash"]})


def readable(message: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(message)
    for block in out["content"]:
        if block["type"] == "thinking":
            assert signature.is_anthroxy(block["signature"])
            block["signature"] = {"anthroxy_payload": signature.decode(block["signature"])}
    return out


@pytest.mark.parametrize("case", CASES)
def test_golden_response(case: str) -> None:
    case_dir = GOLDEN / "chat_response" / case
    spec = json.loads((case_dir / "context.json").read_text())
    upstream = json.loads((case_dir / "upstream.json").read_text())
    expected = json.loads((case_dir / "expected.json").read_text())
    expected.pop("_comment", None)
    before = copy.deepcopy(upstream)
    message = from_response(upstream, make_context(spec), message_id=spec["message_id"])
    assert upstream == before, "from_response changed its input"
    assert readable(message) == expected


def body(message: dict[str, Any], finish: str | None = "stop", **top: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "finish_reason": finish, "message": message}], **top}


def call(arguments: Any, name: Any = "Bash", call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(
    ("upstream", "path", "fragment"),
    [
        ({}, "$.choices", "no choices"),
        ({"choices": []}, "$.choices", "no choices"),
        ({"choices": [{"finish_reason": "stop"}]}, "$.choices[0].message", "no message"),
        (body({"content": 5}), "$.choices[0].message.content", "not a string"),
        (
            body({"content": None, "tool_calls": [call("{not json")]}, "tool_calls"),
            "$.choices[0].message.tool_calls[0].function.arguments",
            "not valid JSON",
        ),
        (
            body({"content": None, "tool_calls": [call("[1, 2]")]}, "tool_calls"),
            "$.choices[0].message.tool_calls[0].function.arguments",
            "not a JSON object",
        ),
        (
            body({"content": None, "tool_calls": [call("{}", name=None)]}, "tool_calls"),
            "$.choices[0].message.tool_calls[0]",
            "no function name",
        ),
        (body({"content": "x"}, "weird"), "$.choices[0].finish_reason", "unknown finish_reason"),
        (body({"content": "x"}, 3), "$.choices[0].finish_reason", "not a string"),
        (
            body({"content": "x"}, usage={"prompt_tokens": "1"}),
            "$.usage.prompt_tokens",
            "not an integer",
        ),
    ],
)
def test_bad_upstream_bodies_raise_with_a_path(upstream: dict, path: str, fragment: str) -> None:
    with pytest.raises(UpstreamProtocolError) as info:
        from_response(upstream, CTX, message_id="msg_1")
    assert info.value.path == path
    assert fragment in info.value.message
    assert info.value.status == 502


def test_error_object_in_a_200_body_raises_the_mapped_error() -> None:
    upstream = {"error": {"code": 429, "message": "Rate limit exceeded"}, "user_id": "u"}
    with pytest.raises(AnthroxyError) as info:
        from_response(upstream, CTX, message_id="msg_1")
    assert info.value.error_type == "rate_limit_error"
    assert "Rate limit exceeded" in info.value.message


def test_empty_arguments_mean_no_parameters() -> None:
    upstream = body({"content": None, "tool_calls": [call("")]}, "tool_calls")
    message = from_response(upstream, CTX, message_id="msg_1")
    assert message["content"][0]["input"] == {}


def test_arguments_given_as_an_object_are_copied_not_shared() -> None:
    args = {"nested": {"k": [1]}}
    upstream = body({"content": None, "tool_calls": [call(args)]}, "tool_calls")
    message = from_response(upstream, CTX, message_id="msg_1")
    assert message["content"][0]["input"] == args
    message["content"][0]["input"]["nested"]["k"].append(2)
    assert args == {"nested": {"k": [1]}}


def test_legacy_function_call_becomes_a_tool_use() -> None:
    upstream = body(
        {"content": None, "function_call": {"name": "Bash", "arguments": '{"command":"ls"}'}},
        "function_call",
    )
    message = from_response(upstream, CTX, message_id="msg_1")
    assert message["stop_reason"] == "tool_use"
    assert message["content"][0]["name"] == "Bash"
    assert message["content"][0]["input"] == {"command": "ls"}
    assert message["content"][0]["id"].startswith("toolu_")


def test_unmatched_stop_string_is_end_turn() -> None:
    ctx = make_context({"requested_model": "m", "stop_sequences": ["END"]})
    upstream = {"choices": [{"finish_reason": "stop", "stop_reason": 151645, "message": {}}]}
    message = from_response(upstream, ctx, message_id="msg_1")
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)


def test_content_as_a_list_of_text_parts() -> None:
    upstream = body({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
    assert from_response(upstream, CTX, message_id="m")["content"] == [
        {"type": "text", "text": "ab"}
    ]


def test_duplicate_upstream_ids_get_distinct_client_ids() -> None:
    calls = [call("{}", call_id="dup"), call("{}", call_id="dup")]
    upstream = body({"content": None, "tool_calls": calls}, "tool_calls")
    ids = [b["id"] for b in from_response(upstream, CTX, message_id="m")["content"]]
    assert ids[0] == "dup" and ids[1] != "dup" and ids[1].startswith("toolu_")


@pytest.mark.parametrize("usage", [{}, None, {"total_tokens": 9}])
def test_a_reply_without_usable_usage_is_estimated_like_a_stream(usage: Any) -> None:
    ctx = make_context({"requested_model": "claude-x", "input_tokens_estimate": 40})
    upstream = body({"role": "assistant", "content": "hello world"}, usage=usage)
    message = from_response(upstream, ctx, message_id="msg_1")
    # The request-side estimate, and ~4 characters a token for the 11 of the answer.
    assert message["usage"]["input_tokens"] == 40
    assert message["usage"]["output_tokens"] == 3
