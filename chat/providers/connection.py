"""Test connection: one small real request through the app's own client, in plain words."""

from __future__ import annotations

import time

from chat.protocol.texts import failure_text, provider_text
from chat.upstream import ChatRequest, Failure, Finish, UpstreamTarget, Usage, stream_chat

PROBE = [{"role": "user", "content": "Reply with the single word OK."}]
PROBE_MAX_TOKENS = 16


async def connection_test(target: UpstreamTarget, model: str) -> tuple[bool, str]:
    """Send one short chat request to `target`; (worked, the result in words)."""
    started = time.monotonic()
    request = ChatRequest(model=model, messages=PROBE, max_tokens=PROBE_MAX_TOKENS)
    usage: Usage | None = None
    async for event in stream_chat(request, target):
        if isinstance(event, Usage):
            usage = event
        elif isinstance(event, Failure):
            return False, failure_words(event)
        elif isinstance(event, Finish):
            milliseconds = int((time.monotonic() - started) * 1000)
            return True, _success_words(model, milliseconds, usage)
    return False, provider_text("connection_no_answer")


def _success_words(model: str, milliseconds: int, usage: Usage | None) -> str:
    params = {"model": model, "milliseconds": milliseconds}
    if usage is None:
        return provider_text("connection_ok_no_usage", params)
    return provider_text("connection_ok", {**params, "tokens": usage.total_tokens})


def failure_words(failure: Failure) -> str:
    http = f" (HTTP {failure.status})" if failure.status else ""
    params = {"upstream_message": failure.upstream_message, "status": failure.status}
    words = failure_text(failure.kind, failure.code, params)
    return provider_text("connection_failed", {"http": http, "failure": words})
