"""A killed app server mid-answer: after a restart the answer is shown as interrupted with the
text of its last checkpoint, and Retry streams it again. Nothing the user saw before the last
checkpoint is lost."""

from __future__ import annotations

import json

import pytest

from chat.fakeupstream.testing import start_fake_upstream
from tests.liveserver import (
    app_env,
    login_cookie,
    next_frame,
    open_socket,
    prepare,
    run_daphne,
)

pytestmark = pytest.mark.asyncio


async def test_a_killed_server_leaves_an_interrupted_answer_that_can_be_retried(tmp_path):
    with start_fake_upstream(["--tps", "40"]) as fake:
        env = app_env(tmp_path, fake.url)
        prepare(env)
        with run_daphne(env, tmp_path / "first.log") as first:
            cookie = login_cookie(first)
            socket = await open_socket(first, cookie)
            await socket.send(
                json.dumps(
                    {"type": "send", "conversation_id": None,
                     "content": "long [[fake tps=40 reasoning=200 answer=long]]"}
                )
            )  # fmt: skip
            conversation_id = (await next_frame(socket, "conversation.created"))["conversation"][
                "id"
            ]
            seen = ""
            while len(seen) < 400:  # well past the first one-second checkpoint
                seen += (await next_frame(socket, "delta"))["reasoning"]
            first.process.kill()

        with run_daphne(env, tmp_path / "second.log") as second:
            socket = await open_socket(second, login_cookie(second))
            await socket.send(json.dumps({"type": "subscribe", "conversation_id": conversation_id}))
            snapshot = await next_frame(socket, "snapshot")
            answer = snapshot["messages"][1]
            assert answer["status"] == "interrupted"
            assert answer["reasoning"], "the checkpointed reasoning survived the crash"
            assert seen.startswith(answer["reasoning"]) or answer["reasoning"].startswith(seen)

            await socket.send(json.dumps({"type": "retry", "message_id": answer["id"]}))
            end = await next_frame(socket, "end", timeout=60)
            assert end["message"]["status"] == "complete"
            await socket.close()
