"""The websocket at /ws/chat/ (docs/websocket-protocol.md). Thin by design: it authenticates,
validates frames, checks ownership by query, and delegates to chat.streaming."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import revocation, services, streaming
from chat.db import db_async
from chat.models import Conversation
from chat.protocol.inbound import FrameError, parse_frame
from chat.protocol.outbound import conversation_created_frame, error_frame
from chat.protocol.texts import protocol_text
from chat.ratelimit import TokenBucket
from chat.selectors import conversation_get_for_user, message_get_for_user
from usage.quota import QuotaExceeded

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401

REFUSALS = {
    services.ConversationBusy: "busy",
    services.NotRetryable: "not_retryable",
    services.RateLimited: "rate_limited",
    services.TooManyGenerations: "too_many_generations",
    services.ShuttingDown: "shutting_down",
    # Its code names the limit: quota_daily_tokens, quota_monthly_tokens, …
    QuotaExceeded: None,
}


@contextmanager
def refusals_as_frame_errors(request_type: str) -> Iterator[None]:
    """Turn the services' refusals into the protocol's error frames."""
    try:
        yield
    except tuple(REFUSALS) as exc:
        code = REFUSALS[type(exc)] or exc.code
        raise FrameError(code, request_type, **getattr(exc, "params", {})) from exc


class ChatConsumer(AsyncWebsocketConsumer):
    conversation_id: int | None = None

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every handler, in its one shared
        # sync thread: every frame to every socket then queued behind whatever database work
        # that thread was doing. This consumer reaches the database only through
        # chat.db.db_async, whose worker threads do that clean-up themselves.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session_key = self.scope["session"].session_key
        self.loads = TokenBucket(burst=settings.WS_SUBSCRIBE_BURST, rate=settings.WS_SUBSCRIBE_RATE)
        self.user_group = streaming.user_group(self.user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "user_group", None):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)
        await self._leave_conversation()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_frame(text_data, bytes_data, max_bytes=settings.MAX_WS_FRAME_BYTES)
            # A new conversation re-checks the session inside its one database call.
            starts = frame["type"] == "send" and frame["conversation_id"] is None
            if not starts and not await self._session_still_valid():
                return
            handler = getattr(self, f"_on_{frame['type']}")
            await handler(frame)
        except services.SessionEnded:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        except FrameError as error:
            await self._send_error(error.code, error.message, error.request_type)
        except Exception:
            # Keep the socket usable; the log has the traceback, the user a plain message.
            log.exception("websocket command failed")
            await self._send_error("internal_error", protocol_text("internal_error"), None)

    # -- commands -------------------------------------------------------------------------------
    async def _on_subscribe(self, frame: dict) -> None:
        self._spend_a_load("subscribe")
        conversation = await self._owned_conversation(frame)
        await self._subscribe(conversation)

    async def _on_history(self, frame: dict) -> None:
        self._spend_a_load("history")
        conversation = await self._owned_conversation(frame)
        await self._send_json(
            await streaming.conversation_history(
                conversation=conversation, before_id=frame["before_id"]
            )
        )

    async def _on_send(self, frame: dict) -> None:
        if frame["conversation_id"] is None:
            await self._start_conversation(frame)
            return
        conversation = await self._owned_conversation(frame)
        with refusals_as_frame_errors("send"):
            await streaming.generation_send(conversation=conversation, text=frame["content"])

    async def _start_conversation(self, frame: dict) -> None:
        with refusals_as_frame_errors("send"):
            prepared = await streaming.conversation_start(
                owner=self.user,
                session_key=self.session_key,
                text=frame["content"],
                model=frame["model"],
            )
        try:
            created = conversation_created_frame(
                conversation=prepared.conversation, client_id=frame["client_id"]
            )
            # This socket hears of it first (its snapshot follows); the user's other tabs
            # through the group, which skips this socket.
            await self._send_json(created)
            await streaming.group_send(self.user_group, created, except_channel=self.channel_name)
            await self._join(prepared.conversation)
            await self._send_json(streaming.prepared_snapshot(prepared))
        finally:
            # The answer is stored as streaming: it must run even if this socket went away.
            await streaming.generation_launch(prepared)

    async def _on_stop(self, frame: dict) -> None:
        conversation = await self._owned_conversation(frame)
        await streaming.generation_stop(conversation=conversation)

    async def _on_retry(self, frame: dict) -> None:
        message = await db_async(message_get_for_user)(
            user=self.user, message_id=frame["message_id"]
        )
        if message is None:
            raise FrameError("not_found", "retry")
        with refusals_as_frame_errors("retry"):
            await streaming.generation_retry(message=message)

    # -- helpers --------------------------------------------------------------------------------
    def _spend_a_load(self, request_type: str) -> None:
        # Each load sends a snapshot-sized frame; a flood of them would only fill buffers.
        if not self.loads.take():
            raise FrameError("subscribe_rate_limited", request_type)

    async def _session_still_valid(self) -> bool:
        """Re-check the session (chat.revocation); close the socket when it ended."""
        valid = await db_async(revocation.session_is_valid)(
            session_key=self.session_key, user_id=self.user.pk
        )
        if not valid:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        return valid

    async def _owned_conversation(self, frame: dict) -> Conversation:
        conversation = await db_async(conversation_get_for_user)(
            user=self.user, conversation_id=frame["conversation_id"]
        )
        if conversation is None:
            raise FrameError("not_found", frame["type"])
        return conversation

    async def _subscribe(self, conversation: Conversation) -> None:
        # Join first, snapshot second: every later frame is then either inside the snapshot
        # or delivered to us (docs/websocket-protocol.md, "Sequence numbers").
        await self._join(conversation)
        await self._send_json(await streaming.conversation_snapshot(conversation=conversation))

    async def _join(self, conversation: Conversation) -> None:
        await self._leave_conversation()
        self.conversation_id = conversation.pk
        await self.channel_layer.group_add(
            streaming.conversation_group(conversation.pk), self.channel_name
        )
        # Again on every join: a restarted Redis forgets group memberships, and a socket that
        # survived it would otherwise never hear auth.check or sidebar updates again.
        await self.channel_layer.group_add(self.user_group, self.channel_name)

    async def _leave_conversation(self) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(
                streaming.conversation_group(self.conversation_id), self.channel_name
            )
            self.conversation_id = None

    async def _send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))

    async def _send_error(self, code: str, message: str, request_type: str | None) -> None:
        await self._send_json(error_frame(code=code, message=message, request_type=request_type))

    # -- channel layer events -------------------------------------------------------------------
    async def auth_check(self, event: dict) -> None:
        await self._session_still_valid()

    async def chat_frame(self, event: dict) -> None:
        if event.get("except_channel") == self.channel_name:
            return
        frame = event["frame"]
        conversation_id = frame.get("conversation_id")
        # A socket only receives frames for the conversation it is subscribed to now (a late
        # frame from a group it just left is dropped), and user-level sidebar frames.
        if conversation_id is not None and conversation_id != self.conversation_id:
            return
        try:
            await self._send_json(frame)
        except Exception:
            # The client closed the socket while frames were still queued for it (a frame and
            # the disconnect can cross). Raising here would kill the consumer before its
            # disconnect() leaves the groups; the disconnect event that follows does that.
            log.debug("dropped a frame for a closed socket", exc_info=True)
