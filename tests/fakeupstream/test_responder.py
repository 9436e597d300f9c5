import asyncio
import json
from typing import Any

import pytest

from chat.fakeupstream.responder import FakeResponse, respond, split_utf8
from chat.fakeupstream.scenarios import ERRORS, AttemptCounter, Scenario
from chat.fakeupstream.texts import answer_text, reasoning_text

FAST = Scenario(tokens_per_second=0, reasoning_tokens=4, answer="short")
PATH = "/compatible-mode/v1/chat/completions"
AUTH = {"Authorization": "Bearer sk-test"}


def request(prompt: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "MiniMax-M2.5", "messages": [{"role": "user", "content": prompt}], **extra}


async def call(
    body: Any, headers: dict[str, str] | None = None, base: Scenario = FAST
) -> tuple[FakeResponse, bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await respond("POST", PATH, AUTH if headers is None else headers, raw, base)
    return response, b"".join([piece async for piece in response.chunks])


def data_events(raw: bytes) -> list[str]:
    return [e.removeprefix("data: ") for e in raw.decode().split("\n\n") if e.startswith("data:")]


def chunks(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(e) for e in data_events(raw) if e != "[DONE]"]


def joined(raw: bytes, field: str) -> str:
    return "".join(c["choices"][0]["delta"][field] or "" for c in chunks(raw) if c["choices"])


async def test_stream_shapes_and_order() -> None:
    body = request(stream=True, stream_options={"include_usage": True})
    response, raw = await call(body)
    assert response.status == 200 and response.stream
    headers = dict(response.headers)
    assert headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert "content-length" not in headers
    parsed = chunks(raw)
    first = parsed[0]
    assert list(first) == [
        "choices",
        "object",
        "usage",
        "created",
        "system_fingerprint",
        "model",
        "id",
    ]
    assert first["choices"] == [
        {
            "delta": {"content": None, "role": "assistant", "reasoning_content": ""},
            "index": 0,
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert list(parsed[1]["choices"][0]) == ["finish_reason", "logprobs", "delta", "index"]
    assert parsed[1]["choices"][0]["delta"]["content"] is None
    assert parsed[5]["choices"][0]["delta"]["reasoning_content"] is None
    assert parsed[-2]["choices"][0] == {
        "finish_reason": "stop",
        "delta": {"content": "", "reasoning_content": None},
        "index": 0,
        "logprobs": None,
    }
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}
    assert parsed[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert {c["id"] for c in parsed} == {first["id"]} and first["id"].startswith("chatcmpl-")
    assert len({c["created"] for c in parsed}) == 1
    assert data_events(raw)[-1] == "[DONE]"
    assert joined(raw, "content") == answer_text(FAST, "hi")
    assert joined(raw, "reasoning_content") == reasoning_text(FAST, "hi")


async def test_usage_only_when_asked() -> None:
    _, raw = await call(request(stream=True))
    assert all(c["choices"] for c in chunks(raw))
    assert all(c["usage"] is None for c in chunks(raw))


async def test_non_streaming_completion() -> None:
    response, raw = await call(request())
    body = json.loads(raw)
    assert response.status == 200 and not response.stream
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": answer_text(FAST, "hi"),
        "reasoning_content": reasoning_text(FAST, "hi"),
    }
    assert body["usage"]["completion_tokens"] == len(answer_text(FAST, "hi").split()) + 2 + 4


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        ({}, request(), 401, "invalid_api_key"),
        ({"Authorization": "Bearer "}, request(), 401, "invalid_api_key"),
        (AUTH, b"{not json", 400, "invalid_json"),
        (AUTH, {"model": "m", "messages": []}, 400, "messages_too_short"),
        (
            AUTH,
            {"model": "m", "messages": [{"role": "system", "content": "x"}]},
            400,
            "no_user_message",
        ),
        (AUTH, request(temperature=2.0), 400, "temperature_range"),
        (AUTH, request(top_p=0), 400, "top_p_range"),
        (AUTH, request(presence_penalty=-2.5), 400, "presence_penalty_range"),
        (AUTH, request(max_tokens=0), 400, "invalid_parameter"),
    ],
)
async def test_validation(headers: dict[str, str], body: Any, status: int, error: str) -> None:
    response, raw = await call(body, headers)
    spec = ERRORS[error]
    parsed = json.loads(raw)
    assert response.status == status
    assert dict(response.headers)["content-type"] == "application/json"
    assert parsed["error"]["code"] == spec.code
    assert parsed["error"]["message"] == spec.message
    assert parsed["request_id"] == dict(response.headers)["x-request-id"]


async def test_valid_edges_are_accepted() -> None:
    response, _ = await call(request(temperature=0, top_p=1.0, presence_penalty=2.0))
    assert response.status == 200


async def test_unknown_path_and_health() -> None:
    response = await respond("POST", "/v1/nothing", AUTH, b"{}", FAST)
    assert response.status == 404
    health = await respond("GET", "/health", {}, b"", FAST)
    assert health.status == 200


async def test_invalid_scenario_is_a_400() -> None:
    response, raw = await call(request("[[fake tps=banana]]"))
    error = json.loads(raw)["error"]
    assert response.status == 400
    assert error["code"] == "invalid_fake_scenario"
    assert "tokens_per_second" in error["message"]


async def test_error_before_json_matches_protocol_bytes() -> None:
    response, raw = await call(request(stream=True), base=Scenario(error="limit_requests"))
    request_id = dict(response.headers)["x-request-id"]
    assert response.status == 429
    assert raw.decode() == (
        '{"error":{"message":"You have exceeded your current request limit. For details, see: '
        'https://help.aliyun.com/zh/model-studio/error-code#rate-limit","type":"limit_requests",'
        f'"param":null,"code":"limit_requests"}},"request_id":"{request_id}"}}'
    )


async def test_model_not_found_names_the_model() -> None:
    _, raw = await call(request(), base=Scenario(error="model_not_found"))
    assert list(json.loads(raw)["error"]) == ["code", "param", "message", "type"]
    assert "`MiniMax-M2.5` does not exist" in json.loads(raw)["error"]["message"]


async def test_error_before_sse_and_event_shapes() -> None:
    response, raw = await call(
        request(stream=True), base=Scenario(error="data_inspection_input", error_shape="sse")
    )
    assert response.status == 400
    assert dict(response.headers)["content-type"].startswith("text/event-stream")
    assert raw.decode() == (
        'data: {"error":{"code":"data_inspection_failed","param":null,"message":"Input data may '
        'contain inappropriate content.","type":"data_inspection_failed"}}\n\n'
    )
    base = Scenario(error="throttling_allocation_quota", error_shape="event")
    response, raw = await call(request(stream=True), base=base)
    request_id = dict(response.headers)["x-request-id"]
    assert response.status == 429
    assert raw.decode() == (
        "id:1\nevent:error\n:HTTP_STATUS/429\n"
        f'data:{{"request_id":"{request_id}","code":"Throttling.AllocationQuota",'
        '"message":"Allocated quota exceeded, please increase your quota limit."}\n\n'
    )


async def test_error_during_stream_data_and_event() -> None:
    base = Scenario(tokens_per_second=0, error="data_inspection_output", error_at=3)
    response, raw = await call(request(stream=True), base=base)
    assert response.status == 200
    events = data_events(raw)
    assert len(events) == 5  # role chunk, 3 tokens, error
    assert events[-1] == (
        '{"error":{"message":"Output data may contain inappropriate content.",'
        '"type":"data_inspection_failed","param":null,"code":"data_inspection_failed"}}'
    )
    event_base = Scenario(
        tokens_per_second=0, error="internal_error", error_at=2, error_shape="event"
    )
    _, raw = await call(request(stream=True), base=event_base)
    assert raw.decode().split("\n\n")[-2].startswith("id:4\nevent:error\n:HTTP_STATUS/500\ndata:")


async def test_truncation_ends_without_finish_or_done() -> None:
    _, raw = await call(request(stream=True), base=Scenario(tokens_per_second=0, truncate_after=5))
    assert len(chunks(raw)) == 6
    assert "[DONE]" not in data_events(raw)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks(raw))


async def test_malformed_line_then_continues() -> None:
    base = Scenario(tokens_per_second=0, malformed_after=2)
    _, raw = await call(request(stream=True), base=base)
    assert b'\n\ndata: {"choices":[{"delta":\n\n' in raw
    assert raw.endswith(b"data: [DONE]\n\n")


async def test_crlf_and_keepalive() -> None:
    base = Scenario(
        tokens_per_second=0, reasoning_tokens=60, crlf=True, keepalive=True, answer="short"
    )
    _, raw = await call(request(stream=True), base=base)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.count(b": ping\r\n\r\n") == 60 + len(answer_text(base, "hi").split()) + 2
    assert raw.endswith(b"data: [DONE]\r\n\r\n")


async def test_finish_reason_length_and_max_tokens() -> None:
    _, raw = await call(
        request(stream=True), base=Scenario(tokens_per_second=0, finish_reason="length")
    )
    assert chunks(raw)[-1]["choices"][0]["finish_reason"] == "length"
    _, raw = await call(request(stream=True, max_tokens=3))
    assert chunks(raw)[-1]["choices"][0]["finish_reason"] == "length"
    assert joined(raw, "content") == "Hello! How"


async def test_split_utf8_cuts_inside_a_character() -> None:
    base = Scenario(tokens_per_second=0, reasoning_tokens=0, answer="cjk", split_utf8=True)
    response = await respond("POST", PATH, AUTH, json.dumps(request(stream=True)).encode(), base)
    pieces = [piece async for piece in response.chunks]
    broken = [p for p in pieces if not _decodes(p)]
    assert broken, "some writes must end inside a multi-byte character"
    assert b"".join(pieces).decode()  # and the whole is valid UTF-8
    assert split_utf8("aé".encode()) == [b"a\xc3", b"\xa9"]
    assert split_utf8(b"ascii") == [b"ascii"]


def _decodes(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


async def test_model_override_and_echo() -> None:
    base = Scenario(tokens_per_second=0, model="Fake-Model", answer="echo", reasoning_tokens=0)
    _, raw = await call(request("repeat me [[fake]]", stream=True), base=base)
    assert {c["model"] for c in chunks(raw)} == {"Fake-Model"}
    assert joined(raw, "content") == "repeat me"


async def test_pacing_and_cancellation() -> None:
    base = Scenario(tokens_per_second=50, reasoning_tokens=10, answer_tokens=10)
    response = await respond("POST", PATH, AUTH, json.dumps(request(stream=True)).encode(), base)
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = [piece async for piece in response.chunks]
    assert loop.time() - started >= 0.3
    assert received[-1] == b"data: [DONE]\n\n"

    stalled = Scenario(tokens_per_second=0, stall_after=2, stall_seconds=60)
    response = await respond("POST", PATH, AUTH, json.dumps(request(stream=True)).encode(), stalled)
    iterator = response.chunks
    for _ in range(3):
        await anext(iterator)
    pending = asyncio.ensure_future(anext(iterator))
    await asyncio.sleep(0.05)
    assert not pending.done()  # stalled
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)  # the generator is finished, not left hanging


async def _respond(prompt: str, attempts: AttemptCounter) -> tuple[FakeResponse, bytes]:
    raw = json.dumps(request(prompt, stream=True)).encode()
    response = await respond("POST", PATH, AUTH, raw, FAST, attempts)
    return response, b"".join([piece async for piece in response.chunks])


async def test_fail_first_fails_the_first_requests_of_a_prompt_then_answers() -> None:
    attempts = AttemptCounter()
    prompt = "hi [[fake fail_first=2 error=limit_requests retry_after=1.5]]"

    statuses = [(await _respond(prompt, attempts))[0] for _ in range(3)]

    assert [r.status for r in statuses] == [429, 429, 200]
    assert ("retry-after", "1.5") in statuses[0].headers
    body = json.loads((await _respond(prompt, attempts))[1].decode().split("\n\n")[0][6:])
    assert body["object"] == "chat.completion.chunk"


async def test_fail_first_counts_each_prompt_or_key_on_its_own() -> None:
    attempts = AttemptCounter()
    one = "a [[fake fail_first=1 error=model_unavailable key=k1]]"
    two = "b [[fake fail_first=1 error=model_unavailable key=k2]]"

    first = [(await _respond(p, attempts))[0].status for p in (one, two, one, two)]

    assert first == [503, 503, 200, 200]


async def test_the_retry_after_header_is_sent_on_sse_bodied_errors_too() -> None:
    response, _ = await call(
        request("x [[fake error=throttling_allocation_quota shape=event retry_after=2]]")
    )

    assert response.status == 429
    assert ("retry-after", "2") in response.headers


async def test_headers_delay_holds_the_response_back() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()

    response, _ = await call(request("x [[fake headers_delay=0.2]]", stream=True))

    assert response.status == 200
    assert loop.time() - started >= 0.2


async def test_silence_after_headers_delays_the_first_event() -> None:
    raw = json.dumps(request("x [[fake silence_after_headers=60]]", stream=True)).encode()
    response = await respond("POST", PATH, AUTH, raw, FAST)
    assert response.status == 200

    first = asyncio.ensure_future(anext(response.chunks))
    await asyncio.sleep(0.05)

    assert not first.done()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
