"""Helpers to drive /ws/chat/ through the real ASGI application with a logged-in session."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat.protocol.sequence import ConversationReplica
from minimax_web.asgi import application
from tests.protocol_schemas import check_frame

ORIGIN = b"http://localhost"


@sync_to_async
def session_cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@sync_to_async
def log_out(session_key: str) -> None:
    """POST /logout/ with that session, as its browser tab would."""
    client = Client()
    client.cookies["sessionid"] = session_key
    assert client.post("/logout/").status_code == 302


async def connect(
    user=None, *, origin: bytes = ORIGIN, session_key: str | None = None
) -> tuple[WebsocketCommunicator, bool]:
    """A socket with a new session of `user`, or with the given existing `session_key`."""
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None and session_key is None:
        session_key = await session_cookie_for(user)
    if session_key is not None:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def send(communicator: WebsocketCommunicator, frame: dict) -> None:
    await communicator.send_to(text_data=json.dumps(frame))


async def receive(communicator: WebsocketCommunicator, timeout: float = 10) -> dict:
    """The next frame, checked against its documented schema (tests/protocol_schemas.py)."""
    frame = json.loads(await communicator.receive_from(timeout=timeout))
    check_frame(frame)
    return frame


async def receive_type(communicator: WebsocketCommunicator, frame_type: str, timeout=10) -> dict:
    """The next frame of `frame_type`, skipping others."""
    while True:
        frame = await receive(communicator, timeout)
        if frame["type"] == frame_type:
            return frame


class Transcript:
    """A ConversationReplica (chat.protocol.sequence) that records every frame and fails the
    test on a sequence gap or a delta for an unknown message: in-process tests must see none."""

    def __init__(self) -> None:
        self.replica = ConversationReplica()
        self.frames: list[dict] = []

    @property
    def messages(self) -> dict[int, dict]:
        return self.replica.messages

    def apply(self, frame: dict) -> None:
        self.frames.append(frame)
        needs_resubscribe = self.replica.apply(frame)
        assert not needs_resubscribe, str(self.replica.last_gap)


async def run_until_end(communicator, transcript: Transcript, timeout: float = 20) -> dict:
    """Apply frames until an `end` frame; return it."""
    while True:
        frame = await receive(communicator, timeout)
        transcript.apply(frame)
        if frame["type"] == "end":
            return frame
