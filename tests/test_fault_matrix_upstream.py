"""Every upstream fault of docs/reliability.md, end to end, on both wire protocols: the real
ASGI app, consumer, generation and upstream client, with the offline demo transport speaking
the fake upstream's bytes (a `[[fake …]]` directive in the prompt picks the fault). For each
fault the test checks what the user is shown (the `end` frame: status, error code, HTTP status,
whether Retry is offered, the words from chat/protocol/texts.py, the text kept) and what is
stored (the Message row), and that the text the client assembled from its frames is exactly the
stored text and exactly the part of the fake's answer that was sent before the fault.

A few faults the fake cannot produce (a connection reset, a 200 that is not a stream) come from
a small transport in this file that wraps or replaces the demo transport."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from asgiref.sync import sync_to_async

from chat import upstream_config
from chat.models import Message
from chat.protocol.texts import FAILURE_TEXTS
from tests.conftest import upstream_code
from tests.fake_answers import fake_answer
from tests.wsclient import Transcript, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ALL = -1  # the whole answer was sent
SOME = -2  # some of the reasoning, as much as the time limit allowed


@dataclass(frozen=True)
class Fault:
    """One row: the fake's directive and what the user must see and the database must hold."""

    directive: str
    status: str  # the message's final status
    code: str | None = None  # error.code (None: no error)
    http: int | None = None  # error.status
    kind: str | None = None  # error_params["kind"]: which words of texts.py
    retryable: bool | None = None  # error.retryable: the browser offers Retry only when true
    retries: int = 0  # automatic retries announced with `retrying` frames
    tokens_kept: int = 0  # tokens of the fake's reasoning+answer the user keeps (or ALL, SOME)
    finish_reason: str = ""
    settings: dict = field(default_factory=dict)
    retry_after: float | None = None  # stored in error_params when the upstream sent one
    retry_delays_ms: tuple[int, ...] | None = None  # exact delays of the `retrying` frames


# Test settings retry after 0.01 s doubling up to 0.05 s (tests/conftest.py), 4 attempts.
RETRIED_3_TIMES = {"retries": 3}
FIRST_BYTE = {"UPSTREAM_FIRST_BYTE_TIMEOUT": 0.2, "UPSTREAM_RETRY_MAX_ATTEMPTS": 2}

FAULTS: dict[str, Fault] = {
    # -- refused before the stream -------------------------------------------------------------
    "401 invalid api key": Fault(
        "error=invalid_api_key", "failed", "invalid_api_key", 401, "bad_key", False
    ),
    "403 access denied": Fault(
        "error=access_denied", "failed", "access_denied", 403, "access_denied", False
    ),
    "403 model not activated": Fault(
        "error=access_denied_unpurchased",
        "failed",
        "AccessDenied.Unpurchased",
        403,
        "model_not_activated",
        False,
    ),
    "404 unknown model": Fault(
        "error=model_not_found", "failed", "model_not_found", 404, "model_not_found", False
    ),
    "400 moderation of the input before the stream": Fault(
        "error=data_inspection_input",
        "failed",
        "data_inspection_failed",
        400,
        "moderation_input",
        False,
    ),
    "400 input too long": Fault(
        "error=input_too_long", "failed", "invalid_parameter_error", 400, "input_too_long", False
    ),
    "400 Arrearage": Fault("error=arrearage", "failed", "Arrearage", 400, "overdue", False),
    "429 request rate without Retry-After": Fault(
        "error=limit_requests", "failed", "limit_requests", 429, "rate_limited", True, 3
    ),
    "429 request rate with Retry-After": Fault(
        "error=limit_requests retry_after=0.04",
        "failed",
        "limit_requests",
        429,
        "rate_limited",
        True,
        3,
        retry_after=0.04,
        retry_delays_ms=(40, 40, 40),
    ),
    "429 token rate without Retry-After": Fault(
        "error=insufficient_quota", "failed", "insufficient_quota", 429, "token_throttle", True, 3
    ),
    "429 token rate with Retry-After": Fault(
        "error=insufficient_quota retry_after=0.03",
        "failed",
        "insufficient_quota",
        429,
        "token_throttle",
        True,
        3,
        retry_after=0.03,
        retry_delays_ms=(30, 30, 30),
    ),
    "429 free quota used up": Fault(
        "error=free_quota_exhausted",
        "failed",
        "insufficient_quota",
        429,
        "free_quota_used",
        False,
    ),
    "429 billing overdue": Fault(
        "error=prepaid_bill_overdue",
        "failed",
        "PrepaidBillOverdue",
        429,
        "prepaid_overdue",
        False,
    ),
    "500 internal error": Fault(
        "error=internal_error", "failed", "internal_error", 500, "server_error", True, 3
    ),
    "503 model unavailable": Fault(
        "error=model_unavailable", "failed", "ModelUnavailable", 503, "overloaded", True, 3
    ),
    "400 SSE-formatted error body": Fault(
        "error=data_inspection_input shape=sse",
        "failed",
        "data_inspection_failed",
        400,
        "moderation_input",
        False,
    ),
    "429 SSE body with an event-error frame": Fault(
        "error=throttling_allocation_quota shape=event",
        "failed",
        "Throttling.AllocationQuota",
        429,
        "token_throttle",
        True,
        3,
    ),
    # -- failing inside a 200 stream -----------------------------------------------------------
    "event-error throttle on a 200 stream before the first token": Fault(
        "error=throttling_allocation_quota at=0 shape=event",
        "failed",
        "Throttling.AllocationQuota",
        200,
        "token_throttle",
        True,
        3,
    ),
    "event-error moderation inside a 200 stream": Fault(
        "error=data_inspection_output at=25 shape=event",
        "failed",
        "DataInspectionFailed",
        200,
        "moderation_output",
        False,
        tokens_kept=25,
    ),
    "data-error moderation inside the stream": Fault(
        "error=data_inspection_output at=25 shape=data",
        "failed",
        "data_inspection_failed",
        200,
        "moderation_output",
        False,
        tokens_kept=25,
    ),
    "data-error internal error inside the stream": Fault(
        "error=internal_error at=25 shape=data",
        "failed",
        "internal_error",
        200,
        "server_error",
        True,
        tokens_kept=25,
    ),
    "truncated without finish_reason": Fault(
        "truncate=25", "failed", "truncated", 200, "truncated", True, tokens_kept=25
    ),
    "malformed JSON chunk": Fault(
        "malformed=25", "failed", "malformed_stream", 200, "malformed_stream", True, tokens_kept=25
    ),
    "silence after the headers": Fault(
        "silence_after_headers=30",
        "failed",
        "timeout_first_byte",
        None,
        "timeout_first_byte",
        True,
        1,
        settings=FIRST_BYTE,
    ),
    "headers that never come": Fault(
        "headers_delay=30",
        "failed",
        "timeout_first_byte",
        None,
        "timeout_first_byte",
        True,
        1,
        settings=FIRST_BYTE,
    ),
    "silence mid-stream": Fault(
        "stall=25 stall_for=30",
        "failed",
        "timeout_idle",
        None,
        "timeout_idle",
        True,
        tokens_kept=25,
        settings={"UPSTREAM_IDLE_TIMEOUT": 0.3},
    ),
    # 8 tokens a second: never silent for the idle limit, so only the total limit ends it.
    "a slow trickle": Fault(
        "tps=8 reasoning=400",
        "failed",
        "timeout_total",
        None,
        "timeout_total",
        True,
        tokens_kept=SOME,
        settings={"UPSTREAM_IDLE_TIMEOUT": 0.5, "UPSTREAM_TOTAL_TIMEOUT": 1.5},
    ),
    "reasoning runs into the 32,768-token cap": Fault(
        "reasoning=32768 tokens=0 finish=length",
        "complete",
        finish_reason="length",
        tokens_kept=ALL,
    ),
}


def _marker(fault: Fault, key: str) -> str:
    # fail_first with a fresh key: the fake counts the requests of this test.
    extra = f" fail_first=99 key={key}" if "error=" in fault.directive else ""
    tps = "" if "tps=" in fault.directive else " tps=0"
    return f"[[fake {fault.directive}{extra}{tps}]]"


def _kept(text: str, count: int) -> tuple[str, str]:
    """(reasoning, content) of the first `count` tokens the fake streams (ALL: every one)."""
    if count == 0:
        return "", ""
    return fake_answer(text, None if count == ALL else count)


async def _answer(sockets, user, text: str) -> tuple[Transcript, dict]:
    """Send `text` in a new chat, apply frames by the sequence rules until `end`."""
    communicator, _ = await sockets.open(user)
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))
    end = await run_until_end(communicator, transcript, timeout=30)
    return transcript, end


def _words(kind: str) -> str:
    """The fixed part of the sentence texts.py says for `kind` (before any placeholder)."""
    return FAILURE_TEXTS[kind].split("{")[0]


def _check(fault: Fault, text: str, transcript: Transcript, end: dict, stored: Message) -> None:
    final = end["message"]
    # What the user sees.
    assert final["status"] == fault.status
    assert final["finish_reason"] == fault.finish_reason
    retrying = [f for f in transcript.frames if f["type"] == "retrying"]
    assert len(retrying) == fault.retries
    delays = tuple(f["delay_ms"] for f in retrying)
    if fault.retry_delays_ms is not None:
        assert delays == fault.retry_delays_ms
    else:  # full-jitter backoff: at most 10, 20, 40 ms with the test settings
        assert all(0 <= delay <= 10 * 2**n for n, delay in enumerate(delays)), delays
    if fault.code is None:
        assert final["error"] is None
    else:
        error = final["error"]
        assert (error["code"], error["status"], error["retryable"]) == (
            fault.code,
            fault.http,
            fault.retryable,
        )
        assert error["message"].startswith(_words(fault.kind)), error["message"]
        assert error["message"].endswith(f"({fault.code})")
    # The text kept: exactly what the fake sent before the fault, as the client assembled it.
    if fault.tokens_kept == SOME:
        reasoning, content = final["reasoning"], final["content"]
        assert reasoning and content == ""
        assert _kept(text, ALL)[0].startswith(reasoning)
    else:
        reasoning, content = _kept(text, fault.tokens_kept)
    seen = transcript.messages[end["message_id"]]
    assert (final["reasoning"], final["content"]) == (reasoning, content)
    assert (seen["reasoning"], seen["content"]) == (reasoning, content)
    # What is stored.
    assert stored.status == fault.status
    assert (stored.reasoning, stored.content) == (reasoning, content)
    assert stored.finish_reason == fault.finish_reason
    assert stored.error_code == (fault.code or "")
    assert stored.error_status == fault.http
    if fault.code is not None:
        assert stored.error_retryable is fault.retryable
        assert stored.error_params["kind"] == fault.kind
        assert stored.error_params.get("retry_after") == fault.retry_after


def _on_protocol(fault: Fault, protocol: str) -> Fault:
    """The row as `protocol` shows it: an error frame in the native shape (always, on the native
    protocol) carries the fake's native code for its error."""
    error = re.search(r"error=(\w+)", fault.directive)
    if error is None or fault.code is None:
        return fault
    wire = "dashscope_native" if "shape=event" in fault.directive else protocol
    return dataclasses.replace(fault, code=upstream_code(error.group(1), wire))


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_an_upstream_fault_ends_the_answer_as_the_matrix_says(
    sockets, alice, settings, fault, upstream_protocol
):
    fault = _on_protocol(fault, upstream_protocol)
    for name, value in fault.settings.items():
        setattr(settings, name, value)
    key = uuid.uuid4().hex
    text = f"Tell me about faults {_marker(fault, key)}"

    transcript, end = await _answer(sockets, alice, text)

    stored = await sync_to_async(Message.objects.get)(pk=end["message_id"])
    _check(fault, text, transcript, end, stored)
    if "error=" in fault.directive:
        assert upstream_config.demo_transport().attempts.count(key) == 1 + fault.retries


# -- faults the fake cannot produce: a transport of our own ------------------------------------


class _ResetAfter(httpx.AsyncByteStream):
    """The demo response's body, cut by a connection reset after `chunks` chunks."""

    def __init__(self, inner: httpx.AsyncByteStream, chunks: int) -> None:
        self._inner = inner
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self._inner:
            if sent == self._chunks:
                raise httpx.ReadError("[Errno 104] Connection reset by peer")
            sent += 1
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _ResettingTransport(httpx.AsyncBaseTransport):
    """The demo transport, with every response reset by the peer after `chunks` chunks."""

    def __init__(self, inner: httpx.AsyncBaseTransport, chunks: int) -> None:
        self._inner = inner
        self._chunks = chunks
        self.base = inner.base  # the fake's scenario, for the expected text
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        response = await self._inner.handle_async_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ResetAfter(response.stream, self._chunks),
            request=request,
        )


class _FixedTransport(httpx.AsyncBaseTransport):
    """Answers every request with the same status, headers and body."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self._response = (status, [("content-type", content_type)], body)
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        status, headers, body = self._response
        return httpx.Response(status, headers=headers, content=body, request=request)


@pytest.fixture
def use_transport(monkeypatch):
    def install(transport: httpx.AsyncBaseTransport) -> None:
        monkeypatch.setattr(upstream_config, "demo_transport", lambda: transport)

    return install


# One chunk is the role chunk, then one chunk per token.
RESETS = {
    "connection reset mid-stream": Fault(
        "reasoning=40", "failed", "network_error", None, "connection_lost", True, tokens_kept=25
    ),
    "connection reset before the first token": Fault(
        "reasoning=40", "failed", "network_error", None, "connection_lost", True, 3, tokens_kept=0
    ),
}


@pytest.mark.parametrize("fault", RESETS.values(), ids=RESETS.keys())
async def test_a_connection_reset_ends_the_answer_as_the_matrix_says(
    sockets, alice, use_transport, fault
):
    transport = _ResettingTransport(upstream_config.demo_transport(), 1 + fault.tokens_kept)
    use_transport(transport)
    text = f"Reset me {_marker(fault, uuid.uuid4().hex)}"

    transcript, end = await _answer(sockets, alice, text)

    stored = await sync_to_async(Message.objects.get)(pk=end["message_id"])
    _check(fault, text, transcript, end, stored)
    assert transport.requests == 1 + fault.retries


NOT_A_STREAM = {
    # A proxy's or captive portal's page: no SSE event, so no finish either.
    "200 with an HTML body": (
        _FixedTransport(200, "text/html", b"<html><body>Please log in to the Wi-Fi</body></html>"),
        Fault("", "failed", "not_a_stream", 200, "not_a_stream", True),
        1,
    ),
    # The gateway's "business error" on a 200 (docs/upstream-protocol.md §3): retried like the
    # 429 it is.
    "200 with a JSON error body": (
        _FixedTransport(
            200,
            "application/json",
            b'{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded, please '
            b'try again later.","request_id":"r-1"}',
        ),
        Fault("", "failed", "Throttling.RateQuota", 200, "rate_limited", True, 3),
        4,
    ),
}


@pytest.mark.parametrize(
    ("transport", "fault", "requests"), NOT_A_STREAM.values(), ids=NOT_A_STREAM
)
async def test_a_200_that_is_not_a_stream_ends_the_answer_as_the_matrix_says(
    sockets, alice, use_transport, transport, fault, requests
):
    use_transport(transport)
    text = "Is this a stream?"
    transport.requests = 0

    transcript, end = await _answer(sockets, alice, text)

    stored = await sync_to_async(Message.objects.get)(pk=end["message_id"])
    _check(fault, text, transcript, end, stored)
    assert transport.requests == requests
