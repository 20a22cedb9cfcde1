"""Anthropic-compatible endpoints are not Anthropic. Fakes that refuse exactly what the real
endpoints refuse, with their real error bodies (tests/server/compat_fakes.py), behind the real
gateway, judged by the official anthropic SDK:

* DeepSeek's /anthropic: the sub-agent and title requests of Claude Code >= 2.1.166 (thinking
  disabled with output_config.effort), role "system" entries, Claude Code's user_id, tool turns
  without their thinking;
* Anthropic, which verifies every thinking signature, and DeepSeek, which signs its own, in one
  conversation that changes provider half-way.
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
from typing import Any

import anthropic
from aiohttp import web

from .compat_fakes import (
    DEEPSEEK_SIGNATURE,
    TOOL,
    deepseek,
    gateway,
    message_events,
    sdk,
    stream_response,
    thinking_on,
)
from .conftest import FakeUpstream

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
CLAUDE_CODE = json.loads((FIXTURES / "v2.1.332_turn1_request.json").read_text())


# --- DeepSeek's /anthropic ----------------------------------------------------------------------


def sub_agent_request() -> dict[str, Any]:
    """What Claude Code >= 2.1.166 sends for a sub-agent or a title: its usual body (here the
    2.1.332 capture: system blocks, a system entry in messages, user_id as a JSON string) with
    thinking disabled and output_config.effort (docs/protocol/claude-code.md §4.3;
    https://github.com/HosheaLi/dsv4-cc-proxy/pull/4 shows the pair)."""
    body = copy.deepcopy(CLAUDE_CODE["body"])
    body.update(
        model="claude-haiku-4-5",
        thinking={"type": "disabled"},
        output_config={
            "effort": "medium",
            "format": {
                "type": "json_schema",
                "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
            },
        },
        tools=[],
        max_tokens=32000,
    )
    return body


async def test_claude_code_s_sub_agent_request_succeeds_on_deepseek(
    upstream, aiohttp_client
) -> None:
    upstream.handler = deepseek(upstream)
    client = await gateway(aiohttp_client, upstream.url)
    body = sub_agent_request()
    del body["stream"]  # messages.stream() sets it
    extra = {"context_management": body.pop("context_management")}
    async with sdk(client).messages.stream(
        **body,
        extra_body=extra,
        extra_headers={"anthropic-beta": CLAUDE_CODE["headers"]["anthropic-beta"]},
    ) as stream:
        message = await stream.get_final_message()
    assert message.content[0].text == "Fix the flaky test"
    assert message.model == "claude-haiku-4-5"
    (seen,) = upstream.seen
    assert seen.path == "/deepseek/v1/messages"
    assert seen.body["thinking"] == {"type": "disabled"}
    assert seen.body["output_config"] == {"format": body["output_config"]["format"]}
    assert [m["role"] for m in seen.body["messages"]] == ["user"]
    assert seen.body["messages"][0]["content"][-1]["text"].startswith("(text elided: 9711")
    assert re.fullmatch(r"[0-9a-f]{64}", seen.body["metadata"]["user_id"])
    assert seen.body["system"] == CLAUDE_CODE["body"]["system"]
    assert "anthropic-beta" not in seen.headers


async def test_claude_code_s_main_request_keeps_effort_on_deepseek(
    upstream, aiohttp_client
) -> None:
    upstream.handler = deepseek(upstream)
    client = await gateway(aiohttp_client, upstream.url)
    body = copy.deepcopy(CLAUDE_CODE["body"])
    extra = {"context_management": body.pop("context_management")}
    body.update(model="ds", max_tokens=8000, stream=False)
    message = await sdk(client).messages.create(**body, extra_body=extra)
    assert [b.type for b in message.content] == ["thinking", "text"]
    seen = upstream.seen[0].body
    assert seen["output_config"] == {"effort": "medium"}
    assert seen["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert seen["context_management"] == extra["context_management"]  # DeepSeek ignores it


# --- one conversation, two providers: thinking signatures ------------------------------------


class VerifyingAnthropic:
    """Anthropic's checks on thinking in history: each signature must be one it made, and with
    thinking on, the turn whose tool results come last must start with its thinking."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def refusal(self, body: dict[str, Any]) -> str | None:
        messages = body["messages"]
        for i, message in enumerate(messages):
            if message["role"] != "assistant" or not isinstance(message["content"], list):
                continue
            for j, block in enumerate(message["content"]):
                if block["type"] == "thinking" and block.get("signature") not in self.made:
                    # docs/protocol/anthropic.md §6
                    return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
        last, turn = messages[-1], messages[-2] if len(messages) > 1 else None
        answers_tools = isinstance(last["content"], list) and any(
            b["type"] == "tool_result" for b in last["content"]
        )
        if thinking_on(body) and answers_tools and turn["content"][0]["type"] != "thinking":
            # https://github.com/n8n-io/n8n/issues/22550 (wording as in opencode issue 3077)
            return (
                f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{turn['content'][0]['type']}`. When `thinking` "
                "is enabled, a final `assistant` message must start with a thinking block "
                "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
                "recommend you include thinking blocks from previous turns. To avoid this "
                "requirement, disable `thinking`. Please consult our documentation at "
                "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            )
        return None

    async def handler(self, request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        refusal = self.refusal(body)
        if refusal is not None:
            error = {"type": "invalid_request_error", "message": refusal}
            return web.json_response({"type": "error", "error": error}, status=400)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": "from claude"}]
        if thinking_on(body):
            self.made.append(f"EqQBCkYIBxgCKkB{len(self.made)}")
            blocks.insert(0, {"type": "thinking", "thinking": "hmm", "signature": self.made[-1]})
        return await stream_response(request, message_events(body["model"], blocks, "end_turn"))


def by_path(upstream: FakeUpstream, **handlers: Any) -> None:
    async def route(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await handlers[request.path.split("/")[1]](request)
        return response

    upstream.handler = route


def history(model: str, *turns: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 1000,
        "thinking": {"type": "adaptive"},
        "tools": [TOOL],
        "messages": list(turns),
    }


async def final(api: anthropic.AsyncAnthropic, body: dict[str, Any]) -> Any:
    async with api.messages.stream(**body) as stream:
        return await stream.get_final_message()


async def test_deepseek_thinking_never_reaches_anthropic(upstream, aiohttp_client) -> None:
    claude = VerifyingAnthropic()
    call = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a"}}
    by_path(
        upstream,
        deepseek=deepseek(
            upstream,
            [{"type": "thinking", "thinking": "read a", "signature": DEEPSEEK_SIGNATURE}, call],
        ),
        anthropic=claude.handler,
    )
    api = sdk(await gateway(aiohttp_client, upstream.url))
    ask = {"role": "user", "content": "summarise a"}
    turn1 = await final(api, history("ds", ask))
    assert [b.type for b in turn1.content] == ["thinking", "tool_use"]
    # The person switches to Claude in the middle of the tool loop.
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"}],
    }
    assistant = {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in turn1.content],
    }
    turn2 = await final(api, history("claude", ask, assistant, result))
    assert turn2.content[-1].text == "from claude"
    sent = upstream.seen[-1].body
    assert upstream.seen[-1].path == "/anthropic/v1/messages"
    assert DEEPSEEK_SIGNATURE not in json.dumps(sent)
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]
    assert sent["thinking"] == {"type": "disabled"}  # this one request: its turn lost its thinking
    # Back on DeepSeek, its own block goes back exactly as DeepSeek signed it.
    turn3 = await final(api, history("ds", ask, assistant, result))
    assert turn3.content[-1].type == "tool_use"
    block = upstream.seen[-1].body["messages"][1]["content"][0]
    assert block == {"type": "thinking", "thinking": "read a", "signature": DEEPSEEK_SIGNATURE}


async def test_claude_s_thinking_reaches_deepseek_unsigned(upstream, aiohttp_client) -> None:
    claude = VerifyingAnthropic()
    by_path(upstream, deepseek=deepseek(upstream), anthropic=claude.handler)
    api = sdk(await gateway(aiohttp_client, upstream.url))
    ask = {"role": "user", "content": "hi"}
    turn1 = await final(api, history("claude", ask))
    assert turn1.content[0].type == "thinking" and turn1.content[0].signature == claude.made[0]
    # A tool turn that no provider thought about (written by the client, or made with thinking
    # off): DeepSeek refuses it while thinking is on.
    silent = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t2", "name": "Read", "input": {}}],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "x"}],
    }
    claude_turn = {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in turn1.content],
    }
    turn2 = await final(
        api, history("ds", ask, claude_turn, {"role": "user", "content": "go on"}, silent, result)
    )
    assert turn2.content[-1].text == "Fix the flaky test"
    sent = upstream.seen[-1].body["messages"]
    assert sent[1]["content"][0] == {"type": "thinking", "thinking": "hmm", "signature": ""}
    assert sent[3]["content"][0] == {"type": "thinking", "thinking": "", "signature": ""}
    # And Claude still gets its own block back as it signed it.
    claude_again = await final(
        api, history("claude", ask, claude_turn, {"role": "user", "content": "more"})
    )
    assert claude_again.content[-1].text == "from claude"
    assert upstream.seen[-1].body["messages"][1]["content"][0]["signature"] == claude.made[0]
