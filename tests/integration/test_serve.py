"""One Daphne process per core behind one port (minimax_web.serve, `make serve`): supervisord
hands the listening socket to every process, connections land on all of them, an answer on
one process is followed and stopped from another, and a process that dies is replaced while
the port keeps serving. SIGTERM with exact text is in test_graceful_shutdown.py."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chat.fakeupstream.testing import start_fake_upstream
from minimax_web.serve import ServePlan, supervisord_config
from tests.follower import Follower
from tests.liveserver import (
    REPO,
    LiveApp,
    app_env,
    login_cookie,
    next_frame,
    open_socket,
    prepare,
    run_served,
    served_processes,
)

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (several processes)"
)
ESTABLISHED = "01"


def test_supervisord_waits_out_the_drain_before_it_kills(tmp_path):
    plan = ServePlan(processes=3, host="0.0.0.0", port=8000, run_dir=tmp_path, stop_wait_seconds=10)
    config = supervisord_config(plan)
    assert "numprocs=3" in config
    assert "socket=tcp://0.0.0.0:8000" in config
    assert "-m daphne --fd 0 minimax_web.asgi:application" in config
    assert "stopsignal=TERM" in config
    assert "stopwaitsecs=10" in config


def test_more_than_one_process_without_redis_is_refused_with_the_reason(tmp_path):
    env = app_env(tmp_path, "http://127.0.0.1:9/compatible-mode/v1")
    result = subprocess.run(
        [sys.executable, "-m", "minimax_web.serve", "--processes", "2", "--port", "9"],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "needs REDIS_URL" in result.stderr


def _connection_owners(port: int, pids: list[int]) -> dict[int, int]:
    """Client port → PID of the server process holding that connection (Linux /proc)."""
    inode_owner = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inode_owner[target[8:-1]] = pid
    owners = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            on_port = int(local.rsplit(":", 1)[1], 16) == port
            if state == ESTABLISHED and on_port and inode in inode_owner:
                owners[int(remote.rsplit(":", 1)[1], 16)] = inode_owner[inode]
    return owners


async def _sockets_on_every_process(app: LiveApp, cookie: str, attempts: int = 60) -> dict:
    """Open sockets until every process holds one; returns PID → one socket on it."""
    port = int(app.url.rsplit(":", 1)[1])
    pids = served_processes(app)
    by_process: dict[int, object] = {}
    spare = []
    for _ in range(attempts):
        socket = await open_socket(app, cookie)
        await asyncio.sleep(0.05)  # let the accepting process register the connection
        owner = _connection_owners(port, pids).get(socket.local_address[1])
        if owner is not None and owner not in by_process:
            by_process[owner] = socket
        else:
            spare.append(socket)
        if len(by_process) == len(pids):
            break
    for socket in spare:
        await socket.close()
    return by_process


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("served")
    with start_fake_upstream(["--tps", "40"]) as fake:
        env = app_env(data_dir, fake.url, REDIS_URL=os.environ["REDIS_URL"])
        prepare(env)
        with run_served(env, data_dir / "served.log", processes=2) as app:
            yield app, login_cookie(app)


@needs_redis
async def test_connections_land_on_every_process_and_an_answer_crosses_them(served):
    app, cookie = served
    sockets = await _sockets_on_every_process(app, cookie)
    assert len(sockets) == 2, f"connections reached only {list(sockets)}"
    owner, watcher = sockets.values()

    await owner.send(
        json.dumps(
            {
                "type": "send",
                "conversation_id": None,
                "content": "across processes [[fake tps=40 reasoning=30 answer=long]]",
            }
        )
    )
    conversation_id = (await next_frame(owner, "conversation.created"))["conversation"]["id"]
    message_id = (await next_frame(owner, "messages.added"))["messages"][1]["id"]
    subscribe = json.dumps({"type": "subscribe", "conversation_id": conversation_id})

    async def follow(socket) -> dict:
        follower = Follower(conversation_id, message_id)
        return await follower.follow(
            lambda: next_frame(socket, timeout=5), lambda: socket.send(subscribe), deadline=60
        )

    await watcher.send(subscribe)
    followed, owned = await asyncio.gather(follow(watcher), follow(owner))
    assert followed["status"] == owned["status"] == "complete"
    assert (followed["reasoning"], followed["content"]) == (owned["reasoning"], owned["content"])
    assert len(owned["content"]) > 500
    for socket in sockets.values():
        await socket.close()


@needs_redis
async def test_stop_from_another_process_stops_the_answer(served):
    app, cookie = served
    owner, other = (await _sockets_on_every_process(app, cookie)).values()
    await owner.send(
        json.dumps(
            {
                "type": "send",
                "conversation_id": None,
                "content": "stop me [[fake tps=20 answer=long]]",
            }
        )
    )
    conversation_id = (await next_frame(owner, "conversation.created"))["conversation"]["id"]
    await next_frame(owner, "delta")
    await other.send(json.dumps({"type": "stop", "conversation_id": conversation_id}))
    end = await next_frame(owner, "end", timeout=10)
    assert end["message"]["status"] == "stopped"
    await owner.close()
    await other.close()


@needs_redis
def test_a_process_that_dies_is_replaced_and_the_port_keeps_serving(served):
    import httpx

    app, _cookie = served
    before = served_processes(app)
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    after = before
    while time.monotonic() < deadline:
        after = served_processes(app)
        if len(after) == 2 and before[0] not in after:
            break
        time.sleep(0.1)
    assert len(after) == 2 and before[0] not in after, after
    for _ in range(10):
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
