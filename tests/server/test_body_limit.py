"""A body over ``server.max_body_bytes`` is a 413 whose message names the setting to raise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from .conftest import message_body


async def test_too_large_names_the_setting(make_gateway) -> None:  # type: ignore[no-untyped-def]
    client = await make_gateway(max_body_bytes=2000)
    raw = json.dumps(message_body(pad="x" * 3000)).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: the limit hits mid-read
        for i in range(0, len(raw), 500):
            yield raw[i : i + 500]

    for data in (raw, chunks()):
        response = await client.post(
            "/v1/messages", data=data, headers={"content-type": "application/json"}
        )
        assert response.status == 413
        error = (await response.json())["error"]
        assert error["type"] == "request_too_large"
        assert "server.max_body_bytes" in error["message"]
        assert "[server] table" in error["message"]
