"""The Generation: one asyncio task per assistant message, owned by the process, not the socket.

It reads typed events from chat.upstream, coalesces deltas into numbered frames for the group
"conv.<id>" (docs/websocket-protocol.md), checkpoints the text to the Message row about once a
second and at every end, and answers snapshot requests from its in-memory state, so a socket
that (re)subscribes mid-stream misses nothing and doubles nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chat import services
from chat.models import Conversation, Message
from chat.selectors import (
    history_for_upstream,
    user_active_generation_count,
    user_recent_message_count,
)
from chat.serializers import conversation_to_dict, message_to_dict
from chat.upstream import (
    AnswerDelta,
    ChatRequest,
    Failure,
    Finish,
    ReasoningDelta,
    ResponseStarted,
    Usage,
    stream_chat,
)
from chat.upstream_config import ResolvedUpstream, upstream_resolve

log = logging.getLogger(__name__)

# conversation id -> the generation streaming in it, in this process.
_live: dict[int, Generation] = {}
# conversation ids whose generation is being created (row stored, task not registered yet).
_starting: set[int] = set()


def conversation_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def group_send(group: str, frame: dict) -> None:
    """Send a protocol frame to every socket in a group. A failing layer must not kill a stream:
    the text is checkpointed and clients heal gaps with a new snapshot."""
    try:
        await get_channel_layer().group_send(group, {"type": "chat.frame", "frame": frame})
    except Exception:
        log.exception("channel layer send to %s failed", group)


class Generation:
    def __init__(
        self, *, assistant: Message, request: ChatRequest, resolved: ResolvedUpstream
    ) -> None:
        self.message_id = assistant.pk
        self.conversation_id = assistant.conversation_id
        self.request = request
        self.resolved = resolved
        self.seq = 0
        self.final: dict | None = None
        self._base = message_to_dict(assistant)
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._pending_reasoning: list[str] = []
        self._pending_content: list[str] = []
        self._started = time.monotonic()
        self._first_reasoning_ms: int | None = None
        self._first_answer_ms: int | None = None
        self._request_id = ""
        self._usage: Usage | None = None
        self._finish: Finish | None = None
        self._failure: Failure | None = None
        self._stop_requested = False
        self._reader: asyncio.Task | None = None
        self.task: asyncio.Task | None = None

    # -- state --------------------------------------------------------------------------------
    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    def _reasoning_ms(self) -> int | None:
        # "Thought for N s" is how long the user waited for the answer to begin.
        return self._first_answer_ms

    def _live_fields(self) -> dict:
        return {
            "content": "".join(self._content),
            "reasoning": "".join(self._reasoning),
            "stream_seq": self.seq,
            "first_reasoning_ms": self._first_reasoning_ms,
            "first_answer_ms": self._first_answer_ms,
            "reasoning_ms": self._reasoning_ms(),
            "request_id": self._request_id,
        }

    def snapshot(self) -> dict:
        """The message as of frame `seq`, synchronously (no await between read and return)."""
        if self.final is not None:
            return self.final
        fields = self._live_fields()
        return {
            **self._base,
            "content": fields["content"],
            "reasoning": fields["reasoning"],
            "seq": self.seq,
            "timings": {
                "first_reasoning_ms": self._first_reasoning_ms,
                "first_answer_ms": self._first_answer_ms,
                "reasoning_ms": self._reasoning_ms(),
                "total_ms": None,
                "elapsed_ms": self._elapsed_ms(),
            },
        }

    def stop(self) -> None:
        self._stop_requested = True
        if self._reader is not None:
            self._reader.cancel()

    # -- the stream ---------------------------------------------------------------------------
    def _apply(self, event: object) -> None:
        if isinstance(event, ReasoningDelta):
            if self._first_reasoning_ms is None:
                self._first_reasoning_ms = self._elapsed_ms()
            self._pending_reasoning.append(event.text)
        elif isinstance(event, AnswerDelta):
            if self._first_answer_ms is None:
                self._first_answer_ms = self._elapsed_ms()
            self._pending_content.append(event.text)
        elif isinstance(event, ResponseStarted):
            self._request_id = event.request_id or ""
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Finish):
            self._finish = event
        elif isinstance(event, Failure):
            self._failure = event

    async def _read_upstream(self) -> None:
        async for event in stream_chat(self.request, self.resolved.target):
            self._apply(event)

    async def _flush(self) -> None:
        if not self._pending_reasoning and not self._pending_content:
            return
        reasoning = "".join(self._pending_reasoning)
        content = "".join(self._pending_content)
        self._pending_reasoning.clear()
        self._pending_content.clear()
        self._reasoning.append(reasoning)
        self._content.append(content)
        self.seq += 1
        frame = {
            "type": "delta",
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "seq": self.seq,
            "reasoning": reasoning,
            "content": content,
            "reasoning_ms": self._reasoning_ms(),
        }
        await group_send(conversation_group(self.conversation_id), frame)

    async def _checkpoint(self) -> None:
        stop = await database_sync_to_async(services.message_checkpoint)(
            message_id=self.message_id, fields=self._live_fields()
        )
        if stop and not self._stop_requested:
            self.stop()

    async def _pump(self) -> None:
        self._reader = asyncio.create_task(self._read_upstream())
        last_checkpoint = time.monotonic()
        while not self._reader.done():
            await asyncio.wait({self._reader}, timeout=settings.GENERATION_COALESCE_SECONDS)
            await self._flush()
            if time.monotonic() - last_checkpoint >= settings.GENERATION_CHECKPOINT_SECONDS:
                last_checkpoint = time.monotonic()
                await self._checkpoint()
        if not self._reader.cancelled():
            self._reader.result()  # re-raise a bug in the reader here, not silently

    async def run(self) -> None:
        try:
            await self._pump()
        except asyncio.CancelledError:
            # The process is shutting down: the answer ends as interrupted (_final_status).
            if self._reader is not None:
                self._reader.cancel()
            raise
        except Exception:
            log.exception("generation %s crashed", self.message_id)
            self._failure = Failure(
                code="internal_error",
                message="minimax-web hit an internal error while streaming. (internal_error)",
            )
        finally:
            try:
                await self._finalize()
            except Exception:
                # The row stays "streaming"; once unregistered, the next snapshot shows it as
                # interrupted, with the text of the last checkpoint.
                log.exception("generation %s could not be finalized", self.message_id)
            finally:
                _live.pop(self.conversation_id, None)

    # -- the end ------------------------------------------------------------------------------
    def _final_status(self) -> tuple[str, str]:
        if self._finish is not None and self._failure is None:
            return Message.Status.COMPLETE, self._finish.reason
        if self._failure is not None:
            return Message.Status.FAILED, ""
        if self._stop_requested:
            return Message.Status.STOPPED, ""
        return Message.Status.INTERRUPTED, ""

    def _final_fields(self) -> dict:
        status, finish_reason = self._final_status()
        total_ms = self._elapsed_ms()
        fields = {
            **self._live_fields(),
            "status": status,
            "finish_reason": finish_reason,
            "total_ms": total_ms,
            "stop_requested": False,
        }
        if fields["reasoning_ms"] is None and fields["reasoning"]:
            fields["reasoning_ms"] = total_ms
        if self._failure is not None and status == Message.Status.FAILED:
            fields.update(
                error_code=self._failure.code[:100],
                error_message=self._failure.message,
                error_status=self._failure.status,
                error_retryable=self._failure.retryable,
                request_id=self._failure.request_id or self._request_id,
            )
        if self._usage is not None:
            fields.update(
                prompt_tokens=self._usage.prompt_tokens,
                completion_tokens=self._usage.completion_tokens,
                total_tokens=self._usage.total_tokens,
                reasoning_tokens=self._usage.reasoning_tokens,
                cached_tokens=self._usage.cached_tokens,
            )
        return fields

    async def _finalize(self) -> None:
        await self._flush()
        self.seq += 1
        fields = self._final_fields()
        fields["stream_seq"] = self.seq
        message = await database_sync_to_async(services.message_finish)(
            message_id=self.message_id, fields=fields
        )
        self.final = message_to_dict(message)
        frame = {
            "type": "end",
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "seq": self.seq,
            "message": self.final,
        }
        await group_send(conversation_group(self.conversation_id), frame)
        await group_send(
            user_group(message.conversation.owner_id),
            {
                "type": "conversation.updated",
                "conversation": conversation_to_dict(message.conversation),
            },
        )


# -- public API (used by the consumer) -----------------------------------------------------------
def live_message_ids() -> set[int]:
    return {generation.message_id for generation in _live.values()}


def _build_request(conversation: Conversation, assistant: Message) -> ChatRequest:
    return ChatRequest(
        model=conversation.model,
        messages=history_for_upstream(conversation=conversation, before_id=assistant.pk),
        temperature=conversation.temperature,
        top_p=conversation.top_p,
        presence_penalty=conversation.presence_penalty,
        max_tokens=conversation.max_tokens,
    )


def _check_limits(user_id: int) -> None:
    if user_recent_message_count(user_id=user_id) >= settings.MAX_MESSAGES_PER_MINUTE:
        raise services.RateLimited
    if (
        user_active_generation_count(user_id=user_id)
        >= settings.MAX_CONCURRENT_GENERATIONS_PER_USER
    ):
        raise services.TooManyGenerations


def _prepare_send(
    conversation: Conversation, text: str
) -> tuple[services.SentMessage, ChatRequest, ResolvedUpstream]:
    _check_limits(conversation.owner_id)
    resolved = upstream_resolve()
    sent = services.message_send(conversation=conversation, text=text, demo=resolved.demo)
    return sent, _build_request(conversation, sent.assistant_message), resolved


def _prepare_retry(message: Message) -> tuple[Message, ChatRequest, ResolvedUpstream]:
    _check_limits(message.conversation.owner_id)
    resolved = upstream_resolve()
    message = services.message_reset_for_retry(message=message, demo=resolved.demo)
    return message, _build_request(message.conversation, message), resolved


async def generation_check_limits(*, user_id: int) -> None:
    """Raise services.RateLimited / TooManyGenerations now, e.g. before creating a conversation
    that would otherwise stay empty. generation_send checks again (the limits may change)."""
    await database_sync_to_async(_check_limits)(user_id)


async def generation_send(*, conversation: Conversation, text: str) -> services.SentMessage:
    """Store the user's text and start streaming the answer. Raises services.ConversationBusy,
    services.RateLimited or services.TooManyGenerations."""
    # Until the task is registered, snapshots must not take the new streaming row for dead.
    _starting.add(conversation.pk)
    try:
        sent, request, resolved = await database_sync_to_async(_prepare_send)(conversation, text)
        # Announce the messages before the task exists, so no subscriber can receive a delta
        # for a message it has not heard of (group sends may yield to other tasks).
        await group_send(
            conversation_group(conversation.pk),
            {
                "type": "messages.added",
                "conversation_id": conversation.pk,
                "messages": [
                    message_to_dict(sent.user_message),
                    message_to_dict(sent.assistant_message),
                ],
            },
        )
        _register(Generation(assistant=sent.assistant_message, request=request, resolved=resolved))
    finally:
        _starting.discard(conversation.pk)
    await _record_key_use(resolved)
    return sent


async def generation_retry(*, message: Message) -> Message:
    """Reset the last assistant message and stream it again. Raises services.NotRetryable,
    services.ConversationBusy, services.RateLimited or services.TooManyGenerations."""
    _starting.add(message.conversation_id)
    try:
        message, request, resolved = await database_sync_to_async(_prepare_retry)(message)
        await group_send(
            conversation_group(message.conversation_id),
            {
                "type": "message.reset",
                "conversation_id": message.conversation_id,
                "message": message_to_dict(message),
            },
        )
        _register(Generation(assistant=message, request=request, resolved=resolved))
    finally:
        _starting.discard(message.conversation_id)
    await _record_key_use(resolved)
    return message


def _register(generation: Generation) -> None:
    _live[generation.conversation_id] = generation
    generation.task = asyncio.create_task(
        generation.run(), name=f"generation-{generation.message_id}"
    )


async def _record_key_use(resolved: ResolvedUpstream) -> None:
    if resolved.provider_key_id is not None:
        await database_sync_to_async(services.provider_key_record_use)(
            provider_key_id=resolved.provider_key_id
        )


async def generation_stop(*, conversation: Conversation) -> None:
    generation = _live.get(conversation.pk)
    if generation is not None:
        generation.stop()
        return
    # Owned by another process (Redis layer): it polls this flag at every checkpoint.
    await database_sync_to_async(services.message_request_stop)(conversation=conversation)


def _conversation_messages(
    conversation: Conversation, live_ids: set[int], starting: bool
) -> list[Message]:
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
    return list(conversation.messages.order_by("id"))


async def conversation_snapshot(*, conversation: Conversation) -> dict:
    """Call only after the socket joined conversation_group(conversation.pk)."""
    # Read the registry here, on the event loop; the query below runs in a worker thread.
    messages = await database_sync_to_async(_conversation_messages)(
        conversation, live_message_ids(), conversation.pk in _starting
    )
    generation = _live.get(conversation.pk)
    return {
        "type": "snapshot",
        "conversation": conversation_to_dict(conversation),
        "messages": [
            generation.snapshot()
            if generation is not None and generation.message_id == message.pk
            else message_to_dict(message)
            for message in messages
        ],
    }
