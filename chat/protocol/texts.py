"""Codes -> words, in one table. Errors and refusals are stored and sent as a code plus
parameters; the words are made here when a frame or page is built, so the interface can be
translated and messages already stored follow the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Refusals and frame errors of the websocket protocol (docs/websocket-protocol.md).
PROTOCOL_TEXTS: dict[str, str] = {
    "invalid_json": "The frame is not valid JSON.",
    "invalid_frame": "{detail}",
    "unknown_type": "Unknown frame type '{frame_type}'.",
    "too_large": "The frame is larger than {max_bytes} bytes.",
    "empty_message": "The message is empty.",
    "message_too_long": (
        "The message has {length:,} characters; the limit is {limit:,}. Nothing was sent."
    ),
    "not_found": "That conversation or message does not exist.",
    "busy": "An answer is still being generated in this conversation. Stop it or wait.",
    "not_retryable": "Only the last answer of a conversation can be retried, once it has ended.",
    "rate_limited": (
        "You started {limit} answers in the last minute, the most allowed. "
        "Try again in {retry_after} s."
    ),
    "too_many_generations": (
        "You have {limit} answers generating at once, the most allowed. Wait for one to end."
    ),
    "subscribe_rate_limited": "Too many conversation loads at once. Wait a moment.",
    "shutting_down": "The server is restarting. Send your message again in a few seconds.",
    "internal_error": "The server failed to handle that request.",
}

# How a stored answer ended, when it did not end normally.
MESSAGE_TEXTS: dict[str, str] = {
    "internal_error": "minimax-web hit an internal error while streaming. (internal_error)",
    "server_shutdown": (
        "The server restarted while this answer was being written; the text so far is kept. "
        "Retry to generate it again."
    ),
}

_FALLBACK = "Something went wrong ({code})."


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, params: Mapping[str, Any]) -> str:
    try:
        return template.format_map(_Blank(params))
    except (ValueError, TypeError):
        return template


def protocol_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    template = PROTOCOL_TEXTS.get(code)
    return _fill(template, params or {}) if template else _FALLBACK.format(code=code)


def message_error_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    """Words for a stored answer's error code (our codes and the upstream's)."""
    template = MESSAGE_TEXTS.get(code)
    return _fill(template, params or {}) if template else _FALLBACK.format(code=code)
