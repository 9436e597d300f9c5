"""The native protocol's bytes (docs/upstream-protocol.md §2): `id:`/`event:`/comment/`data:`
events without spaces after the colons, the string "null" as the unfinished finish_reason,
running usage in every event, and `{"code","message","request_id"}` errors."""

from __future__ import annotations

import json
from typing import Any

from .scenarios import ErrorSpec


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def native_usage(prompt_tokens: int, reasoning_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt_tokens,
        "output_tokens": output_tokens,
        "total_tokens": prompt_tokens + output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def native_message(*, reasoning: str = "", content: str = "") -> dict[str, Any]:
    return {"content": content, "reasoning_content": reasoning, "role": "assistant"}


def native_payload(
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, Any],
    request_id: str,
    search_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    output: dict[str, Any] = {"choices": [{"message": message, "finish_reason": finish_reason}]}
    if search_info is not None:
        output["search_info"] = search_info
    return {"output": output, "usage": usage, "request_id": request_id}


def native_event(event_id: int, payload: dict[str, Any]) -> str:
    return f"id:{event_id}\nevent:result\n:HTTP_STATUS/200\ndata:{dumps(payload)}\n\n"


def native_error_body(spec: ErrorSpec, request_id: str, message: str | None = None) -> dict:
    return {
        "code": spec.native_code,
        "message": message or spec.native_message,
        "request_id": request_id,
    }


def native_error_frame(spec: ErrorSpec, request_id: str, event_id: int) -> str:
    payload = {"request_id": request_id, "code": spec.native_code, "message": spec.native_message}
    return f"id:{event_id}\nevent:error\n:HTTP_STATUS/{spec.status}\ndata:{dumps(payload)}\n\n"
