"""A channel over capacity: the channel layer drops group sends to a full channel silently, so a
slow socket misses frames. The sequence numbers show the gap, the client subscribes again, and it
ends with exactly the stored text (docs/websocket-protocol.md, "Sequence numbers")."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

from chat.consumers import ChatConsumer
from chat.models import Message
from tests.fake_answers import fake_answer
from tests.follower import Follower
from tests.wsclient import receive, receive_type, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

STREAM = "[[fake tps=60 reasoning=60 tokens=120]]"


async def _start(communicator, text: str) -> Follower:
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    created = await receive_type(communicator, "conversation.created")
    added = await receive_type(communicator, "messages.added")
    return Follower(created["conversation"]["id"], added["messages"][1]["id"])


async def _follow(communicator, follower: Follower, silence: float) -> dict:
    async def next_frame() -> dict:
        return await receive(communicator, timeout=silence)

    async def subscribe() -> None:
        frame = {"type": "subscribe", "conversation_id": follower.conversation_id}
        await communicator.send_to(text_data=json.dumps(frame))

    return await follower.follow(next_frame, subscribe, deadline=30)


IN_MEMORY = "channels.layers.InMemoryChannelLayer"


async def test_deltas_a_full_channel_dropped_are_healed_by_a_new_snapshot(
    sockets, alice, settings, monkeypatch
):
    # Every third delta of the first nine finds the socket's channel full: the in-memory
    # layer's group_send swallows ChannelFull, exactly as it does at real capacity (and as
    # channels_redis does, inside its Lua script, whatever REDIS_URL says).
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": IN_MEMORY}}
    layer = get_channel_layer()
    real_send = layer.send
    deltas, dropped = [], []

    async def send_unless_full(channel, message):
        frame = message.get("frame") or {}
        if frame.get("type") == "delta":
            deltas.append(frame["seq"])
            if len(deltas) % 3 == 0 and len(deltas) <= 9:
                dropped.append(frame["seq"])
                raise ChannelFull(channel)
        return await real_send(channel, message)

    monkeypatch.setattr(layer, "send", send_unless_full)
    text = f"Drop some {STREAM}"
    tab, _ = await sockets.open(alice)
    follower = await _start(tab, text)

    final = await _follow(tab, follower, silence=10)

    assert dropped == [3, 6, 9]
    assert follower.gaps >= 3, "every dropped delta was seen as a gap"
    # Healed by new snapshots, at most one a second (the three drops fall within one).
    assert follower.subscribes >= 1 + 1
    stored = await sync_to_async(Message.objects.get)(pk=follower.message_id)
    assert stored.status == final["status"] == "complete"
    # Healed before the end: deltas and snapshots alone rebuilt the whole text.
    assert follower.assembled_before_end == (stored.reasoning, stored.content)
    assert (final["reasoning"], final["content"]) == (stored.reasoning, stored.content)
    assert (stored.reasoning, stored.content) == fake_answer(text)


async def test_a_slow_socket_on_a_channel_of_capacity_one_still_ends_with_the_exact_text(
    sockets, alice, settings, monkeypatch
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": IN_MEMORY, "CONFIG": {"capacity": 1}}}
    real_chat_frame = ChatConsumer.chat_frame
    delivered = []

    async def slow_chat_frame(self, event):
        # A socket that takes 0.15 s per delta while the generation sends one every ~0.05 s.
        if event["frame"].get("type") == "delta":
            await asyncio.sleep(0.15)
            delivered.append(event["frame"]["seq"])
        await real_chat_frame(self, event)

    monkeypatch.setattr(ChatConsumer, "chat_frame", slow_chat_frame)
    text = f"Overflow {STREAM}"
    tab, _ = await sockets.open(alice)
    follower = await _start(tab, text)

    final = await _follow(tab, follower, silence=1.0)

    stored = await sync_to_async(Message.objects.get)(pk=follower.message_id)
    assert stored.status == final["status"] == "complete"
    assert stored.stream_seq > len(delivered) + 1, "the full channel dropped frames"
    assert follower.gaps + follower.silences >= 1
    assert (final["reasoning"], final["content"]) == (stored.reasoning, stored.content)
    assert (stored.reasoning, stored.content) == fake_answer(text)
