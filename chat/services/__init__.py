"""Writes. Views, the consumer and the generation all change data through these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from chat.crypto import encrypt_secret, rotate_secret
from chat.models import (
    DEFAULT_MODEL,
    Conversation,
    GenerationStart,
    Message,
    ProviderKey,
)
from chat.selectors import user_active_generation_count, user_recent_generation_starts
from usage import estimate
from usage.quota import quota_check
from usage.services import Settlement, attempt_reserve, attempts_interrupt, attempts_settle

TITLE_LENGTH = 60


class ConversationBusy(Exception):
    """A generation is already running in this conversation."""


class NotRetryable(Exception):
    """Only the last assistant message of a conversation, once it has ended, can be retried."""


class Refusal(Exception):
    """A request refused by a rule; `params` go into the words (chat.protocol.texts)."""

    def __init__(self, **params: object) -> None:
        super().__init__(params)
        self.params = params


class RateLimited(Refusal):
    """The user started MAX_MESSAGES_PER_MINUTE upstream requests in the last minute."""


class TooManyGenerations(Refusal):
    """The user already has MAX_CONCURRENT_GENERATIONS_PER_USER answers streaming."""


class SessionEnded(Exception):
    """The socket's session is no longer valid (chat.revocation): nothing was done."""


class ShuttingDown(Refusal):
    """The process is shutting down and starts no new answers (chat.streaming.shutdown)."""


class ModelUnavailable(Refusal):
    """No enabled provider offers the conversation's model (chat.providers.selection)."""


@dataclass(frozen=True)
class SentMessage:
    user_message: Message
    assistant_message: Message


def title_from_text(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= TITLE_LENGTH:
        return words or "New chat"
    cut = words[:TITLE_LENGTH].rsplit(" ", 1)[0] or words[:TITLE_LENGTH]
    return cut + "…"


def conversation_build(
    *, owner: AbstractBaseUser, first_text: str, model: str = DEFAULT_MODEL, search: bool = False
) -> Conversation:
    """A new conversation, not saved yet (its settings are its defaults). The model was checked
    against the providers when its upstream was resolved."""
    return Conversation(
        owner=owner, title=title_from_text(first_text), model=model, enable_search=search
    )


def conversation_set_search(*, conversation: Conversation, search: bool | None) -> None:
    """Remember the web search toggle the user sent with a message (None: unchanged)."""
    if search is None or search == conversation.enable_search:
        return
    conversation.enable_search = search
    Conversation.objects.filter(pk=conversation.pk).update(enable_search=search)


def conversation_interrupt_orphans(
    *, conversation: Conversation, live_ids: set[int], stale_after: timedelta | None
) -> int:
    """Mark the conversation's streaming rows that no live task here owns as interrupted.

    stale_after=None: every such row (one process, so its owner died). Otherwise only rows whose
    heartbeat is older than that (another process may still own a fresh one). One UPDATE, so a
    heartbeat written meanwhile by a live owner keeps its row out of it.
    """
    orphans = conversation.messages.filter(status=Message.Status.STREAMING).exclude(pk__in=live_ids)
    if stale_after is not None:
        cutoff = timezone.now() - stale_after
        orphans = orphans.filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff))
    orphan_ids = list(orphans.values_list("pk", flat=True))
    if not orphan_ids:
        return 0
    count = Message.objects.filter(pk__in=orphan_ids, status=Message.Status.STREAMING).update(
        status=Message.Status.INTERRUPTED, updated_at=timezone.now()
    )
    attempts_interrupt(message_ids=orphan_ids)
    return count


RATE_WINDOW = timedelta(minutes=1)


def generation_limits_check(*, user_id: int) -> None:
    """Raise RateLimited or TooManyGenerations if the user may not start an answer now."""
    now = timezone.now()
    starts = user_recent_generation_starts(user_id=user_id, since=now - RATE_WINDOW)
    if len(starts) >= settings.MAX_MESSAGES_PER_MINUTE:
        oldest_counted = starts[-settings.MAX_MESSAGES_PER_MINUTE]
        wait = oldest_counted + RATE_WINDOW - now
        raise RateLimited(
            limit=settings.MAX_MESSAGES_PER_MINUTE,
            retry_after=max(1, int(wait.total_seconds()) + 1),
        )
    active = user_active_generation_count(user_id=user_id)
    if active >= settings.MAX_CONCURRENT_GENERATIONS_PER_USER:
        raise TooManyGenerations(limit=settings.MAX_CONCURRENT_GENERATIONS_PER_USER)


def generation_start_record(*, user_id: int) -> None:
    """Check the limits and quotas (usage.quota) and count one more upstream request,
    atomically across processes. Call it inside the transaction that creates or resets the
    streaming row, so the row and the count commit (or roll back) together."""
    # Joins the caller's transaction (no savepoint: a refusal ends it anyway).
    with transaction.atomic(savepoint=False):
        # Serialises the user's concurrent starts: a row lock on PostgreSQL; on SQLite the
        # IMMEDIATE transaction already holds the database's write lock.
        if connection.features.has_select_for_update:
            get_user_model().objects.select_for_update().filter(pk=user_id).first()
        generation_limits_check(user_id=user_id)
        quota_check(user_id=user_id)
        GenerationStart.objects.create(user_id=user_id)


def _assistant_placeholder(*, conversation: Conversation, demo: bool) -> Message:
    now = timezone.now()
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model=conversation.model,
        demo=demo,
        started_at=now,
        heartbeat_at=now,
    )


def _reserve(assistant: Message, *, demo: bool, reserved_tokens: int) -> None:
    """Hold the answer's estimated tokens against the owner's budget until it ends."""
    attempt_reserve(
        user_id=assistant.conversation.owner_id,
        message_id=assistant.pk,
        model=assistant.conversation.model,
        demo=demo,
        reserved_tokens=reserved_tokens,
    )


def message_send(
    *, conversation: Conversation, text: str, demo: bool, record_start: bool = True
) -> SentMessage:
    """Store the user's message and a streaming assistant placeholder, atomically, counting the
    upstream request against the user's limits (`record_start=False`: the caller already did,
    in the same transaction).

    The partial unique index on (conversation, status=streaming) makes "one generation per
    conversation" hold across processes, not just inside this one.
    """
    try:
        with transaction.atomic():
            if record_start:
                generation_start_record(user_id=conversation.owner_id)
            user_message = Message.objects.create(
                conversation=conversation, role=Message.Role.USER, content=text
            )
            assistant = _assistant_placeholder(conversation=conversation, demo=demo)
            _reserve(
                assistant,
                demo=demo,
                reserved_tokens=estimate.text_tokens(text) + estimate.PER_MESSAGE,
            )
            now = timezone.now()
            Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
    except IntegrityError as exc:
        raise ConversationBusy from exc
    conversation.updated_at = now
    return SentMessage(user_message=user_message, assistant_message=assistant)


RETRYABLE_STATUSES = {
    Message.Status.FAILED,
    Message.Status.STOPPED,
    Message.Status.INTERRUPTED,
    Message.Status.COMPLETE,
}


def message_reset_for_retry(*, message: Message, demo: bool) -> Message:
    """Reset the last assistant message of its conversation so it can stream again."""
    last = message.conversation.messages.order_by("-id").first()
    if (
        message.role != Message.Role.ASSISTANT
        or last is None
        or last.pk != message.pk
        or message.status not in RETRYABLE_STATUSES
    ):
        raise NotRetryable
    now = timezone.now()
    fields = {
        "content": "",
        "reasoning": "",
        "search_sources": [],
        "provider_key": None,
        "status": Message.Status.STREAMING,
        "finish_reason": "",
        "error_code": "",
        "error_params": {},
        "error_status": None,
        "error_retryable": False,
        "request_id": "",
        "demo": demo,
        "model": message.conversation.model,
        "prompt_tokens": None,
        "completion_tokens": None,
        "reasoning_tokens": None,
        "cached_tokens": None,
        "total_tokens": None,
        "first_reasoning_ms": None,
        "first_answer_ms": None,
        "reasoning_ms": None,
        "total_ms": None,
        "started_at": now,
        "heartbeat_at": now,
        # The new attempt numbers its frames on from the old one's (the reset itself takes the
        # next number), so a client that missed message.reset sees a gap instead of taking the
        # new attempt's frames for old ones.
        "stream_seq": F("stream_seq") + 1,
        "stop_requested": False,
        "updated_at": now,
    }
    try:
        with transaction.atomic():
            generation_start_record(user_id=message.conversation.owner_id)
            changed = Message.objects.filter(pk=message.pk, status__in=RETRYABLE_STATUSES).update(
                **fields
            )
            if not changed:
                raise NotRetryable
            # The answer's last prompt is the best guess of this one's.
            _reserve(message, demo=demo, reserved_tokens=message.prompt_tokens or 1)
    except IntegrityError as exc:
        raise ConversationBusy from exc
    message.refresh_from_db()
    return message


def message_checkpoint(*, message_id: int, fields: dict) -> bool:
    """Save streamed text and bookkeeping; returns whether a Stop was requested meanwhile."""
    Message.objects.filter(pk=message_id).update(
        heartbeat_at=timezone.now(), updated_at=timezone.now(), **fields
    )
    return Message.objects.filter(pk=message_id, stop_requested=True).exists()


def message_finish(
    *, message_id: int, fields: dict, settlement: Settlement | None = None
) -> Message:
    """The final save of an answer, with its usage settled in the same transaction."""
    with transaction.atomic():
        Message.objects.filter(pk=message_id).update(
            heartbeat_at=timezone.now(), updated_at=timezone.now(), **fields
        )
        if settlement is not None:
            attempts_settle(message_id=message_id, settlement=settlement)
    message = Message.objects.select_related("conversation").get(pk=message_id)
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=timezone.now())
    return message


def message_request_stop(*, conversation: Conversation) -> bool:
    """Flag the conversation's streaming message for the process that owns it."""
    return bool(
        Message.objects.filter(conversation=conversation, status=Message.Status.STREAMING).update(
            stop_requested=True
        )
    )


def user_generations_request_stop(*, user_id: int) -> int:
    """Flag all the user's streaming messages; their owning processes stop them."""
    return Message.objects.filter(
        conversation__owner_id=user_id, status=Message.Status.STREAMING
    ).update(stop_requested=True)


def provider_key_set(*, provider_key: ProviderKey, plaintext: str) -> None:
    plaintext = plaintext.strip()
    provider_key.encrypted_key = encrypt_secret(plaintext)
    provider_key.key_tail = plaintext[-4:]


def provider_keys_rotate() -> int:
    """Re-encrypt every stored key with the newest FIELD_ENCRYPTION_KEYS entry."""
    count = 0
    with transaction.atomic():
        for provider_key in ProviderKey.objects.select_for_update():
            provider_key.encrypted_key = rotate_secret(provider_key.encrypted_key)
            provider_key.save(update_fields=["encrypted_key", "updated_at"])
            count += 1
    return count
