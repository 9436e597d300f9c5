"""SIGTERM to a real Daphne process mid-answer: new answers are refused, running ones get
SHUTDOWN_DRAIN_SECONDS to finish, the rest end as interrupted with every character the client
saw saved and an `end` frame sent, and then the process exits by itself
(chat/streaming/shutdown.py, minimax_web/graceful_shutdown.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from chat.fakeupstream.testing import start_fake_upstream
from tests.liveserver import (
    app_env,
    login_cookie,
    next_frame,
    open_socket,
    prepare,
    run_daphne,
    run_served,
)

pytestmark = pytest.mark.asyncio


def _launchers():
    """Daphne alone (`make run`), and under supervisord (`make serve`) with one process and,
    when Redis is there, with two: SIGTERM reaches every process and each drains."""
    yield pytest.param(run_daphne, {}, id="daphne")
    yield pytest.param(lambda env, log: run_served(env, log, processes=1), {}, id="serve-1")
    redis_url = os.environ.get("REDIS_URL")
    yield pytest.param(
        lambda env, log: run_served(env, log, processes=2),
        {"REDIS_URL": redis_url or ""},
        id="serve-2",
        marks=pytest.mark.skipif(not redis_url, reason="needs REDIS_URL (two processes)"),
    )


class Answer:
    """The assistant message of one `send`, assembled from its frames by the sequence rules."""

    def __init__(self) -> None:
        self.message_id: int | None = None
        self.seq = 0
        self.reasoning = ""
        self.content = ""
        self.end: dict | None = None

    def apply(self, frame: dict) -> None:
        if frame["type"] == "messages.added":
            self.message_id = frame["messages"][1]["id"]
        elif frame["type"] in ("delta", "end") and frame["message_id"] == self.message_id:
            assert frame["seq"] == self.seq + 1, f"gap: {self.seq} -> {frame['seq']}"
            self.seq = frame["seq"]
            if frame["type"] == "delta":
                self.reasoning += frame["reasoning"]
                self.content += frame["content"]
            else:
                self.end = frame["message"]


async def _send(socket, content: str) -> None:
    await socket.send(json.dumps({"type": "send", "conversation_id": None, "content": content}))


def _stored(data_dir: Path, message_id: int) -> dict:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT status, reasoning, content, error_code FROM chat_message WHERE id = ?",
            (message_id,),
        ).fetchone()
    return dict(row)


@pytest.mark.parametrize(("launch", "topology"), list(_launchers()))
async def test_an_answer_cut_by_shutdown_is_saved_as_interrupted_with_all_text_seen(
    tmp_path, launch, topology
):
    drain = 0.5
    with start_fake_upstream() as fake:
        env = app_env(tmp_path, fake.url, SHUTDOWN_DRAIN_SECONDS=str(drain), **topology)
        prepare(env)
        with launch(env, tmp_path / "daphne.log") as app:
            socket = await open_socket(app, login_cookie(app))
            await _send(socket, "Tell me a lot. [[fake tps=20 reasoning=10 answer=long]]")
            answer = Answer()
            while not answer.content:  # reasoning done, the answer under way
                answer.apply(await next_frame(socket))

            app.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            while answer.end is None:
                answer.apply(await next_frame(socket, timeout=drain + 5))
            await socket.close()
            app.process.wait(timeout=drain + 5)
            exited_after = time.monotonic() - signalled

        assert answer.end["status"] == "interrupted"
        assert answer.end["error"]["code"] == "server_shutdown"
        assert (answer.end["reasoning"], answer.end["content"]) == (
            answer.reasoning,
            answer.content,
        )
        stored = _stored(tmp_path, answer.message_id)
        assert stored == {
            "status": "interrupted",
            "reasoning": answer.reasoning,
            "content": answer.content,
            "error_code": "server_shutdown",
        }
        # Far below the answer's own length (half a minute or more at 20 tokens/s): the drain
        # was not waited out by the answer. The margin absorbs process start-up on a loaded machine.
        assert exited_after < drain + 10, exited_after
        assert "interrupted 1 unfinished answer" in app.logs()


async def test_an_answer_that_ends_within_the_drain_completes_and_new_ones_are_refused(
    tmp_path,
):
    drain = 8.0
    with start_fake_upstream() as fake:
        env = app_env(tmp_path, fake.url, SHUTDOWN_DRAIN_SECONDS=str(drain))
        prepare(env)
        with run_daphne(env, tmp_path / "daphne.log") as app:
            socket = await open_socket(app, login_cookie(app))
            await _send(socket, "A short one. [[fake tps=20 reasoning=10 tokens=30]]")
            answer = Answer()
            while not answer.seq:
                answer.apply(await next_frame(socket))

            app.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await asyncio.sleep(0.3)  # the signal is handled on the server's event loop
            await _send(socket, "Another question")
            refusal = None
            while answer.end is None or refusal is None:
                frame = await next_frame(socket, timeout=drain)
                if frame["type"] == "error":
                    refusal = frame
                else:
                    answer.apply(frame)
            await socket.close()
            app.process.wait(timeout=drain + 5)
            exited_after = time.monotonic() - signalled

        assert refusal["code"] == "shutting_down"
        assert refusal["request_type"] == "send"
        assert answer.end["status"] == "complete"
        assert answer.end["content"] == answer.content
        assert _stored(tmp_path, answer.message_id)["status"] == "complete"
        # It stopped when the answer was done, not at the end of the drain time.
        assert exited_after < drain, exited_after
