import asyncio
import json

import httpx
import pytest

from chat.upstream import (
    AnswerDelta,
    ChatRequest,
    Failure,
    Finish,
    ReasoningDelta,
    ResponseStarted,
    Retrying,
    RetryPolicy,
    UpstreamTarget,
    stream_chat_with_retries,
)
from chat.upstream.client import aclose_http_clients

REQUEST = ChatRequest(model="MiniMax-M2.5", messages=[{"role": "user", "content": "Hi"}])
STREAM_OK = (
    b'data: {"choices":[{"delta":{"reasoning_content":"hm"},"index":0}]}\n\n'
    b'data: {"choices":[{"delta":{"content":"Hello"},"index":0,"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def error_body(code: str, message: str = "m") -> bytes:
    return json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()


def ok() -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM_OK)


def failing(status: int, code: str = "x", headers: dict | None = None) -> httpx.Response:
    all_headers = {"content-type": "application/json", **(headers or {})}
    return httpx.Response(status, headers=all_headers, content=error_body(code))


class Script:
    """A transport that answers the n-th request with the n-th response (the last repeats)."""

    def __init__(self, *responses) -> None:
        self.responses = list(responses)
        self.calls = 0
        self.transport = httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        response = self.responses[min(self.calls, len(self.responses) - 1)]
        self.calls += 1
        if isinstance(response, Exception):
            raise response
        return response() if callable(response) else response

    def target(self, **kwargs) -> UpstreamTarget:
        return UpstreamTarget(
            "https://dashscope.test/v1", "sk-test", transport=self.transport, **kwargs
        )


class Sleeps:
    """An injected sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def policy(sleeps: Sleeps | None = None, **kwargs) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps or Sleeps(), random=lambda: 1.0, **kwargs)


async def collect(script: Script, retry_policy: RetryPolicy, **target) -> list:
    stream = stream_chat_with_retries(REQUEST, script.target(**target), retry_policy)
    return [event async for event in stream]


@pytest.fixture(autouse=True)
async def close_clients():
    yield
    await aclose_http_clients()


def failure(status: int = 503, kind: str = "overloaded", **kwargs) -> Failure:
    return Failure(code=f"http_{status}", kind=kind, status=status, retryable=True, **kwargs)


@pytest.mark.parametrize(("retry_number", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 20.0)])
def test_backoff_doubles_from_the_base_delay_up_to_the_cap(retry_number, ceiling):
    retry_policy = RetryPolicy(base_delay=1.0, max_delay=20.0, random=lambda: 1.0)

    assert retry_policy.delay(retry_number, failure()) == ceiling


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.999])
def test_full_jitter_draws_anywhere_between_zero_and_the_ceiling(draw):
    retry_policy = RetryPolicy(base_delay=1.0, max_delay=20.0, random=lambda: draw)

    assert retry_policy.delay(3, failure()) == pytest.approx(4.0 * draw)


def test_retry_after_is_used_instead_of_the_backoff_but_never_above_the_cap():
    retry_policy = RetryPolicy(base_delay=1.0, max_delay=20.0, random=lambda: 0.5)

    assert retry_policy.delay(1, failure(429, "rate_limited", retry_after=7.0)) == 7.0
    assert retry_policy.delay(1, failure(429, "rate_limited", retry_after=90.0)) == 20.0


def test_no_retry_starts_once_the_retry_budget_would_be_exceeded():
    now = [100.0]
    retry_policy = RetryPolicy(max_total=10.0, random=lambda: 1.0, clock=lambda: now[0])
    throttled = failure(429, "rate_limited", retry_after=5.0)

    assert retry_policy.next_delay(1, throttled, started=100.0) == 5.0
    now[0] = 106.0
    assert retry_policy.next_delay(2, throttled, started=100.0) is None


def test_no_retry_after_the_last_attempt():
    retry_policy = RetryPolicy(max_attempts=3)

    assert retry_policy.next_delay(2, failure(), started=retry_policy.clock()) is not None
    assert retry_policy.next_delay(3, failure(), started=retry_policy.clock()) is None


@pytest.mark.parametrize(
    ("status", "kind", "retryable", "expected"),
    [
        (429, "rate_limited", True, True),
        (500, "server_error", True, True),
        (502, "gateway_error", True, True),
        (503, "overloaded", True, True),
        (504, "gateway_timeout", True, True),
        (None, "connect_failed", True, True),
        (None, "timeout_connect", True, True),
        (None, "timeout_first_byte", True, True),
        (200, "token_throttle", True, True),
        (400, "bad_request", False, False),
        (401, "bad_key", False, False),
        (403, "access_denied", False, False),
        (404, "model_not_found", False, False),
        (400, "overdue", False, False),
        (400, "moderation_input", False, False),
        (400, "input_too_long", False, False),
        (429, "prepaid_overdue", False, False),
        (None, "timeout_idle", True, False),
        (None, "timeout_total", True, False),
        (200, "truncated", True, False),
    ],
)
def test_only_transient_failures_are_retried_automatically(status, kind, retryable, expected):
    candidate = Failure(code="c", kind=kind, status=status, retryable=retryable)

    assert RetryPolicy().should_retry(candidate) is expected


async def test_a_429_then_success_yields_retrying_then_the_whole_answer():
    script = Script(failing(429, "limit_requests"), ok)
    sleeps = Sleeps()

    events = await collect(script, policy(sleeps, base_delay=0.5))

    assert isinstance(events[0], Retrying)
    assert (events[0].attempt, events[0].max_attempts, events[0].delay_seconds) == (2, 4, 0.5)
    assert events[0].failure.code == "limit_requests"
    assert events[1:] == [
        ResponseStarted(None, None),
        ReasoningDelta("hm"),
        AnswerDelta("Hello"),
        Finish("stop"),
    ]
    assert sleeps.delays == [0.5]
    assert script.calls == 2


async def test_retry_after_from_the_upstream_sets_the_wait():
    script = Script(failing(429, "limit_requests", {"retry-after": "3"}), ok)
    sleeps = Sleeps()

    events = await collect(script, policy(sleeps))

    assert events[0].delay_seconds == 3.0
    assert sleeps.delays == [3.0]


async def test_when_every_attempt_fails_the_last_failure_ends_the_stream():
    script = Script(failing(503, "ModelUnavailable"))
    sleeps = Sleeps()

    events = await collect(script, policy(sleeps, max_attempts=3, base_delay=1.0))

    assert [type(e) for e in events] == [Retrying, Retrying, Failure]
    assert [e.attempt for e in events[:2]] == [2, 3]
    assert (events[-1].code, events[-1].retryable) == ("ModelUnavailable", True)
    assert sleeps.delays == [1.0, 2.0]
    assert script.calls == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_parameter_error"),
        (401, "invalid_api_key"),
        (403, "access_denied"),
        (404, "model_not_found"),
        (400, "Arrearage"),
        (400, "data_inspection_failed"),
    ],
)
async def test_a_client_error_is_never_retried(status, code):
    script = Script(failing(status, code))

    events = await collect(script, policy())

    assert [(type(e), e.code) for e in events] == [(Failure, code)]
    assert script.calls == 1


async def test_a_connection_error_before_the_first_token_is_retried():
    script = Script(httpx.ConnectError("refused"), ok)

    events = await collect(script, policy())

    assert isinstance(events[0], Retrying)
    assert events[0].failure.kind == "connect_failed"
    assert events[-1] == Finish("stop")


async def test_a_failure_after_the_first_token_is_not_retried_and_keeps_the_text():
    partial = (
        b'data: {"choices":[{"delta":{"content":"Hel"},"index":0}]}\n\n'
        b'data: {"error":{"message":"busy","type":"internal_error","code":"internal_error"}}\n\n'
    )
    script = Script(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=partial), ok
    )

    events = await collect(script, policy())

    assert [type(e) for e in events] == [ResponseStarted, AnswerDelta, Failure]
    assert events[2].code == "internal_error"
    assert script.calls == 1


async def test_an_error_frame_before_any_token_on_a_200_stream_is_retried():
    throttled = (
        b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.AllocationQuota",'
        b'"message":"Allocated quota exceeded."}\n\n'
    )
    script = Script(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=throttled), ok
    )

    events = await collect(script, policy())

    assert [type(e) for e in events][:3] == [ResponseStarted, Retrying, ResponseStarted]
    assert events[-1] == Finish("stop")


async def test_the_total_timeout_bounds_the_retry_waits():
    script = Script(failing(503, "ModelUnavailable"))

    events = await collect(script, policy(base_delay=5.0), total_timeout=1.0)

    assert [type(e) for e in events] == [Failure]
    assert script.calls == 1


async def test_stopping_interrupts_a_retry_wait_at_once():
    script = Script(failing(429, "limit_requests"))
    waiting = asyncio.Event()

    async def long_sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(3600)

    retry_policy = RetryPolicy(sleep=long_sleep, random=lambda: 1.0)
    received = []

    async def consume():
        async for event in stream_chat_with_retries(REQUEST, script.target(), retry_policy):
            received.append(event)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(waiting.wait(), timeout=5)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1)
    assert [type(e) for e in received] == [Retrying]
