"""An in-process httpx transport: the app's real HTTP client and SSE parser on real bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .responder import respond
from .scenarios import AttemptCounter, Scenario


class _ChunkStream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        # Closing the response must stop the generator, like a client disconnect does.
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class FakeUpstreamTransport(httpx.AsyncBaseTransport):
    def __init__(self, base: Scenario | None = None) -> None:
        self.base = base or Scenario()
        self.attempts = AttemptCounter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await respond(
            request.method,
            request.url.raw_path.decode("ascii"),
            request.headers,
            body,
            self.base,
            self.attempts,
        )
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_ChunkStream(response.chunks),
            request=request,
        )
