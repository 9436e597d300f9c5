"""Snapshots are bounded: the newest messages, then older ones page by page on request; and a
socket may load conversations only so fast."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.models import Conversation, Message
from tests.wsclient import receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def _long_conversation(owner, count: int, chars: int = 10) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, title="long")
    Message.objects.bulk_create(
        Message(conversation=conversation, role=("user", "assistant")[i % 2], content="x" * chars)
        for i in range(count)
    )
    return conversation


async def test_a_snapshot_holds_the_newest_messages_and_says_more_exist(sockets, alice, settings):
    settings.SNAPSHOT_MAX_MESSAGES = 20
    conversation = await _long_conversation(alice, 45)
    communicator, _ = await sockets.open(alice)
    await send(communicator, {"type": "subscribe", "conversation_id": conversation.pk})
    snapshot = await receive_type(communicator, "snapshot")
    ids = [m["id"] for m in snapshot["messages"]]
    assert len(ids) == 20 and snapshot["has_more"] is True
    assert ids == sorted(ids)

    pages = [ids]
    while True:
        await send(
            communicator,
            {"type": "history", "conversation_id": conversation.pk, "before_id": pages[-1][0]},
        )
        history = await receive_type(communicator, "history")
        pages.append([m["id"] for m in history["messages"]])
        if not history["has_more"]:
            break
    every_id = [i for page in reversed(pages) for i in page]
    all_ids = await sync_to_async(list)(
        Message.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert every_id == all_ids


async def test_a_snapshot_is_bounded_by_size_too(sockets, alice, settings):
    settings.SNAPSHOT_MAX_CHARS = 5000
    conversation = await _long_conversation(alice, 10, chars=2000)
    communicator, _ = await sockets.open(alice)
    await send(communicator, {"type": "subscribe", "conversation_id": conversation.pk})
    snapshot = await receive_type(communicator, "snapshot")
    assert len(snapshot["messages"]) == 2 and snapshot["has_more"] is True


async def test_history_of_another_users_conversation_is_not_found(sockets, alice, bob):
    theirs = await _long_conversation(bob, 4)
    communicator, _ = await sockets.open(alice)
    await send(communicator, {"type": "history", "conversation_id": theirs.pk, "before_id": 10**9})
    assert (await receive_type(communicator, "error"))["code"] == "not_found"


async def test_a_subscribe_flood_is_refused_after_the_burst(sockets, alice, settings):
    settings.WS_SUBSCRIBE_BURST = 5
    settings.WS_SUBSCRIBE_RATE = 0.01
    conversation = await _long_conversation(alice, 2)
    communicator, _ = await sockets.open(alice)
    for _ in range(8):
        await send(communicator, {"type": "subscribe", "conversation_id": conversation.pk})
    kinds = []
    for _ in range(8):
        frame = await receive_type(communicator, "snapshot") if len(kinds) < 5 else None
        kinds.append("snapshot" if frame else (await receive_type(communicator, "error"))["code"])
    assert kinds == ["snapshot"] * 5 + ["subscribe_rate_limited"] * 3
