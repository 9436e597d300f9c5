"""Validation of client frames (docs/websocket-protocol.md): every malformed frame becomes a
FrameError with a code and a plain message; nothing malformed reaches chat.generation."""

from __future__ import annotations

import json

from django.conf import settings

from chat.models import DEFAULT_MODEL, MODEL_CHOICES


class FrameError(Exception):
    def __init__(self, code: str, message: str, request_type: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_type = request_type


def _decode(text_data: str | None, bytes_data: bytes | None, max_bytes: int) -> dict:
    if text_data is None:
        raise FrameError("invalid_frame", "Frames must be JSON text, not binary.")
    if len(text_data.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError("too_large", f"The frame is larger than {max_bytes} bytes.")
    try:
        frame = json.loads(text_data)
    except ValueError as exc:
        raise FrameError("invalid_json", "The frame is not valid JSON.") from exc
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "A frame must be a JSON object.")
    return frame


def _int_id(frame: dict, name: str, *, nullable: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and nullable and name in frame:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FrameError(
            "invalid_frame", f"'{name}' must be a positive integer.", frame.get("type")
        )
    return value


def _content(frame: dict) -> str:
    content = frame.get("content")
    if not isinstance(content, str):
        raise FrameError("invalid_frame", "'content' must be a string.", "send")
    content = content.strip()
    if not content:
        raise FrameError("empty_message", "The message is empty.", "send")
    if len(content) > settings.MAX_MESSAGE_CHARS:
        raise FrameError(
            "message_too_long",
            f"The message has {len(content):,} characters; the limit is "
            f"{settings.MAX_MESSAGE_CHARS:,}. Nothing was sent.",
            "send",
        )
    return content


def _optional_str(frame: dict, name: str, max_length: int) -> str | None:
    value = frame.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise FrameError(
            "invalid_frame",
            f"'{name}' must be a string of at most {max_length} characters.",
            frame.get("type"),
        )
    return value


def _send(frame: dict) -> dict:
    model = _optional_str(frame, "model", 64) or DEFAULT_MODEL
    if model not in dict(MODEL_CHOICES):
        raise FrameError("invalid_frame", f"Unknown model '{model}'.", "send")
    return {
        "type": "send",
        "conversation_id": _int_id(frame, "conversation_id", nullable=True),
        "content": _content(frame),
        "client_id": _optional_str(frame, "client_id", 64),
        "model": model,
    }


_PARSERS = {
    "subscribe": lambda f: {"type": "subscribe", "conversation_id": _int_id(f, "conversation_id")},
    "stop": lambda f: {"type": "stop", "conversation_id": _int_id(f, "conversation_id")},
    "retry": lambda f: {"type": "retry", "message_id": _int_id(f, "message_id")},
    "send": _send,
}


def parse_frame(text_data: str | None, bytes_data: bytes | None, *, max_bytes: int) -> dict:
    frame = _decode(text_data, bytes_data, max_bytes)
    frame_type = frame.get("type")
    if not isinstance(frame_type, str):
        raise FrameError("invalid_frame", "A frame needs a string 'type'.")
    parser = _PARSERS.get(frame_type)
    if parser is None:
        raise FrameError("unknown_type", f"Unknown frame type '{frame_type[:40]}'.", None)
    return parser(frame)
