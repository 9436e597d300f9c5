"""A client that asks for a lot and reads nothing cannot make the server buffer without limit:
its socket is closed once its unsent output passes MAX_WS_UNSENT_BYTES, the server's memory
stays where it was, and other clients are served as before (minimax_web/ws_output_bound.py).

Runs the app as a real Daphne process: the buffering under test is Twisted's, which the
in-process communicator does not have."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest

from chat.fakeupstream.testing import start_fake_upstream
from tests.liveserver import (
    LiveApp,
    app_env,
    login_cookie,
    manage,
    next_frame,
    open_socket,
    prepare,
    run_daphne,
)

pytestmark = pytest.mark.asyncio

SUBSCRIBES = 250
MESSAGES = 40
MESSAGE_CHARS = 20_000  # 40 x 20 kB: a 0.8 MB snapshot, under Daphne's 1 MiB frame limit
MAX_GROWTH_KIB = 16 * 1024

SEED = f"""
from django.contrib.auth import get_user_model
from chat.models import Conversation, Message
owner = get_user_model().objects.get(username="tester")
conversation = Conversation.objects.create(owner=owner, title="A long conversation")
text = ("All work and no play makes Jack a dull boy. " * 1000)[:{MESSAGE_CHARS}]
Message.objects.bulk_create(
    Message(conversation=conversation, role="user" if i % 2 == 0 else "assistant", content=text)
    for i in range({MESSAGES})
)
print(conversation.pk)
"""

TCP_ESTABLISHED = 1


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _settle(pid: int, timeout: float = 60) -> None:
    """Until the server has been idle (next to no CPU) for a second."""
    deadline = time.monotonic() + timeout
    before = _cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = _cpu_ticks(pid)
        if now - before <= 2:
            return
        before = now
    raise AssertionError("the server did not become idle")


def _masked_text_frame(payload: bytes) -> bytes:
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def _open_non_reading_socket(app: LiveApp, cookie: str) -> socket.socket:
    """A websocket, upgraded by hand, with a small receive window; nothing past the handshake
    is ever read from it."""
    address = urlsplit(app.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.connect((address.hostname, address.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/chat/ HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {app.url}\r\nCookie: sessionid={cookie}\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += sock.recv(1)  # byte by byte: stop exactly at the end of the headers
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def _tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of `sock` (tcpi_state), without reading from it."""
    return struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]


def _wait_closed_by_server(sock: socket.socket, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _tcp_state(sock) != TCP_ESTABLISHED:  # RST (CLOSE) or FIN (CLOSE_WAIT) arrived
            return True
        time.sleep(0.1)
    return False


async def _snapshot_of(app: LiveApp, cookie: str, conversation_id: int) -> dict:
    client = await open_socket(app, cookie)
    try:
        await client.send(json.dumps({"type": "subscribe", "conversation_id": conversation_id}))
        return await next_frame(client, "snapshot", timeout=30)
    finally:
        await client.close()


async def test_a_client_that_does_not_read_is_closed_and_costs_no_memory(tmp_path):
    with start_fake_upstream() as fake:
        env = app_env(tmp_path, fake.url)
        # The snapshot bound and the subscribe rate limit would each stop this client early;
        # lift both, so the test shows the output bound holding on its own.
        env.update(SNAPSHOT_MAX_CHARS="100000000", WS_SUBSCRIBE_BURST="100000")
        prepare(env)
        conversation_id = int(manage(env, "shell", "--no-imports", "-c", SEED).strip())
        with run_daphne(env, tmp_path / "daphne.log") as app:
            pid = app.process.pid
            cookie = login_cookie(app)
            # Warm up the code paths a snapshot uses, so the baseline includes them.
            warm = await _snapshot_of(app, cookie, conversation_id)
            assert len(warm["messages"]) == MESSAGES
            _settle(pid)
            rss_before = _rss_kib(pid)

            sock = _open_non_reading_socket(app, cookie)
            subscribe = json.dumps({"type": "subscribe", "conversation_id": conversation_id})
            sock.sendall(_masked_text_frame(subscribe.encode()) * SUBSCRIBES)
            closed_by_server = _wait_closed_by_server(sock, timeout=30)
            rss_peak = _rss_kib(pid)
            sock.close()
            _settle(pid)
            rss_after = _rss_kib(pid)

            print(f"VmRSS KiB: before {rss_before}, peak {rss_peak}, after {rss_after}")
            assert closed_by_server, "the server kept a socket whose client reads nothing"
            assert rss_after - rss_before < MAX_GROWTH_KIB, (rss_before, rss_peak, rss_after)
            assert "unsent" in app.logs()

            # Everybody else is served as before.
            snapshot = await _snapshot_of(app, cookie, conversation_id)
            assert len(snapshot["messages"]) == MESSAGES
