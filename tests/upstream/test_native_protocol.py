"""DashScope's native protocol on recorded bytes (docs/upstream-protocol.md §2)."""

import json
from pathlib import Path

import httpx
import pytest

from chat.upstream import (
    DASHSCOPE_NATIVE,
    AnswerDelta,
    ChatRequest,
    Failure,
    Finish,
    ReasoningDelta,
    ResponseStarted,
    SearchResults,
    SearchSource,
    UpstreamTarget,
    Usage,
    stream_chat,
)
from chat.upstream.client import aclose_http_clients

STREAMS = Path(__file__).parent / "streams"
REQUEST = ChatRequest(model="MiniMax-M2.5", messages=[{"role": "user", "content": "Hi"}])


class Recorded:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.requests: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(status, headers={"content-type": content_type}, content=body)

        self.transport = httpx.MockTransport(answer)

    def target(self) -> UpstreamTarget:
        return UpstreamTarget(
            "https://dashscope.test/api/v1/",
            "sk-native",
            transport=self.transport,
            protocol=DASHSCOPE_NATIVE,
        )


def native_event(event_id: int, message: dict, finish: str = "null", **output) -> str:
    payload = {
        "output": {"choices": [{"message": message, "finish_reason": finish}], **output},
        "usage": {"total_tokens": 14, "input_tokens": 11, "output_tokens": event_id},
        "request_id": "r-1",
    }
    return f"id:{event_id}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(payload)}\n\n"


async def collect(recorded: Recorded, request: ChatRequest = REQUEST) -> list:
    return [event async for event in stream_chat(request, recorded.target())]


@pytest.fixture(autouse=True)
async def close_clients():
    yield
    await aclose_http_clients()


async def test_it_streams_the_documented_native_example():
    recorded = Recorded(200, "text/event-stream", (STREAMS / "native_thinking.txt").read_bytes())

    events = await collect(recorded)

    assert events == [
        ResponseStarted(request_id=None, model=None),
        ReasoningDelta("Hmm"),
        ReasoningDelta(", the user"),
        AnswerDelta("Hello!"),
        Usage(prompt_tokens=11, completion_tokens=7, total_tokens=18),
        Finish("stop"),
    ]


async def test_it_posts_to_the_generation_path_with_sse_switched_on():
    recorded = Recorded(200, "text/event-stream", (STREAMS / "native_thinking.txt").read_bytes())
    request = ChatRequest(
        model="MiniMax-M2.5",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=64,
        enable_search=True,
        search_options={"enable_source": True, "enable_citation": True},
    )

    await collect(recorded, request)

    sent = recorded.requests[0]
    assert str(sent.url) == "https://dashscope.test/api/v1/services/aigc/text-generation/generation"
    assert sent.headers["x-dashscope-sse"] == "enable"
    assert sent.headers["authorization"] == "Bearer sk-native"
    body = json.loads(sent.content)
    assert body["input"] == {"messages": [{"role": "user", "content": "Hi"}]}
    assert body["parameters"]["result_format"] == "message"
    assert body["parameters"]["incremental_output"] is True
    assert body["parameters"]["max_tokens"] == 64
    assert body["parameters"]["enable_search"] is True
    assert body["parameters"]["search_options"] == {"enable_source": True, "enable_citation": True}
    assert "stream" not in body


async def test_it_yields_the_search_sources_once():
    search_info = {
        "search_results": [
            {"index": 1, "title": "Tea", "url": "https://tea.example/", "site_name": "Tea"},
            {"index": 2, "url": "https://b.example/x", "icon": "https://b.example/i.png"},
            {"index": "bad", "url": "https://ignored.example/"},
        ]
    }
    body = (
        native_event(1, {"content": "", "reasoning_content": "Hm"}, search_info=search_info)
        + native_event(2, {"content": "Tea [1]."}, search_info=search_info)
        + native_event(3, {"content": ""}, finish="stop")
    )

    events = await collect(Recorded(200, "text/event-stream", body.encode()))

    sources = [event for event in events if isinstance(event, SearchResults)]
    assert sources == [
        SearchResults(
            (
                SearchSource(1, "Tea", "https://tea.example/", "Tea", ""),
                SearchSource(
                    2, "https://b.example/x", "https://b.example/x", "", "https://b.example/i.png"
                ),
            )
        )
    ]
    assert events[-1] == Finish("stop")


async def test_it_ends_at_the_finish_event_without_waiting_for_eof():
    body = native_event(1, {"content": "Hi"}, finish="length") + "id:2\nevent:result\ndata:{}\n\n"

    events = await collect(Recorded(200, "text/event-stream", body.encode()))

    assert events[-1] == Finish("length")


async def test_a_stream_without_a_finish_event_is_truncated():
    body = native_event(1, {"content": "Hi"})

    events = await collect(Recorded(200, "text/event-stream", body.encode()))

    assert isinstance(events[-1], Failure) and events[-1].code == "truncated"
    assert AnswerDelta("Hi") in events


async def test_an_error_event_mid_stream_keeps_the_text_and_fails():
    frame = (
        "id:2\nevent:error\n:HTTP_STATUS/400\n"
        'data:{"code":"DataInspectionFailed","message":"Output data may contain inappropriate '
        'content.","request_id":"r-1"}\n\n'
    )
    body = native_event(1, {"content": "Hi"}) + frame

    events = await collect(Recorded(200, "text/event-stream", body.encode()))

    assert AnswerDelta("Hi") in events
    failure = events[-1]
    assert (failure.code, failure.kind) == ("DataInspectionFailed", "moderation_output")


async def test_a_native_401_is_a_bad_key():
    body = b'{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r"}'

    events = await collect(Recorded(401, "application/json", body))

    assert len(events) == 1
    assert (events[0].code, events[0].kind, events[0].retryable) == (
        "InvalidApiKey",
        "bad_key",
        False,
    )
