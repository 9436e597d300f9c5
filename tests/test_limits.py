"""Limits that hold under abuse: every upstream request counts against the per-minute limit,
and the concurrency limit is checked and recorded in one transaction."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from chat import services
from chat.models import GenerationStart, Message
from tests.wsclient import Transcript, receive, receive_type, run_until_end, send

pytestmark = pytest.mark.django_db(transaction=True)

FAST = "[[fake tps=0 reasoning_tokens=5]]"


async def _finish_one_answer(communicator) -> dict:
    await send(communicator, {"type": "send", "conversation_id": None, "content": f"hi {FAST}"})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))
    return await run_until_end(communicator, transcript)


async def test_retries_count_against_the_per_minute_limit(sockets, alice, settings):
    settings.MAX_MESSAGES_PER_MINUTE = 3
    communicator, _ = await sockets.open(alice)
    end = await _finish_one_answer(communicator)
    message_id = end["message_id"]
    refusals = []
    for _ in range(30):
        await send(communicator, {"type": "retry", "message_id": message_id})
        frame = await receive(communicator)
        while frame["type"] not in ("error", "end"):
            frame = await receive(communicator)
        if frame["type"] == "error":
            refusals.append(frame)
    # One send and two retries fit in the minute; the other 28 retries are refused.
    assert await sync_to_async(GenerationStart.objects.count)() == 3
    assert len(refusals) == 28
    assert {r["code"] for r in refusals} == {"rate_limited"}
    assert "Try again in" in refusals[0]["message"]


async def test_a_refused_retry_leaves_the_answer_as_it_was(sockets, alice, settings):
    settings.MAX_MESSAGES_PER_MINUTE = 1
    communicator, _ = await sockets.open(alice)
    end = await _finish_one_answer(communicator)
    await send(communicator, {"type": "retry", "message_id": end["message_id"]})
    assert (await receive_type(communicator, "error"))["code"] == "rate_limited"
    message = await sync_to_async(Message.objects.get)(pk=end["message_id"])
    assert message.status == "complete" and message.content == end["message"]["content"]


def test_the_concurrency_limit_is_checked_where_the_start_is_recorded(world, settings):
    settings.MAX_CONCURRENT_GENERATIONS_PER_USER = 1
    Message.objects.create(
        conversation=world.finished, role="assistant", status="streaming", heartbeat_at=None
    )
    # A streaming row with no heartbeat is not "fresh", so it does not count...
    services.generation_start_record(user_id=world.alice.pk)
    fresh = Message.objects.create(
        conversation=world.interrupted, role="assistant", status="streaming"
    )
    Message.objects.filter(pk=fresh.pk).update(heartbeat_at=fresh.created_at)
    # ...and a fresh one does: the next start is refused and not recorded.
    with pytest.raises(services.TooManyGenerations):
        services.generation_start_record(user_id=world.alice.pk)
    assert GenerationStart.objects.count() == 1


def test_the_rate_limit_says_when_to_try_again(alice, settings):
    settings.MAX_MESSAGES_PER_MINUTE = 2
    services.generation_start_record(user_id=alice.pk)
    services.generation_start_record(user_id=alice.pk)
    with pytest.raises(services.RateLimited) as refused:
        services.generation_start_record(user_id=alice.pk)
    assert refused.value.params["limit"] == 2
    assert 1 <= refused.value.params["retry_after"] <= 61


def test_simultaneous_sends_cannot_pass_the_concurrency_limit_together(world, settings):
    settings.MAX_CONCURRENT_GENERATIONS_PER_USER = 1
    barrier = threading.Barrier(2)
    outcomes = []

    def send_in(conversation) -> None:
        barrier.wait()
        try:
            services.message_send(conversation=conversation, text="hi", demo=True)
            outcomes.append("sent")
        except services.TooManyGenerations:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send_in, args=(c,)) for c in (world.finished, world.interrupted)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "sent"]
