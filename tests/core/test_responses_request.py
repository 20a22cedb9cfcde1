"""Anthropic Messages request -> Responses API request: goldens, validation paths, purity."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from anthroxy import signature
from anthroxy.errors import InvalidRequest, UnsupportedFeature
from anthroxy.profile import ProviderProfile, Target
from anthroxy.responses.request import to_request

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden" / "responses_request"
CLAUDE_CODE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def make_target(spec: dict[str, Any]) -> Target:
    spec = dict(spec)
    profile = ProviderProfile(**spec.pop("profile", {}))
    return Target(profile=profile, **spec)


@pytest.mark.parametrize("case", CASES)
def test_golden_request(case: str) -> None:
    given = json.loads((GOLDEN / case / "input.json").read_text())
    expected = json.loads((GOLDEN / case / "expected.json").read_text())
    body, ctx = to_request(given["body"], make_target(given["target"]))
    assert body == expected
    assert ctx.requested_model == given["body"]["model"]
    assert ctx.stop_sequences == tuple(given["body"].get("stop_sequences", ()))


def test_golden_contexts_carry_thinking_and_tool_names() -> None:
    given = json.loads((GOLDEN / "tools_media_stops" / "input.json").read_text())
    _, ctx = to_request(given["body"], make_target(given["target"]))
    long_name = given["body"]["tools"][0]["name"]
    assert ctx.thinking is True
    assert ctx.tool_names.to_client(ctx.tool_names.to_upstream(long_name)) == long_name


TARGET = Target(provider="openai", model="gpt-5")


def base(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


BAD = [
    ({"model": "m", "messages": []}, "$.max_tokens"),
    (base(max_tokens="10"), "$.max_tokens"),
    (base(max_tokens=0), "$.max_tokens"),
    ({"model": "m", "max_tokens": 5}, "$.messages"),
    (base(messages=[{"role": "user"}]), "$.messages[0].content"),
    (base(messages=[{"role": "bot", "content": "x"}]), "$.messages[0].role"),
    (
        base(messages=[{"role": "user", "content": [{"type": "video"}]}]),
        "$.messages[0].content[0]",
    ),
    (
        base(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]),
        "$.messages[0].content[0].text",
    ),
    (
        base(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/bmp", "data": "x"},
                        }
                    ],
                }
            ]
        ),
        "$.messages[0].content[0].source.media_type",
    ),
    (
        base(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                }
            ]
        ),
        "$.messages[0].content[0].source.type",
    ),
    (
        base(
            messages=[
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "n", "input": "{}"}],
                }
            ]
        ),
        "$.messages[0].content[0].input",
    ),
    (
        base(messages=[{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]),
        "$.messages[0].content[0].tool_use_id",
    ),
    (base(system=[{"type": "image"}]), "$.system[0]"),
    (base(tools=[{"name": "a"}]), "$.tools[0].input_schema"),
    (base(tools=[{"type": "bash_20250124", "name": "bash"}]), "$.tools[0].type"),
    (base(tool_choice={"type": "some"}), "$.tool_choice.type"),
    (base(tool_choice={"type": "tool"}), "$.tool_choice.name"),
    (base(thinking={"type": "enabled"}), "$.thinking.budget_tokens"),
    (
        base(thinking={"type": "adaptive"}, output_config={"effort": "huge"}),
        "$.output_config.effort",
    ),
    (base(stop_sequences="END"), "$.stop_sequences"),
    (base(stop_sequences=["ok", 1]), "$.stop_sequences[1]"),
    (base(temperature="hot"), "$.temperature"),
    (base(metadata={"user_id": 5}), "$.metadata.user_id"),
    (base(output_config={"format": {"type": "regex"}}), "$.output_config.format"),
    (base(mcp_servers=[{"type": "url", "url": "u", "name": "n"}]), "$.mcp_servers"),
]


@pytest.mark.parametrize(("body", "path"), BAD)
def test_bad_input_names_the_json_path(body: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        to_request(body, TARGET)
    assert info.value.path == path
    assert info.value.status == 400
    assert info.value.to_body()["error"]["type"] == "invalid_request_error"


def test_unsupported_features_are_their_own_class() -> None:
    with pytest.raises(UnsupportedFeature):
        to_request(base(tools=[{"type": "computer_20250124", "name": "computer"}]), TARGET)


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest) as info:
        to_request([], TARGET)  # type: ignore[arg-type]
    assert info.value.path == "$"


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (4095, "low"), (4096, "medium"), (16383, "medium"), (16384, "high")],
)
def test_thinking_budget_buckets(budget: int, effort: str) -> None:
    body, ctx = to_request(base(thinking={"type": "enabled", "budget_tokens": budget}), TARGET)
    assert body["reasoning"] == {"effort": effort, "summary": "auto"}
    assert ctx.thinking is True


def test_disabled_thinking_sends_no_reasoning() -> None:
    body, ctx = to_request(base(thinking={"type": "disabled"}), TARGET)
    assert "reasoning" not in body
    assert ctx.thinking is False


def test_adaptive_thinking_defaults_to_high_effort() -> None:
    body, _ = to_request(base(thinking={"type": "adaptive"}), TARGET)
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            {"tool_choice": "auto", "parallel_tool_calls": False},
        ),
        ({"type": "tool", "name": "f"}, {"tool_choice": {"type": "function", "name": "f"}}),
    ],
)
def test_tool_choice_table(choice: dict[str, Any], expected: dict[str, Any]) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    body, _ = to_request(base(tools=tools, tool_choice=choice), TARGET)
    assert {k: body[k] for k in expected} == expected
    assert "parallel_tool_calls" in body or "parallel_tool_calls" not in expected


def test_long_call_ids_are_cut_to_64_the_same_way_on_both_sides() -> None:
    long_id = "toolu_" + "x" * 80
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": long_id, "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": long_id, "content": "ok"}],
        },
    ]
    body, _ = to_request(base(messages=messages), TARGET)
    call, output = body["input"][1], body["input"][2]
    assert len(call["call_id"]) <= 64
    assert call["call_id"] == output["call_id"]


def test_structured_output_becomes_text_format() -> None:
    schema = {"$schema": "x", "type": "object", "properties": {"title": {"type": "string"}}}
    body, _ = to_request(
        base(output_config={"format": {"type": "json_schema", "schema": schema}}), TARGET
    )
    assert body["text"] == {
        "format": {
            "type": "json_schema",
            "name": "output",
            "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
            "strict": False,
        }
    }


def test_redacted_thinking_with_our_signature_is_replayed() -> None:
    sig = signature.encode({"enc": "E", "rid": "rs_9"})
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "redacted_thinking", "data": sig}, {"type": "text", "text": "ok"}],
        },
    ]
    body, _ = to_request(base(messages=messages), TARGET)
    assert body["input"][1] == {
        "type": "reasoning",
        "id": "rs_9",
        "summary": [],
        "encrypted_content": "E",
    }


def test_reasoning_by_reference_is_dropped_when_stateless() -> None:
    sig = signature.encode({"rid": "rs_9"})  # no encrypted content: store:false cannot resolve it
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": sig}]},
    ]
    body, _ = to_request(base(messages=messages), TARGET)
    assert [item["type"] for item in body["input"]] == ["message"]


@pytest.mark.parametrize("name", ["turn1_request.json", "turn2_request_with_tool_result.json"])
def test_real_claude_code_requests_translate(name: str) -> None:
    request = json.loads((CLAUDE_CODE / name).read_text())["body"]
    snapshot = copy.deepcopy(request)
    body, ctx = to_request(request, Target(provider="openai", model="gpt-5"))
    assert request == snapshot  # never mutates its input
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert len(body["tools"]) == len(request["tools"])
    assert all("$schema" not in tool["parameters"] for tool in body["tools"])
    assert all(tool["strict"] is False for tool in body["tools"])
    roles = [item.get("role") for item in body["input"] if item["type"] == "message"]
    assert "developer" in roles  # the in-messages system entry kept its place
    assert len(body["user"]) == 64
    json.dumps(body)  # plain JSON all the way down
    assert ctx.thinking is True


def test_golden_inputs_are_not_mutated() -> None:
    for case in CASES:
        given = json.loads((GOLDEN / case / "input.json").read_text())
        snapshot = copy.deepcopy(given)
        to_request(given["body"], make_target(given["target"]))
        assert given == snapshot


_BASE = {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"tool_choice": {"type": ["auto"]}}, "$.tool_choice.type"),
        (
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": ["high"]}},
            "$.output_config.effort",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": ["text"]}]}]},
            "$.messages[0].content[0]",
        ),
        (
            {"tools": [{"type": "web_search_20250305", "name": "s", "allowed_domains": 5}]},
            "$.tools[0].allowed_domains",
        ),
    ],
)
def test_junk_values_are_invalid_requests_with_a_path(extra: dict[str, Any], path: str) -> None:
    # Review: each of these used to crash with a TypeError (unhashable / not iterable).
    with pytest.raises(InvalidRequest) as caught:
        to_request({**_BASE, **extra}, Target(provider="openai", model="gpt"))
    assert caught.value.path == path


def test_allowed_domains_are_copied_as_a_list() -> None:
    tool = {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["a.com"]}
    out, _ = to_request({**_BASE, "tools": [tool]}, Target(provider="openai", model="gpt"))
    assert out["tools"] == [{"type": "web_search", "filters": {"allowed_domains": ["a.com"]}}]
