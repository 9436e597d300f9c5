"""An upstream request started before its answer's rows are committed.

A new conversation's first request is known as soon as the send is admitted (limits checked
and the start recorded, under the user's row lock), before its conversation and messages are
written. Starting it then lets the model's first token and the database writes overlap instead
of queueing (docs/architecture.md, "The first text goes out at once"). The events wait in a
queue until the Generation reads them; if the writes fail, the request is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from chat.upstream import ChatRequest, Event, stream_chat_with_retries
from chat.upstream_config import ResolvedUpstream

_END = object()


class EarlyUpstream:
    def __init__(self, request: ChatRequest, resolved: ResolvedUpstream) -> None:
        # Built in a database worker thread; start() and cancel() run on the event loop.
        self._request = request
        self._resolved = resolved
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._cancelled = False
        self._error: BaseException | None = None
        self.started_at: float | None = None

    def start(self) -> None:
        if self._cancelled:
            return
        self.started_at = time.monotonic()
        self._task = asyncio.create_task(self._read(), name="early-upstream")

    def cancel(self) -> None:
        """Close the request (or never start it)."""
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()

    async def _read(self) -> None:
        events = stream_chat_with_retries(
            self._request, self._resolved.pool, self._resolved.retry_policy
        )
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    self._queue.put_nowait(event)
        except Exception as exc:  # a bug: re-raised in the Generation's reader
            self._error = exc
        finally:
            self._queue.put_nowait(_END)

    async def events(self) -> AsyncIterator[Event]:
        """The request's events, as stream_chat_with_retries yields them."""
        try:
            while (event := await self._queue.get()) is not _END:
                yield event
            if self._error is not None:
                raise self._error
        finally:
            self.cancel()
