"""Failover between a pool's keys before the first token (docs/upstream-protocol.md §5)."""

import json

import httpx
import pytest

from chat.upstream import (
    AnswerDelta,
    ChatRequest,
    Failure,
    Finish,
    KeyFailover,
    KeyPool,
    KeyVerdict,
    ResponseStarted,
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
STREAM_CUT = b'data: {"choices":[{"delta":{"content":"Hel"},"index":0}]}\n\n'


def error(status: int, code: str, headers: dict | None = None) -> httpx.Response:
    body = json.dumps({"error": {"message": "m", "type": code, "code": code}}).encode()
    return httpx.Response(
        status, headers={"content-type": "application/json", **(headers or {})}, content=body
    )


def stream(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


class Keys:
    """A transport per API key: each key answers with its own response; records the calls."""

    def __init__(self, **answers) -> None:
        self.calls: list[str] = []
        self.answers = answers
        self.transport = httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        self.calls.append(key)
        return self.answers[key]()

    def pool(self, verdicts: list) -> KeyPool:
        async def hear(target, verdict, failure, rest_seconds):
            verdicts.append((target.key_id, verdict, failure.code, rest_seconds))

        targets = [
            UpstreamTarget("https://pool.test/v1", key, transport=self.transport, key_id=number)
            for number, key in enumerate(self.answers, start=1)
        ]
        return KeyPool(targets, on_verdict=hear)


async def collect(keys: Keys, verdicts: list) -> list:
    policy = RetryPolicy(sleep=_no_sleep, random=lambda: 1.0, max_delay=7.0)
    return [event async for event in stream_chat_with_retries(REQUEST, keys.pool(verdicts), policy)]


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture(autouse=True)
async def close_clients():
    yield
    await aclose_http_clients()


async def test_a_401_key_is_marked_unhealthy_and_the_next_key_answers():
    keys = Keys(bad=lambda: error(401, "invalid_api_key"), good=lambda: stream(STREAM_OK))
    verdicts: list = []

    events = await collect(keys, verdicts)

    assert keys.calls == ["bad", "good"]
    assert verdicts == [(1, KeyVerdict.UNHEALTHY, "invalid_api_key", 7.0)]
    assert isinstance(events[0], KeyFailover) and events[0].failure.key_id == 1
    assert events[1] == ResponseStarted(request_id=None, model=None, key_id=2)
    assert AnswerDelta("Hello") in events and events[-1] == Finish("stop")


async def test_arrearage_and_403_are_the_keys_fault_too():
    keys = Keys(
        owes=lambda: error(400, "Arrearage"),
        denied=lambda: error(403, "access_denied"),
        good=lambda: stream(STREAM_OK),
    )
    verdicts: list = []

    events = await collect(keys, verdicts)

    assert [v[:2] for v in verdicts] == [(1, KeyVerdict.UNHEALTHY), (2, KeyVerdict.UNHEALTHY)]
    assert events[-1] == Finish("stop")


async def test_a_429_key_rests_for_the_time_the_upstream_asked_and_the_next_key_answers():
    keys = Keys(
        busy=lambda: error(429, "limit_requests", {"retry-after": "30"}),
        good=lambda: stream(STREAM_OK),
    )
    verdicts: list = []

    events = await collect(keys, verdicts)

    assert verdicts == [(1, KeyVerdict.RESTING, "limit_requests", 30.0)]
    assert keys.calls == ["busy", "good"]
    assert events[-1] == Finish("stop")


async def test_the_last_keys_failure_ends_the_answer_with_its_key():
    keys = Keys(a=lambda: error(401, "invalid_api_key"), b=lambda: error(401, "invalid_api_key"))
    verdicts: list = []

    events = await collect(keys, verdicts)

    assert keys.calls == ["a", "b"]
    assert [type(event) for event in events] == [KeyFailover, Failure]
    assert (events[0].failure.key_id, events[1].key_id) == (1, 2)


async def test_a_request_error_is_not_the_keys_fault_and_does_not_fail_over():
    keys = Keys(a=lambda: error(400, "invalid_parameter_error"), b=lambda: stream(STREAM_OK))
    verdicts: list = []

    events = await collect(keys, verdicts)

    assert keys.calls == ["a"] and verdicts == []
    assert isinstance(events[-1], Failure)


async def test_there_is_no_failover_after_the_first_token():
    keys = Keys(cut=lambda: stream(STREAM_CUT), good=lambda: stream(STREAM_OK))
    verdicts: list = []

    events = await collect(keys, verdicts)

    assert keys.calls == ["cut"]
    assert AnswerDelta("Hel") in events
    assert isinstance(events[-1], Failure) and events[-1].code == "truncated"
