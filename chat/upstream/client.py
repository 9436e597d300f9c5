"""Streaming chat client: the byte-reading transport loop. What goes on the wire and how the
events are read is the target's protocol adapter's business (protocols/)."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from .errors import (
    TIMEOUT_FIRST_BYTE,
    TIMEOUT_IDLE,
    TIMEOUT_TOTAL,
    failure_from_exception,
    failure_from_response,
    not_a_stream_failure,
    request_id_from_headers,
    timeout_failure,
)
from .events import Event, ResponseStarted
from .protocols import OPENAI_COMPAT, StreamAssembler, WireProtocol, protocol_named
from .request import ChatRequest
from .sse import SSEDecoder

POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
MAX_ERROR_BODY_BYTES = 64 * 1024
_T = TypeVar("_T")


@dataclass(frozen=True)
class UpstreamTarget:
    """Where to send requests, and how long to wait. `transport` swaps the network for an
    in-process fake.

    connect_timeout: opening the TCP/TLS connection (httpx).
    first_byte_timeout: from sending the request until the response headers and the first SSE
    event; a reasoning model can take a while to start.
    idle_timeout: silence between two chunks once the stream has started.
    total_timeout: the whole generation, retries and their waits included.
    """

    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 10.0
    first_byte_timeout: float = 60.0
    idle_timeout: float = 60.0
    total_timeout: float = 600.0
    write_timeout: float = 30.0
    pool_timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)
    protocol: str = OPENAI_COMPAT
    key_id: int | None = None  # the pool key this target uses (events carry it per attempt)

    def __repr__(self) -> str:
        return (
            f"UpstreamTarget(base_url={self.base_url!r}, api_key={mask_key(self.api_key)!r}, "
            f"connect_timeout={self.connect_timeout}, "
            f"first_byte_timeout={self.first_byte_timeout}, idle_timeout={self.idle_timeout}, "
            f"total_timeout={self.total_timeout}, write_timeout={self.write_timeout}, "
            f"pool_timeout={self.pool_timeout}, protocol={self.protocol!r}, "
            f"key_id={self.key_id})"
        )

    @property
    def wire(self) -> WireProtocol:
        return protocol_named(self.protocol)

    @property
    def chat_url(self) -> str:
        return self.wire.url(self.base_url)

    @property
    def timeout(self) -> httpx.Timeout:
        # Reads are bounded by stream_chat's own first-byte / idle / total deadlines, which
        # tell the three apart; httpx's single read timeout could not.
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=None,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )


def mask_key(api_key: str) -> str:
    """Enough of a key to tell two apart in a log, never enough to use it."""
    return f"***{api_key[-4:]}" if len(api_key) > 8 else "***"


class _Expired(Exception):
    def __init__(self, kind: str, seconds: float) -> None:
        super().__init__(kind)
        self.kind = kind
        self.seconds = seconds


class _Deadlines:
    """The phase deadline (first byte, then idle) and the total one, in event-loop time."""

    def __init__(self, target: UpstreamTarget, total_deadline: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._target = target
        now = self._loop.time()
        self.total = total_deadline if total_deadline is not None else now + target.total_timeout
        self._phase_kind = TIMEOUT_FIRST_BYTE
        self._phase_seconds = target.first_byte_timeout
        self._phase_deadline = now + target.first_byte_timeout
        self.streaming = False

    def start_streaming(self) -> None:
        """The first SSE event arrived: from now on, silence is measured per chunk."""
        self.streaming = True
        self._phase_kind = TIMEOUT_IDLE
        self._phase_seconds = self._target.idle_timeout

    async def bound(self, awaitable: Awaitable[_T]) -> _T:
        """Await within the current phase's and the total deadline; raise _Expired naming the
        one that ran out. Used around single awaits only, never around a `yield`."""
        if self.streaming:
            self._phase_deadline = self._loop.time() + self._phase_seconds
        phase_first = self._phase_deadline < self.total
        try:
            async with asyncio.timeout_at(min(self._phase_deadline, self.total)):
                return await awaitable
        except TimeoutError:
            if phase_first:
                raise _Expired(self._phase_kind, self._phase_seconds) from None
            raise _Expired(TIMEOUT_TOTAL, self._target.total_timeout) from None


async def stream_chat(
    request: ChatRequest, target: UpstreamTarget, *, deadline: float | None = None
) -> AsyncIterator[Event]:
    """Yield ResponseStarted, deltas, maybe Usage, then exactly one Finish or Failure.

    Upstream and network errors and expired timeouts become a Failure event; only cancellation
    propagates. `deadline` (event-loop time) is when the whole generation must end; by default
    target.total_timeout from now. Consume it with `contextlib.aclosing` (or run it in a task
    you cancel) so an abandoned stream closes its HTTP response at once instead of when
    garbage-collected.
    """
    deadlines = _Deadlines(target, deadline)
    assembler: StreamAssembler | None = None
    response: httpx.Response | None = None
    try:
        client = http_client(target.transport)
        http_request = client.build_request(
            "POST",
            target.chat_url,
            json=target.wire.body(request),
            headers=_headers(target),
            timeout=target.timeout,
        )
        response = await deadlines.bound(client.send(http_request, stream=True))
        request_id = request_id_from_headers(response.headers)
        assembler = target.wire.assembler(request_id, response.status_code)
        if not response.is_success or _is_json(response):
            body = await deadlines.bound(_read_error_body(response))
            for event in assembler.fail(
                failure_from_response(response.status_code, response.headers, body)
            ):
                yield event
            return
        if _is_web_page(response):
            for event in assembler.fail(
                not_a_stream_failure(response.headers.get("content-type", ""), request_id)
            ):
                yield event
            return
        yield ResponseStarted(request_id=request_id, model=None)
        decoder = SSEDecoder()
        chunks = response.aiter_bytes()
        while True:
            try:
                chunk = await deadlines.bound(anext(chunks))
            except StopAsyncIteration:
                break
            events, saw_event = _decode(chunk, decoder, assembler)
            if saw_event and not deadlines.streaming:
                deadlines.start_streaming()
            for event in events:
                yield event
            if assembler.finished:
                return
        for event in assembler.on_eof(decoder.close()):
            yield event
    except _Expired as expired:
        request_id = request_id_from_headers(response.headers) if response is not None else None
        failure = timeout_failure(expired.kind, expired.seconds, request_id=request_id)
        for event in [failure] if assembler is None else assembler.fail(failure):
            yield event
    except (httpx.RequestError, httpx.InvalidURL) as exc:
        failure = failure_from_exception(exc, target.timeout)
        for event in [failure] if assembler is None else assembler.fail(failure):
            yield event
    finally:
        if response is not None:
            await response.aclose()


def _headers(target: UpstreamTarget) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.api_key}", **target.wire.headers()}


def _is_web_page(response: httpx.Response) -> bool:
    # Only an explicit HTML page: some OpenAI-compatible servers stream SSE without the
    # text/event-stream content type.
    return "html" in response.headers.get("content-type", "")


def _is_json(response: httpx.Response) -> bool:
    # A 200 with a JSON body is a business error from the gateway, not a stream (§3.1).
    return "json" in response.headers.get("content-type", "")


def _decode(
    chunk: bytes, decoder: SSEDecoder, assembler: StreamAssembler
) -> tuple[list[Event], bool]:
    """The app events in `chunk`, and whether it completed at least one SSE event."""
    events: list[Event] = []
    sse_events = decoder.feed(chunk)
    for sse in sse_events:
        events += assembler.on_event(sse)
        if assembler.finished:
            break
    return events, bool(sse_events)


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
