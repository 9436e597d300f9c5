"""A bug inside the streaming task (docs/reliability.md, server faults): the answer ends as a
retryable internal error with the text so far, instead of streaming forever."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.models import Message
from chat.streaming.generation import Generation
from chat.upstream import AnswerDelta
from tests.fake_answers import fake_tokens
from tests.wsclient import Transcript, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_bug_in_the_generation_ends_the_answer_as_a_retryable_internal_error(
    sockets, alice, monkeypatch
):
    real_apply = Generation._apply

    def apply_until_the_answer(self, event):
        if isinstance(event, AnswerDelta):
            raise ZeroDivisionError("a bug")
        real_apply(self, event)

    monkeypatch.setattr(Generation, "_apply", apply_until_the_answer)
    text = "Crash [[fake tps=0 reasoning=30]]"
    tab, _ = await sockets.open(alice)
    await send(tab, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    transcript.apply(await receive_type(tab, "snapshot"))
    transcript.apply(await receive_type(tab, "messages.added"))

    final = (await run_until_end(tab, transcript))["message"]

    error = final["error"]
    assert (final["status"], error["code"], error["retryable"]) == (
        "failed",
        "internal_error",
        True,
    )
    assert error["message"] == (
        "minimax-web hit an internal error while streaming. Try again. (internal_error)"
    )
    reasoning = "".join(fake_tokens(text)[0])
    assert (final["reasoning"], final["content"]) == (reasoning, "")
    stored = await sync_to_async(Message.objects.get)(pk=final["id"])
    assert (stored.status, stored.error_code, stored.reasoning, stored.content) == (
        "failed",
        "internal_error",
        reasoning,
        "",
    )
