"""The client side of docs/websocket-protocol.md ("Sequence numbers"): one conversation as a
client holds it, built only from the server's frames. Django-free, so the tests, the
two-process test, the benchmark and the soak run all apply frames by the same rules.

    replica = ConversationReplica()
    for frame in frames:
        if replica.apply(frame):
            socket.send({"type": "subscribe", "conversation_id": replica.conversation_id})

`apply` returns True when the client must send `subscribe` again (a sequence gap, or a
delta/end for a message it has not heard of). It returns True once per missing snapshot: frames
that arrive while the re-subscribe is pending are counted but not asked for again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    """A delta/end that could not be applied: `seq` arrived while `last` was the last applied
    (`last` is None when the message was unknown)."""

    message_id: int
    last: int | None
    seq: int

    def __str__(self) -> str:
        if self.last is None:
            return f"gap: message {self.message_id} unknown, got seq {self.seq}"
        return f"gap: message {self.message_id} {self.last} -> {self.seq}"


_IDS = ("type", "conversation_id", "message_id")


class ConversationReplica:
    """The messages of one conversation, oldest first, kept by the protocol's sequence rules.

    Attributes a client reads:
    - `conversation_id`, `conversation` (the object of the last snapshot / conversation.updated),
      `messages` (dict id -> message, oldest first), `has_more` (older messages exist);
    - `applied`: whether the last frame changed anything;
    - `resubscribe_pending`: a re-subscribe was asked for and its snapshot has not come yet;
    - counters: `gaps` (delta/end frames not applied because of a gap, including those for an
      unknown message), `deltas_before_added` (the unknown-message part of `gaps`),
      `ignored_old` (delta/end with seq <= the last applied), `resubscribes` (times `apply`
      returned True), `snapshots`, `ignored_other` (frames for another conversation, or
      conversation frames before the first snapshot);
    - `last_gap`: the most recent `Gap`.
    """

    def __init__(self, conversation_id: int | None = None) -> None:
        # With an id, frames of that conversation are accepted before its first snapshot
        # (e.g. `messages.added` right after `send`); without, the first snapshot decides.
        self.conversation_id = conversation_id
        self.conversation: dict | None = None
        self.messages: dict[int, dict] = {}
        self.has_more = False
        self.applied = False
        self.resubscribe_pending = False
        self.last_gap: Gap | None = None
        self.gaps = 0
        self.deltas_before_added = 0
        self.ignored_old = 0
        self.resubscribes = 0
        self.snapshots = 0
        self.ignored_other = 0

    # -- reading ------------------------------------------------------------------------------
    def message(self, message_id: int) -> dict | None:
        return self.messages.get(message_id)

    def last_message(self, role: str | None = None) -> dict | None:
        for message in reversed(self.messages.values()):
            if role is None or message.get("role") == role:
                return message
        return None

    # -- applying -----------------------------------------------------------------------------
    def apply(self, frame: dict) -> bool:
        """Apply one server frame; True when the client must send `subscribe` now."""
        self.applied = False
        kind = frame.get("type")
        if kind == "snapshot":
            self._snapshot(frame)
            return False
        if kind == "conversation.updated":
            conversation = frame.get("conversation") or {}
            if self.conversation_id is not None and conversation.get("id") == self.conversation_id:
                self.conversation = dict(conversation)
                self.applied = True
            return False
        if kind not in ("history", "messages.added", "message.reset", "delta", "end", "retrying"):
            return False  # user-level or unrelated frames (conversation.created, error, …)
        if self.conversation_id is None or frame.get("conversation_id") != self.conversation_id:
            self.ignored_other += 1
            return False
        if kind == "history":
            self._history(frame)
        elif kind == "messages.added":
            for message in frame["messages"]:
                if message["id"] not in self.messages:
                    self.messages[message["id"]] = dict(message)
                    self.applied = True
        elif kind == "message.reset":
            known = self.messages.get(frame["message"]["id"])
            if known is not None and frame["message"]["seq"] <= (known.get("seq") or 0):
                self.ignored_old += 1  # a snapshot already showed this attempt
            else:
                self.messages[frame["message"]["id"]] = dict(frame["message"])
                self.applied = True
        elif kind == "retrying":
            message = self.messages.get(frame.get("message_id"))
            if message is not None:
                message["retrying"] = {k: v for k, v in frame.items() if k not in _IDS}
                self.applied = True
        else:
            return self._numbered(frame)
        return False

    def _snapshot(self, frame: dict) -> None:
        self.conversation = dict(frame["conversation"])
        self.conversation_id = self.conversation["id"]
        # The newest messages; older ones come in `history` frames when asked for.
        self.messages = {message["id"]: dict(message) for message in frame["messages"]}
        self.has_more = bool(frame.get("has_more", False))
        self.resubscribe_pending = False
        self.snapshots += 1
        self.applied = True

    def _history(self, frame: dict) -> None:
        older = {m["id"]: dict(m) for m in frame["messages"] if m["id"] not in self.messages}
        self.messages = {**older, **self.messages}
        self.has_more = bool(frame.get("has_more", False))
        self.applied = True

    def _numbered(self, frame: dict) -> bool:
        message_id = frame["message_id"]
        seq = frame["seq"]
        message = self.messages.get(message_id)
        if message is None:
            self.deltas_before_added += 1
            return self._gap(Gap(message_id, None, seq))
        last = message.get("seq") or 0
        if seq <= last:
            self.ignored_old += 1
            return False
        if seq != last + 1:
            if frame["type"] == "end":
                # The end carries the whole final message: apply it, as the browser does.
                self.gaps += 1
                self.last_gap = Gap(message_id, last, seq)
                self.messages[message_id] = {**frame["message"], "seq": seq}
                self.applied = True
                return False
            return self._gap(Gap(message_id, last, seq))
        if frame["type"] == "delta":
            message["reasoning"] = (message.get("reasoning") or "") + frame["reasoning"]
            message["content"] = (message.get("content") or "") + frame["content"]
            message["seq"] = seq
            if frame.get("reasoning_ms") is not None and isinstance(message.get("timings"), dict):
                message["timings"]["reasoning_ms"] = frame["reasoning_ms"]
            message.pop("retrying", None)
        else:
            self.messages[message_id] = {**frame["message"], "seq": seq}
        self.applied = True
        return False

    def _gap(self, gap: Gap) -> bool:
        # Nothing shown is discarded; a fresh snapshot replaces it.
        self.gaps += 1
        self.last_gap = gap
        if self.resubscribe_pending:
            return False
        self.resubscribe_pending = True
        self.resubscribes += 1
        return True
