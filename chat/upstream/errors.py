"""Turn upstream errors into Failure events: codes and facts, no words
(docs/upstream-protocol.md §3).

The upstream code decides the kind first, the HTTP status second (§3 rule 4). The words for
each kind live in chat.protocol.texts.
"""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .events import Failure
from .sse import SSEDecoder, json_payloads

REQUEST_ID_HEADERS = ("x-request-id", "x-dashscope-request-id")
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
NEVER_RETRY_STATUSES = frozenset({400, 401, 403, 404})
MAX_QUOTED_CHARS = 300


@dataclass(frozen=True, slots=True)
class _Kind:
    """What happened, as a key for the words (chat.protocol.texts), and whether a retry helps."""

    name: str
    retryable: bool


def _fatal(name: str) -> _Kind:
    return _Kind(name, retryable=False)


def _transient(name: str) -> _Kind:
    return _Kind(name, retryable=True)


_BAD_KEY = _fatal("bad_key")
_OVERDUE = _fatal("overdue")
_TOO_LONG = _fatal("input_too_long")
_BAD_PARAMETER = _fatal("bad_parameter")
_ACCESS_DENIED = _fatal("access_denied")
_UNPURCHASED = _fatal("model_not_activated")
_FREE_TIER_ONLY = _fatal("free_tier_only")
_FREE_QUOTA_USED = _fatal("free_quota_used")
_MODEL_NOT_FOUND = _fatal("model_not_found")
_MODEL_NOT_COMPATIBLE = _fatal("model_not_compatible")
_THROTTLED = _transient("throttled")
_RATE_LIMITED = _transient("rate_limited")
_BURST = _transient("burst_rate")
_TOKEN_THROTTLE = _transient("token_throttle")
_NOT_PURCHASED = _fatal("not_purchased")
_PREPAID_OVERDUE = _fatal("prepaid_overdue")
_POSTPAID_OVERDUE = _fatal("postpaid_overdue")
_INTERNAL = _transient("server_error")
_UPSTREAM_TIMEOUT = _transient("upstream_timeout")
_OVERLOADED = _transient("overloaded")
_INPUT_BLOCKED = _fatal("moderation_input")
_OUTPUT_BLOCKED = _fatal("moderation_output")
_CONTENT_BLOCKED = _fatal("moderation")
_BAD_REQUEST = _fatal("bad_request")
_ENDPOINT_NOT_FOUND = _fatal("endpoint_not_found")
_GATEWAY_ERROR = _transient("gateway_error")
_GATEWAY_TIMEOUT = _transient("gateway_timeout")
_STREAM_ERROR = _fatal("stream_error")

_BY_CODE: dict[str, _Kind] = {
    "InvalidApiKey": _BAD_KEY,
    "invalid_api_key": _BAD_KEY,
    "Arrearage": _OVERDUE,
    "InvalidParameter": _BAD_PARAMETER,
    "invalid_parameter_error": _BAD_PARAMETER,
    "AccessDenied": _ACCESS_DENIED,
    "access_denied": _ACCESS_DENIED,
    "Model.AccessDenied": _ACCESS_DENIED,
    "AccessDenied.Unpurchased": _UNPURCHASED,
    "AllocationQuota.FreeTierOnly": _FREE_TIER_ONLY,
    "ModelNotFound": _MODEL_NOT_FOUND,
    "model_not_found": _MODEL_NOT_FOUND,
    "Model.NotExist": _MODEL_NOT_FOUND,
    "model_not_supported": _MODEL_NOT_COMPATIBLE,
    "Throttling": _THROTTLED,
    "Throttling.RateQuota": _RATE_LIMITED,
    "LimitRequests": _RATE_LIMITED,
    "limit_requests": _RATE_LIMITED,
    "Throttling.BurstRate": _BURST,
    "limit_burst_rate": _BURST,
    "Throttling.AllocationQuota": _TOKEN_THROTTLE,
    "insufficient_quota": _TOKEN_THROTTLE,
    "CommodityNotPurchased": _NOT_PURCHASED,
    "PrepaidBillOverdue": _PREPAID_OVERDUE,
    "PostpaidBillOverdue": _POSTPAID_OVERDUE,
    "InternalError": _INTERNAL,
    "internal_error": _INTERNAL,
    "RequestTimeOut": _UPSTREAM_TIMEOUT,
    "ModelServingError": _OVERLOADED,
    "ModelUnavailable": _OVERLOADED,
}

# Checked before the code: the same code covers cases that need different advice.
_BY_MESSAGE: tuple[tuple[str, _Kind], ...] = (
    ("Range of input length", _TOO_LONG),
    ("Free allocated quota exceeded", _FREE_QUOTA_USED),
    ("Model not exist", _MODEL_NOT_FOUND),
)

_CONTENT_FILTER_CODES = frozenset({"DataInspectionFailed", "data_inspection_failed"})

_BY_STATUS: dict[int, _Kind] = {
    400: _BAD_REQUEST,
    401: _BAD_KEY,
    403: _ACCESS_DENIED,
    404: _ENDPOINT_NOT_FOUND,
    429: _THROTTLED,
    500: _INTERNAL,
    502: _GATEWAY_ERROR,
    503: _OVERLOADED,
    504: _GATEWAY_TIMEOUT,
}

# Our own kinds, for failures that did not come from an upstream error body.
TIMEOUT_CONNECT = "timeout_connect"
TIMEOUT_FIRST_BYTE = "timeout_first_byte"
TIMEOUT_IDLE = "timeout_idle"
TIMEOUT_TOTAL = "timeout_total"
TIMEOUT_WRITE = "timeout_write"
TIMEOUT_POOL = "timeout_pool"
CONNECT_FAILED = "connect_failed"
CONNECTION_LOST = "connection_lost"
INVALID_BASE_URL = "invalid_base_url"
UNEXPECTED_STATUS = "unexpected_status"
TRUNCATED = "truncated"
MALFORMED_STREAM = "malformed_stream"
NOT_A_STREAM = "not_a_stream"

# httpx timeout class -> (kind, httpx.Timeout attribute holding its limit).
_TIMEOUT_KINDS: tuple[tuple[type[httpx.TimeoutException], str, str], ...] = (
    (httpx.ConnectTimeout, TIMEOUT_CONNECT, "connect"),
    (httpx.ReadTimeout, TIMEOUT_IDLE, "read"),
    (httpx.WriteTimeout, TIMEOUT_WRITE, "write"),
    (httpx.PoolTimeout, TIMEOUT_POOL, "pool"),
)

# Every kind this module can put on a Failure (the words table must cover each one).
KINDS: frozenset[str] = frozenset(
    {kind.name for kind in (*_BY_CODE.values(), *_BY_STATUS.values())}
    | {kind.name for _, kind in _BY_MESSAGE}
    | {_INPUT_BLOCKED.name, _OUTPUT_BLOCKED.name, _CONTENT_BLOCKED.name, _STREAM_ERROR.name}
    | {kind for _, kind, _ in _TIMEOUT_KINDS}
    | {
        TIMEOUT_FIRST_BYTE,
        TIMEOUT_TOTAL,
        CONNECT_FAILED,
        CONNECTION_LOST,
        INVALID_BASE_URL,
        UNEXPECTED_STATUS,
        TRUNCATED,
        MALFORMED_STREAM,
        NOT_A_STREAM,
    }
)


@dataclass(frozen=True, slots=True)
class _Parsed:
    code: str | None
    message: str
    request_id: str | None


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def failure_from_response(status: int, headers: Mapping[str, str], body: bytes) -> Failure:
    """A Failure for a non-2xx answer (or a 2xx that carried an error instead of a stream)."""
    payload = _payload_from_body(body)
    # A plain-text or HTML body (a proxy page, a stack trace) is not the upstream's message.
    parsed = _parse_payload(payload) if payload is not None else _Parsed(None, "", None)
    return _build(
        parsed,
        status,
        request_id_from_headers(headers),
        retry_after=retry_after_from_headers(headers),
    )


def failure_from_stream_payload(
    payload: Mapping[str, Any],
    event_name: str | None,
    status_hint: int | None,
    *,
    request_id: str | None = None,
) -> Failure:
    """A Failure for an error frame that arrived inside a stream (§3.3 b/c).

    event_name is accepted for symmetry with the wire but does not change the mapping: DashScope
    sends the same payloads with and without `event:error`.
    """
    return _build(_parse_payload(payload), status_hint, request_id)


def failure_from_exception(exc: BaseException, timeout: httpx.Timeout | None = None) -> Failure:
    """A Failure for an httpx exception raised while talking to the upstream."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        for cls, kind, attribute in _TIMEOUT_KINDS:
            if isinstance(exc, cls):
                seconds = getattr(timeout, attribute, None)
                return timeout_failure(kind, seconds, detail)
        return timeout_failure(TIMEOUT_IDLE, None, detail)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Failure("network_error", INVALID_BASE_URL, upstream_message=str(exc))
    kind = CONNECT_FAILED if isinstance(exc, httpx.ConnectError) else CONNECTION_LOST
    return Failure("network_error", kind, upstream_message=detail, retryable=True)


def timeout_failure(
    kind: str, seconds: float | None, detail: str = "", request_id: str | None = None
) -> Failure:
    """One of the timeout kinds expired; the code is the kind ("timeout_idle").

    Retryable by the user, always: even when the whole-generation budget is spent, a retry
    starts a fresh one.
    """
    return Failure(
        kind,
        kind,
        upstream_message=detail,
        request_id=request_id,
        retryable=True,
        timeout_seconds=seconds,
    )


def _damaged_stream(kind: str, detail: str, request_id: str | None) -> Failure:
    """A 200 whose stream could not be used; trying again may help."""
    return Failure(
        kind,
        kind,
        status=200,
        upstream_message=detail[:MAX_QUOTED_CHARS],
        request_id=request_id,
        retryable=True,
    )


def not_a_stream_failure(content_type: str, request_id: str | None = None) -> Failure:
    """A 200 whose body is a web page (a proxy, a login portal, a wrong base URL), not SSE."""
    return _damaged_stream(NOT_A_STREAM, content_type, request_id)


def truncated_failure(request_id: str | None = None) -> Failure:
    return _damaged_stream(TRUNCATED, "", request_id)


def malformed_failure(data: str, request_id: str | None = None) -> Failure:
    return _damaged_stream(MALFORMED_STREAM, data, request_id)


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return _non_negative(float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return _non_negative(float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def _non_negative(value: float) -> float | None:
    return value if value >= 0 and value == value else None  # NaN is not a delay


def _payload_from_body(body: bytes) -> Mapping[str, Any] | None:
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        payload = json.loads(text)
    except ValueError:
        return _payload_from_sse_body(body)
    return payload if isinstance(payload, Mapping) else None


def _payload_from_sse_body(body: bytes) -> Mapping[str, Any] | None:
    decoder = SSEDecoder()
    for event in decoder.feed(body) + decoder.close():
        try:
            payloads = json_payloads(event.data)
        except ValueError:
            continue
        for payload in payloads:
            if isinstance(payload, Mapping) and ("error" in payload or "code" in payload):
                return payload
    return None


def _parse_payload(payload: Mapping[str, Any]) -> _Parsed:
    request_id = _text(payload.get("request_id")) or None
    error = payload.get("error")
    if isinstance(error, Mapping):
        code = _text(error.get("code")) or _text(error.get("type")) or None
        return _Parsed(code, _text(error.get("message")), request_id)
    if isinstance(error, str):
        return _Parsed(_text(payload.get("code")) or None, error, request_id)
    return _Parsed(_text(payload.get("code")) or None, _text(payload.get("message")), request_id)


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _build(
    parsed: _Parsed,
    status: int | None,
    fallback_request_id: str | None,
    *,
    retry_after: float | None = None,
) -> Failure:
    kind = _classify(parsed, status)
    return Failure(
        code=parsed.code or _own_code(status),
        kind=kind.name,
        status=status,
        upstream_message=parsed.message[:MAX_QUOTED_CHARS],
        request_id=parsed.request_id or fallback_request_id,
        retryable=kind.retryable and status not in NEVER_RETRY_STATUSES,
        retry_after=retry_after,
    )


def _own_code(status: int | None) -> str:
    if status is None or 200 <= status < 300:
        return "stream_error"
    return f"http_{status}"


def _classify(parsed: _Parsed, status: int | None) -> _Kind:
    code, message = parsed.code, parsed.message
    for needle, kind in _BY_MESSAGE:
        if needle in message:
            return kind
    if code in _CONTENT_FILTER_CODES or "inappropriate content" in message:
        return _content_filter(message)
    return _lookup_code(code) or _by_status(status)


def _lookup_code(code: str | None) -> _Kind | None:
    # "InternalError.Algo" and similar sub-codes fall back to their parent code.
    while code:
        if code in _BY_CODE:
            return _BY_CODE[code]
        code = code.rpartition(".")[0]
    return None


def _content_filter(message: str) -> _Kind:
    lowered = message.lower()
    about_input, about_output = "input" in lowered, "output" in lowered
    if about_output and not about_input:
        return _OUTPUT_BLOCKED
    if about_input and not about_output:
        return _INPUT_BLOCKED
    return _CONTENT_BLOCKED


def _by_status(status: int | None) -> _Kind:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is None or 200 <= status < 300:
        return _STREAM_ERROR
    return _Kind(UNEXPECTED_STATUS, status in RETRYABLE_STATUSES)
