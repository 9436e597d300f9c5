"""The database briefly locked or unreachable mid-answer: the answer goes on, and once the
database answers again the stored text is exactly what the client received."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError

from chat import services
from chat.models import Message
from chat.streaming import generation
from tests.wsclient import Transcript, receive_type, run_until_end, send

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "[[fake tps=100 reasoning_tokens=60 answer=long]]"


def _failing_first(real, failures: int):
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise OperationalError("database is locked")
        return real(**kwargs)

    return flaky, calls


async def test_an_answer_survives_failed_checkpoints_and_a_failed_final_save(
    sockets, alice, settings, monkeypatch
):
    settings.GENERATION_CHECKPOINT_SECONDS = 0.1
    monkeypatch.setattr(generation, "FINAL_SAVE_RETRY_DELAYS", (0.05, 0.05, 0.05))
    checkpoint, checkpoints = _failing_first(services.message_checkpoint, 5)
    finish, finishes = _failing_first(services.message_finish, 2)
    monkeypatch.setattr(services, "message_checkpoint", checkpoint)
    monkeypatch.setattr(services, "message_finish", finish)

    communicator, _ = await sockets.open(alice)
    await send(communicator, {"type": "send", "conversation_id": None, "content": f"go {SLOW}"})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))
    end = await run_until_end(communicator, transcript, timeout=30)

    assert checkpoints["n"] > 5 and finishes["n"] == 3
    assert end["message"]["status"] == "complete"
    stored = await sync_to_async(Message.objects.get)(pk=end["message_id"])
    assert stored.status == "complete"
    seen = transcript.messages[end["message_id"]]
    assert (stored.reasoning, stored.content) == (seen["reasoning"], seen["content"])
