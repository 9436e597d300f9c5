"""The Generation: the state machine of one assistant message, streamed by one asyncio task
owned by the process (chat.streaming.registry), not by the socket.

It reads typed events from chat.upstream, coalesces deltas into numbered frames for the group
"conv.<id>" (docs/websocket-protocol.md), checkpoints the text to the Message row about once a
second and at every end, and answers snapshot requests from its in-memory state, so a socket
that (re)subscribes mid-stream misses nothing and doubles nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from django.conf import settings
from django.db import DatabaseError

from chat import services
from chat.db import db_async
from chat.models import Message
from chat.protocol.outbound import (
    conversation_updated_frame,
    delta_frame,
    end_frame,
    retrying_frame,
    retrying_state,
)
from chat.serializers import message_to_dict
from chat.streaming import registry
from chat.streaming.early import EarlyUpstream
from chat.streaming.groups import conversation_group, group_send, user_group
from chat.upstream import (
    AnswerDelta,
    ChatRequest,
    Failure,
    Finish,
    ReasoningDelta,
    ResponseStarted,
    Retrying,
    Usage,
    stream_chat_with_retries,
)
from chat.upstream_config import ResolvedUpstream
from usage.services import Settlement
from usage.settlement import answer_settlement

log = logging.getLogger(__name__)

# Seconds between attempts at the final save (then one last attempt): about 7 s in all, inside
# the shutdown drain's finalize time only for the first few.
FINAL_SAVE_RETRY_DELAYS = (0.1, 0.3, 1.0, 2.0, 4.0)


class Generation:
    def __init__(
        self,
        *,
        assistant: Message,
        request: ChatRequest,
        resolved: ResolvedUpstream,
        early: EarlyUpstream | None = None,
    ) -> None:
        self.message_id = assistant.pk
        self.conversation_id = assistant.conversation_id
        self.request = request
        self.resolved = resolved
        self.seq = assistant.stream_seq
        self.final: dict | None = None
        self._base = message_to_dict(assistant)
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._pending_reasoning: list[str] = []
        self._pending_content: list[str] = []
        self._early = early
        # Timings count from the request: an early one started before this object.
        self._started = (early.started_at if early else None) or time.monotonic()
        self._first_reasoning_ms: int | None = None
        self._first_answer_ms: int | None = None
        self._request_id = ""
        self._usage: Usage | None = None
        self._finish: Finish | None = None
        self._failure: Failure | None = None
        # The codes of the attempts that failed before the first token (usage records them).
        self._failed_attempts: list[str] = []
        # The latest automatic retry and when its wait ends (monotonic), until a delta arrives.
        self._retrying: tuple[Retrying, float] | None = None
        self._stop_requested = False
        self._interrupt_code: str | None = None
        self._reader: asyncio.Task | None = None
        # Set when a delta must not wait for the coalescing window: the first of the message,
        # and the first of the answer after the reasoning.
        self._urgent = asyncio.Event()
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
            "retrying": self._retrying_state(),
        }

    def _retrying_state(self) -> dict | None:
        if self._retrying is None:
            return None
        event, retry_at = self._retrying
        return retrying_state(
            failure=event.failure,
            attempt=event.attempt,
            max_attempts=event.max_attempts,
            delay_seconds=max(0.0, retry_at - time.monotonic()),
        )

    def stop(self) -> None:
        self._stop_requested = True
        if self._reader is not None:
            self._reader.cancel()

    def interrupt(self, code: str) -> None:
        """End now, like stop(), but as interrupted with error `code` (e.g. the server shuts
        down): the text streamed so far is flushed, saved and announced with `end`."""
        self._interrupt_code = code
        if self._reader is not None:
            self._reader.cancel()

    # -- the stream ---------------------------------------------------------------------------
    def _apply(self, event: object) -> None:
        if isinstance(event, ReasoningDelta | AnswerDelta):
            self._retrying = None
        if isinstance(event, ReasoningDelta):
            if self._first_reasoning_ms is None:
                self._first_reasoning_ms = self._elapsed_ms()
                self._urgent.set()
            self._pending_reasoning.append(event.text)
        elif isinstance(event, AnswerDelta):
            if self._first_answer_ms is None:
                self._first_answer_ms = self._elapsed_ms()
                self._urgent.set()
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
        events = (
            self._early.events()
            if self._early is not None
            else stream_chat_with_retries(
                self.request, self.resolved.target, self.resolved.retry_policy
            )
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Retrying):
                    await self._announce_retry(event)
                else:
                    self._apply(event)

    async def _announce_retry(self, event: Retrying) -> None:
        self._failed_attempts.append(event.failure.code)
        self._retrying = (event, time.monotonic() + event.delay_seconds)
        frame = retrying_frame(
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            state=self._retrying_state(),
        )
        await group_send(conversation_group(self.conversation_id), frame)

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
        frame = delta_frame(
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            seq=self.seq,
            reasoning=reasoning,
            content=content,
            reasoning_ms=self._reasoning_ms(),
        )
        await group_send(conversation_group(self.conversation_id), frame)

    async def _checkpoint(self) -> None:
        try:
            stop = await db_async(services.message_checkpoint)(
                message_id=self.message_id, fields=self._live_fields()
            )
        except DatabaseError:
            # A locked or unreachable database must not end the answer: the text is in memory
            # and the next checkpoint (or the final save) writes all of it.
            log.warning("generation %s: checkpoint failed, will retry", self.message_id)
            return
        if stop and not self._stop_requested:
            self.stop()

    async def _wait_for_text(self) -> None:
        """Until the coalescing window closes, the reader ends, or a delta is urgent."""
        if not self._urgent.is_set():
            urgent = asyncio.ensure_future(self._urgent.wait())
            await asyncio.wait(
                {self._reader, urgent},
                timeout=settings.GENERATION_COALESCE_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
            urgent.cancel()
        self._urgent.clear()

    async def _pump(self) -> None:
        self._reader = asyncio.create_task(self._read_upstream())
        last_checkpoint = time.monotonic()
        while not self._reader.done():
            await self._wait_for_text()
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
            self._failure = Failure(code="internal_error", kind="internal_error", retryable=True)
        finally:
            try:
                await self._finalize()
            except Exception:
                # The row stays "streaming"; once unregistered, the next snapshot shows it as
                # interrupted, with the text of the last checkpoint.
                log.exception("generation %s could not be finalized", self.message_id)
            finally:
                registry.unregister(self)

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
                error_params=_error_params(self._failure),
                error_status=self._failure.status,
                error_retryable=self._failure.retryable,
                request_id=self._failure.request_id or self._request_id,
            )
        if self._interrupt_code is not None and status == Message.Status.INTERRUPTED:
            fields.update(
                error_code=self._interrupt_code,
                error_params={"kind": self._interrupt_code},
                error_retryable=True,
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
        message = await self._save_final(fields)
        self.final = message_to_dict(message)
        frame = end_frame(
            conversation_id=self.conversation_id,
            message_id=self.message_id,
            seq=self.seq,
            message=self.final,
        )
        await group_send(conversation_group(self.conversation_id), frame)
        await group_send(
            user_group(message.conversation.owner_id),
            conversation_updated_frame(conversation=message.conversation),
        )

    def _settlement(self, fields: dict) -> Settlement:
        return answer_settlement(
            outcome=fields["status"],
            error_code=fields.get("error_code", ""),
            reported=self._usage,
            messages=self.request.messages,
            reasoning=fields["reasoning"],
            content=fields["content"],
            model=self.request.model,
            provider_key_id=self.resolved.provider_key_id,
            earlier_failures=self._failed_attempts,
        )

    async def _save_final(self, fields: dict) -> Message:
        """The final save, retried while the database is briefly locked or unreachable. The
        usage is settled in it, before `end`: the next send of the user sees the real usage."""
        settlement = self._settlement(fields)
        for delay in FINAL_SAVE_RETRY_DELAYS:
            try:
                return await db_async(services.message_finish)(
                    message_id=self.message_id, fields=fields, settlement=settlement
                )
            except DatabaseError:
                log.warning("generation %s: final save failed, retrying", self.message_id)
                await asyncio.sleep(delay)
        return await db_async(services.message_finish)(
            message_id=self.message_id, fields=fields, settlement=settlement
        )


def _error_params(failure: Failure) -> dict:
    """The facts the words of chat.protocol.texts need; None values are left out."""
    params = {
        "kind": failure.kind,
        "upstream_message": failure.upstream_message,
        "retry_after": failure.retry_after,
        "timeout_seconds": failure.timeout_seconds,
    }
    return {key: value for key, value in params.items() if value not in (None, "")}
