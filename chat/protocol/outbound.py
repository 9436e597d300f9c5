"""Every server -> browser frame is built here (docs/websocket-protocol.md, "Server → client"),
so the protocol's shapes live in one module and tests/protocol_schemas.py can check them."""

from __future__ import annotations

from chat.models import Conversation, Message
from chat.protocol.texts import retrying_text
from chat.serializers import conversation_to_dict, message_to_dict
from chat.upstream import Failure


def snapshot_frame(*, conversation: Conversation, messages: list[dict], has_more: bool) -> dict:
    return {
        "type": "snapshot",
        "conversation": conversation_to_dict(conversation),
        "messages": messages,
        "has_more": has_more,
    }


def history_frame(*, conversation_id: int, messages: list[dict], has_more: bool) -> dict:
    return {
        "type": "history",
        "conversation_id": conversation_id,
        "messages": messages,
        "has_more": has_more,
    }


def conversation_created_frame(*, conversation: Conversation, client_id: str | None = None) -> dict:
    frame = {"type": "conversation.created", "conversation": conversation_to_dict(conversation)}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


def conversation_updated_frame(*, conversation: Conversation) -> dict:
    return {"type": "conversation.updated", "conversation": conversation_to_dict(conversation)}


def conversation_deleted_frame(*, conversation_id: int) -> dict:
    # `id`, not `conversation_id`: sockets drop frames whose conversation_id is not the one
    # they show, and every tab of the user must hear of this one.
    return {"type": "conversation.deleted", "id": conversation_id}


def conversations_cleared_frame() -> dict:
    return {"type": "conversations.cleared"}


def messages_added_frame(*, conversation_id: int, messages: list[Message]) -> dict:
    return {
        "type": "messages.added",
        "conversation_id": conversation_id,
        "messages": [message_to_dict(message) for message in messages],
    }


def message_reset_frame(*, message: Message) -> dict:
    return {
        "type": "message.reset",
        "conversation_id": message.conversation_id,
        "message": message_to_dict(message),
    }


def delta_frame(
    *,
    conversation_id: int,
    message_id: int,
    seq: int,
    reasoning: str,
    content: str,
    reasoning_ms: int | None,
) -> dict:
    return {
        "type": "delta",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "seq": seq,
        "reasoning": reasoning,
        "content": content,
        "reasoning_ms": reasoning_ms,
    }


def end_frame(*, conversation_id: int, message_id: int, seq: int, message: dict) -> dict:
    return {
        "type": "end",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "seq": seq,
        "message": message,
    }


def retrying_state(
    *, failure: Failure, attempt: int, max_attempts: int, delay_seconds: float
) -> dict:
    """A streaming message's `retrying` field: the failed attempt, and when the next starts.
    error.message says it in words, e.g. "Rate limited by DashScope — retrying in 4 s
    (attempt 2 of 4)"."""
    params = {"status": failure.status}
    text = retrying_text(
        failure.kind,
        params,
        delay_seconds=delay_seconds,
        attempt=attempt,
        max_attempts=max_attempts,
    )
    return {
        "attempt": attempt,
        "max_attempts": max_attempts,
        "delay_ms": max(0, round(delay_seconds * 1000)),
        "error": {
            "code": failure.code,
            "message": text,
            "status": failure.status,
            "retryable": failure.retryable,
            "request_id": failure.request_id,
        },
    }


def retrying_frame(*, conversation_id: int, message_id: int, state: dict) -> dict:
    """Informational, so not sequence-numbered: a reloaded page gets it from the snapshot."""
    return {
        "type": "retrying",
        "conversation_id": conversation_id,
        "message_id": message_id,
        **state,
    }


def error_frame(*, code: str, message: str, request_type: str | None) -> dict:
    return {"type": "error", "code": code, "message": message, "request_type": request_type}
