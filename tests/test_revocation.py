"""A socket ends with its session: logout, deactivation, a password change and a deleted
session close the user's open sockets at once, and commands on a dead session are refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.models import Session
from django.utils import timezone

from chat.models import Message
from tests.wsclient import log_out, receive_type, send, session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

CLOSED = {"type": "websocket.close", "code": 4401}
SLOW = "[[fake tps=20 reasoning_tokens=200 answer=long]]"


async def _closed_within_a_second(communicator) -> bool:
    while True:
        output = await communicator.receive_output(timeout=1)
        if output["type"] == "websocket.close":
            return output == CLOSED


async def _open(sockets, user) -> tuple[object, str]:
    session_key = await session_cookie_for(user)
    communicator, connected = await sockets.open(user, session_key=session_key)
    assert connected
    return communicator, session_key


async def test_logout_closes_that_sessions_socket(sockets, alice):
    communicator, session_key = await _open(sockets, alice)
    await log_out(session_key)
    assert await _closed_within_a_second(communicator)


async def test_logout_leaves_the_users_other_sessions_open(sockets, alice):
    doomed, session_key = await _open(sockets, alice)
    other, _ = await _open(sockets, alice)
    await log_out(session_key)
    assert await _closed_within_a_second(doomed)
    await send(other, {"type": "subscribe", "conversation_id": 999999})
    assert (await receive_type(other, "error"))["code"] == "not_found"


async def test_a_deleted_session_closes_its_socket(sockets, alice):
    communicator, session_key = await _open(sockets, alice)
    await sync_to_async(Session.objects.filter(session_key=session_key).delete)()
    assert await _closed_within_a_second(communicator)


async def test_a_password_change_closes_the_users_sockets(sockets, alice):
    communicator, _ = await _open(sockets, alice)

    @sync_to_async
    def change_password() -> None:
        alice.set_password("a whole new passphrase")
        alice.save()

    await change_password()
    assert await _closed_within_a_second(communicator)


async def test_deactivation_closes_the_sockets_and_stops_running_answers(sockets, alice):
    communicator, _ = await _open(sockets, alice)
    await send(communicator, {"type": "send", "conversation_id": None, "content": f"go {SLOW}"})
    added = await receive_type(communicator, "messages.added")
    assistant_id = added["messages"][1]["id"]
    await receive_type(communicator, "delta")

    @sync_to_async
    def deactivate() -> None:
        alice.is_active = False
        alice.save()

    await deactivate()
    assert await _closed_within_a_second(communicator)
    for _ in range(100):  # the owning process sees the stop flag at its next checkpoint (~1 s)
        message = await sync_to_async(Message.objects.get)(pk=assistant_id)
        if message.status != Message.Status.STREAMING:
            break
        await asyncio.sleep(0.05)
    assert message.status == Message.Status.STOPPED


async def test_a_command_on_an_expired_session_is_refused(sockets, alice):
    communicator, session_key = await _open(sockets, alice)
    # An update sends no signal, so only the per-command check can notice.
    await sync_to_async(Session.objects.filter(session_key=session_key).update)(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    await send(communicator, {"type": "send", "conversation_id": None, "content": "hello"})
    assert await _closed_within_a_second(communicator)
    assert await sync_to_async(Message.objects.count)() == 0
