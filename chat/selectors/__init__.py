"""Reads. Every lookup of an object a client names goes through a *_for_user selector, so the
ownership check lives in the query and cannot be forgotten by a caller."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from chat.models import Conversation, GenerationStart, Message


def conversation_get_for_user(
    *, user: AbstractBaseUser, conversation_id: int
) -> Conversation | None:
    return Conversation.objects.filter(owner=user, pk=conversation_id).first()


def message_get_for_user(*, user: AbstractBaseUser, message_id: int) -> Message | None:
    return (
        Message.objects.select_related("conversation")
        .filter(conversation__owner=user, pk=message_id)
        .first()
    )


def history_for_upstream(
    *, conversation: Conversation, before_id: int, with_reasoning: bool = False
) -> list[dict]:
    """The messages sent to the model for the assistant message `before_id`.

    Earlier reasoning is replayed only when the provider asks for it (Provider.send_reasoning,
    as `reasoning_content`): MiniMax's chat template drops the thinking of previous user turns
    anyway, so by default it would only cost input tokens (docs/architecture.md).
    Failed or interrupted answers with no text are left out; partial (stopped) answers stay,
    because the user saw them and may refer to them.
    """
    history = _system_prompt(conversation)
    for message in conversation.messages.filter(id__lt=before_id).order_by("id"):
        if message.role == Message.Role.ASSISTANT and not message.content.strip():
            continue
        entry = {"role": message.role, "content": message.content}
        if with_reasoning and message.role == Message.Role.ASSISTANT and message.reasoning:
            entry["reasoning_content"] = message.reasoning
        history.append(entry)
    return history


def first_messages(*, conversation: Conversation, text: str) -> list[dict]:
    """What the model is sent for the first message of a new conversation, without a query."""
    return [*_system_prompt(conversation), {"role": "user", "content": text}]


def _system_prompt(conversation: Conversation) -> list[dict]:
    if conversation.system_prompt.strip():
        return [{"role": "system", "content": conversation.system_prompt}]
    return []


def user_active_generation_count(*, user_id: int) -> int:
    fresh_after = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_SECONDS)
    return Message.objects.filter(
        conversation__owner_id=user_id,
        status=Message.Status.STREAMING,
        heartbeat_at__gte=fresh_after,
    ).count()


def user_recent_generation_starts(*, user_id: int, since: datetime) -> list[datetime]:
    """When the user started upstream requests since `since`, oldest first."""
    return list(
        GenerationStart.objects.filter(user_id=user_id, created_at__gte=since)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )


def message_page(
    *, conversation: Conversation, before_id: int | None, max_messages: int, max_chars: int
) -> tuple[list[Message], bool]:
    """The newest messages (older than `before_id` when given), oldest first, bounded by count
    and by text size, and whether older ones remain. The newest two always fit, so a page
    never ends between a question and its answer's start."""
    messages = conversation.messages.order_by("-id")
    if before_id is not None:
        messages = messages.filter(id__lt=before_id)
    page: list[Message] = []
    chars = 0
    for message in messages[: max_messages + 1]:
        chars += len(message.content) + len(message.reasoning)
        if len(page) >= max_messages or (len(page) >= 2 and chars > max_chars):
            return page[::-1], True
        page.append(message)
    return page[::-1], False
