"""Usage records of answers that end without a usage report, and of answers found dead."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Conversation, Message
from tests.wsclient import Transcript, receive, receive_type, run_until_end, send
from usage.estimate import prompt_tokens, text_tokens
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "[[fake tps=40 reasoning_tokens=40 answer=long]]"
FAST = "[[fake tps=0 reasoning_tokens=5]]"


async def _start(communicator, text: str) -> tuple[Transcript, int, int]:
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    created = await receive_type(communicator, "conversation.created")
    transcript.apply(await receive_type(communicator, "snapshot"))
    added = await receive_type(communicator, "messages.added")
    transcript.apply(added)
    return transcript, created["conversation"]["id"], added["messages"][1]["id"]


async def test_a_stopped_answer_is_recorded_with_estimated_usage(sockets, alice):
    communicator, _ = await sockets.open(alice)
    text = f"Write a lot {SLOW}"
    transcript, conversation_id, assistant_id = await _start(communicator, text)
    while not transcript.messages[assistant_id]["reasoning"]:
        transcript.apply(await receive(communicator))
    await send(communicator, {"type": "stop", "conversation_id": conversation_id})
    final = (await run_until_end(communicator, transcript, timeout=5))["message"]

    record = await sync_to_async(UsageRecord.objects.get)(message_id=assistant_id)
    assert (record.outcome, record.estimated, record.demo) == ("stopped", True, True)
    assert record.prompt_tokens == prompt_tokens([{"role": "user", "content": text}])
    assert record.reasoning_tokens == text_tokens(final["reasoning"]) > 0
    assert record.completion_tokens == record.reasoning_tokens + text_tokens(final["content"])
    assert record.cost == 0 and record.currency == ""


async def test_a_complete_demo_answer_records_the_reported_usage(sockets, alice):
    communicator, _ = await sockets.open(alice)
    transcript, _, assistant_id = await _start(communicator, f"hi {FAST}")
    final = (await run_until_end(communicator, transcript))["message"]

    record = await sync_to_async(UsageRecord.objects.get)(message_id=assistant_id)
    assert (record.outcome, record.estimated, record.user_id) == ("complete", False, alice.pk)
    assert record.reasoning_tokens == final["usage"]["reasoning_tokens"] == 5
    assert record.prompt_tokens == final["usage"]["prompt_tokens"]


def test_an_answer_found_dead_settles_its_record_as_interrupted(alice):
    conversation = Conversation.objects.create(owner=alice)
    sent = services.message_send(conversation=conversation, text="hello there", demo=True)
    record = UsageRecord.objects.get(message=sent.assistant_message)
    assert record.outcome == "running" and record.reserved_tokens > 0

    services.conversation_interrupt_orphans(
        conversation=conversation, live_ids=set(), stale_after=None
    )

    record.refresh_from_db()
    assert Message.objects.get(pk=sent.assistant_message.pk).status == "interrupted"
    assert (record.outcome, record.estimated) == ("interrupted", True)
    assert record.prompt_tokens == record.reserved_tokens
