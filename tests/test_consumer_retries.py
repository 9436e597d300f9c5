"""Automatic retries and timeouts, seen from the browser's side of the websocket (the real ASGI
app and generation, the offline demo transport speaking the fake upstream's protocol)."""

from __future__ import annotations

import uuid

import pytest

from chat.upstream_config import demo_transport
from tests.wsclient import Transcript, connect, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _key() -> str:
    # The demo transport counts attempts per key for the whole test run.
    return uuid.uuid4().hex


async def _start(communicator, text: str) -> tuple[Transcript, int, int]:
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    added = await receive_type(communicator, "messages.added")
    transcript.apply(added)
    assistant = added["messages"][1]
    return transcript, added["conversation_id"], assistant["id"]


async def _frames_until_end(communicator, transcript: Transcript) -> list[dict]:
    await run_until_end(communicator, transcript)
    return transcript.frames


async def test_a_429_then_success_shows_retrying_then_the_whole_answer(alice):
    key = _key()
    communicator, _ = await connect(alice)
    transcript, conversation_id, message_id = await _start(
        communicator, f"hi [[fake tps=0 fail_first=1 error=limit_requests key={key}]]"
    )

    frames = await _frames_until_end(communicator, transcript)

    retrying = [f for f in frames if f["type"] == "retrying"]
    assert len(retrying) == 1
    frame = retrying[0]
    assert (frame["conversation_id"], frame["message_id"]) == (conversation_id, message_id)
    assert (frame["attempt"], frame["max_attempts"]) == (2, 4)
    assert frame["error"]["code"] == "limit_requests"
    assert frame["error"]["status"] == 429
    assert frame["error"]["message"].startswith("Rate limited by DashScope — retrying")
    assert frame["error"]["message"].endswith("(attempt 2 of 4)")
    assert "seq" not in frame
    end = frames[-1]["message"]
    assert end["status"] == "complete"
    assert end["content"] and end["reasoning"]
    assert end["error"] is None and end["retrying"] is None
    assert demo_transport().attempts.count(key) == 2
    await communicator.disconnect()


async def test_a_503_on_every_attempt_fails_as_retryable(alice):
    key = _key()
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(
        communicator, f"hi [[fake fail_first=99 error=model_unavailable key={key}]]"
    )

    frames = await _frames_until_end(communicator, transcript)

    assert [f["attempt"] for f in frames if f["type"] == "retrying"] == [2, 3, 4]
    final = frames[-1]["message"]
    assert final["status"] == "failed"
    assert final["error"]["code"] == "ModelUnavailable"
    assert final["error"]["status"] == 503
    assert final["error"]["retryable"] is True
    assert final["error"]["message"].startswith("The model is overloaded")
    assert demo_transport().attempts.count(key) == 4
    await communicator.disconnect()


async def test_a_401_fails_at_once_after_one_request_and_is_not_retryable(alice):
    key = _key()
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(
        communicator, f"hi [[fake fail_first=99 error=invalid_api_key key={key}]]"
    )

    frames = await _frames_until_end(communicator, transcript)

    assert not [f for f in frames if f["type"] == "retrying"]
    final = frames[-1]["message"]
    assert final["status"] == "failed"
    assert (final["error"]["code"], final["error"]["status"]) == ("invalid_api_key", 401)
    assert final["error"]["retryable"] is False
    assert final["error"]["message"] == (
        "DashScope rejected the API key. Check the key in admin or DASHSCOPE_API_KEY "
        "(keys only work in the region they were created for). (invalid_api_key)"
    )
    assert demo_transport().attempts.count(key) == 1
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("error", "code", "kind_words"),
    [
        ("arrearage", "Arrearage", "overdue payment"),
        ("data_inspection_input", "data_inspection_failed", "content filter"),
        ("input_too_long", "invalid_parameter_error", "Start a new chat"),
        ("model_not_found", "model_not_found", "model name"),
    ],
)
async def test_errors_a_retry_cannot_fix_say_what_to_do_instead(alice, error, code, kind_words):
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(communicator, f"hi [[fake error={error}]]")

    final = (await _frames_until_end(communicator, transcript))[-1]["message"]

    assert (final["error"]["code"], final["error"]["retryable"]) == (code, False)
    assert kind_words in final["error"]["message"]
    await communicator.disconnect()


async def test_a_reloaded_page_sees_the_retry_in_the_snapshot(alice, settings):
    settings.UPSTREAM_RETRY_MAX_DELAY = 5
    key = _key()
    first, _ = await connect(alice)
    transcript, conversation_id, message_id = await _start(
        first,
        f"hi [[fake tps=0 fail_first=1 error=limit_requests retry_after=1 key={key}]]",
    )
    await receive_type(first, "retrying")

    second, _ = await connect(alice)
    await send(second, {"type": "subscribe", "conversation_id": conversation_id})
    snapshot = await receive_type(second, "snapshot")

    message = next(m for m in snapshot["messages"] if m["id"] == message_id)
    assert message["status"] == "streaming"
    retrying = message["retrying"]
    assert (retrying["attempt"], retrying["max_attempts"]) == (2, 4)
    assert 0 <= retrying["delay_ms"] <= 1000
    assert retrying["error"]["code"] == "limit_requests"
    assert "Rate limited by DashScope" in retrying["error"]["message"]
    end = await run_until_end(first, transcript)
    assert end["message"]["status"] == "complete"
    await first.disconnect()
    await second.disconnect()


async def test_stop_during_a_retry_wait_ends_the_answer_at_once(alice, settings):
    settings.UPSTREAM_RETRY_MAX_DELAY = 60
    communicator, _ = await connect(alice)
    transcript, conversation_id, _ = await _start(
        communicator, f"hi [[fake fail_first=9 error=limit_requests retry_after=30 key={_key()}]]"
    )
    await receive_type(communicator, "retrying")

    await send(communicator, {"type": "stop", "conversation_id": conversation_id})
    end = await run_until_end(communicator, transcript, timeout=3)

    assert end["message"]["status"] == "stopped"
    assert end["message"]["error"] is None
    await communicator.disconnect()


async def test_the_first_byte_timeout_fails_with_its_own_words(alice, settings):
    settings.UPSTREAM_FIRST_BYTE_TIMEOUT = 0.2
    settings.UPSTREAM_RETRY_MAX_ATTEMPTS = 2
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(communicator, "hi [[fake silence_after_headers=30]]")

    frames = await _frames_until_end(communicator, transcript)

    assert [f["error"]["code"] for f in frames if f["type"] == "retrying"] == ["timeout_first_byte"]
    error = frames[-1]["message"]["error"]
    assert (error["code"], error["retryable"]) == ("timeout_first_byte", True)
    assert error["message"].startswith("DashScope did not start answering within 0.2 s.")
    await communicator.disconnect()


async def test_the_first_byte_timeout_also_covers_slow_headers(alice, settings):
    settings.UPSTREAM_FIRST_BYTE_TIMEOUT = 0.2
    settings.UPSTREAM_RETRY_MAX_ATTEMPTS = 1
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(communicator, "hi [[fake headers_delay=30]]")

    final = (await _frames_until_end(communicator, transcript))[-1]["message"]

    assert final["error"]["code"] == "timeout_first_byte"
    await communicator.disconnect()


async def test_the_idle_timeout_ends_a_stalled_answer_and_keeps_its_text(alice, settings):
    settings.UPSTREAM_IDLE_TIMEOUT = 0.3
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(
        communicator, "hi [[fake tps=0 reasoning=10 stall_after=15 stall_for=30]]"
    )

    frames = await _frames_until_end(communicator, transcript)

    assert not [f for f in frames if f["type"] == "retrying"], "no retry after the first token"
    final = frames[-1]["message"]
    assert final["status"] == "failed"
    assert (final["error"]["code"], final["error"]["retryable"]) == ("timeout_idle", True)
    assert "went silent for 0.3 s" in final["error"]["message"]
    assert final["reasoning"] and final["content"]
    await communicator.disconnect()


async def test_the_total_timeout_ends_a_long_answer_and_keeps_its_text(alice, settings):
    settings.UPSTREAM_TOTAL_TIMEOUT = 0.5
    communicator, _ = await connect(alice)
    transcript, _, _ = await _start(communicator, "hi [[fake tps=40 answer=long]]")

    final = (await _frames_until_end(communicator, transcript))[-1]["message"]

    assert final["status"] == "failed"
    assert (final["error"]["code"], final["error"]["retryable"]) == ("timeout_total", True)
    assert "longer than the 0.5 s allowed" in final["error"]["message"]
    assert final["reasoning"]
    await communicator.disconnect()


async def test_snapshots_of_stored_messages_are_never_retrying(alice):
    communicator, _ = await connect(alice)
    transcript, conversation_id, _ = await _start(communicator, "hi [[fake tps=0]]")
    await run_until_end(communicator, transcript)

    await send(communicator, {"type": "subscribe", "conversation_id": conversation_id})
    snapshot = await receive_type(communicator, "snapshot")

    assert [m["retrying"] for m in snapshot["messages"]] == [None, None]
    await communicator.disconnect()
