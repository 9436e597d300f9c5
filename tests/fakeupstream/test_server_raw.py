"""Raw bytes from the fake running as a real process, read with plain httpx."""

import json
import re
import time
from typing import Any

import httpx

from chat.fakeupstream.scenarios import Scenario
from chat.fakeupstream.testing import RunningFake
from chat.fakeupstream.texts import answer_text

AUTH = {"Authorization": "Bearer sk-raw-secret"}


def body(prompt: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "model": "MiniMax-M2.5",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        **extra,
    }


def post(fake: RunningFake, scenario: str = "", **extra: Any) -> httpx.Response:
    headers = {**AUTH, "X-Fake-Scenario": scenario} if scenario else AUTH
    return httpx.post(f"{fake.url}/chat/completions", json=body(**extra), headers=headers)


def data_events(raw: bytes) -> list[str]:
    text = raw.decode().replace("\r\n", "\n")
    return [e.removeprefix("data: ") for e in text.split("\n\n") if e.startswith("data:")]


def contents(raw: bytes) -> str:
    chunks = [json.loads(e) for e in data_events(raw) if e != "[DONE]"]
    return "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"])


def test_first_chunk_bytes_and_done_last(fake_upstream_process: RunningFake) -> None:
    response = post(fake_upstream_process)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert response.headers["connection"] == "close"
    assert "content-length" not in response.headers
    first = response.content.split(b"\n\n")[0].decode()
    assert re.fullmatch(
        r'data: \{"choices":\[\{"delta":\{"content":null,"role":"assistant",'
        r'"reasoning_content":""\},"index":0,"logprobs":null,"finish_reason":null\}\],'
        r'"object":"chat\.completion\.chunk","usage":null,"created":\d+,'
        r'"system_fingerprint":null,"model":"MiniMax-M2\.5","id":"chatcmpl-[0-9a-f-]{36}"\}',
        first,
    )
    assert response.content.endswith(b"\n\ndata: [DONE]\n\n")
    assert all(json.loads(e)["usage"] is None for e in data_events(response.content)[:-1])


def test_usage_with_include_usage(fake_upstream_process: RunningFake) -> None:
    response = post(fake_upstream_process, "reasoning=60", stream_options={"include_usage": True})
    usage_chunk = json.loads(data_events(response.content)[-2])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens_details"] == {"reasoning_tokens": 60}


def test_crlf_mode(fake_upstream_process: RunningFake) -> None:
    raw = post(fake_upstream_process, "crlf").content
    assert raw.endswith(b"\r\n\r\ndata: [DONE]\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_keepalive_comments(fake_upstream_process: RunningFake) -> None:
    raw = post(fake_upstream_process, "ping;reasoning=3;answer=short").content
    assert raw.count(b": ping\n\n") == 3 + 9


def test_split_utf8_stream_is_still_valid(fake_upstream_process: RunningFake) -> None:
    raw = post(fake_upstream_process, "split;answer=cjk;reasoning=0").content
    assert contents(raw) == answer_text(Scenario(answer="cjk"), "hi")


def test_malformed_chunk_present(fake_upstream_process: RunningFake) -> None:
    raw = post(fake_upstream_process, "malformed=4").content
    assert b'\n\ndata: {"choices":[{"delta":\n\n' in raw
    assert raw.endswith(b"data: [DONE]\n\n")


def test_scenario_by_header_and_by_marker(fake_upstream_process: RunningFake) -> None:
    by_header = post(fake_upstream_process, "answer=echo;reasoning=0", prompt="ping pong")
    assert contents(by_header.content) == "ping pong"
    by_marker = post(fake_upstream_process, prompt="[[fake answer=echo]] 你好 🚀")
    assert contents(by_marker.content) == "你好 🚀"


def test_invalid_scenario_is_400(fake_upstream_process: RunningFake) -> None:
    response = post(fake_upstream_process, "shape=carrier-pigeon")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fake_scenario"
    assert "shape" in response.json()["error"]["message"]


def test_truncation_is_a_clean_eof(fake_upstream_process: RunningFake) -> None:
    raw = post(fake_upstream_process, "truncate=7").content
    assert len(data_events(raw)) == 8
    assert b"[DONE]" not in raw
    assert b'"finish_reason":"stop"' not in raw


def test_missing_key_unknown_path_and_health(fake_upstream_process: RunningFake) -> None:
    url = f"{fake_upstream_process.url}/chat/completions"
    missing = httpx.post(url, json=body())
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert httpx.get(f"{fake_upstream_process.origin}/nope").status_code == 404
    assert httpx.get(f"{fake_upstream_process.origin}/health").status_code == 200


def test_pacing_lower_bound(fake_upstream_process: RunningFake) -> None:
    started = time.monotonic()
    post(fake_upstream_process, "tps=50;reasoning=10;tokens=10")
    assert time.monotonic() - started >= 0.3


def test_client_disconnect_cancels_the_stream(fake_upstream_process: RunningFake) -> None:
    before = fake_upstream_process.stats()
    headers = {**AUTH, "X-Fake-Scenario": "stall=2;stall_for=60"}
    url = f"{fake_upstream_process.url}/chat/completions"
    with httpx.stream("POST", url, json=body(), headers=headers) as response:
        chunks = response.iter_raw()  # kept: a dropped iterator would close the response
        next(chunks)
        assert fake_upstream_process.stats()["active_streams"] == before["active_streams"] + 1
    deadline = time.monotonic() + 10
    while fake_upstream_process.stats()["cancelled"] == before["cancelled"]:
        assert time.monotonic() < deadline, "the server never noticed the disconnect"
        time.sleep(0.02)
    after = fake_upstream_process.stats()
    assert after["active_streams"] == before["active_streams"]
    assert after["completed"] == before["completed"]


def test_log_lines_never_show_the_key(fake_upstream_process: RunningFake) -> None:
    post(fake_upstream_process, "answer=short")
    logs = fake_upstream_process.logs()
    assert "POST /compatible-mode/v1/chat/completions 200" in logs
    assert "sk-raw-secret" not in logs


def test_finished_stream_counts_as_completed(fake_upstream_process: RunningFake) -> None:
    before = fake_upstream_process.stats()
    post(fake_upstream_process, "answer=short")
    deadline = time.monotonic() + 10
    while fake_upstream_process.stats()["completed"] == before["completed"]:
        assert time.monotonic() < deadline, "the finished stream was never counted"
        time.sleep(0.02)
    assert fake_upstream_process.stats()["cancelled"] == before["cancelled"]
