"""Validation of client frames (docs/websocket-protocol.md): every malformed frame becomes a
FrameError with a code and a plain message; nothing malformed reaches chat.streaming."""

from __future__ import annotations

import json

from django.conf import settings

from chat.models import DEFAULT_MODEL
from chat.protocol.texts import protocol_text


class FrameError(Exception):
    """A refused frame: a code plus parameters; chat.protocol.texts makes the words."""

    def __init__(self, code: str, request_type: str | None = None, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.request_type = request_type
        self.params = params

    @property
    def message(self) -> str:
        return protocol_text(self.code, self.params)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _decode(text_data: str | None, bytes_data: bytes | None, max_bytes: int) -> dict:
    if text_data is None:
        raise FrameError("invalid_frame", detail="Frames must be JSON text, not binary.")
    if len(text_data.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError("too_large", max_bytes=max_bytes)
    try:
        frame = json.loads(text_data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # RecursionError: deeply nested arrays/objects exhaust the parser's stack.
        raise FrameError("invalid_json") from exc
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", detail="A frame must be a JSON object.")
    return frame


def _int_id(frame: dict, name: str, *, nullable: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and nullable and name in frame:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FrameError(
            "invalid_frame", frame.get("type"), detail=f"'{name}' must be a positive integer."
        )
    return value


def _content(frame: dict) -> str:
    content = frame.get("content")
    if not isinstance(content, str):
        raise FrameError("invalid_frame", "send", detail="'content' must be a string.")
    content = content.strip()
    if not content:
        raise FrameError("empty_message", "send")
    if len(content) > settings.MAX_MESSAGE_CHARS:
        raise FrameError(
            "message_too_long", "send", length=len(content), limit=settings.MAX_MESSAGE_CHARS
        )
    return content


def _optional_str(frame: dict, name: str, max_length: int) -> str | None:
    value = frame.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise FrameError(
            "invalid_frame",
            frame.get("type"),
            detail=f"'{name}' must be a string of at most {max_length} characters.",
        )
    return value


def _optional_bool(frame: dict, name: str) -> bool | None:
    value = frame.get(name)
    if value is not None and not isinstance(value, bool):
        raise FrameError(
            "invalid_frame", frame.get("type"), detail=f"'{name}' must be true or false."
        )
    return value


def _send(frame: dict) -> dict:
    # Whether a provider offers the model is checked when the answer starts (model_unavailable).
    model = _optional_str(frame, "model", 64) or DEFAULT_MODEL
    return {
        "type": "send",
        "conversation_id": _int_id(frame, "conversation_id", nullable=True),
        "content": _content(frame),
        "client_id": _optional_str(frame, "client_id", 64),
        "model": model,
        "search": _optional_bool(frame, "search"),
    }


_PARSERS = {
    "subscribe": lambda f: {"type": "subscribe", "conversation_id": _int_id(f, "conversation_id")},
    "stop": lambda f: {"type": "stop", "conversation_id": _int_id(f, "conversation_id")},
    "retry": lambda f: {"type": "retry", "message_id": _int_id(f, "message_id")},
    "history": lambda f: {
        "type": "history",
        "conversation_id": _int_id(f, "conversation_id"),
        "before_id": _int_id(f, "before_id"),
    },
    "send": _send,
}


def parse_frame(text_data: str | None, bytes_data: bytes | None, *, max_bytes: int) -> dict:
    frame = _decode(text_data, bytes_data, max_bytes)
    frame_type = frame.get("type")
    if not isinstance(frame_type, str):
        raise FrameError("invalid_frame", detail="A frame needs a string 'type'.")
    parser = _PARSERS.get(frame_type)
    if parser is None:
        raise FrameError("unknown_type", frame_type=frame_type[:40])
    return parser(frame)
