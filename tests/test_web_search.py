"""The web search toggle through the consumer: remembered per conversation, sent upstream, and
the sources of the native protocol stored and shown with the answer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat.fakeupstream.search import SEARCH_RESULTS
from chat.models import Conversation, Message
from tests.wsclient import Transcript, connect, receive, receive_type, run_until_end, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

PROMPT = "Search this [[fake tps=0 kind=short]]"


async def ask(communicator, conversation_id, **extra) -> dict:
    frame = {"type": "send", "conversation_id": conversation_id, "content": PROMPT, **extra}
    await send(communicator, frame)
    transcript = Transcript()
    if conversation_id is None:
        transcript.apply(await receive_type(communicator, "snapshot"))
    transcript.apply(await receive_type(communicator, "messages.added"))
    return await run_until_end(communicator, transcript)


async def test_on_the_native_protocol_the_answer_carries_its_sources(alice, settings):
    settings.OFFLINE_DEMO_PROTOCOL = "dashscope_native"
    communicator, _ = await connect(alice)

    end = await ask(communicator, None, search=True)

    final = end["message"]
    assert [source["url"] for source in final["sources"]] == [r["url"] for r in SEARCH_RESULTS]
    assert final["sources"][0] == SEARCH_RESULTS[0]
    assert "[1][2][3]." in final["content"]
    stored = await database_sync_to_async(Message.objects.get)(pk=final["id"])
    assert stored.search_sources == final["sources"]
    conversation = await database_sync_to_async(Conversation.objects.get)()
    assert conversation.enable_search is True
    await communicator.disconnect()


async def test_on_the_compatible_protocol_search_is_sent_but_no_sources_come(alice, settings):
    settings.OFFLINE_DEMO_PROTOCOL = "openai_compat"
    communicator, _ = await connect(alice)

    end = await ask(communicator, None, search=True)

    assert end["message"]["sources"] == []
    assert end["message"]["status"] == "complete"
    await communicator.disconnect()


async def test_the_toggle_is_remembered_until_a_send_changes_it(alice, settings):
    settings.OFFLINE_DEMO_PROTOCOL = "dashscope_native"
    communicator, _ = await connect(alice)
    first = await ask(communicator, None, search=True)
    conversation_id = (await database_sync_to_async(Conversation.objects.get)()).pk

    kept = await ask(communicator, conversation_id)
    turned_off = await ask(communicator, conversation_id, search=False)

    assert first["message"]["sources"] and kept["message"]["sources"]
    assert turned_off["message"]["sources"] == []
    conversation = await database_sync_to_async(Conversation.objects.get)()
    assert conversation.enable_search is False
    await communicator.disconnect()


async def test_a_search_flag_that_is_not_a_boolean_is_refused(alice):
    communicator, _ = await connect(alice)
    await send(
        communicator, {"type": "send", "conversation_id": None, "content": "x", "search": "yes"}
    )

    error = await receive(communicator)

    assert (error["type"], error["code"]) == ("error", "invalid_frame")
    assert "'search' must be true or false" in error["message"]
    await communicator.disconnect()
