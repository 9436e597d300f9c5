"""FakeUpstreamTransport: the same bytes as the server, streamed in process."""

import asyncio
import re
from typing import Any

import httpx
import pytest

from chat.fakeupstream import transport as transport_module
from chat.fakeupstream.responder import FakeResponse, respond
from chat.fakeupstream.scenarios import Scenario
from chat.fakeupstream.testing import RunningFake
from chat.fakeupstream.transport import FakeUpstreamTransport

BASE_URL = "https://dashscope.example/compatible-mode/v1"
AUTH = {"Authorization": "Bearer sk-test"}
BODY = {
    "model": "MiniMax-M2.5",
    "messages": [{"role": "user", "content": "Hello 日本語 🚀"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def normalized(raw: bytes) -> bytes:
    raw = re.sub(rb"chatcmpl-[0-9a-f-]{36}", b"chatcmpl-ID", raw)
    return re.sub(rb'"created":\d+', b'"created":0', raw)


async def test_transport_sends_the_same_bytes_as_the_server(
    fake_upstream_process: RunningFake,
) -> None:
    async with httpx.AsyncClient() as client:
        server = await client.post(
            f"{fake_upstream_process.url}/chat/completions", json=BODY, headers=AUTH
        )
    transport = FakeUpstreamTransport(Scenario(tokens_per_second=0))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        local = await client.post("/chat/completions", json=BODY, headers=AUTH)
    assert local.status_code == server.status_code == 200
    assert local.headers["content-type"] == server.headers["content-type"]
    assert normalized(local.content) == normalized(server.content)


async def test_transport_streams_in_real_time() -> None:
    transport = FakeUpstreamTransport(
        Scenario(tokens_per_second=40, reasoning_tokens=10, answer="short")
    )
    loop = asyncio.get_running_loop()
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
        client.stream("POST", "/chat/completions", json=BODY, headers=AUTH) as response,
    ):
        started = loop.time()
        arrivals = [loop.time() - started async for _ in response.aiter_raw()]
    assert len(arrivals) > 15
    assert arrivals[-1] - arrivals[1] >= 0.2  # spread out, not delivered in one piece


async def test_closing_the_response_closes_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    generators = []

    async def spy(*args: Any) -> FakeResponse:
        response = await respond(*args)
        generators.append(response.chunks)
        return response

    monkeypatch.setattr(transport_module, "respond", spy)
    transport = FakeUpstreamTransport(Scenario(tokens_per_second=0, stall_after=1))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        async with client.stream("POST", "/chat/completions", json=BODY, headers=AUTH) as response:
            async for _ in response.aiter_raw():
                break
        assert generators[0].ag_frame is None  # closed, not left suspended in the stall


async def test_transport_errors() -> None:
    transport = FakeUpstreamTransport()
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.post("/chat/completions", json=BODY)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
