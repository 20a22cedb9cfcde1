"""Invariant: a Messages request is judged by one set of rules, whatever the upstream's dialect.

Every request below was once answered differently by the Chat Completions and the Responses
dialects (one refused it, the other sent it upstream; or both refused it in different words, or
at different paths), or is a value the Anthropic API refuses that both used to let through. Now
``messages.request.parse_request``, chat.to_request and responses.to_request all give the same
400: same class, same message, same JSON path.
"""

from __future__ import annotations

import copy
import json
import math
import pathlib
from typing import Any

import pytest

from anthroxy.chat import request as chat
from anthroxy.errors import InvalidRequest
from anthroxy.messages.request import MessagesRequest, parse_request
from anthroxy.profile import Target
from anthroxy.responses import request as responses

CHAT = Target(provider="mock", model="up-model")
RESPONSES = Target(provider="openai", model="gpt-5")
TOOL = {"name": "f", "input_schema": {"type": "object"}}
PNG = {"type": "base64", "media_type": "image/png", "data": "AA=="}


def body(**changes: Any) -> dict[str, Any]:
    return {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **changes,
    }


def user(*blocks: Any) -> dict[str, Any]:
    return body(messages=[{"role": "user", "content": list(blocks)}])


def assistant(*blocks: Any) -> dict[str, Any]:
    turn = {"role": "assistant", "content": list(blocks)}
    return body(messages=[{"role": "user", "content": "hi"}, turn])


def budget(value: Any) -> dict[str, Any]:
    return body(thinking={"type": "enabled", "budget_tokens": value})


# (case, body, JSON path, message without the path)
# fmt: off
REFUSED: list[tuple[str, Any, str, str]] = [
    # chat refused these; responses sent them upstream
    ("budget true", budget(True), "$.thinking.budget_tokens",
     "'budget_tokens' must be an integer of at least 1024, got true"),
    ("budget -5", budget(-5), "$.thinking.budget_tokens",
     "'budget_tokens' must be an integer of at least 1024, got -5"),
    ("empty messages", body(messages=[]), "$.messages", "'messages' must not be empty"),
    ("empty user content", user(), "$.messages[0].content",
     "'content' must not be empty (only a final assistant message may be)"),
    ("empty model", body(model=""), "$.model",
     "'model' must be a non-empty string, got an empty string"),
    ("effort without adaptive thinking", body(output_config={"effort": "huge"}),
     "$.output_config.effort",
     "unsupported effort 'huge'; expected one of 'low', 'medium', 'high', 'xhigh', 'max'"),
    ("tool_choice names no tool", body(tools=[TOOL], tool_choice={"type": "tool", "name": "g"}),
     "$.tool_choice.name", "tool_choice names 'g', which is not in 'tools'"),
    ("disable_parallel_tool_use not a boolean",
     body(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": "yes"}),
     "$.tool_choice.disable_parallel_tool_use",
     "'disable_parallel_tool_use' must be a boolean, got a string"),
    ("is_error not a boolean", user({"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}),
     "$.messages[0].content[0].is_error", "'is_error' must be a boolean, got a string"),
    ("base64 document not a PDF",
     user({"type": "document", "source": {**PNG, "media_type": "text/html"}}),
     "$.messages[0].content[0].source.media_type",
     "a base64 document must have media_type 'application/pdf', got 'text/html'"),
    ("NaN in a tool input",
     assistant({"type": "tool_use", "id": "t", "name": "f", "input": {"x": math.nan}}),
     "$.messages[1].content[0].input",
     "'input' must hold only JSON values (no NaN or Infinity)"),
    ("web_search tool without a name", body(tools=[{"type": "web_search_20250305"}]),
     "$.tools[0].name", "'name' is required"),
    # responses refused these; chat sent them upstream
    ("empty stop sequence", body(stop_sequences=[""]), "$.stop_sequences[0]",
     "a stop sequence must not be empty"),
    ("empty tool name", body(tools=[{**TOOL, "name": ""}]), "$.tools[0].name",
     "'name' must be a non-empty string, got an empty string"),
    ("server tool block in a user message",
     user({"type": "web_search_tool_result", "tool_use_id": "s", "content": []}),
     "$.messages[0].content[0]",
     "a 'web_search_tool_result' block cannot appear in a user message"),
    # both refused, in different words or at different paths
    ("budget 1.5", budget(1.5), "$.thinking.budget_tokens",
     "'budget_tokens' must be an integer of at least 1024, got 1.5"),
    ("max_tokens a string", body(max_tokens="10"), "$.max_tokens",
     "'max_tokens' must be a positive integer, got a string"),
    ("stop sequence not a string", body(stop_sequences=["ok", 1]), "$.stop_sequences[1]",
     "expected a string, got 1"),
    ("format not json_schema", body(output_config={"format": {"type": "regex"}}),
     "$.output_config.format", "unsupported format type 'regex'; only 'json_schema' is supported"),
    ("unknown block type", user({"type": "text", "text": "a"}, {"type": "video"}),
     "$.messages[0].content[1]", "unsupported content block type 'video'"),
    ("image in an assistant message", assistant({"type": "image", "source": PNG}),
     "$.messages[1].content[0]", "a 'image' block cannot appear in an assistant message"),
    ("image in a system prompt", body(system=[{"type": "image", "source": PNG}]), "$.system[0]",
     "a 'image' block cannot appear in a system prompt"),
    ("search_result with an image", user({
        "type": "search_result", "source": "s", "title": "t",
        "content": [{"type": "image", "source": PNG}],
    }), "$.messages[0].content[0].content[0]",
     "a 'image' block cannot appear in a search_result's content"),
    ("user_id a number", body(metadata={"user_id": 5}), "$.metadata.user_id",
     "'user_id' must be a string, got 5"),
    ("stream a string", body(stream="yes"), "$.stream", "'stream' must be a boolean, got a string"),
    ("unknown thinking type", body(thinking={"type": "sometimes"}), "$.thinking.type",
     "unsupported thinking type 'sometimes'; expected one of 'enabled', 'adaptive', 'disabled'"),
    # both sent these upstream; the Anthropic API refuses them
    ("budget below 1024", budget(1000), "$.thinking.budget_tokens",
     "'budget_tokens' must be an integer of at least 1024, got 1000"),
    ("thinking display unknown", body(thinking={"type": "adaptive", "display": "verbose"}),
     "$.thinking.display",
     "unsupported thinking display 'verbose'; expected one of 'summarized', 'omitted'"),
    ("temperature NaN", body(temperature=math.nan), "$.temperature",
     "'temperature' must be a finite number, got nan"),
    ("top_p Infinity", body(top_p=math.inf), "$.top_p",
     "'top_p' must be a finite number, got inf"),
    ("top_k a string", body(top_k="5"), "$.top_k",
     "'top_k' must be a non-negative integer, got a string"),
    ("redacted_thinking without data", assistant({"type": "redacted_thinking"}),
     "$.messages[1].content[0].data", "'data' is required"),
    ("thinking signature a number",
     assistant({"type": "thinking", "thinking": "t", "signature": 5}),
     "$.messages[1].content[0].signature", "'signature' must be a string, got 5"),
    ("document title a number",
     user({"type": "document", "source": {"type": "text", "data": "d"}, "title": 5}),
     "$.messages[0].content[0].title", "'title' must be a string, got 5"),
]
# fmt: on


@pytest.mark.parametrize(
    ("case", "request_body", "path", "message"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_both_dialects_refuse_with_the_same_400(
    case: str, request_body: Any, path: str, message: str
) -> None:
    before = copy.deepcopy(request_body)
    errors = []
    for translate in (
        lambda: parse_request(request_body),
        lambda: chat.to_request(request_body, CHAT),
        lambda: responses.to_request(request_body, RESPONSES),
    ):
        with pytest.raises(InvalidRequest) as caught:
            translate()
        errors.append(caught.value)
    for error in errors:
        assert type(error) is InvalidRequest, case  # the client's mistake, not a missing feature
        assert error.status == 400
        assert error.to_body() == {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": f"{message} @ {path}"},
        }
    assert str(request_body) == str(before)  # never mutated (NaN != NaN, so compared as text)


@pytest.mark.parametrize(
    "extra",
    [
        {"top_k": 5},
        {"thinking": {"type": "adaptive", "display": "omitted"}},
        {"thinking": {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}},
        {"service_tier": "auto", "context_management": {"edits": []}, "speed": "fast"},
        {"a_field_claude_code_adds_next_month": [1, {"x": None}]},
    ],
)
def test_both_dialects_accept_what_the_anthropic_api_accepts(extra: dict[str, Any]) -> None:
    plain = body(thinking=extra["thinking"]) if "thinking" in extra else body()
    for translate, target in ((chat.to_request, CHAT), (responses.to_request, RESPONSES)):
        assert translate(body(**extra), target)[0] == translate(plain, target)[0]


def test_a_parsed_request_renders_like_its_body() -> None:
    request_body = body(
        system="be brief",
        tools=[TOOL],
        tool_choice={"type": "any"},
        thinking={"type": "enabled", "budget_tokens": 5000},
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        stream=True,
    )
    parsed = parse_request(request_body)
    assert isinstance(parsed, MessagesRequest)
    for translate, target in ((chat.to_request, CHAT), (responses.to_request, RESPONSES)):
        out, ctx = translate(parsed, target)
        expected, expected_ctx = translate(request_body, target)
        assert out == expected
        assert (ctx.stop_sequences, ctx.thinking) == (expected_ctx.stop_sequences, True)


@pytest.mark.parametrize("translate", [chat.to_request, responses.to_request])
def test_to_request_builds_the_whole_reply_context(translate: Any) -> None:
    target = CHAT if translate is chat.to_request else RESPONSES
    _, ctx = translate(body(stop_sequences=["END"]), target)
    assert (ctx.requested_model, ctx.input_tokens_estimate) == ("claude-x", 0)
    _, ctx = translate(
        parse_request(body(stop_sequences=["END"])), target, reply_model="gpt-x", input_tokens=42
    )
    assert (ctx.requested_model, ctx.input_tokens_estimate) == ("gpt-x", 42)
    assert ctx.stop_sequences == ("END",) and ctx.target is target


def _walk(blocks: Any, path: str) -> Any:
    """(expected path, block) for every block, nested ones included."""
    for i, block in enumerate(blocks):
        here = f"{path}[{i}]"
        yield here, block
        content = getattr(block, "content", None)
        if isinstance(content, tuple):
            yield from _walk(content, f"{here}.content")


@pytest.mark.parametrize("name", ["turn1_request.json", "turn2_request_with_tool_result.json"])
def test_every_parsed_block_keeps_its_json_path(name: str) -> None:
    fixtures = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
    request_body = json.loads((fixtures / name).read_text())["body"]
    parsed = parse_request(request_body)
    assert [tool.path for tool in parsed.tools] == [
        f"$.tools[{i}]" for i in range(len(request_body["tools"]))
    ]
    for i, message in enumerate(parsed.messages):
        assert message.path == f"$.messages[{i}]"
        raw = request_body["messages"][i]["content"]
        if isinstance(raw, str):
            assert [b.path for b in message.content] == [f"{message.path}.content"]
            continue
        for path, block in _walk(message.content, f"{message.path}.content"):
            assert block.path == path
    assert parsed.system_text == "\n\n".join(b["text"] for b in request_body["system"])
