"""Invariant: an Anthropic-dialect upstream is passed through faithfully — same bytes except the
model name, credentials swapped, betas filtered — as judged by the official anthropic SDK."""

from __future__ import annotations

import anthropic
from aiohttp import web

from .conftest import SECRET_KEY, fixture_bytes, message_body, sse_events

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "up-model",
    "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 7},
}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def sdk(client) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=str(client.server.make_url("")), api_key="client-key", max_retries=0
    )


async def test_non_stream_tool_round_trip_with_sdk(upstream, make_gateway) -> None:
    async def reply(request: web.Request) -> web.Response:
        if len(upstream.seen) == 1:
            return web.json_response(MESSAGE, headers={"request-id": "req_up_1"})
        done = {**MESSAGE, "content": [{"type": "text", "text": "Sunny."}]}
        return web.json_response({**done, "stop_reason": "end_turn"})

    upstream.handler = reply
    client = await make_gateway()
    api = sdk(client)
    first = await api.messages.create(
        model="claude-sonnet-test",
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07,interleaved-thinking-2025-05-14"},
    )
    assert first.model == "claude-sonnet-test"  # rewritten to the requested name
    tool = first.content[1]
    assert tool.type == "tool_use" and tool.input == {"city": "Paris"}
    second = await api.messages.create(
        model="claude-sonnet-test",
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny"}],
            },
        ],
    )
    assert second.content[0].text == "Sunny."
    seen = upstream.seen[0]
    assert seen.path == "/v1/messages"
    assert seen.body["model"] == "up-model"
    assert seen.headers["x-api-key"] == SECRET_KEY  # the provider's key, not the client's
    # Forwarded as the client sent it (the SDK's own version string).
    assert seen.headers["anthropic-version"] == api.default_headers["anthropic-version"]
    assert seen.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert upstream.seen[1].body["messages"][2]["content"][0]["tool_use_id"] == "toolu_01"


async def test_stream_bytes_pass_through_except_message_start(upstream, make_gateway) -> None:
    recorded = fixture_bytes("stream_text.sse")

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for start in range(0, len(recorded), 7):  # awkward splits on purpose
            await response.write(recorded[start : start + 7])
        return response

    upstream.handler = reply
    client = await make_gateway()
    response = await client.post("/v1/messages?beta=true", json=message_body(stream=True))
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    raw = await response.read()
    first_end = raw.index(b"\n\n") + 2
    recorded_first_end = recorded.index(b"\n\n") + 2
    assert raw[first_end:] == recorded[recorded_first_end:]
    name, start = sse_events(raw[:first_end])[0]
    assert name == "message_start"
    assert start["message"]["model"] == "claude-sonnet-test"
    original = sse_events(recorded[:recorded_first_end])[0][1]
    original["message"]["model"] = "claude-sonnet-test"
    assert start == original


async def test_stream_with_sdk_tool_use(upstream, make_gateway) -> None:
    recorded = fixture_bytes("stream_tool_use.sse")

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(recorded)
        return response

    upstream.handler = reply
    client = await make_gateway()
    async with sdk(client).messages.stream(
        model="claude-sonnet-test", max_tokens=100, tools=[WEATHER_TOOL], messages=[]
    ) as stream:
        final = await stream.get_final_message()
    assert final.model == "claude-sonnet-test"
    assert final.stop_reason == "tool_use"
    tool = final.content[-1]
    assert tool.type == "tool_use"
    assert tool.input == {"location": "Paris"}
