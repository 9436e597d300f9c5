"""The protocol core: one request in, one FakeResponse (status, headers, body chunks) out.

Independent of any server, so the TCP server and the in-process httpx transport send the same
bytes. Both DashScope protocols: the OpenAI-compatible `/chat/completions` and the native
`/services/aigc/text-generation/generation` (docs/upstream-protocol.md §1-§3), key order
included, with the same scenarios.
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

from .native import (
    dumps,
    native_error_body,
    native_error_frame,
    native_event,
    native_message,
    native_payload,
    native_usage,
)
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
from .search import SearchRequest, cited_pieces, search_info, search_request
from .texts import answer_pieces, reasoning_pieces

SSE_TYPE = "text/event-stream;charset=UTF-8"
JSON_TYPE = "application/json"
MALFORMED = 'data: {"choices":[{"delta":\n\n'
PING = ": ping\n\n"
MAX_TOKENS_LIMIT = 32768
COMPAT = "openai_compat"
NATIVE = "dashscope_native"
NATIVE_PATH = "/services/aigc/text-generation/generation"
# Keys the fake refuses as DashScope would, for testing key pools: the key's prefix picks the
# error (a throttled key is told to come back after KEY_RETRY_AFTER seconds).
KEY_ERRORS = {"sk-fake-bad": "invalid_api_key", "sk-fake-owes": "arrearage"}
THROTTLED_KEY = "sk-fake-busy"
KEY_RETRY_AFTER = 30
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
    protocol: str = COMPAT
    search: SearchRequest | None = None


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
    protocol: str = COMPAT
    search: SearchRequest | None = None


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
    protocol = _protocol_of(route)
    if protocol is None:
        return _error_response(ERRORS["not_found"], request_id, message=f"Not found: {route}")
    if method != "POST":
        return _error_response(ERRORS["method_not_allowed"], request_id, protocol=protocol)
    refused = _refused_key(headers, request_id, protocol)
    if refused is not None:
        return refused
    try:
        request, scenario = _parse(headers, body, base, protocol)
    except _Reject as reject:
        spec = ERRORS[reject.error]
        return _error_response(spec, request_id, message=reject.message, protocol=protocol)
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


def _protocol_of(route: str) -> str | None:
    if route.endswith("/chat/completions"):
        return COMPAT
    if route.endswith(NATIVE_PATH):
        return NATIVE
    return None


def _parse(
    headers: Mapping[str, str], body: bytes, base: Scenario, protocol: str = COMPAT
) -> tuple[_Request, Scenario]:
    _check_auth(headers)
    data = _load_json(body)
    if protocol == NATIVE:
        return _parse_native(headers, data, base)
    messages, scenario = _check_messages(data.get("messages"), headers, base)
    _check_model_and_sampling(data)
    return _Request(
        model=data["model"],
        messages=messages,
        stream=data.get("stream") is True,
        include_usage=_include_usage(data),
        max_tokens=_max_tokens(data),
        search=search_request(data),
    ), scenario


def _parse_native(
    headers: Mapping[str, str], data: Mapping[str, Any], base: Scenario
) -> tuple[_Request, Scenario]:
    """The native body: messages under `input`, knobs under `parameters`; streaming is asked
    for by a header, not the body (docs/upstream-protocol.md §2)."""
    source = data.get("input")
    messages, scenario = _check_messages(
        source.get("messages") if isinstance(source, dict) else None, headers, base
    )
    parameters = data.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    _check_model_and_sampling({"model": data.get("model"), **parameters})
    return _Request(
        model=data["model"],
        messages=messages,
        stream=_native_stream_asked(headers),
        include_usage=True,
        max_tokens=_max_tokens(parameters),
        protocol=NATIVE,
        search=search_request(parameters),
    ), scenario


def _native_stream_asked(headers: Mapping[str, str]) -> bool:
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get(
        "x-dashscope-sse", ""
    ).lower() == "enable" or "text/event-stream" in lowered.get("accept", "")


def _check_model_and_sampling(data: Mapping[str, Any]) -> None:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _Reject("model_not_exist")
    _check_sampling(data)


def _check_messages(
    messages: object, headers: Mapping[str, str], base: Scenario
) -> tuple[list[Any], Scenario]:
    if not isinstance(messages, list) or not messages:
        raise _Reject("messages_too_short")
    try:
        scenario = scenario_from(headers, messages, base)
    except ScenarioError as exc:
        raise _Reject("invalid_fake_scenario", f"Invalid fake scenario: {exc}") from None
    if not any(isinstance(m, dict) and m.get("role") == "user" for m in messages):
        raise _Reject("no_user_message")
    return messages, scenario


def _bearer_key(headers: Mapping[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    return value.partition(" ")[2].strip()


def _refused_key(headers: Mapping[str, str], request_id: str, protocol: str) -> FakeResponse | None:
    key = _bearer_key(headers)
    if key.startswith(THROTTLED_KEY):
        response = _error_response(ERRORS["limit_requests"], request_id, protocol=protocol)
        response.headers.append(("retry-after", str(KEY_RETRY_AFTER)))
        return response
    error = next((e for prefix, e in KEY_ERRORS.items() if key.startswith(prefix)), None)
    if error is None:
        return None
    return _error_response(ERRORS[error], request_id, protocol=protocol)


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
    answer = answer_pieces(scenario, prompt) + cited_pieces(request.search)
    finish_reason = scenario.finish_reason
    # max_tokens caps only the answer, not the chain of thought (docs/upstream-protocol.md §1).
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
        protocol=request.protocol,
        search=request.search,
    )


def estimate_prompt_tokens(messages: list[Any]) -> int:
    """ceil(ascii/3) + 1 per non-ASCII char + 4 per message (docs/upstream-protocol.md §7)."""
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


def _data_error_frame(spec: ErrorSpec, message: str) -> str:
    # The mid-stream capture has message-first order and no request_id
    # (docs/upstream-protocol.md §3).
    return f"data: {dumps({'error': _compat_error(spec, message, code_first=False)})}\n\n"


def _error_response(
    spec: ErrorSpec,
    request_id: str,
    message: str | None = None,
    model: str = "",
    protocol: str = COMPAT,
) -> FakeResponse:
    if protocol == NATIVE:
        body = native_error_body(spec, request_id, message)
    else:
        body = _envelope(spec, request_id, message or _error_message(spec, model))
    return _json_response(spec.status, body, request_id, summary=spec.code)


def _error_before(reply: _Reply, spec: ErrorSpec) -> FakeResponse:
    shape = reply.scenario.error_shape
    summary = reply.scenario.summary()
    if reply.protocol == NATIVE:
        # The native wire has one error envelope; an SSE-bodied error is an event:error frame.
        shape = "json" if shape == "json" else "event"
    if shape == "json" and reply.protocol == NATIVE:
        body = native_error_body(spec, reply.request_id)
        response = _json_response(spec.status, body, reply.request_id, summary=summary)
        response.headers += _retry_after(reply.scenario)
        return response
    if shape == "json":
        message = _error_message(spec, reply.model)
        body = _envelope(spec, reply.request_id, message, reply.chat_id)
        response = _json_response(spec.status, body, reply.request_id, summary=summary)
        response.headers += _retry_after(reply.scenario)
        return response
    if shape == "event":
        text = native_error_frame(spec, reply.request_id, event_id=1)
    else:  # docs/upstream-protocol.md §3: SSE-bodied 4xx, code-first order, no request_id
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
    if reply.protocol == NATIVE:
        message = native_message(reasoning="".join(reply.reasoning), content="".join(reply.answer))
        payload = native_payload(
            message, reply.finish_reason, _native_usage(reply), reply.request_id, _search(reply)
        )
        return _json_response(200, payload, reply.request_id, summary=reply.scenario.summary())
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
    wire = _NativeWire(reply) if reply.protocol == NATIVE else _CompatWire(reply)
    tokens = [("reasoning", p) for p in reply.reasoning] + [("answer", p) for p in reply.answer]
    total = len(tokens)
    if s.silence_after_headers:
        await asyncio.sleep(s.silence_after_headers)
    pacer = _Pacer(s.tokens_per_second)
    for frame in wire.opening():
        yield frame
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
            yield wire.token(*tokens[sent])
    for frame in wire.closing():
        yield frame


class _CompatWire:
    """A role chunk, one chunk per token, the finish chunk, the usage chunk, `[DONE]`."""

    def __init__(self, reply: _Reply) -> None:
        self._reply = reply

    def opening(self) -> list[str]:
        return [_chunk(self._reply, [_first_choice()])]

    def token(self, kind: str, piece: str) -> str:
        choice = _reasoning_choice(piece) if kind == "reasoning" else _answer_choice(piece)
        return _chunk(self._reply, [choice])

    def closing(self) -> list[str]:
        frames = [_chunk(self._reply, [_finish_choice(self._reply.finish_reason)])]
        if self._reply.include_usage:
            frames.append(_chunk(self._reply, [], _usage(self._reply)))
        return [*frames, "data: [DONE]\n\n"]


class _NativeWire:
    """One event per token with the running usage (the first also with the search sources),
    then the event with the finish_reason; no `[DONE]`."""

    def __init__(self, reply: _Reply) -> None:
        self._reply = reply
        self._id = 0
        self._reasoning = 0
        self._answer = 0

    def opening(self) -> list[str]:
        return []

    def token(self, kind: str, piece: str) -> str:
        if kind == "reasoning":
            self._reasoning += 1
            return self._event(native_message(reasoning=piece), "null")
        self._answer += 1
        return self._event(native_message(content=piece), "null")

    def closing(self) -> list[str]:
        return [self._event(native_message(), self._reply.finish_reason)]

    def _event(self, message: dict[str, Any], finish_reason: str) -> str:
        self._id += 1
        reply = self._reply
        usage = native_usage(reply.prompt_tokens, self._reasoning, self._reasoning + self._answer)
        search = _search(reply) if self._id == 1 else None
        return native_event(
            self._id, native_payload(message, finish_reason, usage, reply.request_id, search)
        )


def _native_usage(reply: _Reply) -> dict[str, Any]:
    reasoning = len(reply.reasoning)
    return native_usage(reply.prompt_tokens, reasoning, reasoning + len(reply.answer))


def _search(reply: _Reply) -> dict[str, Any] | None:
    return search_info(reply.search)


async def _stall(s: Scenario) -> AsyncIterator[str]:
    remaining = s.stall_seconds
    while remaining > 0:
        step = min(1.0, remaining) if s.keepalive else remaining
        await asyncio.sleep(step)
        remaining -= step
        if s.keepalive:
            yield PING


def _error_during(reply: _Reply, spec: ErrorSpec, event_id: int) -> str:
    if reply.scenario.error_shape == "event" or reply.protocol == NATIVE:
        return native_error_frame(spec, reply.request_id, event_id)
    return _data_error_frame(spec, _error_message(spec, reply.model))
