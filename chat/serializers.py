"""The JSON shapes of docs/websocket-protocol.md, built from model rows."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from chat.models import Conversation, Message
from chat.protocol.texts import failure_text


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def conversation_to_dict(conversation: Conversation) -> dict:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "model": conversation.model,
        "search": conversation.enable_search,
        "updated_at": iso(conversation.updated_at),
        "pinned": conversation.pinned,
        "archived": conversation.archived,
    }


def _error(message: Message) -> dict | None:
    if not message.error_code:
        return None
    params = {**(message.error_params or {}), "status": message.error_status}
    return {
        "code": message.error_code,
        "message": failure_text(params.get("kind", ""), message.error_code, params),
        "status": message.error_status,
        "retryable": message.error_retryable,
        "request_id": message.request_id or None,
    }


def _usage(message: Message) -> dict | None:
    if message.total_tokens is None and message.completion_tokens is None:
        return None
    return {
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "total_tokens": message.total_tokens,
        "reasoning_tokens": message.reasoning_tokens,
        "cached_tokens": message.cached_tokens,
    }


def _elapsed_ms(message: Message) -> int | None:
    if message.status != Message.Status.STREAMING:
        return message.total_ms
    if message.started_at is None:
        return 0
    return max(0, int((timezone.now() - message.started_at).total_seconds() * 1000))


def message_to_dict(message: Message) -> dict:
    return {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "sources": message.search_sources or [],
        "status": message.status,
        "finish_reason": message.finish_reason,
        "model": message.model,
        "demo": message.demo,
        "error": _error(message),
        "usage": _usage(message),
        "timings": {
            "first_reasoning_ms": message.first_reasoning_ms,
            "first_answer_ms": message.first_answer_ms,
            "reasoning_ms": message.reasoning_ms,
            "total_ms": message.total_ms,
            "elapsed_ms": _elapsed_ms(message),
        },
        "created_at": iso(message.created_at),
        "seq": message.stream_seq,
        # Only a live generation is ever retrying (Generation.snapshot fills it in).
        "retrying": None,
    }
