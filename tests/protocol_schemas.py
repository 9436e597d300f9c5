"""A schema per server -> browser frame type, matching docs/websocket-protocol.md.

tests/wsclient.py checks every frame the consumer tests receive against these, so a frame that
drifts from the documented shape fails the test that produced it. Plain Python on purpose: a
dozen frame types do not need a schema library.
"""

from __future__ import annotations

from typing import Any

INT, STR, BOOL = (int,), (str,), (bool,)
OPT_INT, OPT_STR = (int, type(None)), (str, type(None))

ERROR_CODES = {
    "invalid_json",
    "invalid_frame",
    "unknown_type",
    "too_large",
    "empty_message",
    "message_too_long",
    "not_found",
    "busy",
    "not_retryable",
    "rate_limited",
    "too_many_generations",
    "quota_daily_tokens",
    "quota_monthly_tokens",
    "quota_requests_per_minute",
    "subscribe_rate_limited",
    "shutting_down",
    "model_unavailable",
    "internal_error",
}
STATUSES = {"streaming", "complete", "stopped", "failed", "interrupted"}

CONVERSATION = {
    "id": INT,
    "title": STR,
    "model": STR,
    "search": BOOL,
    "updated_at": OPT_STR,
    "pinned": BOOL,
    "archived": BOOL,
}
SOURCE = {"index": INT, "title": STR, "url": STR, "site_name": STR, "icon": STR}
MESSAGE_ERROR = {
    "code": STR,
    "message": STR,
    "status": OPT_INT,
    "retryable": BOOL,
    "request_id": OPT_STR,
}
USAGE = {
    "prompt_tokens": OPT_INT,
    "completion_tokens": OPT_INT,
    "total_tokens": OPT_INT,
    "reasoning_tokens": OPT_INT,
    "cached_tokens": OPT_INT,
}
TIMINGS = {
    "first_reasoning_ms": OPT_INT,
    "first_answer_ms": OPT_INT,
    "reasoning_ms": OPT_INT,
    "total_ms": OPT_INT,
    "elapsed_ms": OPT_INT,
}
RETRYING = {
    "attempt": INT,
    "max_attempts": INT,
    "delay_ms": INT,
    "error": MESSAGE_ERROR,
}
MESSAGE = {
    "id": INT,
    "role": STR,
    "content": STR,
    "reasoning": STR,
    "sources": [SOURCE],
    "status": STR,
    "finish_reason": STR,
    "model": STR,
    "demo": BOOL,
    "error": ("nullable", MESSAGE_ERROR),
    "usage": ("nullable", USAGE),
    "timings": TIMINGS,
    "created_at": OPT_STR,
    "seq": INT,
    "retrying": ("nullable", RETRYING),
}

FRAMES: dict[str, dict[str, Any]] = {
    "snapshot": {"conversation": CONVERSATION, "messages": [MESSAGE], "has_more": BOOL},
    "history": {"conversation_id": INT, "messages": [MESSAGE], "has_more": BOOL},
    "conversation.created": {"conversation": CONVERSATION, "client_id": ("optional", OPT_STR)},
    "conversation.updated": {"conversation": CONVERSATION},
    "conversation.deleted": {"id": INT},
    "conversations.cleared": {},
    "messages.added": {"conversation_id": INT, "messages": [MESSAGE]},
    "message.reset": {"conversation_id": INT, "message": MESSAGE},
    "delta": {
        "conversation_id": INT,
        "message_id": INT,
        "seq": INT,
        "reasoning": STR,
        "content": STR,
        "reasoning_ms": OPT_INT,
    },
    "end": {"conversation_id": INT, "message_id": INT, "seq": INT, "message": MESSAGE},
    "error": {"code": STR, "message": STR, "request_type": OPT_STR},
    "retrying": {"conversation_id": INT, "message_id": INT, **RETRYING},
}


def _check(value: Any, spec: Any, path: str) -> None:
    if isinstance(spec, tuple) and spec and spec[0] == "nullable":
        if value is not None:
            _check(value, spec[1], path)
        return
    if isinstance(spec, dict):
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        required = {k for k, s in spec.items() if not (isinstance(s, tuple) and s[0] == "optional")}
        assert required <= value.keys(), f"{path}: missing {sorted(required - value.keys())}"
        assert value.keys() <= spec.keys(), (
            f"{path}: undocumented {sorted(value.keys() - spec.keys())}"
        )
        for key, item in value.items():
            item_spec = spec[key]
            if isinstance(item_spec, tuple) and item_spec[0] == "optional":
                item_spec = item_spec[1]
            _check(item, item_spec, f"{path}.{key}")
        return
    if isinstance(spec, list):
        assert isinstance(value, list), f"{path}: expected a list"
        for index, item in enumerate(value):
            _check(item, spec[0], f"{path}[{index}]")
        return
    # bool is an int in Python; the protocol never sends one for the other.
    ok = isinstance(value, spec) and not (isinstance(value, bool) and bool not in spec)
    assert ok, f"{path}: {value!r} is not {spec}"


def check_frame(frame: dict) -> None:
    """Raise AssertionError when `frame` is not of a documented type and shape."""
    frame_type = frame.get("type")
    assert frame_type in FRAMES, f"undocumented frame type {frame_type!r}"
    _check({k: v for k, v in frame.items() if k != "type"}, FRAMES[frame_type], frame_type)
    if frame_type == "error":
        assert frame["code"] in ERROR_CODES, f"undocumented error code {frame['code']!r}"
    single = frame.get("message") if frame_type != "error" else None
    for message in [*frame.get("messages", []), single or {}]:
        if message:
            assert message["status"] in STATUSES, f"undocumented status {message['status']!r}"
