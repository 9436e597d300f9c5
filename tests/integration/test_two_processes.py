"""Two Daphne processes sharing one database and Redis (DESIGN §7 level 5): a socket on one
process follows a generation that runs on the other, and Stop reaches the owning process.
Runs when REDIS_URL is set (.ci/run sets it); the in-memory layer cannot cross processes."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from chat.fakeupstream.testing import start_fake_upstream
from tests.follower import Follower
from tests.liveserver import (
    app_env,
    login_cookie,
    next_frame,
    open_socket,
    prepare,
    run_daphne,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (two processes)"),
]


@pytest.fixture(scope="module")
def two_apps(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("two-proc")
    with start_fake_upstream(["--tps", "40"]) as fake:
        # SQLite in WAL mode is shared safely by two processes on one machine; the channel
        # layer is the part under test here.
        env = app_env(data_dir, fake.url, REDIS_URL=os.environ["REDIS_URL"])
        prepare(env)
        with (
            run_daphne(env, data_dir / "a.log") as first,
            run_daphne(env, data_dir / "b.log") as second,
        ):
            yield first, second, login_cookie(first)


async def _follow(socket, conversation_id: int, message_id: int) -> tuple[dict, int]:
    """Follow the message as the browser does (tests/follower.py: the replica's sequence rules,
    a new snapshot on a gap at most once a second) until it has ended. Returns it and how many
    subscribes it took: a socket on another process gets snapshots from the database
    checkpoint, so it sees gaps until the end."""
    follower = Follower(conversation_id, message_id)
    subscribe = json.dumps({"type": "subscribe", "conversation_id": conversation_id})
    message = await follower.follow(
        lambda: next_frame(socket, timeout=5), lambda: socket.send(subscribe), deadline=60
    )
    return message, follower.subscribes


async def _start_chat(app, cookie: str, text: str):
    socket = await open_socket(app, cookie)
    await socket.send(json.dumps({"type": "send", "conversation_id": None, "content": text}))
    created = await next_frame(socket, "conversation.created")
    added = await next_frame(socket, "messages.added")
    return socket, created["conversation"]["id"], added["messages"][1]["id"]


async def test_a_socket_on_another_process_follows_the_stream_exactly(two_apps):
    first, second, cookie = two_apps
    owner, conversation_id, message_id = await _start_chat(
        first, cookie, "two processes [[fake tps=40 reasoning=40 answer=long]]"
    )
    watcher = await open_socket(second, cookie)
    await next_frame(owner, "delta")
    (followed, _), (owned, _) = await asyncio.gather(
        _follow(watcher, conversation_id, message_id), _follow(owner, conversation_id, message_id)
    )
    assert followed["status"] == "complete"
    assert followed["content"] == owned["content"]
    assert followed["reasoning"] == owned["reasoning"]
    assert len(followed["content"]) > 500
    await owner.close()
    await watcher.close()


async def test_stop_sent_to_another_process_stops_the_generation(two_apps):
    first, second, cookie = two_apps
    owner, conversation_id, _message_id = await _start_chat(
        first, cookie, "stop me [[fake tps=20 answer=long]]"
    )
    await next_frame(owner, "delta")
    other = await open_socket(second, cookie)
    await other.send(json.dumps({"type": "stop", "conversation_id": conversation_id}))
    end = await next_frame(owner, "end", timeout=10)
    assert end["message"]["status"] == "stopped"
    assert end["message"]["reasoning"]
    await owner.close()
    await other.close()
