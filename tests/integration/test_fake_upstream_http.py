"""Integration: the app's real HTTP path (consumer → generation → httpx client) against the fake
upstream running as a separate process on 127.0.0.1. One scenario per fault."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from chat.fakeupstream.scenarios import Scenario, prompt_of, scenario_from
from chat.fakeupstream.testing import start_fake_upstream
from chat.fakeupstream.texts import answer_text, reasoning_text
from chat.models import Message
from tests.wsclient import Transcript, connect, receive, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(scope="module")
def fake_upstream():
    with start_fake_upstream(["--tps", "400"]) as running:
        yield running


@pytest.fixture
def real_http(settings, fake_upstream):
    settings.DASHSCOPE_API_KEY = "sk-test"
    settings.DASHSCOPE_BASE_URL = fake_upstream.url
    settings.UPSTREAM_IDLE_TIMEOUT = 2.0
    return fake_upstream


async def _chat(user, text: str) -> tuple[object, Transcript, dict]:
    communicator, _ = await connect(user)
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))
    end = await run_until_end(communicator, transcript)
    await communicator.disconnect()
    return communicator, transcript, end["message"]


def _expected(prompt: str, **overrides) -> tuple[str, str]:
    messages = [{"role": "user", "content": prompt}]
    scenario = scenario_from({}, messages, Scenario(**overrides))
    return reasoning_text(scenario, prompt_of(messages)), answer_text(scenario, prompt_of(messages))


async def test_a_chat_streams_through_the_real_http_path(alice, real_http):
    prompt = "Explain streaming [[fake reasoning=50]]"
    _, _, final = await _chat(alice, prompt)
    reasoning, answer = _expected(prompt, tokens_per_second=400)
    assert final["status"] == "complete"
    assert final["demo"] is False
    assert final["reasoning"] == reasoning
    assert final["content"] == answer
    assert final["usage"]["reasoning_tokens"] > 0
    assert final["timings"]["total_ms"] >= final["timings"]["first_answer_ms"]


async def test_the_request_id_of_the_upstream_is_kept(alice, real_http):
    _, _, final = await _chat(alice, "hi [[fake tps=0]]")
    stored = await database_sync_to_async(Message.objects.get)(pk=final["id"])
    assert len(stored.request_id) >= 32


@pytest.mark.parametrize(
    ("marker", "code", "status", "retryable"),
    [
        ("error=invalid_api_key", "invalid_api_key", 401, False),
        ("error=limit_requests", "limit_requests", 429, True),
        ("error=insufficient_quota", "insufficient_quota", 429, True),
        ("error=arrearage", "Arrearage", 400, False),
        ("error=input_too_long", "invalid_parameter_error", 400, False),
        ("error=internal_error", "internal_error", 500, True),
        ("error=throttling_allocation_quota shape=event", "Throttling.AllocationQuota", 429, True),
    ],
)
async def test_an_error_before_the_stream_fails_the_message_with_its_code(
    alice, real_http, marker, code, status, retryable
):
    _, _, final = await _chat(alice, f"hi [[fake {marker}]]")
    assert final["status"] == "failed"
    assert final["error"]["code"] == code
    assert final["error"]["status"] == status
    assert final["error"]["retryable"] is retryable
    assert f"({code})" in final["error"]["message"]


async def test_a_mid_stream_error_frame_keeps_the_text_so_far(alice, real_http):
    _, _, final = await _chat(
        alice, "hi [[fake error=data_inspection_output at=70 shape=data reasoning=40]]"
    )
    assert final["status"] == "failed"
    assert final["error"]["code"] == "data_inspection_failed"
    assert final["reasoning"], "reasoning streamed before the error is kept"
    assert final["content"], "answer text streamed before the error is kept"


async def test_a_mid_stream_native_error_event_is_a_failure_not_a_silent_end(alice, real_http):
    _, _, final = await _chat(
        alice, "hi [[fake error=throttling_allocation_quota at=20 shape=event]]"
    )
    assert final["status"] == "failed"
    assert final["error"]["code"] == "Throttling.AllocationQuota"


async def test_a_stream_cut_without_a_finish_is_marked_truncated(alice, real_http):
    _, _, final = await _chat(alice, "hi [[fake truncate=70 reasoning=40]]")
    assert final["status"] == "failed"
    assert final["error"]["code"] == "truncated"
    assert final["error"]["retryable"] is True
    assert final["content"]


async def test_a_malformed_chunk_fails_the_stream_with_a_clear_code(alice, real_http):
    _, _, final = await _chat(alice, "hi [[fake malformed=10]]")
    assert final["status"] == "failed"
    assert final["error"]["code"] == "malformed_stream"


async def test_a_stalled_upstream_times_out_and_keeps_the_text(alice, real_http):
    _, _, final = await _chat(alice, "hi [[fake stall=20 stall_for=30]]")
    assert final["status"] == "failed"
    assert final["error"]["code"] == "timeout_idle"
    assert final["reasoning"]


async def test_a_throttled_request_is_retried_over_real_http_and_then_answers(alice, real_http):
    before = real_http.stats()["requests"]
    key = f"real-http-{time.monotonic_ns()}"
    _, transcript, final = await _chat(
        alice, f"hi [[fake tps=0 fail_first=2 error=limit_requests retry_after=0 key={key}]]"
    )
    assert final["status"] == "complete"
    assert [f["attempt"] for f in transcript.frames if f["type"] == "retrying"] == [2, 3]
    # Three chat requests, plus the /stats request that reads the counter.
    assert real_http.stats()["requests"] - before == 3 + 1


async def test_the_length_finish_is_stored_as_cut_off(alice, real_http):
    _, _, final = await _chat(alice, "hi [[fake tps=0 finish=length]]")
    assert final["status"] == "complete"
    assert final["finish_reason"] == "length"


async def test_stop_cancels_the_upstream_request_within_a_second(alice, real_http):
    before = real_http.stats()["cancelled"]
    communicator, _ = await connect(alice)
    await send(
        communicator,
        {"type": "send", "conversation_id": None, "content": "go [[fake tps=30 answer=long]]"},
    )
    transcript = Transcript()
    snapshot = await receive_type(communicator, "snapshot")
    transcript.apply(snapshot)
    added = await receive_type(communicator, "messages.added")
    transcript.apply(added)
    assistant_id = added["messages"][1]["id"]
    while not transcript.messages[assistant_id]["reasoning"]:
        transcript.apply(await receive(communicator))
    stopped_at = time.monotonic()
    await send(communicator, {"type": "stop", "conversation_id": snapshot["conversation"]["id"]})
    end = await run_until_end(communicator, transcript)
    assert end["message"]["status"] == "stopped"
    assert end["message"]["reasoning"]

    # The fake counts a cancelled stream when it notices the closed socket; allow it a moment
    # beyond the one second the app has to close the request.
    deadline = stopped_at + 3.0
    while real_http.stats()["cancelled"] == before and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert real_http.stats()["cancelled"] == before + 1
    await communicator.disconnect()


async def test_an_unreachable_upstream_is_a_retryable_network_error(alice, settings):
    settings.DASHSCOPE_API_KEY = "sk-test"
    settings.DASHSCOPE_BASE_URL = "http://127.0.0.1:9/compatible-mode/v1"
    _, _, final = await _chat(alice, "anyone there?")
    assert final["status"] == "failed"
    assert final["error"]["code"] == "network_error"
    assert final["error"]["retryable"] is True


async def test_a_killed_upstream_mid_stream_keeps_the_partial_answer(alice, settings):
    with start_fake_upstream(["--tps", "60", "--answer", "long"]) as doomed:
        settings.DASHSCOPE_API_KEY = "sk-test"
        settings.DASHSCOPE_BASE_URL = doomed.url
        communicator, _ = await connect(alice)
        await send(communicator, {"type": "send", "conversation_id": None, "content": "go"})
        transcript = Transcript()
        transcript.apply(await receive_type(communicator, "snapshot"))
        added = await receive_type(communicator, "messages.added")
        transcript.apply(added)
        assistant_id = added["messages"][1]["id"]
        while not transcript.messages[assistant_id]["reasoning"]:
            transcript.apply(await receive(communicator))
        doomed.process.kill()
        end = await run_until_end(communicator, transcript)
    final = end["message"]
    assert final["status"] == "failed"
    assert final["error"]["code"] in {"truncated", "network_error"}
    assert final["reasoning"]
    stored = await database_sync_to_async(Message.objects.get)(pk=assistant_id)
    assert stored.reasoning == final["reasoning"]
    await communicator.disconnect()
