"""The browser's rules for following one streaming message, in Python, so tests can prove that a
client which misses frames, loses its group or its socket still ends with the exact text.

Mirrors static/chat/messages.js (applyDelta / applyEnd) and static/chat/app.js (resync on a
gap at most once per RESYNC_WAIT while a snapshot is awaited; resync after a silent stream):

- a `delta` with seq ≤ the last applied one is ignored, seq = last + 1 is applied, anything
  further ahead is a gap: keep what is shown and `subscribe` again;
- an `end` with seq > the last applied one replaces the message (it carries all of it);
- a `snapshot` replaces the message;
- no frame for `silence` seconds while the message streams: `subscribe` again.

The transport is the caller's: `receive()` returns the next frame (raising TimeoutError after
`silence` seconds), `subscribe()` sends a subscribe frame, and `reconnect()` (optional) opens a
new socket after the old one closed, as socket.js does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

RESYNC_WAIT = 3.0  # app.js RESYNC_WAIT_MS


class SocketClosed(Exception):
    """Raised by a `receive` when the server closed the socket."""


@dataclass
class Follower:
    conversation_id: int
    message_id: int
    message: dict | None = None
    gaps: int = 0
    subscribes: int = 0
    silences: int = 0
    reconnects: int = 0
    snapshots: list[dict] = field(default_factory=list)
    # (reasoning, content) the client had assembled when an `end` came in sequence, else None.
    assembled_before_end: tuple[str, str] | None = None
    _awaiting_since: float | None = None

    @property
    def done(self) -> bool:
        return self.message is not None and self.message["status"] != "streaming"

    def _needs_resync(self) -> bool:
        """Whether to subscribe now (not while a recent subscribe is still unanswered)."""
        now = time.monotonic()
        if self._awaiting_since is not None and now - self._awaiting_since < RESYNC_WAIT:
            return False
        self._awaiting_since = now
        return True

    def apply(self, frame: dict) -> bool:
        """Apply one frame; returns True when the client must send `subscribe`."""
        kind = frame["type"]
        if kind == "snapshot":
            if frame["conversation"]["id"] != self.conversation_id:
                return False
            self._awaiting_since = None
            mine = [m for m in frame["messages"] if m["id"] == self.message_id]
            if mine:
                self.message = dict(mine[0])
                self.snapshots.append(self.message)
            return False
        if kind not in ("delta", "end") or frame["message_id"] != self.message_id:
            return False
        message = self.message
        if message is None:
            self.gaps += 1
            return self._needs_resync()
        if frame["seq"] <= message["seq"]:
            return False
        if kind == "end":
            if frame["seq"] == message["seq"] + 1:
                self.assembled_before_end = (message["reasoning"], message["content"])
            self.message = {**frame["message"], "seq": frame["seq"]}
            return False
        if message["status"] != "streaming":
            return False
        if frame["seq"] != message["seq"] + 1:
            self.gaps += 1
            return self._needs_resync()
        message["seq"] = frame["seq"]
        message["reasoning"] += frame["reasoning"]
        message["content"] += frame["content"]
        return False

    async def follow(
        self,
        receive: Callable[[], Awaitable[dict]],
        subscribe: Callable[[], Awaitable[None]],
        *,
        reconnect: Callable[[], Awaitable[None]] | None = None,
        deadline: float = 60.0,
    ) -> dict:
        """Follow until the message has ended; returns it. Subscribes first."""
        give_up = time.monotonic() + deadline
        await self._subscribe(subscribe)
        while not self.done:
            if time.monotonic() > give_up:
                raise AssertionError(f"still streaming after {deadline} s: {self}")
            try:
                frame = await receive()
            except TimeoutError:
                self.silences += 1
                await self._subscribe(subscribe)
                continue
            except SocketClosed:
                if reconnect is None:
                    raise
                self.reconnects += 1
                await reconnect()
                await self._subscribe(subscribe)
                continue
            if self.apply(frame):
                await self._subscribe(subscribe, counted=False)
        return self.message

    async def _subscribe(self, subscribe, counted: bool = True) -> None:
        if counted:
            self._awaiting_since = time.monotonic()
        self.subscribes += 1
        await subscribe()
