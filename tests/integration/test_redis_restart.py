"""Redis restarted mid-answer. The app runs as a real Daphne process with REDIS_URL pointing at a
private redis-server (no persistence, so a restart loses every group membership and queued
message, as a restarted Redis without a save does). A client that follows the browser's rules
(tests/follower.py: re-subscribe on a gap or a silent stream, reconnect when the socket closes)
must end with the exact full answer, and the stored row must hold it too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import websockets

from chat.fakeupstream.scenarios import Scenario, prompt_of, scenario_from
from chat.fakeupstream.testing import start_fake_upstream, stop_process
from chat.fakeupstream.texts import answer_text, reasoning_text
from tests.follower import Follower, SocketClosed
from tests.liveserver import (
    app_env,
    free_port,
    login_cookie,
    next_frame,
    open_socket,
    prepare,
    run_daphne,
)

pytestmark = pytest.mark.asyncio

TPS = 40
PROMPT = "Tell me a long story [[fake reasoning=80 tokens=240]]"  # 8 s at 40 tokens a second
SILENCE = 3.0  # the browser waits 20 s (app.js SILENT_STREAM_MS); the rule is the same


@dataclass
class PrivateRedis:
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(self.log_path.read_text()) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)  # the outage itself
        self.start()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _expected() -> tuple[str, str]:
    """What the fake upstream (started with --tps 40) streams for PROMPT."""
    messages = [{"role": "user", "content": PROMPT}]
    scenario = scenario_from({}, messages, Scenario(tokens_per_second=TPS))
    prompt = prompt_of(messages)
    return reasoning_text(scenario, prompt), answer_text(scenario, prompt)


def _stored(data_dir: Path, message_id: int) -> dict:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT status, reasoning, content FROM chat_message WHERE id = ?", (message_id,)
        ).fetchone()
    return dict(row)


class Tab:
    """A browser tab's socket that reconnects when the server closes it."""

    def __init__(self, app, cookie: str) -> None:
        self.app, self.cookie = app, cookie
        self.socket = None

    async def connect(self) -> None:
        """Open a new socket, backing off between failed attempts like socket.js."""
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()
        for attempt in range(8):
            try:
                self.socket = await open_socket(self.app, self.cookie)
                return
            except (OSError, websockets.InvalidHandshake):
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError("could not reconnect")

    async def receive(self) -> dict:
        try:
            return json.loads(await asyncio.wait_for(self.socket.recv(), timeout=SILENCE))
        except websockets.ConnectionClosed as closed:
            raise SocketClosed(str(closed)) from closed

    async def send(self, frame: dict) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):  # seen by the next receive
            await self.socket.send(json.dumps(frame))


@pytest.mark.parametrize("down_for", [0.0, 2.0], ids=["restarted at once", "down for 2 s"])
async def test_a_redis_restart_mid_answer_loses_no_text(tmp_path, private_redis, down_for):
    with start_fake_upstream(["--tps", str(TPS)]) as fake:
        env = app_env(tmp_path, fake.url, REDIS_URL=private_redis.url)
        prepare(env)
        with run_daphne(env, tmp_path / "daphne.log") as app:
            tab = Tab(app, login_cookie(app))
            await tab.connect()
            await tab.send({"type": "send", "conversation_id": None, "content": PROMPT})
            conversation_id = (await next_frame(tab.socket, "conversation.created"))[
                "conversation"
            ]["id"]
            message_id = (await next_frame(tab.socket, "messages.added"))["messages"][1]["id"]
            follower = Follower(conversation_id, message_id)

            async def subscribe() -> None:
                await tab.send({"type": "subscribe", "conversation_id": conversation_id})

            await subscribe()
            while follower.message is None or not follower.message["reasoning"]:
                # A delta may overtake the first snapshot (the sending socket is already in the
                # group); the subscribe above answers that. After it, nothing may be missed.
                gap = follower.apply(await tab.receive())
                assert not (gap and follower.snapshots), "no gap before the restart"

            private_redis.restart(down_for)

            final = await follower.follow(
                tab.receive, subscribe, reconnect=tab.connect, deadline=60
            )

    reasoning, content = _expected()
    # The restart was felt: the socket was closed (channels_redis raises in the consumer that
    # was reading) or went silent, and the client came back for a new snapshot.
    assert follower.reconnects + follower.silences + follower.gaps >= 1, follower
    assert final["status"] == "complete"
    assert (final["reasoning"], final["content"]) == (reasoning, content)
    assert _stored(tmp_path, message_id) == {
        "status": "complete",
        "reasoning": reasoning,
        "content": content,
    }
