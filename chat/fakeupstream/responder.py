"""The protocol core: one request in, one FakeResponse (status, headers, body chunks) out.

Independent of any server, so the TCP server and the in-process httpx transport send the same
bytes. Shapes follow PROTOCOL.md §1.2/§1.3 (success) and §3.3 (errors), key order included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from .scenarios import (
    ERRORS,
    AttemptCounter,
    ErrorSpec,
    Scenario,
    ScenarioError,
    after_attempt,
    prompt_of,
    scenario_from,
)
from .texts import answer_pieces, reasoning_pieces

SSE_TYPE = "text/event-stream;charset=UTF-8"
JSON_TYPE = "application/json"
MALFORMED = 'data: {"choices":[{"delta":\n\n'
PING = ": ping\n\n"
MAX_TOKENS_LIMIT = 32768
_SPLIT_PAUSE = 0.005  # so the two halves of a split character reach the client separately


@dataclass
class FakeResponse:
    status: int
    headers: list[tuple[str, str]]
    chunks: AsyncIterator[bytes]
    stream: bool = False  # a 200 text/event-stream body (what the server counts as a stream)
    summary: str = ""  # for the server's log line


class _Reject(Exception):
    def __init__(self, error: str, message: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.message = message


@dataclass(frozen=True)
class _Request:
    model: str
    messages: list[Any]
    stream: bool
    include_usage: bool
    max_tokens: int | None


@dataclass(frozen=True)
class _Reply:
    """Everything a successful (or mid-stream failing) response is made of."""

    scenario: Scenario
    request_id: str
    chat_id: str
    created: int
    model: str
    reasoning: list[str]
    answer: list[str]
    finish_reason: str
    prompt_tokens: int
    include_usage: bool


# Used when a caller passes no counter of its own (the server and the transport each have one).
_ATTEMPTS = AttemptCounter()


async def respond(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    base: Scenario,
    attempts: AttemptCounter | None = None,
) -> FakeResponse:
    request_id = str(uuid.uuid4())
    route = path.split("?", 1)[0]
    if route == "/health" and method == "GET":
        return _json_response(200, {"status": "ok"}, request_id)
    if not route.endswith("/chat/completions"):
        return _error_response(ERRORS["not_found"], request_id, message=f"Not found: {route}")
    if method != "POST":
        return _error_response(ERRORS["method_not_allowed"], request_id)
    try:
        request, scenario = _parse(headers, body, base)
    except _Reject as reject:
        return _error_response(ERRORS[reject.error], request_id, message=reject.message)
    scenario = after_attempt(scenario, request.messages, attempts or _ATTEMPTS)
    if scenario.headers_delay:
        await asyncio.sleep(scenario.headers_delay)
    reply = _reply(request, scenario, request_id)
    if scenario.error is not None and (scenario.error_at is None or not request.stream):
        return _error_before(reply, ERRORS[scenario.error])
    if request.stream:
        return _stream_response(reply)
    return await _completion_response(reply)


# --- request validation -------------------------------------------------------------------


def _parse(headers: Mapping[str, str], body: bytes, base: Scenario) -> tuple[_Request, Scenario]:
    _check_auth(headers)
    data = _load_json(body)
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Reject("messages_too_short")
    try:
        scenario = scenario_from(headers, messages, base)
    except ScenarioError as exc:
        raise _Reject("invalid_fake_scenario", f"Invalid fake scenario: {exc}") from None
    if not any(isinstance(m, dict) and m.get("role") == "user" for m in messages):
        raise _Reject("no_user_message")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _Reject("model_not_exist")
    _check_sampling(data)
    return _Request(
        model=model,
        messages=messages,
        stream=data.get("stream") is True,
        include_usage=_include_usage(data),
        max_tokens=_max_tokens(data),
    ), scenario


def _check_auth(headers: Mapping[str, str]) -> None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _Reject("invalid_api_key")


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Reject("invalid_json") from None
    if not isinstance(data, dict):
        raise _Reject("invalid_json")
    return data


# (key, error, lowest, highest, lowest allowed?, highest allowed?) — DashScope's documented ranges.
_RANGES = (
    ("temperature", "temperature_range", 0.0, 2.0, True, False),
    ("top_p", "top_p_range", 0.0, 1.0, False, True),
    ("presence_penalty", "presence_penalty_range", -2.0, 2.0, True, True),
)


def _check_sampling(data: Mapping[str, Any]) -> None:
    for key, error, low, high, low_ok, high_ok in _RANGES:
        value = data.get(key)
        if value is None:
            continue
        if not _is_number(value) or not _within(float(value), low, high, low_ok, high_ok):
            raise _Reject(error)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _within(value: float, low: float, high: float, low_ok: bool, high_ok: bool) -> bool:
    above = value >= low if low_ok else value > low
    below = value <= high if high_ok else value < high
    return above and below


def _max_tokens(data: Mapping[str, Any]) -> int | None:
    value = data.get("max_tokens")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TOKENS_LIMIT:
        raise _Reject("invalid_parameter")
    return value


def _include_usage(data: Mapping[str, Any]) -> bool:
    options = data.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


# --- building the reply -------------------------------------------------------------------


def _reply(request: _Request, scenario: Scenario, request_id: str) -> _Reply:
    prompt = prompt_of(request.messages)
    answer = answer_pieces(scenario, prompt)
    finish_reason = scenario.finish_reason
    # max_tokens caps only the answer, not the chain of thought (PROTOCOL.md §1.1).
    if request.max_tokens is not None and len(answer) > request.max_tokens:
        answer, finish_reason = answer[: request.max_tokens], "length"
    return _Reply(
        scenario=scenario,
        request_id=request_id,
        chat_id=f"chatcmpl-{uuid.uuid4()}",
        created=int(time.time()),
        model=scenario.model or request.model,
        reasoning=reasoning_pieces(scenario, prompt),
        answer=answer,
        finish_reason=finish_reason,
        prompt_tokens=estimate_prompt_tokens(request.messages),
        include_usage=request.include_usage,
    )


def estimate_prompt_tokens(messages: list[Any]) -> int:
    """PROTOCOL.md §7's estimator: ceil(ascii/3) + 1 per non-ASCII char + 4 per message."""
    total = 0
    for message in messages:
        text = _all_text(message)
        ascii_chars = sum(1 for char in text if ord(char) < 128)
        total += 4 + math.ceil(ascii_chars / 3) + (len(text) - ascii_chars)
    return max(total, 1)


def _all_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _usage(reply: _Reply) -> dict[str, Any]:
    completion = len(reply.reasoning) + len(reply.answer)
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "completion_tokens_details": {"reasoning_tokens": len(reply.reasoning)},
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- errors -------------------------------------------------------------------------------


def _error_message(spec: ErrorSpec, model: str = "") -> str:
    return spec.message.replace("{model}", model)


def _compat_error(spec: ErrorSpec, message: str, code_first: bool) -> dict[str, Any]:
    if code_first:
        return {"code": spec.code, "param": None, "message": message, "type": spec.type}
    return {"message": message, "type": spec.type, "param": None, "code": spec.code}


def _envelope(
    spec: ErrorSpec, request_id: str, message: str, chat_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": _compat_error(spec, message, spec.code_first)}
    if spec.with_chat_id and chat_id:
        body["id"] = chat_id
    body["request_id"] = request_id
    return body


def _native_frame(spec: ErrorSpec, request_id: str, event_id: int) -> str:
    payload = {"request_id": request_id, "code": spec.native_code, "message": spec.native_message}
    return f"id:{event_id}\nevent:error\n:HTTP_STATUS/{spec.status}\ndata:{dumps(payload)}\n\n"


def _data_error_frame(spec: ErrorSpec, message: str) -> str:
    # The mid-stream capture (PROTOCOL.md §3.3 c) has message-first order and no request_id.
    return f"data: {dumps({'error': _compat_error(spec, message, code_first=False)})}\n\n"


def _error_response(
    spec: ErrorSpec, request_id: str, message: str | None = None, model: str = ""
) -> FakeResponse:
    body = _envelope(spec, request_id, message or _error_message(spec, model))
    return _json_response(spec.status, body, request_id, summary=spec.code)


def _error_before(reply: _Reply, spec: ErrorSpec) -> FakeResponse:
    shape = reply.scenario.error_shape
    summary = reply.scenario.summary()
    if shape == "json":
        message = _error_message(spec, reply.model)
        body = _envelope(spec, reply.request_id, message, reply.chat_id)
        response = _json_response(spec.status, body, reply.request_id, summary=summary)
        response.headers += _retry_after(reply.scenario)
        return response
    if shape == "event":
        text = _native_frame(spec, reply.request_id, event_id=1)
    else:  # PROTOCOL.md §3.3 (b): SSE-bodied 4xx, code-first order, no request_id
        inner = _compat_error(spec, _error_message(spec, reply.model), code_first=True)
        text = f"data: {dumps({'error': inner})}\n\n"
    data = _encode(text, reply.scenario.crlf)
    headers = _headers(SSE_TYPE, reply.request_id) + _retry_after(reply.scenario)
    return FakeResponse(spec.status, headers, _once(data), False, summary)


def _retry_after(scenario: Scenario) -> list[tuple[str, str]]:
    if scenario.retry_after is None:
        return []
    return [("retry-after", f"{scenario.retry_after:g}")]


# --- responses ----------------------------------------------------------------------------


def _headers(content_type: str, request_id: str) -> list[tuple[str, str]]:
    return [("content-type", content_type), ("x-request-id", request_id)]


def _json_response(
    status: int, body: Mapping[str, Any], request_id: str, summary: str = ""
) -> FakeResponse:
    data = dumps(body).encode()
    headers = [*_headers(JSON_TYPE, request_id), ("content-length", str(len(data)))]
    return FakeResponse(status, headers, _once(data), False, summary)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _completion_response(reply: _Reply) -> FakeResponse:
    tps = reply.scenario.tokens_per_second
    if tps > 0:
        await asyncio.sleep((len(reply.reasoning) + len(reply.answer)) / tps)
    message = {
        "role": "assistant",
        "content": "".join(reply.answer),
        "reasoning_content": "".join(reply.reasoning),
    }
    body = {
        "choices": [
            {"message": message, "finish_reason": reply.finish_reason, "index": 0, "logprobs": None}
        ],
        "object": "chat.completion",
        "usage": _usage(reply),
        "created": reply.created,
        "system_fingerprint": None,
        "model": reply.model,
        "id": reply.chat_id,
    }
    return _json_response(200, body, reply.request_id, summary=reply.scenario.summary())


def _stream_response(reply: _Reply) -> FakeResponse:
    headers = [*_headers(SSE_TYPE, reply.request_id), ("cache-control", "no-cache")]
    return FakeResponse(200, headers, _stream_body(reply), True, reply.scenario.summary())


# --- the stream ---------------------------------------------------------------------------


def _chunk(reply: _Reply, choices: list[Any], usage: Any = None) -> str:
    chunk = {
        "choices": choices,
        "object": "chat.completion.chunk",
        "usage": usage,
        "created": reply.created,
        "system_fingerprint": None,
        "model": reply.model,
        "id": reply.chat_id,
    }
    return f"data: {dumps(chunk)}\n\n"


def _first_choice() -> dict[str, Any]:
    delta = {"content": None, "role": "assistant", "reasoning_content": ""}
    return {"delta": delta, "index": 0, "logprobs": None, "finish_reason": None}


def _reasoning_choice(piece: str) -> dict[str, Any]:
    delta = {"content": None, "reasoning_content": piece}
    return {"finish_reason": None, "logprobs": None, "delta": delta, "index": 0}


def _answer_choice(piece: str) -> dict[str, Any]:
    delta = {"content": piece, "reasoning_content": None}
    return {"delta": delta, "finish_reason": None, "index": 0, "logprobs": None}


def _finish_choice(reason: str) -> dict[str, Any]:
    delta = {"content": "", "reasoning_content": None}
    return {"finish_reason": reason, "delta": delta, "index": 0, "logprobs": None}


def _encode(text: str, crlf: bool) -> bytes:
    # JSON never holds a raw newline, so every "\n" here is SSE framing.
    return (text.replace("\n", "\r\n") if crlf else text).encode()


def split_utf8(data: bytes) -> list[bytes]:
    """Cut inside the first multi-byte UTF-8 character, if there is one."""
    start = next((i for i, byte in enumerate(data) if byte >= 0xC0), None)
    return [data] if start is None else [data[: start + 1], data[start + 1 :]]


async def _stream_body(reply: _Reply) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(_frames(reply)) as frames:
        async for text in frames:
            data = _encode(text, reply.scenario.crlf)
            pieces = split_utf8(data) if reply.scenario.split_utf8 else [data]
            for index, piece in enumerate(pieces):
                if index:
                    await asyncio.sleep(_SPLIT_PAUSE)
                yield piece


class _Pacer:
    """Deadline-based pacing, so per-chunk overhead doesn't slow the stream below its tps."""

    def __init__(self, tokens_per_second: float) -> None:
        self._interval = 1.0 / tokens_per_second if tokens_per_second > 0 else 0.0
        self.restart()

    def restart(self) -> None:
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self._interval:
            await asyncio.sleep(0)  # still a cancellation point, and fair to other tasks
            return
        self._next += self._interval
        await asyncio.sleep(max(0.0, self._next - time.monotonic()))


def _hits(after: int | None, sent: int, total: int) -> bool:
    """A fault set for "after N tokens" fires at min(N, total): before the finish chunk."""
    return after is not None and min(after, total) == sent


async def _frames(reply: _Reply) -> AsyncIterator[str]:
    s = reply.scenario
    tokens = [_reasoning_choice(p) for p in reply.reasoning]
    tokens += [_answer_choice(p) for p in reply.answer]
    total = len(tokens)
    if s.silence_after_headers:
        await asyncio.sleep(s.silence_after_headers)
    pacer = _Pacer(s.tokens_per_second)
    yield _chunk(reply, [_first_choice()])
    for sent in range(total + 1):
        if _hits(s.stall_after, sent, total):
            async with contextlib.aclosing(_stall(s)) as pings:
                async for ping in pings:
                    yield ping
            pacer.restart()
        if _hits(s.malformed_after, sent, total):
            yield MALFORMED
        if s.error is not None and _hits(s.error_at, sent, total):
            yield _error_during(reply, ERRORS[s.error], event_id=sent + 2)
            return
        if _hits(s.truncate_after, sent, total):
            return  # the connection just closes: no finish chunk, no usage, no [DONE]
        if sent < total:
            await pacer.wait()
            if s.keepalive:
                yield PING
            yield _chunk(reply, [tokens[sent]])
    yield _chunk(reply, [_finish_choice(reply.finish_reason)])
    if reply.include_usage:
        yield _chunk(reply, [], _usage(reply))
    yield "data: [DONE]\n\n"


async def _stall(s: Scenario) -> AsyncIterator[str]:
    remaining = s.stall_seconds
    while remaining > 0:
        step = min(1.0, remaining) if s.keepalive else remaining
        await asyncio.sleep(step)
        remaining -= step
        if s.keepalive:
            yield PING


def _error_during(reply: _Reply, spec: ErrorSpec, event_id: int) -> str:
    if reply.scenario.error_shape == "event":
        return _native_frame(spec, reply.request_id, event_id)
    return _data_error_frame(spec, _error_message(spec, reply.model))
