"""Consumer tests through the real ASGI application (websocket → consumer → generation →
upstream client → offline demo transport, which speaks the fake upstream's protocol). The
streaming tests run once per wire protocol (the `upstream_protocol` fixture)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat.models import Conversation, Message
from tests.conftest import upstream_code
from tests.wsclient import Transcript, connect, receive, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

FAST = "[[fake tps=0 reasoning_tokens=30]]"
SLOW = "[[fake tps=40 reasoning_tokens=40 answer=long]]"


@database_sync_to_async
def _message(message_id: int) -> Message:
    return Message.objects.get(pk=message_id)


@database_sync_to_async
def _conversation_for(user) -> Conversation:
    return Conversation.objects.create(owner=user, title="theirs")


async def _start_new_chat(communicator, text: str) -> tuple[Transcript, dict]:
    await send(
        communicator, {"type": "send", "conversation_id": None, "content": text, "client_id": "c1"}
    )
    created = await receive_type(communicator, "conversation.created")
    transcript = Transcript()
    snapshot = await receive_type(communicator, "snapshot")
    transcript.apply(snapshot)
    added = await receive_type(communicator, "messages.added")
    transcript.apply(added)
    return transcript, {"created": created, "snapshot": snapshot, "added": added}


async def test_it_rejects_a_cross_site_origin(alice):
    _communicator, connected = await connect(alice, origin=b"https://evil.example")
    assert connected is False


async def test_it_closes_an_anonymous_socket():
    communicator, connected = await connect(None)
    assert connected is True
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4401}


@pytest.mark.usefixtures("upstream_protocol")
async def test_it_streams_reasoning_then_answer_and_saves_them(alice):
    communicator, _ = await connect(alice)
    transcript, frames = await _start_new_chat(
        communicator, "Hello there [[fake tps=300 reasoning_tokens=30]]"
    )
    assert frames["created"]["client_id"] == "c1"
    user_msg, assistant = frames["added"]["messages"]
    assert user_msg["role"] == "user" and assistant["status"] == "streaming"

    end = await run_until_end(communicator, transcript)
    final = end["message"]
    assert final["status"] == "complete"
    assert final["finish_reason"] == "stop"
    assert final["reasoning"] and final["content"]
    assert transcript.messages[assistant["id"]]["content"] == final["content"]
    assert final["usage"]["completion_tokens"] > 0
    assert final["timings"]["first_reasoning_ms"] is not None
    assert final["timings"]["first_answer_ms"] >= final["timings"]["first_reasoning_ms"]

    deltas = [f for f in transcript.frames if f["type"] == "delta"]
    first_answer = next(i for i, f in enumerate(deltas) if f["content"])
    assert all(not f["content"] for f in deltas[:first_answer]), "reasoning comes first"
    assert any(f["reasoning"] for f in deltas[:first_answer])

    stored = await _message(assistant["id"])
    assert stored.content == final["content"]
    assert stored.reasoning == final["reasoning"]
    assert stored.status == "complete"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "subscribe"}', "invalid_frame"),
        ('{"type": "subscribe", "conversation_id": "7"}', "invalid_frame"),
        ('{"type": "send", "conversation_id": null, "content": "   "}', "empty_message"),
        ('{"type": "send", "conversation_id": null}', "invalid_frame"),
        (
            '{"type": "send", "conversation_id": null, "content": "x", "model": "gpt-9"}',
            "model_unavailable",
        ),
    ],
)
async def test_it_answers_a_bad_frame_with_an_error_and_stays_usable(alice, raw, code):
    communicator, _ = await connect(alice)
    await communicator.send_to(text_data=raw)
    error = await receive(communicator)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    transcript, _ = await _start_new_chat(communicator, f"still works {FAST}")
    end = await run_until_end(communicator, transcript)
    assert end["message"]["status"] == "complete"
    await communicator.disconnect()


async def test_it_refuses_an_oversized_message_and_stores_nothing(alice, settings):
    settings.MAX_MESSAGE_CHARS = 50
    communicator, _ = await connect(alice)
    await send(communicator, {"type": "send", "conversation_id": None, "content": "x" * 51})
    error = await receive(communicator)
    assert error["code"] == "message_too_long"
    assert "51" in error["message"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    await communicator.disconnect()


async def test_it_refuses_an_oversized_frame(alice, settings):
    settings.MAX_WS_FRAME_BYTES = 2048
    communicator, _ = await connect(alice)
    await send(communicator, {"type": "send", "conversation_id": None, "content": "y" * 4000})
    error = await receive(communicator)
    assert error["code"] == "too_large"
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe"},
        {"type": "stop"},
        {"type": "send", "content": "let me in"},
    ],
)
async def test_it_never_lets_a_user_touch_another_users_conversation(alice, bob, frame):
    theirs = await _conversation_for(bob)
    communicator, _ = await connect(alice)
    await send(communicator, {**frame, "conversation_id": theirs.pk})
    error = await receive(communicator)
    assert error["code"] == "not_found"
    assert await database_sync_to_async(Message.objects.count)() == 0
    await communicator.disconnect()


async def test_it_never_lets_a_user_retry_another_users_message(alice, bob):
    bobs = await connect(bob)
    transcript, frames = await _start_new_chat(bobs[0], f"mine {FAST}")
    await run_until_end(bobs[0], transcript)
    assistant_id = frames["added"]["messages"][1]["id"]
    communicator, _ = await connect(alice)
    await send(communicator, {"type": "retry", "message_id": assistant_id})
    assert (await receive(communicator))["code"] == "not_found"
    await communicator.disconnect()
    await bobs[0].disconnect()


@pytest.mark.usefixtures("upstream_protocol")
async def test_stop_keeps_the_partial_text(alice):
    communicator, _ = await connect(alice)
    transcript, frames = await _start_new_chat(communicator, f"Write a lot {SLOW}")
    conversation_id = frames["created"]["conversation"]["id"]
    assistant_id = frames["added"]["messages"][1]["id"]
    while not transcript.messages[assistant_id]["reasoning"]:
        transcript.apply(await receive(communicator))
    await send(communicator, {"type": "stop", "conversation_id": conversation_id})
    end = await run_until_end(communicator, transcript, timeout=5)
    final = end["message"]
    assert final["status"] == "stopped"
    assert final["reasoning"]
    stored = await _message(assistant_id)
    assert stored.status == "stopped"
    assert stored.reasoning == final["reasoning"]
    assert stored.content == final["content"]
    await communicator.disconnect()


@pytest.mark.usefixtures("upstream_protocol")
async def test_a_second_message_while_streaming_is_refused_as_busy(alice):
    communicator, _ = await connect(alice)
    transcript, frames = await _start_new_chat(communicator, f"Long one {SLOW}")
    conversation_id = frames["created"]["conversation"]["id"]
    await send(
        communicator, {"type": "send", "conversation_id": conversation_id, "content": "and another"}
    )
    error = await receive_type(communicator, "error")
    assert error["code"] == "busy"
    await send(communicator, {"type": "stop", "conversation_id": conversation_id})
    await run_until_end(communicator, transcript)
    await communicator.disconnect()


@pytest.mark.usefixtures("upstream_protocol")
async def test_a_socket_that_subscribes_mid_stream_misses_nothing_and_doubles_nothing(alice):
    first, _ = await connect(alice)
    transcript, frames = await _start_new_chat(
        first, "[[fake tps=120 reasoning_tokens=60 answer=long]] go"
    )
    conversation_id = frames["created"]["conversation"]["id"]
    assistant_id = frames["added"]["messages"][1]["id"]
    for _ in range(5):
        transcript.apply(await receive(first))

    second, _ = await connect(alice)
    await send(second, {"type": "subscribe", "conversation_id": conversation_id})
    late = Transcript()
    snapshot = await receive_type(second, "snapshot")
    assert snapshot["messages"][1]["status"] == "streaming"
    assert snapshot["messages"][1]["seq"] > 0
    late.apply(snapshot)
    end_late = await run_until_end(second, late)
    end_first = await run_until_end(first, transcript)

    stored = await _message(assistant_id)
    assert late.messages[assistant_id]["content"] == stored.content
    assert end_late["message"]["content"] == stored.content
    assert end_first["message"] == end_late["message"]
    await first.disconnect()
    await second.disconnect()


async def test_an_upstream_error_is_stored_and_shown_with_its_code(alice, upstream_protocol):
    code = upstream_code("limit_requests", upstream_protocol)
    communicator, _ = await connect(alice)
    transcript, _frames = await _start_new_chat(
        communicator, "[[fake tps=0 error=limit_requests]] hi"
    )
    end = await run_until_end(communicator, transcript)
    final = end["message"]
    assert final["status"] == "failed"
    assert final["error"]["code"] == code
    assert final["error"]["status"] == 429
    assert final["error"]["retryable"] is True
    assert f"({code})" in final["error"]["message"]
    stored = await _message(final["id"])
    assert stored.error_code == code
    await communicator.disconnect()


@pytest.mark.usefixtures("upstream_protocol")
async def test_retry_streams_the_last_answer_again_under_the_same_id(alice):
    communicator, _ = await connect(alice)
    transcript, _frames = await _start_new_chat(communicator, f"Retry me {FAST}")
    first_end = await run_until_end(communicator, transcript)
    message_id = first_end["message_id"]
    await send(communicator, {"type": "retry", "message_id": message_id})
    reset = await receive_type(communicator, "message.reset")
    assert reset["message"]["id"] == message_id
    assert reset["message"]["content"] == "" and reset["message"]["status"] == "streaming"
    transcript.apply(reset)
    second_end = await run_until_end(communicator, transcript)
    assert second_end["message"]["status"] == "complete"
    assert second_end["message"]["content"] == first_end["message"]["content"]
    await communicator.disconnect()


async def test_only_the_last_answer_can_be_retried(alice):
    communicator, _ = await connect(alice)
    transcript, frames = await _start_new_chat(communicator, f"one {FAST}")
    first_end = await run_until_end(communicator, transcript)
    conversation_id = frames["created"]["conversation"]["id"]
    await send(
        communicator, {"type": "send", "conversation_id": conversation_id, "content": f"two {FAST}"}
    )
    await run_until_end(communicator, transcript)
    await send(communicator, {"type": "retry", "message_id": first_end["message_id"]})
    assert (await receive_type(communicator, "error"))["code"] == "not_retryable"
    await communicator.disconnect()


async def test_a_streaming_row_with_no_live_task_is_shown_as_interrupted(alice):
    @database_sync_to_async
    def orphan():
        conversation = Conversation.objects.create(owner=alice, title="orphan")
        Message.objects.create(conversation=conversation, role="user", content="hi")
        Message.objects.create(
            conversation=conversation, role="assistant", status="streaming", content="partial"
        )
        return conversation

    conversation = await orphan()
    communicator, _ = await connect(alice)
    await send(communicator, {"type": "subscribe", "conversation_id": conversation.pk})
    snapshot = await receive_type(communicator, "snapshot")
    assert snapshot["messages"][1]["status"] == "interrupted"
    assert snapshot["messages"][1]["content"] == "partial"
    await communicator.disconnect()


async def test_the_rate_limit_refuses_messages_beyond_the_limit(alice, settings):
    settings.MAX_MESSAGES_PER_MINUTE = 1
    communicator, _ = await connect(alice)
    transcript, frames = await _start_new_chat(communicator, f"one {FAST}")
    await run_until_end(communicator, transcript)
    conversation_id = frames["created"]["conversation"]["id"]
    await send(communicator, {"type": "send", "conversation_id": conversation_id, "content": "two"})
    assert (await receive_type(communicator, "error"))["code"] == "rate_limited"
    await communicator.disconnect()


async def test_other_tabs_of_the_same_user_hear_about_a_new_conversation(alice):
    tab1, _ = await connect(alice)
    tab2, _ = await connect(alice)
    transcript, frames = await _start_new_chat(tab1, f"hello {FAST}")
    created = await receive_type(tab2, "conversation.created")
    assert created["conversation"]["id"] == frames["created"]["conversation"]["id"]
    await run_until_end(tab1, transcript)
    await asyncio.gather(tab1.disconnect(), tab2.disconnect())


async def test_the_tab_that_creates_a_conversation_hears_of_it_once(sockets, alice):
    tab, _ = await sockets.open(alice)
    await send(tab, {"type": "send", "conversation_id": None, "content": f"hi {FAST}"})
    kinds = []
    while "conversation.updated" not in kinds:  # the sidebar update after the answer's end
        kinds.append((await receive(tab))["type"])
    assert kinds.count("conversation.created") == 1
    assert kinds.index("conversation.created") < kinds.index("snapshot")
    assert await tab.receive_nothing(timeout=0.2)


async def test_a_refused_first_message_creates_no_empty_conversation(alice, settings):
    settings.MAX_MESSAGES_PER_MINUTE = 1
    communicator, _ = await connect(alice)
    transcript, _frames = await _start_new_chat(communicator, f"one {FAST}")
    await run_until_end(communicator, transcript)
    await send(communicator, {"type": "send", "conversation_id": None, "content": "two"})
    assert (await receive_type(communicator, "error"))["code"] == "rate_limited"
    assert await database_sync_to_async(Conversation.objects.count)() == 1
    await communicator.disconnect()


async def test_a_failed_final_save_does_not_leave_the_conversation_stuck(
    alice, monkeypatch, settings
):
    from chat import services
    from chat.streaming import registry

    # One process: an unowned streaming row is dead at once. (With several processes the
    # heartbeat must go stale first; see the next test.)
    settings.GENERATION_SINGLE_PROCESS = True

    def broken_finish(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "message_finish", broken_finish)
    communicator, _ = await connect(alice)
    _transcript, frames = await _start_new_chat(communicator, f"doomed {FAST}")
    conversation_id = frames["created"]["conversation"]["id"]
    for _ in range(200):
        if registry.generation_for(conversation_id) is None:
            break
        await asyncio.sleep(0.02)
    assert registry.generation_for(conversation_id) is None

    monkeypatch.undo()
    await send(communicator, {"type": "subscribe", "conversation_id": conversation_id})
    snapshot = await receive_type(communicator, "snapshot")
    assert snapshot["messages"][1]["status"] == "interrupted"
    await send(
        communicator,
        {"type": "send", "conversation_id": conversation_id, "content": f"again {FAST}"},
    )
    transcript = Transcript()
    transcript.apply(snapshot)
    transcript.apply(await receive_type(communicator, "messages.added"))
    end = await run_until_end(communicator, transcript)
    assert end["message"]["status"] == "complete"
    await communicator.disconnect()


@pytest.mark.parametrize(("age_seconds", "status"), [(2, "streaming"), (60, "interrupted")])
async def test_with_several_processes_only_a_stale_heartbeat_means_interrupted(
    alice, settings, age_seconds, status
):
    settings.GENERATION_SINGLE_PROCESS = False
    settings.GENERATION_STALE_SECONDS = 15

    @database_sync_to_async
    def elsewhere():
        conversation = Conversation.objects.create(owner=alice, title="elsewhere")
        Message.objects.create(conversation=conversation, role="user", content="hi")
        Message.objects.create(
            conversation=conversation,
            role="assistant",
            status="streaming",
            content="so far",
            heartbeat_at=timezone.now() - timedelta(seconds=age_seconds),
        )
        return conversation

    conversation = await elsewhere()
    communicator, _ = await connect(alice)
    await send(communicator, {"type": "subscribe", "conversation_id": conversation.pk})
    snapshot = await receive_type(communicator, "snapshot")
    assert snapshot["messages"][1]["status"] == status
    assert snapshot["messages"][1]["content"] == "so far"
    await communicator.disconnect()
