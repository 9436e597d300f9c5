"""Streaming chat-completion client for DashScope's OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import failure_from_exception, failure_from_response, request_id_from_headers
from .events import Event, ResponseStarted
from .openai_compat import CompatStream
from .sse import SSEDecoder

POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
MAX_ERROR_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class UpstreamTarget:
    """Where to send requests. `transport` swaps the network for an in-process fake."""

    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    write_timeout: float = 30.0
    pool_timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"UpstreamTarget(base_url={self.base_url!r}, api_key={mask_key(self.api_key)!r}, "
            f"connect_timeout={self.connect_timeout}, read_timeout={self.read_timeout}, "
            f"write_timeout={self.write_timeout}, pool_timeout={self.pool_timeout})"
        )

    @property
    def chat_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )


def mask_key(api_key: str) -> str:
    """Enough of a key to tell two apart in a log, never enough to use it."""
    return f"***{api_key[-4:]}" if len(api_key) > 8 else "***"


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    temperature: float = 1.0
    top_p: float = 0.95
    presence_penalty: float = 0.0
    max_tokens: int | None = None

    def to_body(self) -> dict[str, Any]:
        # MiniMax-M2.5 only runs in thinking mode: thinking_budget and enable_thinking:false are
        # unsupported (PROTOCOL.md §1.1), so neither is ever sent.
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": self.temperature,
            "top_p": self.top_p,
            "presence_penalty": self.presence_penalty,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return body


async def stream_chat(request: ChatRequest, target: UpstreamTarget) -> AsyncIterator[Event]:
    """Yield ResponseStarted, deltas, maybe Usage, then exactly one Finish or Failure.

    Upstream and network errors become a Failure event; only cancellation propagates. Consume it
    with `contextlib.aclosing` (or run it in a task you cancel) so an abandoned stream closes its
    HTTP response at once instead of when garbage-collected.
    """
    timeout = target.timeout
    assembler: CompatStream | None = None
    try:
        async with http_client(target.transport).stream(
            "POST",
            target.chat_url,
            json=request.to_body(),
            headers=_headers(target),
            timeout=timeout,
        ) as response:
            request_id = request_id_from_headers(response.headers)
            assembler = CompatStream(request_id, response.status_code)
            if not response.is_success or _is_json(response):
                body = await _read_error_body(response)
                for event in assembler.fail(
                    failure_from_response(response.status_code, response.headers, body)
                ):
                    yield event
                return
            yield ResponseStarted(request_id=request_id, model=None)
            decoder = SSEDecoder()
            async for chunk in response.aiter_bytes():
                for event in _decode(chunk, decoder, assembler):
                    yield event
                if assembler.finished:
                    return
            for event in assembler.on_eof(decoder.close()):
                yield event
    except (httpx.RequestError, httpx.InvalidURL) as exc:
        failure = failure_from_exception(exc, timeout)
        for event in [failure] if assembler is None else assembler.fail(failure):
            yield event


def _headers(target: UpstreamTarget) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.api_key}", "Accept": "text/event-stream"}


def _is_json(response: httpx.Response) -> bool:
    # A 200 with a JSON body is a business error from the gateway, not a stream (§3.1).
    return "json" in response.headers.get("content-type", "")


def _decode(chunk: bytes, decoder: SSEDecoder, assembler: CompatStream) -> list[Event]:
    events: list[Event] = []
    for sse in decoder.feed(chunk):
        events += assembler.on_event(sse)
        if assembler.finished:
            break
    return events


async def _read_error_body(response: httpx.Response) -> bytes:
    # An SSE-formatted error body may be followed by a connection that stays open, so stop at
    # the first complete event instead of waiting for EOF.
    sse = SSEDecoder() if "event-stream" in response.headers.get("content-type", "") else None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_ERROR_BODY_BYTES or (sse is not None and sse.feed(chunk)):
            break
    return bytes(body[:MAX_ERROR_BODY_BYTES])


# An AsyncClient is bound to the event loop it first ran on, and tests and async_to_sync each
# make fresh loops, so clients are cached per (loop, transport).
_ClientsByTransport = dict[int, tuple[object, httpx.AsyncClient]]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ClientsByTransport] = (
    weakref.WeakKeyDictionary()
)
_clients_lock = threading.Lock()


def http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The shared AsyncClient for the running event loop and this transport (call inside a loop)."""
    loop = asyncio.get_running_loop()
    with _clients_lock:
        _forget_closed_loops()
        per_loop = _clients.setdefault(loop, {})
        entry = per_loop.get(id(transport))
        if entry is None or entry[1].is_closed:
            # The transport is stored too so its id() cannot be reused while cached.
            entry = (transport, httpx.AsyncClient(transport=transport, limits=POOL_LIMITS))
            per_loop[id(transport)] = entry
        return entry[1]


async def aclose_http_clients() -> None:
    """Close the clients of the running loop (call at shutdown and in test teardown)."""
    loop = asyncio.get_running_loop()
    with _clients_lock:
        per_loop = _clients.pop(loop, {})
        _forget_closed_loops()
    for _transport, client in per_loop.values():
        await client.aclose()


def _forget_closed_loops() -> None:
    # Clients of a closed loop cannot be closed any more; dropping them lets GC free them.
    for loop in [loop for loop in _clients if loop.is_closed()]:
        del _clients[loop]
