"""A new conversation's request goes out once the send is admitted, while its rows are written;
if the writes fail, the request is cancelled and nothing is stored."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Conversation, GenerationStart
from chat.streaming import early as early_module
from chat.streaming import orchestration
from tests.wsclient import session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_failed_write_cancels_the_early_request_and_stores_nothing(alice, monkeypatch):
    session_key = await session_cookie_for(alice)
    started, cancelled = [], []
    real_start, real_cancel = early_module.EarlyUpstream.start, early_module.EarlyUpstream.cancel

    def start(self):
        started.append(self)
        real_start(self)

    def cancel(self):
        cancelled.append(self)
        real_cancel(self)

    def broken_send(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(early_module.EarlyUpstream, "start", start)
    monkeypatch.setattr(early_module.EarlyUpstream, "cancel", cancel)
    monkeypatch.setattr(services, "message_send", broken_send)

    with pytest.raises(RuntimeError):
        await orchestration.conversation_start(
            owner=alice, session_key=session_key, text="hello", model="MiniMax-M2.5"
        )
    assert len(started) == 1
    # The cancel was scheduled on the loop after the start: the request's task ends cancelled.
    await asyncio.wait_for(asyncio.wait([started[0]._task]), timeout=5)
    assert cancelled == started and started[0]._task.cancelled()
    assert await sync_to_async(Conversation.objects.count)() == 0
    assert await sync_to_async(GenerationStart.objects.count)() == 0


async def test_a_refused_send_never_starts_a_request(alice, settings, monkeypatch):
    settings.MAX_MESSAGES_PER_MINUTE = 1
    session_key = await session_cookie_for(alice)
    await sync_to_async(services.generation_start_record)(user_id=alice.pk)
    started = []
    monkeypatch.setattr(early_module.EarlyUpstream, "start", lambda self: started.append(self))
    with pytest.raises(services.RateLimited):
        await orchestration.conversation_start(
            owner=alice, session_key=session_key, text="hello", model="MiniMax-M2.5"
        )
    assert started == []
    assert await sync_to_async(Conversation.objects.count)() == 0
