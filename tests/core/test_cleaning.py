"""Invariants of the request cleaners (anthroxy.cleaning) and of thinking signatures across
providers: a cleaner changes only what its rules name and leaves the caller's body alone; a
provider with nothing to clean gets the client's bytes; a thinking block reaches only the family
that signed it."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from anthroxy.cleaning import (
    NO_RULES,
    BlocksToText,
    Cleaner,
    Drop,
    FoldSystemMessages,
    HashUnless,
    Set,
    When,
    apply,
    parse_path,
    settle_thinking,
)
from anthroxy.cleaning import presets as cleaners
from anthroxy.cleaning.paths import drop
from anthroxy.cleaning.signatures import mark, mark_message, origin
from anthroxy.events import encode_all
from anthroxy.passthrough import PassthroughStream, request_bytes, rewrite_message
from anthroxy.routing.catalog import CATALOG

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
CLAUDE_CODE = sorted(FIXTURES.glob("*.json"))


def fixture_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())["body"]
    return body


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["context_management", "tools.*.defer_loading", "messages.*.content.*[type=x].y"]
)
def test_path_text_round_trips(text: str) -> None:
    from anthroxy.cleaning import format_path

    assert format_path(parse_path(text)) == text


@pytest.mark.parametrize("text", ["", "tools.*", "a..b", "a.*[type=].b", "a b", "tools.[0]"])
def test_bad_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_path(text)


def test_drop_removes_every_occurrence_and_empty_parents_only() -> None:
    body = {
        "output_config": {"effort": "high"},
        "tools": [{"name": "a", "defer_loading": True}, {"name": "b"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "c": 1}]}],
    }
    before = copy.deepcopy(body)
    assert drop(body, parse_path("output_config.effort")) == {
        k: body[k] for k in ("tools", "messages")
    }
    tools = drop(body, parse_path("tools.*.defer_loading"))["tools"]
    assert tools == [{"name": "a"}, {"name": "b"}]
    assert tools[1] is body["tools"][1]  # untouched items are shared, not copied
    kept = drop(body, parse_path("messages.*.content.*[type=image].c"))
    assert kept is body
    assert drop(body, parse_path("nothing.here")) is body
    assert body == before


# --- rules ----------------------------------------------------------------------------------


def test_no_rules_changes_nothing() -> None:
    body = fixture_body("v2.1.332_turn1_request.json")
    assert apply(NO_RULES, body) is body


def test_conditions_decide() -> None:
    cleaner = Cleaner(
        rules=(
            Drop("output_config.effort", when=(When("thinking.type", ("disabled",)),)),
            Set("x", 1, when=(When("model", ("kimi-k2.7",), prefix=True),)),
        )
    )
    enabled = {"model": "m", "thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}
    assert apply(cleaner, enabled) is enabled
    disabled = {**enabled, "thinking": {"type": "disabled"}}
    assert apply(cleaner, disabled) == {"model": "m", "thinking": {"type": "disabled"}}
    assert apply(cleaner, {"model": "kimi-k2.7-code-preview"})["x"] == 1
    assert When("a", (1,)).holds({"a": True}) is False  # JSON true is not 1


def test_hash_keeps_plain_ids_and_hashes_the_rest_stably() -> None:
    rule = HashUnless("metadata.user_id", r"[a-zA-Z0-9_-]{1,512}")
    cleaner = Cleaner(rules=(rule,))
    plain = {"metadata": {"user_id": "user_abc-1"}}
    assert apply(cleaner, plain) is plain
    claude = fixture_body("v2.1.332_turn1_request.json")
    hashed = apply(cleaner, claude)["metadata"]["user_id"]
    assert len(hashed) == 64 and hashed == apply(cleaner, claude)["metadata"]["user_id"]
    assert hashed != claude["metadata"]["user_id"]


def test_system_entries_fold_into_user_turns_keeping_order_and_tool_results_first() -> None:
    cleaner = Cleaner(rules=(FoldSystemMessages(),))
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
    body = {
        "messages": [
            {"role": "system", "content": "first"},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "a"}], "output_config": {}},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "n"}]},
            {"role": "system", "content": "b"},
            {"role": "user", "content": [result, {"type": "text", "text": "go"}]},
            {"role": "assistant", "content": "done"},
            {"role": "system", "content": "last"},
        ]
    }
    folded = apply(cleaner, body)["messages"]
    assert [m["role"] for m in folded] == ["user", "assistant", "user", "assistant", "user"]
    # "first" had no user turn before it: it leads the next one; "a" follows "hi".
    assert folded[0]["content"] == [
        {"type": "text", "text": "first"},
        {"type": "text", "text": "hi"},
        {"type": "text", "text": "a"},
    ]
    assert folded[2]["content"] == [
        result,
        {"type": "text", "text": "b"},
        {"type": "text", "text": "go"},
    ]
    assert folded[4] == {"role": "user", "content": [{"type": "text", "text": "last"}]}
    assert apply(cleaner, {"messages": body["messages"][:2]})["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "hi"}],
        }
    ]


def test_blocks_become_text_also_inside_tool_results() -> None:
    cleaner = Cleaner(rules=(BlocksToText("tool_reference", "Tool loaded: {tool_name}"),))
    ref = {"type": "tool_reference", "tool_name": "mcp__x__grep"}
    body = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": [ref]}],
            }
        ]
    }
    out = apply(cleaner, body)
    assert out["messages"][0]["content"][0]["content"] == [
        {"type": "text", "text": "Tool loaded: mcp__x__grep"}
    ]
    assert body["messages"][0]["content"][0]["content"] == [ref]


@pytest.mark.parametrize(
    "rule",
    [
        Drop("tools.*"),
        Set("a.*.b", 1),
        HashUnless("a.*", "x"),
        Drop("a", when=(When("b.*", (1,)),)),
    ],
)
def test_rules_are_checked_when_the_cleaner_is_made(rule: Any) -> None:
    with pytest.raises(ValueError):
        Cleaner(rules=(rule,))


def test_with_drops_adds_each_path_once() -> None:
    base = Cleaner(rules=(Drop("a"),), signer="x", foreign_thinking="unsigned")
    more = base.with_drops(("a", "b.c"), "learned")
    assert [r.path for r in more.rules] == ["a", "b.c"]
    assert (more.signer, more.foreign_thinking) == ("x", "unsigned")
    assert base.with_drops(("a",), "again") is base


# --- the presets on Claude Code's own requests ------------------------------------------------


@pytest.mark.parametrize("fixture", CLAUDE_CODE, ids=lambda p: p.name)
@pytest.mark.parametrize("provider", ["deepseek", "kimi", "minimax", "mimo", "glm", "qwen"])
def test_presets_leave_the_client_body_alone_and_only_change_what_they_name(
    fixture: pathlib.Path, provider: str
) -> None:
    body = json.loads(fixture.read_text())["body"]
    raw = json.dumps(body, separators=(",", ":")).encode()
    before = copy.deepcopy(body)
    sent = json.loads(request_bytes(raw, body, "up", CATALOG[provider].cleaner))
    assert body == before
    assert sent["model"] == "up"
    assert not any(m.get("role") == "system" for m in sent["messages"]) or provider in (
        "kimi",
        "glm",
        "qwen",
    )
    assert sent["tools"] == body["tools"] or provider == "kimi"
    assert sent["system"] == body["system"]


def test_deepseek_on_a_claude_code_sub_agent_request() -> None:
    # Claude Code >= 2.1.166 sends thinking disabled with output_config.effort for sub-agents,
    # titles and WebSearch (docs/protocol/claude-code.md §4.3); DeepSeek refuses the pair.
    body = {
        **fixture_body("v2.1.332_turn1_request.json"),
        "thinking": {"type": "disabled"},
        "output_config": {"effort": "medium"},
    }
    raw = json.dumps(body).encode()
    sent = json.loads(request_bytes(raw, body, "deepseek-v4-flash", cleaners.DEEPSEEK))
    assert sent["thinking"] == {"type": "disabled"}
    assert "output_config" not in sent
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert sent["metadata"]["user_id"].isalnum()


def test_deepseek_forced_tool_choice_turns_thinking_off() -> None:
    body = {"model": "m", "tool_choice": {"type": "tool", "name": "x"}, "messages": []}
    assert apply(cleaners.DEEPSEEK, body)["thinking"] == {"type": "disabled"}
    auto = {**body, "tool_choice": {"type": "auto"}}
    assert apply(cleaners.DEEPSEEK, auto) is auto


def test_kimi_always_thinking_models_get_adaptive_for_disabled() -> None:
    body = {"model": "kimi-k2.7-code", "thinking": {"type": "disabled"}}
    assert apply(cleaners.KIMI, body)["thinking"] == {"type": "adaptive"}
    other = {"model": "kimi-k2.6", "thinking": {"type": "disabled"}}
    assert apply(cleaners.KIMI, other) is other


def test_anthropic_gets_the_client_bytes() -> None:
    for fixture in CLAUDE_CODE:
        body = json.loads(fixture.read_text())["body"]
        raw = json.dumps(body).encode()
        assert request_bytes(raw, body, body["model"], CATALOG["anthropic"].cleaner) is raw


# --- thinking signatures across providers ----------------------------------------------------

ANTHROPIC_SIG = "EqQBCkYIBxgCKkB"
DEEPSEEK_SIG = "91cfbb94-554b-4136-8e21-fa02280d56ed"  # DeepSeek signs with the message id


def conversation(*blocks: dict[str, Any]) -> dict[str, Any]:
    tool = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
    return {
        "model": "x",
        "max_tokens": 100,
        "thinking": {"type": "adaptive"},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [*blocks, tool]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
        ],
    }


def thinking(signature: str, text: str = "plan") -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": signature}


def test_origin_of_each_kind_of_signature() -> None:
    assert origin(ANTHROPIC_SIG) == ("anthropic", ANTHROPIC_SIG)
    assert origin(mark(DEEPSEEK_SIG, "deepseek")) == ("deepseek", DEEPSEEK_SIG)
    assert origin("anthroxy1.e30")[0] == "anthroxy1."
    assert origin("anthroxy1:broken")[0] == "anthroxy1."
    assert origin("") == (None, "")


def test_a_block_goes_back_to_its_own_family_as_it_was_signed() -> None:
    body = conversation(thinking(mark(DEEPSEEK_SIG, "deepseek")))
    sent = settle_thinking(cleaners.DEEPSEEK, body)
    assert sent["messages"][1]["content"][0] == thinking(DEEPSEEK_SIG)
    anthropic = conversation(thinking(ANTHROPIC_SIG))
    raw = json.dumps(anthropic).encode()
    assert settle_thinking(NO_RULES, anthropic, raw) is anthropic


def test_a_foreign_block_never_reaches_anthropic_and_the_tool_turn_stays_valid() -> None:
    body = conversation(thinking(mark(DEEPSEEK_SIG, "deepseek")))
    raw = json.dumps(body).encode()
    sent = json.loads(request_bytes(raw, body, "claude-x", CATALOG["anthropic"].cleaner))
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]
    # Anthropic refuses a tool turn without its thinking while thinking is on: off, this once.
    assert sent["thinking"] == {"type": "disabled"}
    assert "deepseek" not in json.dumps(sent) and DEEPSEEK_SIG not in json.dumps(sent)


def test_foreign_blocks_reach_deepseek_as_unsigned_text_and_other_compat_not_at_all() -> None:
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    body = conversation(thinking(ANTHROPIC_SIG, "claude's plan"), redacted)
    sent = settle_thinking(cleaners.DEEPSEEK, body)
    assert sent["messages"][1]["content"][:1] == [thinking("", "claude's plan")]
    assert "thinking" not in sent or sent["thinking"] == body["thinking"]
    glm = settle_thinking(cleaners.GLM, body)
    assert [b["type"] for b in glm["messages"][1]["content"]] == ["tool_use"]
    assert glm["thinking"] == {"type": "adaptive"}  # only Anthropic needs the turn's thinking
    kimi = settle_thinking(cleaners.KIMI, conversation(thinking(mark(DEEPSEEK_SIG, "deepseek"))))
    assert kimi["messages"][1]["content"][0] == thinking("")


def test_replies_are_marked_with_their_family_and_anthropic_s_are_not() -> None:
    message = {"type": "message", "model": "up", "content": [thinking(DEEPSEEK_SIG)]}
    assert rewrite_message(message, "asked", "deepseek")["content"][0]["signature"] == mark(
        DEEPSEEK_SIG, "deepseek"
    )
    assert rewrite_message(message, "asked")["content"][0]["signature"] == DEEPSEEK_SIG
    assert mark_message(message, None) is message


def test_a_passed_through_stream_marks_signature_events_only() -> None:
    events = [
        ("message_start", {"type": "message_start", "message": {"model": "up", "usage": {}}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": thinking("")},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "x"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": DEEPSEEK_SIG},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_stop", {"type": "message_stop"}),
    ]
    raw = b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)
    marked = encode_all(PassthroughStream("asked", provider="deepseek", marks="deepseek").feed(raw))
    plain = encode_all(PassthroughStream("asked", provider="anthropic").feed(raw))
    assert mark(DEEPSEEK_SIG, "deepseek").encode() in marked
    assert plain.count(DEEPSEEK_SIG.encode()) == 1 and b"anthroxy1:" not in plain
    # Every event but message_start and the signature_delta passes byte for byte.
    start = raw.index(b"event: content_block_start")
    cut = raw.index(b"event: content_block_delta", raw.index(b"thinking_delta"))
    assert raw[start:cut] in marked


def test_a_tool_turn_without_thinking_gets_an_empty_one_where_thinking_must_come_back() -> None:
    body = conversation()  # the tool turn came from a provider that did not think
    sent = settle_thinking(cleaners.DEEPSEEK, body)
    assert sent["messages"][1]["content"][0] == thinking("", "")
    off = {**body, "thinking": {"type": "disabled"}}
    assert settle_thinking(cleaners.DEEPSEEK, off) is off
    assert settle_thinking(cleaners.GLM, body) is body


def test_presets_stay_hashable_values() -> None:
    # Catalogue presets were hashable before they held a cleaner; a Set rule's JSON value must
    # not change that.
    assert len({hash(preset) for preset in CATALOG.values()}) == len(CATALOG)


def test_turning_thinking_off_for_anthropic_keeps_an_effort_it_accepts_without() -> None:
    body = {
        **conversation(thinking(mark(DEEPSEEK_SIG, "deepseek"))),
        "output_config": {"effort": "xhigh"},
    }
    sent = settle_thinking(NO_RULES, body, json.dumps(body).encode())
    assert sent["thinking"] == {"type": "disabled"}
    assert sent["output_config"] == {"effort": "high"}
    assert body["output_config"] == {"effort": "xhigh"}
