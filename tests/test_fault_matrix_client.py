"""Client faults of docs/reliability.md that no other test covers: a tab closed or reloaded
mid-answer, a dropped connection (or a laptop that slept) coming back, a double submit, Stop
before the first token and during the reasoning, and a logout while an answer streams. Each
runs through the real ASGI app with the offline demo transport, and ends by comparing what the
client shows with the stored row and with the exact text the fake streamed."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat.models import Message
from chat.streaming import registry
from tests.fake_answers import fake_answer
from tests.wsclient import (
    Transcript,
    log_out,
    receive,
    receive_type,
    run_until_end,
    send,
    session_cookie_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

# About a second of reasoning, then two seconds of answer.
STREAM = "[[fake tps=60 reasoning=60 tokens=120]]"


async def _start(communicator, text: str) -> tuple[Transcript, int, int]:
    """Send `text` in a new chat; returns the transcript, conversation id, assistant id."""
    await send(communicator, {"type": "send", "conversation_id": None, "content": text})
    transcript = Transcript()
    transcript.apply(await receive_type(communicator, "snapshot"))
    added = await receive_type(communicator, "messages.added")
    transcript.apply(added)
    return transcript, added["conversation_id"], added["messages"][1]["id"]


async def _until(communicator, transcript: Transcript, message_id: int, field: str) -> None:
    """Apply frames until the message has some text in `field` ("reasoning" or "content")."""
    while not transcript.messages[message_id][field]:
        transcript.apply(await receive(communicator))


async def _generation_ended(conversation_id: int) -> None:
    """Wait for the conversation's generation task to finish (it owns the answer, not the
    socket)."""
    generation = registry.generation_for(conversation_id)
    if generation is not None:
        await asyncio.wait_for(asyncio.shield(generation.task), timeout=30)


async def _stored(message_id: int) -> Message:
    return await sync_to_async(Message.objects.get)(pk=message_id)


async def _subscribe(communicator, conversation_id: int) -> tuple[Transcript, dict]:
    await send(communicator, {"type": "subscribe", "conversation_id": conversation_id})
    snapshot = await receive_type(communicator, "snapshot")
    transcript = Transcript()
    transcript.apply(snapshot)
    return transcript, snapshot


async def test_a_tab_closed_mid_answer_does_not_stop_it_and_the_whole_answer_is_stored(
    sockets, alice
):
    text = f"Close me {STREAM}"
    tab, _ = await sockets.open(alice)
    transcript, conversation_id, message_id = await _start(tab, text)
    await _until(tab, transcript, message_id, "reasoning")

    await tab.disconnect()
    await _generation_ended(conversation_id)

    stored = await _stored(message_id)
    assert stored.status == "complete"
    assert (stored.reasoning, stored.content) == fake_answer(text)


@pytest.mark.parametrize(
    "phase", ["reasoning", "content"], ids=["during reasoning", "during answer"]
)
async def test_a_reloaded_page_gets_the_exact_answer(sockets, alice, phase):
    text = f"Reload me {STREAM}"
    tab, _ = await sockets.open(alice)
    transcript, conversation_id, message_id = await _start(tab, text)
    await _until(tab, transcript, message_id, phase)
    await tab.disconnect()

    reloaded, _ = await sockets.open(alice)
    late, snapshot = await _subscribe(reloaded, conversation_id)
    message = next(m for m in snapshot["messages"] if m["id"] == message_id)
    assert message["status"] == "streaming"
    assert message["reasoning"]
    if phase == "reasoning":
        assert message["seq"] > 0
    else:
        assert message["content"], "the reload came while the answer was streaming"
    end = await run_until_end(reloaded, late)

    stored = await _stored(message_id)
    assert stored.status == end["message"]["status"] == "complete"
    seen = late.messages[message_id]
    assert (seen["reasoning"], seen["content"]) == (stored.reasoning, stored.content)
    assert (stored.reasoning, stored.content) == fake_answer(text)


@pytest.mark.parametrize("back", ["while it runs", "after it ended"])
async def test_a_dropped_connection_that_comes_back_gets_the_exact_final_text(sockets, alice, back):
    """A network drop (or a laptop that slept): the socket is gone without a word, and a new
    one subscribes again, like socket.js after a reconnect."""
    text = f"Drop me {STREAM}"
    session_key = await session_cookie_for(alice)
    tab, _ = await sockets.open(alice, session_key=session_key)
    transcript, conversation_id, message_id = await _start(tab, text)
    await _until(tab, transcript, message_id, "reasoning")
    await tab.disconnect()
    if back == "after it ended":
        await _generation_ended(conversation_id)

    again, _ = await sockets.open(alice, session_key=session_key)
    late, snapshot = await _subscribe(again, conversation_id)
    message = next(m for m in snapshot["messages"] if m["id"] == message_id)
    if back == "while it runs":
        assert message["status"] == "streaming"
        final = (await run_until_end(again, late))["message"]
    else:
        assert message["status"] == "complete"
        final = message

    stored = await _stored(message_id)
    assert stored.status == final["status"] == "complete"
    seen = late.messages[message_id]
    assert (seen["reasoning"], seen["content"]) == (stored.reasoning, stored.content)
    assert (stored.reasoning, stored.content) == fake_answer(text)


@sync_to_async
def _messages_of(conversation_id: int) -> list[tuple[str, str]]:
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("id")
        .values_list("role", "status")
    )


@pytest.mark.parametrize("where", ["one tab", "two tabs"])
async def test_a_double_submit_gets_one_answer_and_one_busy_error(sockets, alice, where):
    first, _ = await sockets.open(alice)
    transcript, conversation_id, _ = await _start(first, "Hello [[fake tps=0]]")
    await run_until_end(first, transcript)
    second = first if where == "one tab" else (await sockets.open(alice))[0]
    await _subscribe(second, conversation_id)

    frame = {"type": "send", "conversation_id": conversation_id, "content": f"Twice {STREAM}"}
    await asyncio.gather(send(first, frame), send(second, frame))

    frames = {first: [], second: []}
    errors = []
    ended = None
    while ended is None or len(errors) < 1:
        for tab in {first, second}:
            if await tab.receive_nothing(timeout=0.01):
                continue
            got = await receive(tab)
            frames[tab].append(got)
            if got["type"] == "error":
                errors.append(got)
            elif got["type"] == "end":
                ended = got
    assert [e["code"] for e in errors] == ["busy"]
    assert ended["message"]["status"] == "complete"
    added = [f for f in frames[first] if f["type"] == "messages.added"]
    assert len(added) == 1, "one answer started"
    assert await _messages_of(conversation_id) == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]


async def test_stop_before_the_first_token_ends_the_answer_empty_and_stopped(sockets, alice):
    tab, _ = await sockets.open(alice)
    # The upstream has not even sent its headers yet.
    transcript, conversation_id, message_id = await _start(tab, "Hi [[fake headers_delay=30]]")

    await send(tab, {"type": "stop", "conversation_id": conversation_id})
    end = await run_until_end(tab, transcript, timeout=3)

    final = end["message"]
    assert (final["status"], final["error"], final["reasoning"], final["content"]) == (
        "stopped",
        None,
        "",
        "",
    )
    assert not [f for f in transcript.frames if f["type"] == "delta"]
    stored = await _stored(message_id)
    assert (stored.status, stored.reasoning, stored.content, stored.error_code) == (
        "stopped",
        "",
        "",
        "",
    )


async def test_stop_during_the_reasoning_keeps_exactly_the_reasoning_seen(sockets, alice):
    tab, _ = await sockets.open(alice)
    text = "Think [[fake tps=40 reasoning=400]]"
    transcript, conversation_id, message_id = await _start(tab, text)
    await _until(tab, transcript, message_id, "reasoning")

    await send(tab, {"type": "stop", "conversation_id": conversation_id})
    end = await run_until_end(tab, transcript, timeout=3)

    final = end["message"]
    assert (final["status"], final["error"], final["content"]) == ("stopped", None, "")
    full_reasoning, _ = fake_answer(text)
    assert final["reasoning"] and full_reasoning.startswith(final["reasoning"])
    assert final["reasoning"] != full_reasoning
    seen = transcript.messages[message_id]
    stored = await _stored(message_id)
    assert stored.status == "stopped"
    assert (stored.reasoning, stored.content) == (seen["reasoning"], seen["content"])
    assert (stored.reasoning, stored.content) == (final["reasoning"], "")


async def test_logout_mid_answer_closes_the_socket_and_the_answer_is_still_stored(sockets, alice):
    text = f"Log me out {STREAM}"
    session_key = await session_cookie_for(alice)
    tab, _ = await sockets.open(alice, session_key=session_key)
    transcript, conversation_id, message_id = await _start(tab, text)
    await _until(tab, transcript, message_id, "reasoning")

    await log_out(session_key)
    while (output := await tab.receive_output(timeout=2))["type"] != "websocket.close":
        pass
    assert output == {"type": "websocket.close", "code": 4401}
    await _generation_ended(conversation_id)

    stored = await _stored(message_id)
    assert stored.status == "complete"
    assert (stored.reasoning, stored.content) == fake_answer(text)
