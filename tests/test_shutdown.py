"""chat.streaming.shutdown in-process: the drain ends what runs, saves it, and refuses new work.
tests/integration/test_graceful_shutdown.py does the same through a real Daphne and SIGTERM."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from chat.streaming import shutdown
from tests.wsclient import Transcript, connect, receive, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SLOW = "[[fake tps=40 reasoning_tokens=10 answer=long]]"


@pytest.fixture(autouse=True)
def _not_draining(monkeypatch):
    monkeypatch.setattr(shutdown, "_draining", False)


async def test_the_drain_interrupts_an_unfinished_answer_with_all_its_text(alice):
    communicator, _ = await connect(alice)
    await send(communicator, {"type": "send", "conversation_id": None, "content": f"Go {SLOW}"})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    added = await receive_type(communicator, "messages.added")
    transcript.apply(added)
    assistant_id = added["messages"][1]["id"]
    while not transcript.messages[assistant_id]["content"]:
        transcript.apply(await receive(communicator))

    await shutdown.drain(0.1)

    seen = dict(transcript.messages[assistant_id])
    end = await run_until_end(communicator, transcript, timeout=5)
    final = end["message"]
    assert final["status"] == "interrupted"
    assert final["error"]["code"] == "server_shutdown"
    assert final["content"].startswith(seen["content"])
    stored = await database_sync_to_async(Message.objects.get)(pk=assistant_id)
    assert (stored.status, stored.error_code) == ("interrupted", "server_shutdown")
    assert (stored.reasoning, stored.content) == (final["reasoning"], final["content"])

    await send(communicator, {"type": "retry", "message_id": assistant_id})
    assert (await receive_type(communicator, "error"))["code"] == "shutting_down"
    await send(communicator, {"type": "send", "conversation_id": None, "content": "more"})
    assert (await receive_type(communicator, "error"))["code"] == "shutting_down"
    assert await database_sync_to_async(Conversation.objects.count)() == 1
    await communicator.disconnect()
