"""The fake's native endpoint and its web search, on raw bytes (docs/upstream-protocol.md §2,
§4), and the keys it refuses by prefix."""

import json
from typing import Any

from chat.fakeupstream.responder import respond
from chat.fakeupstream.scenarios import Scenario
from chat.fakeupstream.search import SEARCH_RESULTS

FAST = Scenario(tokens_per_second=0, reasoning_tokens=3, answer="short")
COMPAT = "/compatible-mode/v1/chat/completions"
NATIVE = "/api/v1/services/aigc/text-generation/generation"
SSE = {"Authorization": "Bearer sk-test", "X-DashScope-SSE": "enable"}
MESSAGES = [{"role": "user", "content": "hi"}]
SEARCH = {"enable_search": True, "search_options": {"enable_citation": True}}


async def call(path: str, body: dict, headers: dict = SSE) -> tuple[int, dict, bytes]:
    response = await respond("POST", path, headers, json.dumps(body).encode(), FAST)
    raw = b"".join([piece async for piece in response.chunks])
    return response.status, dict(response.headers), raw


def native_payloads(raw: bytes) -> list[dict[str, Any]]:
    events = [e for e in raw.decode().split("\n\n") if e]
    assert all(
        e.startswith("id:") and "\nevent:result\n:HTTP_STATUS/200\ndata:" in e for e in events
    )
    return [json.loads(e.split("data:", 1)[1]) for e in events]


async def test_the_native_stream_has_string_null_finish_reasons_and_running_usage():
    body = {"model": "MiniMax-M2.5", "input": {"messages": MESSAGES}, "parameters": {}}

    status, headers, raw = await call(NATIVE, body)

    payloads = native_payloads(raw)
    assert status == 200 and "event-stream" in headers["content-type"]
    reasons = [p["output"]["choices"][0]["finish_reason"] for p in payloads]
    assert reasons[:-1] == ["null"] * (len(payloads) - 1) and reasons[-1] == "stop"
    outputs = [p["usage"]["output_tokens"] for p in payloads]
    assert outputs == sorted(outputs) and outputs[-1] == len(payloads) - 1
    assert "[DONE]" not in raw.decode()


async def test_without_the_sse_header_the_native_answer_is_one_json_body():
    body = {"model": "MiniMax-M2.5", "input": {"messages": MESSAGES}, "parameters": {}}

    status, _headers, raw = await call(NATIVE, body, {"Authorization": "Bearer sk-test"})

    payload = json.loads(raw)
    assert status == 200
    assert payload["output"]["choices"][0]["finish_reason"] == "stop"
    assert payload["output"]["choices"][0]["message"]["reasoning_content"]


async def test_native_search_sends_the_sources_once_and_cites_them():
    parameters = {"enable_search": True, "search_options": {"enable_citation": True}}
    body = {"model": "MiniMax-M2.5", "input": {"messages": MESSAGES}, "parameters": parameters}

    _status, _headers, raw = await call(NATIVE, body)

    payloads = native_payloads(raw)
    with_sources = [p for p in payloads if "search_info" in p["output"]]
    assert len(with_sources) == 1
    assert with_sources[0]["output"]["search_info"]["search_results"] == list(SEARCH_RESULTS)
    content = "".join(p["output"]["choices"][0]["message"]["content"] for p in payloads)
    assert content.endswith("agree[1][2][3].")


async def test_compatible_search_cites_but_sends_no_sources():
    body = {"model": "MiniMax-M2.5", "messages": MESSAGES, "stream": True, **SEARCH}

    _status, _headers, raw = await call(COMPAT, body, {"Authorization": "Bearer sk-test"})

    text = raw.decode()
    assert "search_info" not in text and "search_results" not in text
    assert "[1]" in text and "[3]" in text


async def test_refused_keys_answer_like_dashscope_on_each_protocol():
    native = {"model": "MiniMax-M2.5", "input": {"messages": MESSAGES}, "parameters": {}}
    compat = {"model": "MiniMax-M2.5", "messages": MESSAGES, "stream": True}

    bad_status, _, bad = await call(NATIVE, native, {"Authorization": "Bearer sk-fake-bad-1"})
    busy_status, busy_headers, busy = await call(
        COMPAT, compat, {"Authorization": "Bearer sk-fake-busy-1"}
    )
    owes_status, _, owes = await call(COMPAT, compat, {"Authorization": "Bearer sk-fake-owes-1"})

    assert (bad_status, json.loads(bad)["code"]) == (401, "InvalidApiKey")
    assert (busy_status, json.loads(busy)["error"]["code"]) == (429, "limit_requests")
    assert busy_headers["retry-after"] == "30"
    assert (owes_status, json.loads(owes)["error"]["code"]) == (400, "Arrearage")
