import asyncio
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from chat.upstream import (
    AnswerDelta,
    ChatRequest,
    Failure,
    Finish,
    ReasoningDelta,
    ResponseStarted,
    UpstreamTarget,
    Usage,
    http_client,
    stream_chat,
)
from chat.upstream.client import aclose_http_clients

STREAMS = Path(__file__).parent / "streams"
API_KEY = "sk-test-secret-key-9f3a"
REQUEST = ChatRequest(model="MiniMax-M2.5", messages=[{"role": "user", "content": "Hi"}])


class ChunkStream(httpx.AsyncByteStream):
    """A response body that yields the given chunks, then optionally raises or hangs."""

    def __init__(self, chunks: list[bytes], *, then_raise=None, then_hang=False) -> None:
        self.chunks = chunks
        self.then_raise = then_raise
        self.then_hang = then_hang
        self.sent = 0
        self.closed = False

    async def __aiter__(self):
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.then_raise is not None:
            raise self.then_raise
        if self.then_hang:
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


class Upstream:
    """A MockTransport that answers every request with one canned response and records it."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        self.transport = httpx.MockTransport(record)

    def target(self) -> UpstreamTarget:
        return UpstreamTarget(
            base_url="https://dashscope.test/compatible-mode/v1/",
            api_key=API_KEY,
            transport=self.transport,
        )

    @property
    def body(self) -> dict:
        return json.loads(self.requests[0].content)


def sse_upstream(
    raw: bytes,
    *,
    size: int | None = None,
    status: int = 200,
    headers: dict | None = None,
    **stream_options,
) -> tuple[Upstream, ChunkStream]:
    size = size or len(raw) or 1
    stream = ChunkStream([raw[i : i + size] for i in range(0, len(raw), size)], **stream_options)
    all_headers = {"content-type": "text/event-stream;charset=UTF-8", "x-request-id": "req-1"}
    all_headers.update(headers or {})
    upstream = Upstream(lambda request: httpx.Response(status, headers=all_headers, stream=stream))
    return upstream, stream


def data(*payloads: dict | str) -> bytes:
    lines = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
    return "".join(f"data: {line}\n\n" for line in lines).encode()


def delta(finish_reason=None, **fields) -> dict:
    choice = {"delta": fields, "index": 0, "logprobs": None, "finish_reason": finish_reason}
    return {"choices": [choice], "object": "chat.completion.chunk", "usage": None}


USAGE = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}


async def collect(upstream: Upstream, request: ChatRequest = REQUEST) -> list:
    return [event async for event in stream_chat(request, upstream.target())]


@pytest.fixture(autouse=True)
async def close_clients():
    yield
    await aclose_http_clients()


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
async def test_it_streams_reasoning_then_answer_then_usage_then_finish(size):
    upstream, stream = sse_upstream((STREAMS / "compat_thinking.txt").read_bytes(), size=size)

    events = await collect(upstream)

    assert events == [
        ResponseStarted(request_id="req-1", model=None),
        ReasoningDelta("The user"),
        AnswerDelta("Hello"),
        Usage(10, 360, 370, reasoning_tokens=300, cached_tokens=0),
        Finish("stop"),
    ]
    assert stream.closed


async def test_it_reports_a_length_finish():
    upstream, _ = sse_upstream(data(delta(content="Hel"), delta("length", content="lo"), "[DONE]"))

    events = await collect(upstream)

    assert events[1:] == [AnswerDelta("Hel"), AnswerDelta("lo"), Finish("length")]


async def test_it_posts_the_documented_body_and_headers():
    upstream, _ = sse_upstream(data(delta("stop", content="x"), "[DONE]"))

    await collect(upstream)

    request = upstream.requests[0]
    assert str(request.url) == "https://dashscope.test/compatible-mode/v1/chat/completions"
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert upstream.body == {
        "model": "MiniMax-M2.5",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 1.0,
        "top_p": 0.95,
        "presence_penalty": 0.0,
    }
    assert "thinking_budget" not in upstream.body
    assert "enable_thinking" not in upstream.body


async def test_it_sends_max_tokens_only_when_set():
    upstream, _ = sse_upstream(data(delta("stop", content="x"), "[DONE]"))
    request = ChatRequest(model="m", messages=[], temperature=0.5, max_tokens=64)

    await collect(upstream, request)

    assert upstream.body["max_tokens"] == 64
    assert upstream.body["temperature"] == 0.5


async def test_it_reads_the_tool_call_stream_without_crashing():
    upstream, _ = sse_upstream((STREAMS / "compat_tool_calls.txt").read_bytes(), size=50)

    events = await collect(upstream)

    assert events[1:] == [Finish("tool_calls")]


async def test_it_splits_an_inline_think_block_across_chunks():
    raw = data(
        delta(content="<th"),
        delta(content="ink>Let me "),
        delta(content="see.</thi"),
        delta(content="nk>\n\nIt is 4."),
        delta("stop", content=""),
        "[DONE]",
    )
    upstream, _ = sse_upstream(raw, size=5)

    events = await collect(upstream)

    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert (reasoning, answer, events[-1]) == ("Let me see.", "It is 4.", Finish("stop"))


async def test_it_reads_reasoning_from_the_reasoning_and_reasoning_details_fields():
    detail = {"type": "reasoning.text", "id": "reasoning-text-1", "index": 0, "text": " two"}
    raw = data(
        delta(reasoning="one"),
        delta(content=None, reasoning_details=[detail]),
        delta("stop", content="A"),
        "[DONE]",
    )
    upstream, _ = sse_upstream(raw)

    events = await collect(upstream)

    assert events[1:] == [
        ReasoningDelta("one"),
        ReasoningDelta(" two"),
        AnswerDelta("A"),
        Finish("stop"),
    ]


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (401, b'{"error":{"message":"Incorrect API key provided. ","type":"invalid_request_error",'
              b'"param":null,"code":"invalid_api_key"},"request_id":"2f09bd59"}',
         "invalid_api_key", False),
        (429, b'{"error":{"message":"You have exceeded your current request limit.","type":'
              b'"limit_requests","param":null,"code":"limit_requests"},"request_id":"2f09bd59"}',
         "limit_requests", True),
        (429, b'{"error":{"message":"You exceeded your current quota, please check your plan and '
              b'billing details.","type":"insufficient_quota","param":null,'
              b'"code":"insufficient_quota"},"request_id":"2f09bd59"}', "insufficient_quota", True),
        (400, b'{"error":{"message":"Access denied, please make sure your account is in good '
              b'standing.","type":"Arrearage","param":null,"code":"Arrearage"},'
              b'"request_id":"2f09bd59"}', "Arrearage", False),
        (400, b'{"error":{"code":"data_inspection_failed","param":null,"message":"Input data may '
              b'contain inappropriate content.","type":"data_inspection_failed"},"id":"chatcmpl-1",'
              b'"request_id":"2f09bd59"}', "data_inspection_failed", False),
        (400, b'{"error":{"code":"invalid_parameter_error","param":null,"message":"Range of input '
              b'length should be [1, 196601]","type":"invalid_request_error"},'
              b'"request_id":"2f09bd59"}', "invalid_parameter_error", False),
        (404, b'{"error":{"code":"model_not_found","param":null,"message":"The model `MiniMax-M9` '
              b'does not exist or you do not have access to it.","type":"invalid_request_error"},'
              b'"request_id":"2f09bd59"}', "model_not_found", False),
        (500, b'{"error":{"code":"internal_error","param":null,"message":"An internal error has '
              b'occured, please try again later or contact service support.","type":'
              b'"internal_error"},"request_id":"2f09bd59"}', "internal_error", True),
        (401, b'{"code":"InvalidApiKey","message":"Invalid API-key provided.",'
              b'"request_id":"2f09bd59"}', "InvalidApiKey", False),
        (429, b'{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded, please try '
              b'again later.","request_id":"2f09bd59"}', "Throttling.RateQuota", True),
    ],
)  # fmt: skip
async def test_it_turns_a_json_error_before_the_stream_into_one_failure(
    status, body, code, retryable
):
    upstream = Upstream(
        lambda request: httpx.Response(
            status, headers={"content-type": "application/json"}, content=body
        )
    )

    events = await collect(upstream)

    assert len(events) == 1
    assert (events[0].code, events[0].status, events[0].retryable) == (code, status, retryable)
    assert events[0].request_id == "2f09bd59"


async def test_it_maps_a_429_rate_limit_to_a_retryable_failure():
    body = b'{"error":{"message":"m","type":"limit_requests","code":"limit_requests"}}'
    upstream = Upstream(lambda request: httpx.Response(429, content=body))

    (failure,) = await collect(upstream)

    assert (failure.code, failure.kind, failure.retryable) == (
        "limit_requests",
        "rate_limited",
        True,
    )


async def test_it_reads_an_sse_bodied_400():
    raw = (
        b'data: {"error":{"code":"data_inspection_failed","param":null,"message":"Input text data '
        b'may contain inappropriate content.","type":"data_inspection_failed"}}\n\n'
    )
    upstream, _ = sse_upstream(raw, status=400, size=9)

    (failure,) = await collect(upstream)

    assert (failure.code, failure.status, failure.retryable) == (
        "data_inspection_failed",
        400,
        False,
    )
    assert failure.request_id == "req-1"


async def test_it_reads_an_sse_bodied_429_error_event_without_waiting_for_eof():
    raw = (
        b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"request_id":"70acdc21",'
        b'"code":"Throttling.AllocationQuota","message":"Allocated quota exceeded, please '
        b'increase your quota limit."}\n\n'
    )
    upstream, stream = sse_upstream(raw, status=429, then_hang=True)

    (failure,) = await asyncio.wait_for(collect(upstream), timeout=5)

    assert (failure.code, failure.status, failure.retryable) == (
        "Throttling.AllocationQuota",
        429,
        True,
    )
    assert failure.request_id == "70acdc21"
    assert stream.closed


async def test_it_reads_an_error_event_that_arrives_on_a_200_stream():
    raw = (
        b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"request_id":"70acdc21",'
        b'"code":"Throttling.AllocationQuota","message":"Allocated quota exceeded."}\n\n'
    )
    upstream, _ = sse_upstream(raw)

    events = await collect(upstream)

    assert events[0] == ResponseStarted("req-1", None)
    assert (events[1].code, events[1].retryable, len(events)) == (
        "Throttling.AllocationQuota",
        True,
        2,
    )


async def test_it_fails_on_a_data_error_object_in_the_middle_of_the_stream():
    error = {
        "error": {
            "message": "Output data may contain inappropriate content.",
            "type": "data_inspection_failed",
            "param": None,
            "code": "data_inspection_failed",
        }
    }
    upstream, _ = sse_upstream(data(delta(reasoning_content="hmm"), delta(content="Par"), error))

    events = await collect(upstream)

    assert events[:3] == [ResponseStarted("req-1", None), ReasoningDelta("hmm"), AnswerDelta("Par")]
    assert isinstance(events[3], Failure)
    assert events[3].code == "data_inspection_failed"
    assert events[3].kind == "moderation_output"
    assert len(events) == 4


async def test_it_fails_on_a_native_error_event_in_the_middle_of_the_stream():
    raw = data(delta(content="Par")) + (
        b"id:37\nevent:error\n:HTTP_STATUS/400\n"
        b'data:{"code":"DataInspectionFailed","message":"Output data may contain inappropriate '
        b'content.","request_id":"25d58c29"}\n\n'
    )
    upstream, _ = sse_upstream(raw, size=11)

    events = await collect(upstream)

    assert events[1] == AnswerDelta("Par")
    assert (events[2].code, events[2].request_id, events[2].retryable) == (
        "DataInspectionFailed",
        "25d58c29",
        False,
    )
    assert len(events) == 3


async def test_it_fails_when_an_error_frame_follows_the_finish_chunk():
    error = {"code": "InternalError", "message": "inference internal error."}
    upstream, _ = sse_upstream(data(delta("stop", content="Done"), error, "[DONE]"))

    events = await collect(upstream)

    assert [type(e) for e in events] == [ResponseStarted, AnswerDelta, Failure]
    assert events[2].code == "InternalError"


async def test_it_reports_truncation_when_the_stream_ends_without_finish_or_done():
    upstream, _ = sse_upstream(data(delta(reasoning_content="hmm"), delta(content="Par")))

    events = await collect(upstream)

    assert events[-1].code == "truncated"
    assert events[-1].retryable is True
    assert events[-1].kind == "truncated"


async def test_it_finishes_on_eof_after_a_finish_chunk_without_done():
    upstream, _ = sse_upstream(data(delta("stop", content="ok"), USAGE))

    events = await collect(upstream)

    assert events[1:] == [AnswerDelta("ok"), Usage(3, 5, 8), Finish("stop")]


async def test_it_reports_a_malformed_chunk_and_stops_reading():
    upstream, stream = sse_upstream(
        data(delta(content="a"), "{not json", delta(content="b")), then_hang=True
    )

    events = await asyncio.wait_for(collect(upstream), timeout=5)

    assert events[1] == AnswerDelta("a")
    assert (events[2].code, events[2].upstream_message) == ("malformed_stream", "{not json")
    assert len(events) == 3
    assert stream.closed


async def test_it_stops_reading_at_done():
    upstream, stream = sse_upstream(data(delta("stop", content="ok"), "[DONE]"), then_hang=True)

    events = await asyncio.wait_for(collect(upstream), timeout=5)

    assert events[-1] == Finish("stop")
    assert stream.closed


async def test_it_treats_a_json_body_on_a_200_as_a_business_error():
    body = b'{"code":"Arrearage","message":"Access denied.","request_id":"r2"}'
    upstream = Upstream(
        lambda request: httpx.Response(
            200, headers={"content-type": "application/json"}, content=body
        )
    )

    events = await collect(upstream)

    assert [(e.code, e.status, e.retryable) for e in events] == [("Arrearage", 200, False)]


async def test_it_maps_a_connection_error_to_a_network_error():
    def refuse(request):
        raise httpx.ConnectError("Connection refused", request=request)

    events = await collect(Upstream(refuse))

    assert [(e.code, e.retryable) for e in events] == [("network_error", True)]
    assert events[0].upstream_message == "Connection refused"


async def test_it_maps_a_connect_timeout_to_its_own_kind():
    def slow(request):
        raise httpx.ConnectTimeout("timed out", request=request)

    (failure,) = await collect(Upstream(slow))

    assert (failure.code, failure.kind, failure.timeout_seconds) == (
        "timeout_connect",
        "timeout_connect",
        10.0,
    )


def timed_target(upstream: Upstream, **timeouts) -> UpstreamTarget:
    return UpstreamTarget(
        base_url="https://dashscope.test/v1",
        api_key=API_KEY,
        transport=upstream.transport,
        **timeouts,
    )


async def test_the_first_byte_timeout_fires_when_no_event_follows_the_headers():
    upstream, stream = sse_upstream(b": ping\n\n", then_hang=True)
    target = timed_target(upstream, first_byte_timeout=0.05, idle_timeout=5)

    events = await asyncio.wait_for(alist(stream_chat(REQUEST, target)), timeout=5)

    assert events[0] == ResponseStarted("req-1", None)
    assert (events[1].kind, events[1].timeout_seconds, events[1].retryable) == (
        "timeout_first_byte",
        0.05,
        True,
    )
    assert stream.closed


async def test_the_idle_timeout_fires_on_silence_mid_stream_and_keeps_the_text():
    upstream, _ = sse_upstream(data(delta(content="<think>half a tho")), then_hang=True)
    target = timed_target(upstream, first_byte_timeout=5, idle_timeout=0.05)

    events = await asyncio.wait_for(alist(stream_chat(REQUEST, target)), timeout=5)

    assert events[1] == ReasoningDelta("half a tho")
    assert (events[2].code, events[2].kind, events[2].retryable) == (
        "timeout_idle",
        "timeout_idle",
        True,
    )
    assert len(events) == 3


async def test_the_total_timeout_fires_even_while_chunks_keep_coming():
    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield data(delta(content="a"))
            while True:
                await asyncio.sleep(0.01)
                yield b": ping\n\n"

    upstream = Upstream(
        lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Trickle()
        )
    )
    target = timed_target(upstream, idle_timeout=1, total_timeout=0.1)

    events = await asyncio.wait_for(alist(stream_chat(REQUEST, target)), timeout=5)

    assert events[1] == AnswerDelta("a")
    assert (events[2].kind, events[2].timeout_seconds) == ("timeout_total", 0.1)


async def alist(events) -> list:
    return [event async for event in events]


async def test_it_maps_a_connection_reset_mid_stream_to_a_network_error():
    upstream, _ = sse_upstream(
        data(delta(content="Hel")), then_raise=httpx.RemoteProtocolError("peer closed connection")
    )

    events = await collect(upstream)

    assert events[1] == AnswerDelta("Hel")
    assert (events[2].code, events[2].retryable) == ("network_error", True)


async def test_cancelling_the_consumer_closes_the_response_and_propagates():
    upstream, stream = sse_upstream(data(delta(reasoning_content="thinking")), then_hang=True)
    received = []
    first = asyncio.Event()

    async def consume():
        async for event in stream_chat(REQUEST, upstream.target()):
            received.append(event)
            if isinstance(event, ReasoningDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout=5)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.closed
    assert received == [ResponseStarted("req-1", None), ReasoningDelta("thinking")]


async def test_closing_the_generator_early_closes_the_response():
    upstream, stream = sse_upstream(data(delta(content="a")), then_hang=True)
    events = stream_chat(REQUEST, upstream.target())

    assert await anext(events) == ResponseStarted("req-1", None)
    assert await anext(events) == AnswerDelta("a")
    await events.aclose()

    assert stream.closed


async def test_it_never_logs_the_api_key(caplog):
    caplog.set_level(logging.DEBUG)
    upstream, _ = sse_upstream(data(delta("stop", content="x"), "[DONE]"))

    await collect(upstream)

    assert API_KEY not in caplog.text
    assert API_KEY[-4:] not in caplog.text


def test_the_target_repr_masks_the_api_key():
    target = UpstreamTarget(base_url="https://x", api_key=API_KEY)

    assert API_KEY not in repr(target)
    assert "api_key='***9f3a'" in repr(target)
    assert API_KEY not in str(target)


def test_targets_with_different_transports_compare_equal():
    a = UpstreamTarget("https://x", "k", transport=httpx.MockTransport(lambda r: None))
    b = UpstreamTarget("https://x", "k", transport=httpx.MockTransport(lambda r: None))

    assert a == b


async def test_http_client_is_shared_per_loop_and_transport():
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    other_loop_client = []
    thread = threading.Thread(
        target=lambda: other_loop_client.append(asyncio.run(_client_in_new_loop(transport)))
    )
    thread.start()
    thread.join()

    shared = http_client(transport)

    assert http_client(transport) is shared
    assert http_client(None) is not shared
    assert http_client(httpx.MockTransport(lambda request: httpx.Response(204))) is not shared
    assert other_loop_client[0] is not shared
    await aclose_http_clients()
    assert shared.is_closed
    assert http_client(transport) is not shared


async def _client_in_new_loop(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    client = http_client(transport)
    await aclose_http_clients()
    return client
