"""Anthropic Messages request -> Chat Completions request (anthroxy.chat.to_request).

Invariants: every golden case maps to its hand-written expected body; bad input raises the right
error with a JSON path naming the culprit; the caller's body is never mutated; the ReplyContext
carries what the reply translators need.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pathlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anthroxy.chat import request as chat
from anthroxy.errors import InvalidRequest, UnsupportedFeature
from anthroxy.profile import ProviderProfile, Target

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden" / "chat_request"
FIXTURES = ROOT / "fixtures" / "claude-code"
DOC = ROOT.parent / "docs" / "translation.md"
TARGET = Target(provider="mock", model="up-model")


def _load(path: pathlib.Path) -> Any:
    return json.loads(path.read_text())


def _target(case: pathlib.Path) -> Target:
    spec_path = case / "target.json"
    if not spec_path.exists():
        return TARGET
    spec = _load(spec_path)
    return Target(
        provider=spec["provider"],
        model=spec["model"],
        profile=ProviderProfile(**spec.get("profile", {})),
        max_output_tokens=spec.get("max_output_tokens"),
    )


def _claude_code(name: str) -> dict[str, Any]:
    body: dict[str, Any] = _load(FIXTURES / name)["body"]
    return body


CASES = sorted(p for p in GOLDEN.iterdir() if (p / "input.json").exists())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: pathlib.Path) -> None:
    body = _load(case / "input.json")
    before = copy.deepcopy(body)
    out, ctx = chat.to_request(body, _target(case))
    assert out == _load(case / "expected.json")
    assert body == before
    # The result is plain JSON: it serialises, and survives a round trip unchanged.
    assert json.loads(json.dumps(out)) == out
    assert ctx.requested_model == body["model"]


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 15


# --- the real Claude Code requests ---------------------------------------------------------


@pytest.mark.parametrize("name", ["turn1_request.json", "turn2_request_with_tool_result.json"])
@pytest.mark.parametrize("dialect", ["openai", "gemini", "passthrough"])
def test_claude_code_requests_translate_without_mutation(name: str, dialect: Any) -> None:
    body = _claude_code(name)
    before = copy.deepcopy(body)
    target = Target("p", "up", ProviderProfile(schema_dialect=dialect, thought_signatures=True))
    out, ctx = chat.to_request(body, target)
    assert body == before
    assert [t["function"]["name"] for t in out["tools"]] == [t["name"] for t in body["tools"]]
    assert ctx.thinking is True  # adaptive
    assert ctx.input_tokens_estimate == 0
    assert ctx.stop_sequences == ()
    assert len(out["user"]) == 64  # the ~150-character JSON user id is hashed
    assert out["stream_options"] == {"include_usage": True}
    assert "context_management" not in out and "output_config" not in out


def test_reply_context() -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 5,
        "stop_sequences": ["A", "B"],
        "thinking": {"type": "adaptive"},
        "tools": [{"name": "mcp__" + "x" * 80, "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "Old" * 30, "input": {}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
        ],
    }
    target = Target("p", "up")
    out, ctx = chat.to_request(body, target)
    assert ctx.requested_model == "claude-x"
    assert ctx.target is target
    assert ctx.stop_sequences == ("A", "B")
    assert ctx.thinking is True
    assert ctx.input_tokens_estimate == 0
    # Both the declared tool and the history-only tool map back to their original names.
    upstream = out["tools"][0]["function"]["name"]
    assert len(upstream) <= 64 and ctx.tool_names.to_client(upstream) == "mcp__" + "x" * 80
    history = out["messages"][1]["tool_calls"][0]["function"]["name"]
    assert ctx.tool_names.to_client(history) == "Old" * 30


@pytest.mark.parametrize(
    ("thinking", "effort", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4095}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4096}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 16383}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 16384}, None, "high"),
        ({"type": "adaptive"}, None, "high"),
        ({"type": "adaptive"}, "low", "low"),
        ({"type": "adaptive"}, "medium", "medium"),
        ({"type": "adaptive"}, "xhigh", "high"),
        ({"type": "adaptive"}, "max", "high"),
        ({"type": "disabled"}, "low", None),
        (None, "low", None),
    ],
)
def test_reasoning_effort(thinking: Any, effort: Any, expected: str | None) -> None:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 99,
        "messages": [{"role": "user", "content": "x"}],
    }
    if thinking is not None:
        body["thinking"] = thinking
    if effort is not None:
        body["output_config"] = {"effort": effort}
    profile = ProviderProfile(reasoning_param="reasoning_effort")
    out, ctx = chat.to_request(body, Target("p", "m", profile))
    assert out.get("reasoning_effort") == expected
    assert ctx.thinking is (expected is not None)
    for param in ("none", "deepseek", "openrouter"):
        other, _ = chat.to_request(body, Target("p", "m", ProviderProfile(reasoning_param=param)))
        assert "reasoning_effort" not in other


def test_openrouter_adaptive_uses_effort_and_deepseek_enables_thinking() -> None:
    body = {
        "model": "m",
        "max_tokens": 9,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "medium"},
        "messages": [{"role": "user", "content": "x"}],
    }
    out, _ = chat.to_request(body, Target("p", "m", ProviderProfile(reasoning_param="openrouter")))
    assert out["reasoning"] == {"effort": "medium"}
    out, _ = chat.to_request(body, Target("p", "m", ProviderProfile(reasoning_param="deepseek")))
    assert out["thinking"] == {"type": "enabled"}


@pytest.mark.parametrize(
    ("user_id", "user_max", "expected"),
    [
        ("user-42", 64, "user-42"),
        ("a" * 64, 64, "a" * 64),
        ("a" * 65, 64, None),  # too long: hashed
        ("has space", 64, None),  # not plain: hashed
        ("user-42-long", 8, None),  # too long for the cap: hashed to 8 characters
    ],
)
def test_user_id(user_id: str, user_max: int, expected: str | None) -> None:
    body = {
        "model": "m",
        "max_tokens": 1,
        "metadata": {"user_id": user_id},
        "messages": [{"role": "user", "content": "x"}],
    }
    out, _ = chat.to_request(body, Target("p", "m", ProviderProfile(user_max=user_max)))
    value = out["user"]
    assert len(value) <= user_max
    if expected is not None and len(user_id) <= user_max:
        assert value == expected
    else:
        assert value == hashlib.sha256(user_id.encode()).hexdigest()[:user_max]
        # Stable: the same id hashes the same way on every request.
        assert (
            chat.to_request(body, Target("p", "m", ProviderProfile(user_max=user_max)))[0]["user"]
            == value
        )


def test_user_field_none_sends_nothing() -> None:
    body = {
        "model": "m",
        "max_tokens": 1,
        "metadata": {"user_id": "u"},
        "messages": [{"role": "user", "content": "x"}],
    }
    out, _ = chat.to_request(body, Target("p", "m", ProviderProfile(user_field="none")))
    assert "user" not in out and "safety_identifier" not in out


def test_max_tokens_clamped_to_target_cap() -> None:
    body = {"model": "m", "max_tokens": 64000, "messages": [{"role": "user", "content": "x"}]}
    out, _ = chat.to_request(body, Target("p", "m", max_output_tokens=8192))
    assert out["max_tokens"] == 8192
    out, _ = chat.to_request({**body, "max_tokens": 100}, Target("p", "m", max_output_tokens=8192))
    assert out["max_tokens"] == 100


@pytest.mark.parametrize(
    # top_k is dropped too, but validated first (an integer): tests/core/test_request_rules.py
    "field",
    sorted(chat.IGNORED_FIELDS - {"cache_control", "citations", "strict", "top_k"}),
)
def test_ignored_top_level_fields_change_nothing(field: str) -> None:
    body = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}
    plain, _ = chat.to_request(body, TARGET)
    noisy, _ = chat.to_request({**body, field: {"anything": [1]}}, TARGET)
    assert noisy == plain


def test_doc_lists_every_ignored_field() -> None:
    doc = DOC.read_text()
    missing = [f for f in chat.IGNORED_FIELDS if f"`{f}`" not in doc]
    assert not missing, f"docs/translation.md does not mention {missing}"


# --- errors ---------------------------------------------------------------------------------

OK: dict[str, Any] = {
    "model": "m",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**OK, **changes}


def _msgs(*content: Any, role: str = "user") -> dict[str, Any]:
    return _with(messages=[{"role": role, "content": list(content)}])


PNG = {"type": "base64", "media_type": "image/png", "data": "AA=="}
PDF = {"type": "base64", "media_type": "application/pdf", "data": "AA=="}
ERRORS: list[tuple[str, Any, type[Exception], str]] = [
    ("body not an object", [], InvalidRequest, "$"),
    ("model missing", {k: v for k, v in OK.items() if k != "model"}, InvalidRequest, "$.model"),
    ("model not a string", _with(model=3), InvalidRequest, "$.model"),
    (
        "max_tokens missing",
        {k: v for k, v in OK.items() if k != "max_tokens"},
        InvalidRequest,
        "$.max_tokens",
    ),
    ("max_tokens zero", _with(max_tokens=0), InvalidRequest, "$.max_tokens"),
    ("max_tokens bool", _with(max_tokens=True), InvalidRequest, "$.max_tokens"),
    ("max_tokens float", _with(max_tokens=1.5), InvalidRequest, "$.max_tokens"),
    ("messages empty", _with(messages=[]), InvalidRequest, "$.messages"),
    ("messages not a list", _with(messages={}), InvalidRequest, "$.messages"),
    ("message not an object", _with(messages=["hi"]), InvalidRequest, "$.messages[0]"),
    (
        "bad role",
        _with(messages=[{"role": "tool", "content": "x"}]),
        InvalidRequest,
        "$.messages[0].role",
    ),
    (
        "unhashable role",
        _with(messages=[{"role": [], "content": "x"}]),
        InvalidRequest,
        "$.messages[0].role",
    ),
    (
        "content missing",
        _with(messages=[{"role": "user"}]),
        InvalidRequest,
        "$.messages[0].content",
    ),
    ("user content empty list", _msgs(), InvalidRequest, "$.messages[0].content"),
    ("block not an object", _msgs("x"), InvalidRequest, "$.messages[0].content[0]"),
    ("block without type", _msgs({"text": "x"}), InvalidRequest, "$.messages[0].content[0]"),
    (
        "unknown block",
        _msgs({"type": "text", "text": "a"}, {"type": "foo"}),
        InvalidRequest,
        "$.messages[0].content[1]",
    ),
    (
        "text not a string",
        _msgs({"type": "text", "text": 1}),
        InvalidRequest,
        "$.messages[0].content[0].text",
    ),
    (
        "tool_use in user",
        _msgs({"type": "tool_use", "id": "a", "name": "b", "input": {}}),
        InvalidRequest,
        "$.messages[0].content[0]",
    ),
    (
        "image in assistant",
        _msgs({"type": "image", "source": PNG}, role="assistant"),
        InvalidRequest,
        "$.messages[0].content[0]",
    ),
    (
        "image bad media",
        _msgs({"type": "image", "source": {**PNG, "media_type": "image/bmp"}}),
        InvalidRequest,
        "$.messages[0].content[0].source.media_type",
    ),
    (
        "image no source",
        _msgs({"type": "image"}),
        InvalidRequest,
        "$.messages[0].content[0].source",
    ),
    (
        "image file id",
        _msgs({"type": "image", "source": {"type": "file", "file_id": "f"}}),
        UnsupportedFeature,
        "$.messages[0].content[0].source.type",
    ),
    (
        "pdf refused",
        _msgs({"type": "document", "source": PDF}),
        UnsupportedFeature,
        "$.messages[0].content[0].source",
    ),
    (
        "document url",
        _msgs({"type": "document", "source": {"type": "url", "url": "u"}}),
        UnsupportedFeature,
        "$.messages[0].content[0].source.type",
    ),
    (
        "document file",
        _msgs({"type": "document", "source": {"type": "file", "file_id": "f"}}),
        UnsupportedFeature,
        "$.messages[0].content[0].source.type",
    ),
    (
        "document base64 not pdf",
        _msgs({"type": "document", "source": {**PDF, "media_type": "text/html"}}),
        InvalidRequest,
        "$.messages[0].content[0].source.media_type",
    ),
    (
        "tool_result no id",
        _msgs({"type": "tool_result", "content": "x"}),
        InvalidRequest,
        "$.messages[0].content[0].tool_use_id",
    ),
    (
        "tool_result bad content",
        _msgs({"type": "tool_result", "tool_use_id": "t", "content": 5}),
        InvalidRequest,
        "$.messages[0].content[0].content",
    ),
    (
        "tool_result nested unknown",
        _msgs({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "bar"}]}),
        InvalidRequest,
        "$.messages[0].content[0].content[0]",
    ),
    (
        "tool_result is_error str",
        _msgs({"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}),
        InvalidRequest,
        "$.messages[0].content[0].is_error",
    ),
    (
        "tool_use input string",
        _msgs({"type": "tool_use", "id": "a", "name": "b", "input": "{}"}, role="assistant"),
        InvalidRequest,
        "$.messages[0].content[0].input",
    ),
    (
        "tool_use no id",
        _msgs({"type": "tool_use", "name": "b", "input": {}}, role="assistant"),
        InvalidRequest,
        "$.messages[0].content[0].id",
    ),
    (
        "thinking not string",
        _msgs({"type": "thinking", "thinking": None}, role="assistant"),
        InvalidRequest,
        "$.messages[0].content[0].thinking",
    ),
    ("system bad type", _with(system=5), InvalidRequest, "$.system"),
    (
        "system image block",
        _with(system=[{"type": "image", "source": PNG}]),
        InvalidRequest,
        "$.system[0]",
    ),
    (
        "system message image",
        _with(messages=[{"role": "system", "content": [{"type": "image", "source": PNG}]}]),
        InvalidRequest,
        "$.messages[0].content[0]",
    ),
    ("tools not list", _with(tools={}), InvalidRequest, "$.tools"),
    ("tool no name", _with(tools=[{"input_schema": {}}]), InvalidRequest, "$.tools[0].name"),
    ("tool no schema", _with(tools=[{"name": "a"}]), InvalidRequest, "$.tools[0].input_schema"),
    (
        "tool computer",
        _with(tools=[{"type": "computer_20250124", "name": "computer"}]),
        UnsupportedFeature,
        "$.tools[0].type",
    ),
    (
        "tool bad description",
        _with(tools=[{"name": "a", "input_schema": {}, "description": 1}]),
        InvalidRequest,
        "$.tools[0].description",
    ),
    (
        "tool_choice unknown",
        _with(tools=[{"name": "a", "input_schema": {}}], tool_choice={"type": "maybe"}),
        InvalidRequest,
        "$.tool_choice.type",
    ),
    (
        "tool_choice undeclared",
        _with(tools=[{"name": "a", "input_schema": {}}], tool_choice={"type": "tool", "name": "b"}),
        InvalidRequest,
        "$.tool_choice.name",
    ),
    (
        "tool_choice server tool",
        _with(
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            tool_choice={"type": "tool", "name": "web_search"},
        ),
        UnsupportedFeature,
        "$.tool_choice.name",
    ),
    ("tool_choice not object", _with(tool_choice="auto"), InvalidRequest, "$.tool_choice"),
    ("temperature string", _with(temperature="hot"), InvalidRequest, "$.temperature"),
    ("stop_sequences string", _with(stop_sequences="END"), InvalidRequest, "$.stop_sequences"),
    ("thinking unknown", _with(thinking={"type": "sometimes"}), InvalidRequest, "$.thinking.type"),
    (
        "thinking no budget",
        _with(thinking={"type": "enabled"}),
        InvalidRequest,
        "$.thinking.budget_tokens",
    ),
    (
        "effort unknown",
        _with(output_config={"effort": "extreme"}),
        InvalidRequest,
        "$.output_config.effort",
    ),
    (
        "effort unhashable",
        _with(output_config={"effort": ["high"]}),
        InvalidRequest,
        "$.output_config.effort",
    ),
    (
        "format not json_schema",
        _with(output_config={"format": {"type": "text"}}),
        InvalidRequest,
        "$.output_config.format",
    ),
    ("metadata user id int", _with(metadata={"user_id": 7}), InvalidRequest, "$.metadata.user_id"),
    ("stream string", _with(stream="yes"), InvalidRequest, "$.stream"),
]


@pytest.mark.parametrize(("name", "body", "error", "path"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_path(name: str, body: Any, error: type[Exception], path: str) -> None:
    with pytest.raises(error) as info:
        chat.to_request(body, TARGET)
    assert getattr(info.value, "path", None) == path, str(info.value)
    assert str(info.value).endswith(f"@ {path}")


def test_unknown_block_message_matches_spec_example() -> None:
    body = _with(
        messages=[{"role": "user", "content": "a"}] * 3
        + [_msgs({"type": "text", "text": "x"}, {"type": "foo"})["messages"][0]]
    )
    with pytest.raises(
        InvalidRequest,
        match=re.escape("unsupported content block type 'foo' @ $.messages[3].content[1]"),
    ):
        chat.to_request(body, TARGET)


def test_error_body_is_anthropic_shaped() -> None:
    with pytest.raises(UnsupportedFeature) as info:
        chat.to_request(_msgs({"type": "document", "source": PDF}), TARGET)
    body = info.value.to_body()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert (
        "PDF" in body["error"]["message"]
        and "$.messages[0].content[0].source" in body["error"]["message"]
    )


def test_empty_final_assistant_is_a_noop_prefill() -> None:
    body = _with(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": []}])
    out, _ = chat.to_request(body, TARGET)
    assert out["messages"] == [{"role": "user", "content": "hi"}]
    with pytest.raises(InvalidRequest, match=re.escape("@ $.messages[0].content")):
        chat.to_request(
            _with(
                messages=[{"role": "assistant", "content": []}, {"role": "user", "content": "x"}]
            ),
            TARGET,
        )


def test_nan_in_tool_input_is_refused() -> None:
    body = _msgs(
        {"type": "tool_use", "id": "a", "name": "b", "input": {"x": float("nan")}}, role="assistant"
    )
    with pytest.raises(InvalidRequest, match=re.escape("$.messages[0].content[0].input")):
        chat.to_request(body, TARGET)


def test_document_search_result_and_content_source_become_text() -> None:
    body = _msgs(
        {
            "type": "search_result",
            "source": "https://s",
            "title": "T",
            "content": [{"type": "text", "text": "c"}],
        },
        {"type": "document", "source": {"type": "content", "content": "plain"}},
    )
    out, _ = chat.to_request(body, TARGET)
    assert out["messages"] == [{"role": "user", "content": "T (https://s)\n\nc\n\nplain"}]


# --- never mutating the caller's body (property) ---------------------------------------------

_text = st.text(max_size=8)
_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _text)
_json = st.recursive(
    _json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3),
    max_leaves=6,
)
_text_block = st.builds(
    lambda t: {"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}, _text
)
_user_block = st.one_of(
    _text_block,
    st.builds(
        lambda d: {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": d},
        },
        _text,
    ),
    st.builds(
        lambda t: {"type": "document", "source": {"type": "text", "data": t}, "title": t}, _text
    ),
    st.builds(
        lambda i, c, e: {"type": "tool_result", "tool_use_id": i, "content": c, "is_error": e},
        st.sampled_from(["t1", "t2"]),
        st.one_of(
            _text,
            st.lists(
                st.one_of(
                    st.builds(lambda t: {"type": "text", "text": t}, _text),
                    st.just({"type": "image", "source": {"type": "url", "url": "u"}}),
                ),
                max_size=2,
            ),
        ),
        st.booleans(),
    ),
)
_assistant_block = st.one_of(
    _text_block,
    st.builds(
        lambda i, n, x: {"type": "tool_use", "id": i, "name": n, "input": x},
        st.sampled_from(["t1", "t2"]),
        st.sampled_from(["Bash", "m" * 70]),
        st.dictionaries(_text, _json, max_size=3),
    ),
    st.builds(
        lambda t, s: {"type": "thinking", "thinking": t, "signature": s},
        _text,
        st.sampled_from(["x", "anthroxy1.eyJ0cyI6eyJ0MSI6InMifX0"]),
    ),
    st.just({"type": "redacted_thinking", "data": "d"}),
)
_garbage = st.one_of(_json, _user_block, _assistant_block)  # wrong role or not a block at all


def _blocks(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Mostly well-formed content, sometimes anything at all: it must raise cleanly or translate.
    mostly_valid = st.integers(0, 19).flatmap(lambda i: _garbage if i == 0 else valid)
    return st.one_of(_text, st.lists(mostly_valid, max_size=4))


_message = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, _blocks(_user_block)),
    st.builds(lambda c: {"role": "assistant", "content": c}, _blocks(_assistant_block)),
    st.builds(lambda c: {"role": "system", "content": c}, _blocks(_text_block)),
)
_body = st.fixed_dictionaries(
    {
        "model": st.just("m"),
        "max_tokens": st.integers(1, 10**6),
        "messages": st.lists(_message, min_size=1, max_size=5),
    },
    optional={
        "system": st.one_of(
            _text, st.lists(st.builds(lambda t: {"type": "text", "text": t}, _text), max_size=2)
        ),
        "tools": st.lists(
            st.builds(
                lambda n: {
                    "name": n,
                    "input_schema": {
                        "$schema": "s",
                        "type": "object",
                        "properties": {"a": {"type": ["string", "null"]}},
                    },
                },
                st.sampled_from(["Bash", "m" * 70]),
            ),
            max_size=2,
        ),
        "tool_choice": st.sampled_from(
            [{"type": "auto"}, {"type": "any", "disable_parallel_tool_use": True}, {"type": "none"}]
        ),
        "thinking": st.sampled_from(
            [{"type": "adaptive"}, {"type": "enabled", "budget_tokens": 5000}, {"type": "disabled"}]
        ),
        "metadata": st.builds(lambda u: {"user_id": u}, _text),
        "stop_sequences": st.lists(_text, max_size=2),
        "stream": st.booleans(),
    },
)
_profiles = st.builds(
    ProviderProfile,
    reasoning_param=st.sampled_from(["none", "reasoning_effort", "openrouter", "deepseek"]),
    thinking_replay=st.sampled_from(["drop", "reasoning_content", "reasoning_details"]),
    schema_dialect=st.sampled_from(["openai", "gemini", "passthrough"]),
    thought_signatures=st.booleans(),
    accepts_pdf=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(body=_body, profile=_profiles)
def test_never_mutates_and_fails_only_with_anthroxy_errors(
    body: dict[str, Any], profile: ProviderProfile
) -> None:
    before = copy.deepcopy(body)
    try:
        out, _ = chat.to_request(body, Target("p", "up", profile))
    except InvalidRequest as exc:
        assert exc.path and exc.path.startswith("$")
    else:
        json.dumps(out)  # plain JSON only
        roles = [m["role"] for m in out["messages"]]
        assert set(roles) <= {"system", "user", "assistant", "tool"}
        # Every tool_result becomes one tool message; every tool_use one tool call.
        assert roles.count("tool") == _count(body, "user", "tool_result")
        calls = sum(len(m.get("tool_calls", ())) for m in out["messages"])
        assert calls == _count(body, "assistant", "tool_use")
    assert body == before


def _count(body: dict[str, Any], role: str, kind: str) -> int:
    return sum(
        1
        for m in body["messages"]
        if m["role"] == role and isinstance(m["content"], list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == kind
    )


def test_adaptive_thinking_with_a_null_effort_uses_the_default_effort() -> None:
    # Review: output_config.effort = null passed validation, then crashed with a KeyError.
    profile = ProviderProfile(reasoning_param="reasoning_effort")
    body = {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": None},
    }
    out, ctx = chat.to_request(body, Target(provider="mock", model="up", profile=profile))
    assert out["reasoning_effort"] == "high"  # Anthropic's default effort for adaptive thinking
    assert ctx.thinking is True


def test_stop_sequences_beyond_the_upstreams_limit_are_not_sent() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "stop_sequences": ["a", "b", "c", "d", "e", "f"],
    }
    upstream, ctx = chat.to_request(body, Target("p", "m"))
    assert upstream["stop"] == ["a", "b", "c", "d"]  # OpenAI refuses a fifth
    assert ctx.stop_sequences == ("a", "b", "c", "d", "e", "f")  # all still reported as such
    unlimited = Target("p", "m", profile=ProviderProfile(stop_max=None))
    assert chat.to_request(body, unlimited)[0]["stop"] == ["a", "b", "c", "d", "e", "f"]
