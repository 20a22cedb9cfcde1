"""Tool search through a translating dialect: a tool with ``defer_loading`` stays out of the
upstream's tool list until a ``tool_reference`` in a tool result loads it (what Claude Code's
ToolSearch returns), and the reference reaches the model as a line of text. Claude Code 2.1.332
sends a deferred ``DeferredToolPlaceholder`` tool on every request; no model should see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anthroxy import Target, chat, responses
from anthroxy.errors import InvalidRequest
from anthroxy.messages.request import parse_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
TARGET = Target(provider="p", model="m")
SCHEMA = {"type": "object", "properties": {}}


def conversation(*, loaded: str | None) -> dict[str, Any]:
    result: list[dict[str, Any]] = [{"type": "text", "text": "found nothing"}]
    if loaded is not None:
        result = [{"type": "tool_reference", "tool_name": loaded}]
    return {
        "model": "claude-x",
        "max_tokens": 100,
        "tools": [
            {"name": "ToolSearch", "input_schema": SCHEMA},
            {"name": "mcp__db__query", "input_schema": SCHEMA, "defer_loading": True},
            {"name": "mcp__db__drop", "input_schema": SCHEMA, "defer_loading": True},
        ],
        "messages": [
            {"role": "user", "content": "query the db"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": result}],
            },
        ],
    }


def chat_tools(body: dict[str, Any]) -> list[str]:
    upstream, _ = chat.to_request(body, TARGET)
    return [tool["function"]["name"] for tool in upstream.get("tools", [])]


def responses_tools(body: dict[str, Any]) -> list[str]:
    upstream, _ = responses.to_request(body, TARGET)
    return [tool["name"] for tool in upstream.get("tools", [])]


@pytest.mark.parametrize("names_of", [chat_tools, responses_tools])
def test_deferred_tools_appear_only_once_loaded(names_of: Any) -> None:
    assert names_of(conversation(loaded=None)) == ["ToolSearch"]
    assert names_of(conversation(loaded="mcp__db__query")) == ["ToolSearch", "mcp__db__query"]


def test_a_tool_reference_reaches_the_model_as_text() -> None:
    upstream, _ = chat.to_request(conversation(loaded="mcp__db__query"), TARGET)
    assert upstream["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "t1",
        "content": "Tool mcp__db__query is loaded and can be called now.",
    }
    upstream, _ = responses.to_request(conversation(loaded="mcp__db__query"), TARGET)
    assert upstream["input"][-1]["output"] == "Tool mcp__db__query is loaded and can be called now."


def test_a_tool_reference_needs_its_tool_name() -> None:
    body = conversation(loaded="x")
    body["messages"][2]["content"][0]["content"] = [{"type": "tool_reference"}]
    with pytest.raises(InvalidRequest) as info:
        parse_request(body)
    assert info.value.path == "$.messages[2].content[0].content[0].tool_name"
    assert "'tool_name' is required" in info.value.message


@pytest.mark.parametrize(
    "name", ["v2.1.332_turn1_request.json", "v2.1.332_turn2_request_with_tool_result.json"]
)
def test_claude_code_2_1_332_placeholder_tool_is_not_offered(name: str) -> None:
    body = json.loads((FIXTURES / name).read_text())["body"]
    assert any(tool.get("defer_loading") for tool in body["tools"])
    for names in (chat_tools(body), responses_tools(body)):
        assert "DeferredToolPlaceholder" not in names
        assert "Write" in names and "ToolSearch" in names


@pytest.mark.parametrize("names_of", [chat_tools, responses_tools])
def test_a_deferred_tool_the_client_forces_is_offered(names_of: Any) -> None:
    body = conversation(loaded=None)
    body["tool_choice"] = {"type": "tool", "name": "mcp__db__drop"}
    assert names_of(body) == ["ToolSearch", "mcp__db__drop"]


def test_responses_sends_no_tool_choice_without_tools() -> None:
    body = conversation(loaded=None)
    body["tools"] = [body["tools"][1]]  # only a deferred tool, never loaded
    body["messages"] = body["messages"][:1]
    body["tool_choice"] = {"type": "any"}
    upstream, _ = responses.to_request(body, TARGET)
    assert "tools" not in upstream and "tool_choice" not in upstream
