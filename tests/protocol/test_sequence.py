"""The client sequence rules of docs/websocket-protocol.md, on hand-made frames."""

from __future__ import annotations

from chat.protocol.sequence import ConversationReplica, Gap

CONV = 7


def _message(message_id: int, *, role="assistant", status="streaming", seq=0, **fields) -> dict:
    return {
        "id": message_id,
        "role": role,
        "content": "",
        "reasoning": "",
        "status": status,
        "seq": seq,
        "timings": {"reasoning_ms": None},
        **fields,
    }


def _snapshot(*messages: dict, conversation_id: int = CONV, has_more: bool = False) -> dict:
    return {
        "type": "snapshot",
        "conversation": {"id": conversation_id, "title": "t"},
        "messages": list(messages),
        "has_more": has_more,
    }


def _delta(message_id: int, seq: int, content="", reasoning="", conversation_id=CONV, ms=None):
    return {
        "type": "delta",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "seq": seq,
        "reasoning": reasoning,
        "content": content,
        "reasoning_ms": ms,
    }


def _end(message_id: int, seq: int, content: str, reasoning="", status="complete") -> dict:
    return {
        "type": "end",
        "conversation_id": CONV,
        "message_id": message_id,
        "seq": seq,
        "message": _message(
            message_id, status=status, seq=seq, content=content, reasoning=reasoning
        ),
    }


def _streaming_replica(seq: int = 0, content: str = "") -> ConversationReplica:
    replica = ConversationReplica()
    replica.apply(_snapshot(_message(1, role="user", status="complete", content="hi"),
                            _message(2, seq=seq, content=content)))  # fmt: skip
    return replica


def test_a_snapshot_replaces_the_messages_and_sets_the_conversation():
    replica = ConversationReplica()
    replica.apply(_snapshot(_message(9, content="old"), conversation_id=3))
    replica.apply(_snapshot(_message(1, content="a"), _message(2, content="b"), has_more=True))
    assert replica.conversation_id == CONV
    assert list(replica.messages) == [1, 2]
    assert replica.has_more is True
    assert replica.snapshots == 2


def test_in_order_deltas_are_appended_and_end_replaces_the_message():
    replica = _streaming_replica()
    assert replica.apply(_delta(2, 1, reasoning="think ")) is False
    assert replica.apply(_delta(2, 2, reasoning="more", ms=None)) is False
    assert replica.apply(_delta(2, 3, content="Ans", ms=120)) is False
    message = replica.messages[2]
    assert (message["reasoning"], message["content"], message["seq"]) == ("think more", "Ans", 3)
    assert message["timings"]["reasoning_ms"] == 120
    replica.apply(_end(2, 4, "Answer", "think more"))
    assert replica.messages[2]["status"] == "complete"
    assert replica.messages[2]["content"] == "Answer"
    assert replica.messages[2]["seq"] == 4
    assert (replica.gaps, replica.ignored_old, replica.resubscribes) == (0, 0, 0)


def test_frames_already_in_the_snapshot_are_ignored():
    replica = _streaming_replica(seq=2, content="ab")
    assert replica.apply(_delta(2, 1, content="a")) is False
    assert replica.apply(_delta(2, 2, content="b")) is False
    assert replica.applied is False
    assert replica.apply(_delta(2, 3, content="c")) is False
    assert replica.applied is True
    assert replica.messages[2]["content"] == "abc"
    assert replica.ignored_old == 2


def test_a_gap_asks_for_one_resubscribe_and_applies_nothing_until_the_snapshot():
    replica = _streaming_replica(seq=1, content="a")
    assert replica.apply(_delta(2, 3, content="c")) is True
    assert replica.last_gap == Gap(2, 1, 3)
    assert str(replica.last_gap) == "gap: message 2 1 -> 3"
    # Still waiting for the snapshot: counted, not asked again, not applied.
    assert replica.apply(_delta(2, 4, content="d")) is False
    assert replica.messages[2]["content"] == "a"
    assert (replica.gaps, replica.resubscribes) == (2, 1)
    replica.apply(_snapshot(_message(2, seq=4, content="abcd")))
    assert replica.resubscribe_pending is False
    replica.apply(_delta(2, 5, content="e"))
    assert replica.messages[2]["content"] == "abcde"
    # A later gap asks again.
    assert replica.apply(_delta(2, 7, content="g")) is True
    assert replica.resubscribes == 2


def test_an_end_after_a_gap_is_applied_whole():
    replica = _streaming_replica(seq=1, content="a")
    assert replica.apply(_end(2, 7, "abcdefg")) is False
    assert replica.messages[2]["content"] == "abcdefg"
    assert replica.messages[2]["status"] == "complete" and replica.gaps == 1


def test_a_delta_for_an_unknown_message_is_counted_and_asks_for_a_snapshot():
    replica = _streaming_replica()
    assert replica.apply(_delta(5, 1, content="x")) is True
    assert replica.deltas_before_added == 1
    assert replica.gaps == 1
    assert replica.last_gap == Gap(5, None, 1)
    assert 5 not in replica.messages


def test_messages_added_ignores_known_ids_and_keeps_the_order():
    replica = _streaming_replica(seq=2, content="ab")
    added = {
        "type": "messages.added",
        "conversation_id": CONV,
        "messages": [_message(2, content=""), _message(3, role="user"), _message(4)],
    }
    replica.apply(added)
    assert list(replica.messages) == [1, 2, 3, 4]
    assert replica.messages[2]["content"] == "ab"


def _reset(message_id: int, seq: int) -> dict:
    return {"type": "message.reset", "conversation_id": CONV, "message": _message(2, seq=seq)}


def test_message_reset_replaces_the_message_and_numbers_on():
    replica = _streaming_replica()
    replica.apply(_delta(2, 1, content="first"))
    replica.apply(_end(2, 2, "first"))
    replica.apply(_reset(2, seq=3))
    assert replica.messages[2]["content"] == "" and replica.messages[2]["status"] == "streaming"
    replica.apply(_delta(2, 4, content="second"))
    assert replica.messages[2]["content"] == "second"


def test_a_missed_reset_shows_as_a_gap_not_as_old_frames():
    replica = _streaming_replica()
    replica.apply(_delta(2, 1, content="old answer"))
    replica.apply(_end(2, 2, "old answer"))
    # message.reset (seq 3) was dropped; the new attempt's first delta is seq 4.
    assert replica.apply(_delta(2, 4, content="new")) is True
    assert replica.gaps == 1 and replica.messages[2]["content"] == "old answer"


def test_a_late_reset_does_not_undo_a_newer_snapshot():
    replica = _streaming_replica()
    replica.apply(_snapshot(_message(1, role="user"), _message(2, seq=5, content="newer")))
    replica.apply(_reset(2, seq=3))
    assert replica.messages[2]["content"] == "newer" and replica.ignored_old == 1


def test_history_prepends_older_messages():
    replica = ConversationReplica()
    replica.apply(_snapshot(_message(5, role="user"), _message(6), has_more=True))
    replica.apply(
        {
            "type": "history",
            "conversation_id": CONV,
            "messages": [_message(3, role="user"), _message(4), _message(5, content="dup")],
            "has_more": False,
        }
    )
    assert list(replica.messages) == [3, 4, 5, 6]
    assert replica.messages[5]["content"] == ""
    assert replica.has_more is False


def test_retrying_is_informational_and_cleared_by_the_next_delta_or_end():
    replica = _streaming_replica()
    retrying = {
        "type": "retrying",
        "conversation_id": CONV,
        "message_id": 2,
        "attempt": 1,
        "delay_ms": 500,
        "code": "limit_requests",
    }
    replica.apply(retrying)
    assert replica.messages[2]["retrying"] == {
        "attempt": 1,
        "delay_ms": 500,
        "code": "limit_requests",
    }
    replica.apply(_delta(2, 1, content="x"))
    assert "retrying" not in replica.messages[2]
    replica.apply(retrying)
    replica.apply(_end(2, 2, "x"))
    assert "retrying" not in replica.messages[2]


def test_frames_of_other_conversations_are_ignored():
    replica = _streaming_replica()
    assert replica.apply(_delta(2, 1, content="x", conversation_id=8)) is False
    replica.apply({"type": "messages.added", "conversation_id": 8, "messages": [_message(9)]})
    assert replica.messages[2]["content"] == ""
    assert 9 not in replica.messages
    assert replica.ignored_other == 2


def test_before_a_snapshot_nothing_is_applied_unless_the_conversation_was_given():
    blind = ConversationReplica()
    blind.apply({"type": "messages.added", "conversation_id": CONV, "messages": [_message(2)]})
    assert blind.messages == {}
    given = ConversationReplica(CONV)
    given.apply({"type": "messages.added", "conversation_id": CONV, "messages": [_message(2)]})
    assert list(given.messages) == [2]


def test_user_level_frames_do_not_disturb_the_replica():
    replica = _streaming_replica()
    replica.apply({"type": "conversation.created", "conversation": {"id": 99}})
    replica.apply({"type": "error", "code": "busy", "message": "…", "request_type": "send"})
    replica.apply({"type": "conversation.updated", "conversation": {"id": CONV, "title": "New"}})
    assert replica.conversation["title"] == "New"
    assert list(replica.messages) == [1, 2]
    assert replica.last_message("assistant")["id"] == 2
    assert replica.last_message("user")["id"] == 1
