"""Invariant: a thinking model reached over Chat Completions gets its reasoning back, under any
provider id, and no other upstream gets it (docs/protocol/translation-rules.md §5.3).

Two fake upstreams on loopback, driven through the gateway by the official anthropic SDK, which
sends each assistant turn back as Claude Code does (thinking block and signature included):

* ``myds``, a provider id the catalogue does not know, serving ``deepseek-reasoner`` the way
  DeepSeek does in thinking mode: it reasons in ``reasoning_content``, then calls a tool, and it
  refuses any later request whose tool-call turn lacks ``reasoning_content`` with DeepSeek's 400
  (docs/protocol/chat-completions.md §7.2).
* ``strict``, an OpenAI-style upstream that refuses any field it does not know on a message with
  OpenAI's 400 ``Unrecognized request argument supplied: <field>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pytest
from aiohttp import web

from anthroxy_server.config import settings_from_config, structure_config
from anthroxy_server.gateway.app import create_app

REASONING = "The user asks for the weather in Paris. I should call get_weather with city Paris."
ANSWER = "It is sunny in Paris."
TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather of a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
# DeepSeek's answer to a thinking-mode tool loop that lost its reasoning (body as DeepSeek sends).
DEEPSEEK_REFUSAL = {
    "error": {
        "message": "The reasoning_content in the thinking mode must be passed back to the API.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request_error",
    }
}
# What an OpenAI Chat message may hold; anything else is refused by the strict upstream.
OPENAI_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"}
)


@dataclass
class Fake:
    """One fake Chat Completions upstream: ``seen`` holds every request body it received."""

    name: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.seen.append(body)
        refusal = self.refusal(body["messages"])
        if refusal is not None:
            return web.json_response(refusal, status=400)
        delta = _reply(body["messages"], reasoning=self.name == "deepseek")
        if not body.get("stream"):
            return web.json_response(_completion(delta))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for chunk in _chunks(delta):
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    def refusal(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        for message in messages:
            if message["role"] != "assistant":
                continue
            lost = "tool_calls" in message and "reasoning_content" not in message
            if self.name == "deepseek" and lost:
                return DEEPSEEK_REFUSAL
            unknown = sorted(message.keys() - OPENAI_MESSAGE_KEYS)
            if self.name == "strict" and unknown:
                return _openai_refusal(unknown[0])
        return None


def _openai_refusal(key: str) -> dict[str, Any]:
    message = f"Unrecognized request argument supplied: {key}"
    return {"error": {"message": message, "type": "invalid_request_error", "param": None}}


def _reply(messages: list[dict[str, Any]], *, reasoning: bool) -> dict[str, Any]:
    """The whole next assistant message: after a tool result, the answer; else reason (DeepSeek)
    and call get_weather."""
    if messages[-1]["role"] == "tool":
        return {"role": "assistant", "content": ANSWER}
    call = {
        "id": "call_00_paris",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
    if reasoning:
        message["reasoning_content"] = REASONING
    return message


def _chunks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message streamed DeepSeek's way: reasoning in pieces (content null), then the call,
    then the finish reason with the usage on the same chunk."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": None})]
    reasoning = message.get("reasoning_content") or ""
    out += [
        chunk({"content": None, "reasoning_content": reasoning[i : i + 9]})
        for i in range(0, len(reasoning), 9)
    ]
    if message.get("content"):
        out.append(chunk({"content": message["content"]}))
    for i, call in enumerate(message.get("tool_calls", [])):
        out.append(chunk({"tool_calls": [{"index": i, **call}]}))
    last = chunk({}, "tool_calls" if "tool_calls" in message else "stop")
    last["usage"] = {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
    return [*out, last]


def _completion(message: dict[str, Any]) -> dict[str, Any]:
    finish = "tool_calls" if "tool_calls" in message else "stop"
    return {
        "id": "c1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50},
    }


async def _serve(aiohttp_server: Any, fake: Fake) -> str:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.completions)
    server = await aiohttp_server(app)
    return str(server.make_url("/v1"))


@pytest.fixture
async def fakes(aiohttp_server: Any, aiohttp_client: Any) -> Any:
    deepseek, strict = Fake("deepseek"), Fake("strict")
    raw = {
        "providers": {
            "myds": {
                "api": "chat",
                "base_url": await _serve(aiohttp_server, deepseek),
                "auth": "none",
                "models": ["deepseek-reasoner"],
            },
            "strict": {
                "api": "chat",
                "base_url": await _serve(aiohttp_server, strict),
                "auth": "none",
                "models": ["gpt-4.1"],
            },
        },
        "tiers": {"default": "myds/deepseek-reasoner"},
        "aliases": {"ds": "myds/deepseek-reasoner", "oai": "strict/gpt-4.1"},
    }
    client = await aiohttp_client(create_app(settings_from_config(structure_config(raw), {})))
    api = anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="k", max_retries=0
    )
    return api, deepseek, strict


async def _turn(api: anthropic.AsyncAnthropic, model: str, messages: list, stream: bool) -> Any:
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "tools": TOOLS,
        "messages": messages,
    }
    if not stream:
        return await api.messages.create(**kwargs)
    async with api.messages.stream(**kwargs) as events:
        return await events.get_final_message()


async def _tool_loop_start(api: anthropic.AsyncAnthropic, stream: bool) -> list[dict[str, Any]]:
    """Turn one on DeepSeek, echoed back as Claude Code does, plus the tool result."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = await _turn(api, "ds", messages, stream)
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].thinking == REASONING and first.stop_reason == "tool_use"
    tool = first.content[1]
    return [
        *messages,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny"}],
        },
    ]


def _assistant(body: dict[str, Any]) -> dict[str, Any]:
    (message,) = [m for m in body["messages"] if m["role"] == "assistant"]
    return message


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_deepseek_under_an_unknown_provider_id_gets_its_reasoning_back(fakes, stream):
    api, deepseek, _ = fakes
    messages = await _tool_loop_start(api, stream)
    second = await _turn(api, "ds", messages, stream)
    assert second.stop_reason == "end_turn" and second.content[-1].text == ANSWER
    sent = _assistant(deepseek.seen[1])
    assert sent["reasoning_content"] == REASONING
    assert sent["tool_calls"][0]["id"] == "call_00_paris"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_switching_to_another_provider_drops_the_reasoning(fakes, stream):
    api, deepseek, strict = fakes
    messages = await _tool_loop_start(api, stream)
    second = await _turn(api, "oai", messages, stream)  # the person switched models mid-loop
    assert second.stop_reason == "end_turn" and second.content[-1].text == ANSWER
    sent = _assistant(strict.seen[0])
    assert sent.keys() <= OPENAI_MESSAGE_KEYS
    assert REASONING not in json.dumps(strict.seen[0])
    # ... and back: DeepSeek still finds its reasoning on its own tool-call turn.
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in second.content]},
        {"role": "user", "content": "And tomorrow?"},
    ]
    await _turn(api, "ds", messages, stream)
    tool_turn = next(m for m in deepseek.seen[-1]["messages"] if "tool_calls" in m)
    assert tool_turn["reasoning_content"] == REASONING


async def test_the_fakes_refuse_as_the_real_upstreams_do(fakes) -> None:
    """The refusals the tests above rely on: a tool-call turn without reasoning_content at
    DeepSeek, a reasoning_content field at the strict upstream."""
    api, _, _ = fakes
    messages = await _tool_loop_start(api, stream=False)
    messages[1]["content"] = [b for b in messages[1]["content"] if b["type"] == "tool_use"]
    with pytest.raises(anthropic.BadRequestError) as refused:
        await _turn(api, "ds", messages, stream=False)
    assert "reasoning_content in the thinking mode must be passed back" in str(refused.value)
    assert _openai_refusal("reasoning_content")["error"]["message"] == (
        "Unrecognized request argument supplied: reasoning_content"
    )
    strict = Fake("strict")
    refusal = strict.refusal([{"role": "assistant", "content": "", "reasoning_content": "x"}])
    assert refusal == _openai_refusal("reasoning_content")
