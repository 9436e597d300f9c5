"""Following one streaming message as the browser does, in Python, so tests can prove that a
client which misses frames, loses its group or its socket still ends with the exact text.

The sequence rules are chat.protocol.sequence.ConversationReplica's (the one Python copy of
the browser's messages.js rules); this adds the browser's transport habits from app.js and
socket.js:

- a gap asks for a new snapshot, at most once per RESYNC_WAIT while one is awaited;
- no frame for `silence` seconds while the message streams: `subscribe` again;
- a closed socket: `reconnect()` and `subscribe` again.

The transport is the caller's: `receive()` returns the next frame (raising TimeoutError after
`silence` seconds), `subscribe()` sends a subscribe frame, and `reconnect()` (optional) opens a
new socket after the old one closed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chat.protocol.sequence import ConversationReplica

RESYNC_WAIT = 3.0  # app.js RESYNC_WAIT_MS
RESYNC_MIN_INTERVAL = 1.0  # app.js RESYNC_MIN_INTERVAL_MS


class SocketClosed(Exception):
    """Raised by a `receive` when the server closed the socket."""


@dataclass
class Follower:
    conversation_id: int
    message_id: int
    subscribes: int = 0
    silences: int = 0
    reconnects: int = 0
    snapshots: list[dict] = field(default_factory=list)
    # (reasoning, content) the client had assembled when an `end` came in sequence, else None.
    assembled_before_end: tuple[str, str] | None = None
    replica: ConversationReplica = field(init=False, repr=False)
    _awaiting_since: float | None = None
    _last_subscribe: float = float("-inf")

    def __post_init__(self) -> None:
        self.replica = ConversationReplica(self.conversation_id)

    @property
    def message(self) -> dict | None:
        return self.replica.message(self.message_id)

    @property
    def gaps(self) -> int:
        return self.replica.gaps

    @property
    def done(self) -> bool:
        return self.message is not None and self.message["status"] != "streaming"

    def _needs_resync(self) -> bool:
        """Whether to subscribe now (not while a recent subscribe is still unanswered)."""
        now = time.monotonic()
        if self._awaiting_since is not None and now - self._awaiting_since < RESYNC_WAIT:
            return False
        if now - self._last_subscribe < RESYNC_MIN_INTERVAL:
            return False  # asked again by a later frame or the silence rule
        self._awaiting_since = now
        return True

    def apply(self, frame: dict) -> bool:
        """Apply one frame; returns True when the client must send `subscribe`."""
        before = self.message
        seen = (before["reasoning"], before["content"], before["seq"]) if before else None
        wants_snapshot = self.replica.apply(frame)
        kind = frame["type"]
        if kind == "snapshot" and self.replica.applied:
            self._awaiting_since = None
            if self.message is not None:
                self.snapshots.append(dict(self.message))
        elif (
            kind == "end"
            and frame.get("message_id") == self.message_id
            and seen
            and self.replica.applied
            and frame["seq"] == seen[2] + 1
        ):
            self.assembled_before_end = (seen[0], seen[1])
        # The replica asks once per missing snapshot; a snapshot it keeps waiting for is asked
        # for again by the silence rule, as in the browser.
        if wants_snapshot or (self.replica.resubscribe_pending and kind != "snapshot"):
            return self._needs_resync()
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
        self._last_subscribe = time.monotonic()
        if counted:
            self._awaiting_since = self._last_subscribe
        self.subscribes += 1
        await subscribe()
