"""Start, retry, stop and snapshot: what the consumer asks of the streaming core."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from chat import revocation, services
from chat.db import db_async
from chat.models import Conversation, Message
from chat.protocol.outbound import (
    history_frame,
    message_reset_frame,
    messages_added_frame,
    snapshot_frame,
)
from chat.selectors import first_messages, history_for_upstream, message_page
from chat.serializers import message_to_dict
from chat.streaming import registry, shutdown
from chat.streaming.early import EarlyUpstream
from chat.streaming.generation import Generation
from chat.streaming.groups import conversation_group, group_send
from chat.upstream import ChatRequest
from chat.upstream_config import ResolvedUpstream, upstream_resolve


def _build_request(
    conversation: Conversation, assistant: Message, resolved: ResolvedUpstream
) -> ChatRequest:
    history = history_for_upstream(
        conversation=conversation,
        before_id=assistant.pk,
        with_reasoning=resolved.send_reasoning,
    )
    return _chat_request(conversation, history, resolved)


def _chat_request(
    conversation: Conversation, messages: list[dict], resolved: ResolvedUpstream
) -> ChatRequest:
    return ChatRequest(
        model=conversation.model,
        messages=messages,
        temperature=conversation.temperature,
        top_p=conversation.top_p,
        presence_penalty=conversation.presence_penalty,
        max_tokens=conversation.max_tokens,
        enable_search=conversation.enable_search,
        search_options=resolved.search_options() if conversation.enable_search else {},
    )


def _refuse_while_draining() -> None:
    if shutdown.is_draining():
        raise services.ShuttingDown


@dataclass(frozen=True)
class PreparedSend:
    """A stored user message and streaming answer whose generation has not started yet."""

    conversation: Conversation
    sent: services.SentMessage
    request: ChatRequest
    resolved: ResolvedUpstream
    early: EarlyUpstream | None = None


def _prepare_send(conversation: Conversation, text: str, search: bool | None) -> PreparedSend:
    _refuse_while_draining()
    resolved = upstream_resolve(conversation.model)
    services.conversation_set_search(conversation=conversation, search=search)
    sent = services.message_send(conversation=conversation, text=text, demo=resolved.demo)
    return PreparedSend(
        conversation,
        sent,
        _build_request(conversation, sent.assistant_message, resolved),
        resolved,
    )


def _prepare_retry(message: Message) -> tuple[Message, ChatRequest, ResolvedUpstream]:
    _refuse_while_draining()
    resolved = upstream_resolve(message.conversation.model)
    message = services.message_reset_for_retry(message=message, demo=resolved.demo)
    return message, _build_request(message.conversation, message, resolved), resolved


def _prepare_new_conversation(
    owner: AbstractBaseUser,
    session_key: str | None,
    text: str,
    model: str,
    search: bool,
    on_loop: Callable[[Callable[[], None]], object],
) -> PreparedSend:
    _refuse_while_draining()
    # The socket's session is re-checked here, in the same database call, because the first
    # token waits for this call (docs/architecture.md, "The first text goes out at once").
    if not revocation.session_is_valid(session_key=session_key, user_id=owner.pk):
        raise services.SessionEnded
    resolved = upstream_resolve(model)
    early: EarlyUpstream | None = None
    try:
        # One transaction: a refused first message leaves no empty conversation behind.
        with transaction.atomic():
            services.generation_start_record(user_id=owner.pk)
            conversation = services.conversation_build(
                owner=owner, first_text=text, model=model, search=search
            )
            # Admitted (the start is counted under the user's row lock), and a new
            # conversation's history is its first message: the request can go out now, while
            # the messages are written.
            request = _chat_request(
                conversation, first_messages(conversation=conversation, text=text), resolved
            )
            early = EarlyUpstream(request, resolved)
            on_loop(early.start)
            conversation.save()
            sent = services.message_send(
                conversation=conversation, text=text, demo=resolved.demo, record_start=False
            )
    except BaseException:
        if early is not None:
            on_loop(early.cancel)
        raise
    return PreparedSend(conversation, sent, request, resolved, early)


async def conversation_start(
    *,
    owner: AbstractBaseUser,
    session_key: str | None,
    text: str,
    model: str,
    search: bool = False,
) -> PreparedSend:
    """Create a conversation with its first message and streaming answer, in one database
    round trip that also re-checks the socket's session. The caller joins the conversation's
    group, then calls generation_launch. Raises services.SessionEnded, services.ShuttingDown,
    services.RateLimited, services.TooManyGenerations or services.ModelUnavailable."""
    on_loop = asyncio.get_running_loop().call_soon_threadsafe
    prepared = await db_async(_prepare_new_conversation)(
        owner, session_key, text, model, search, on_loop
    )
    registry.mark_starting(prepared.conversation.pk)
    return prepared


def prepared_snapshot(prepared: PreparedSend) -> dict:
    """The snapshot of a conversation conversation_start just created, without a query."""
    return snapshot_frame(
        conversation=prepared.conversation,
        messages=[
            message_to_dict(prepared.sent.user_message),
            message_to_dict(prepared.sent.assistant_message),
        ],
        has_more=False,
    )


async def generation_launch(prepared: PreparedSend) -> None:
    """Announce the new messages and start streaming the answer."""
    conversation_id = prepared.conversation.pk
    try:
        # Announce the messages before the task exists, so no subscriber can receive a delta
        # for a message it has not heard of (group sends may yield to other tasks).
        await group_send(
            conversation_group(conversation_id),
            messages_added_frame(
                conversation_id=conversation_id,
                messages=[prepared.sent.user_message, prepared.sent.assistant_message],
            ),
        )
        registry.register(
            Generation(
                assistant=prepared.sent.assistant_message,
                request=prepared.request,
                resolved=prepared.resolved,
                early=prepared.early,
            )
        )
    finally:
        registry.unmark_starting(conversation_id)


async def generation_send(
    *, conversation: Conversation, text: str, search: bool | None = None
) -> services.SentMessage:
    """Store the user's text and start streaming the answer. Raises services.ConversationBusy,
    services.ShuttingDown, services.RateLimited or services.TooManyGenerations."""
    # Until the task is registered, snapshots must not take the new streaming row for dead.
    registry.mark_starting(conversation.pk)
    try:
        prepared = await db_async(_prepare_send)(conversation, text, search)
    except BaseException:
        registry.unmark_starting(conversation.pk)
        raise
    await generation_launch(prepared)
    return prepared.sent


async def generation_retry(*, message: Message) -> Message:
    """Reset the last assistant message and stream it again. Raises services.NotRetryable,
    services.ConversationBusy, services.ShuttingDown, services.RateLimited or
    services.TooManyGenerations."""
    registry.mark_starting(message.conversation_id)
    try:
        message, request, resolved = await db_async(_prepare_retry)(message)
        await group_send(
            conversation_group(message.conversation_id), message_reset_frame(message=message)
        )
        registry.register(Generation(assistant=message, request=request, resolved=resolved))
    finally:
        registry.unmark_starting(message.conversation_id)
    return message


async def generation_stop(*, conversation: Conversation) -> None:
    generation = registry.generation_for(conversation.pk)
    if generation is not None:
        generation.stop()
        return
    # Owned by another process (Redis layer): it polls this flag at every checkpoint.
    await db_async(services.message_request_stop)(conversation=conversation)


def _conversation_messages(
    conversation: Conversation, live_ids: set[int], starting: bool
) -> tuple[list[Message], bool]:
    if not starting:
        # With one process, a streaming row that no task here owns belongs to a process that
        # died; with several, only a stale heartbeat says so.
        stale_after = (
            None
            if settings.GENERATION_SINGLE_PROCESS
            else timedelta(seconds=settings.GENERATION_STALE_SECONDS)
        )
        services.conversation_interrupt_orphans(
            conversation=conversation, live_ids=live_ids, stale_after=stale_after
        )
    return _page(conversation, before_id=None)


def _page(conversation: Conversation, before_id: int | None) -> tuple[list[Message], bool]:
    return message_page(
        conversation=conversation,
        before_id=before_id,
        max_messages=settings.SNAPSHOT_MAX_MESSAGES,
        max_chars=settings.SNAPSHOT_MAX_CHARS,
    )


async def conversation_snapshot(*, conversation: Conversation) -> dict:
    """Call only after the socket joined conversation_group(conversation.pk)."""
    # Read the registry here, on the event loop; the query below runs in a worker thread.
    messages, has_more = await db_async(_conversation_messages)(
        conversation, registry.live_message_ids(), registry.is_starting(conversation.pk)
    )
    generation = registry.generation_for(conversation.pk)
    return snapshot_frame(
        conversation=conversation,
        messages=[
            generation.snapshot()
            if generation is not None and generation.message_id == message.pk
            else message_to_dict(message)
            for message in messages
        ],
        has_more=has_more,
    )


async def conversation_history(*, conversation: Conversation, before_id: int) -> dict:
    """Older messages than `before_id`, for a client scrolling back past its snapshot."""
    messages, has_more = await db_async(_page)(conversation, before_id)
    return history_frame(
        conversation_id=conversation.pk,
        messages=[message_to_dict(message) for message in messages],
        has_more=has_more,
    )
