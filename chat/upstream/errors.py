"""Turn upstream errors into Failure events a chat user can read (PROTOCOL.md §3).

The upstream code decides first, the HTTP status second (§3 rule 4).
"""

from __future__ import annotations

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
class _Explanation:
    text: str
    retryable: bool


def _fatal(text: str) -> _Explanation:
    return _Explanation(text, retryable=False)


def _transient(text: str) -> _Explanation:
    return _Explanation(text, retryable=True)


_BAD_KEY = _fatal(
    "DashScope rejected the API key. Check the key in admin or DASHSCOPE_API_KEY "
    "(keys only work in the region they were created for)."
)
_OVERDUE = _fatal(
    "The Alibaba Cloud account behind the API key has an overdue payment, so DashScope refused "
    "the request. Settle the bill in the Alibaba Cloud console, then try again."
)
_TOO_LONG = _fatal(
    "This conversation is too long for the model to read. Start a new chat to continue."
)
_BAD_PARAMETER = _fatal(
    "DashScope rejected a setting in the request; this is a bug or a wrong setting in admin."
)
_ACCESS_DENIED = _fatal(
    "The DashScope account is not allowed to use this model. Enable the model in the Model "
    "Studio console, or check that the key and the base URL are from the same region."
)
_UNPURCHASED = _fatal(
    "This model has not been activated for the DashScope account. Activate it in the Model "
    "Studio console."
)
_FREE_TIER_ONLY = _fatal(
    "The free quota for this model is used up and the account is set to use the free tier "
    "only. Turn off 'free tier only' in the Model Studio console to keep using it."
)
_FREE_QUOTA_USED = _fatal(
    "The free quota for this model is used up. Switch the account to paid use in the Model "
    "Studio console to keep using it."
)
_MODEL_NOT_FOUND = _fatal(
    "DashScope does not know this model name, or the API key has no access to it. Check the "
    "model setting in admin."
)
_MODEL_NOT_COMPATIBLE = _fatal(
    "This model is not offered on DashScope's OpenAI-compatible endpoint. Pick another model."
)
_THROTTLED = _transient("DashScope is throttling requests right now. Wait a moment and retry.")
_RATE_LIMITED = _transient(
    "DashScope is rate-limiting requests (too many per minute). Wait a moment and retry."
)
_BURST = _transient("Requests to DashScope ramped up too quickly. Wait a few seconds and retry.")
_TOKEN_THROTTLE = _transient(
    "DashScope's per-minute token limit was reached. Wait about a minute and retry."
)
_NOT_PURCHASED = _fatal(
    "Model Studio has not been activated (purchased) for this Alibaba Cloud account. Activate "
    "it in the Alibaba Cloud console."
)
_PREPAID_OVERDUE = _fatal(
    "The Alibaba Cloud account's prepaid bill is overdue. Settle it in the billing console, "
    "then try again."
)
_POSTPAID_OVERDUE = _fatal(
    "The Alibaba Cloud account's postpaid bill is overdue. Settle it in the billing console, "
    "then try again."
)
_INTERNAL = _transient("DashScope had an internal error. Try again in a moment.")
_UPSTREAM_TIMEOUT = _transient("DashScope took too long to produce the answer. Try again.")
_OVERLOADED = _transient(
    "The model is overloaded or temporarily unavailable on DashScope. Try again shortly."
)
_INPUT_BLOCKED = _fatal(
    "DashScope's content filter blocked your message. Rephrase it and try again."
)
_OUTPUT_BLOCKED = _fatal(
    "DashScope's content filter stopped the model's reply. Try rephrasing your request."
)
_CONTENT_BLOCKED = _fatal(
    "DashScope's content filter blocked this conversation. Rephrase your message and try again."
)

_BY_CODE: dict[str, _Explanation] = {
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
_BY_MESSAGE: tuple[tuple[str, _Explanation], ...] = (
    ("Range of input length", _TOO_LONG),
    ("Free allocated quota exceeded", _FREE_QUOTA_USED),
    ("Model not exist", _MODEL_NOT_FOUND),
)

_CONTENT_FILTER_CODES = frozenset({"DataInspectionFailed", "data_inspection_failed"})

_BY_STATUS: dict[int, _Explanation] = {
    400: _fatal("DashScope rejected the request."),
    401: _BAD_KEY,
    403: _ACCESS_DENIED,
    404: _fatal(
        "DashScope could not find the endpoint or the model. Check the base URL and the model "
        "name in admin."
    ),
    429: _THROTTLED,
    500: _INTERNAL,
    502: _transient("DashScope's gateway had a problem. Try again in a moment."),
    503: _OVERLOADED,
    504: _transient("DashScope's gateway timed out. Try again in a moment."),
}

# httpx.Timeout attribute -> what the user is told went wrong.
_TIMEOUT_KINDS: tuple[tuple[type[httpx.TimeoutException], str, str], ...] = (
    (httpx.ConnectTimeout, "connect", "connect timeout: could not open a connection"),
    (httpx.ReadTimeout, "read", "read timeout: no data arrived"),
    (httpx.WriteTimeout, "write", "write timeout: could not send the request"),
    (httpx.PoolTimeout, "pool", "pool timeout: too many requests already in flight"),
)


@dataclass(frozen=True, slots=True)
class _Parsed:
    code: str | None
    message: str
    request_id: str | None
    # Plain-text bodies can be anything (proxy pages, stack traces): kept, but not shown.
    quotable: bool = True


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def failure_from_response(status: int, headers: Mapping[str, str], body: bytes) -> Failure:
    """A Failure for a non-2xx answer (or a 2xx that carried an error instead of a stream)."""
    payload = _payload_from_body(body)
    parsed = (
        _parse_payload(payload)
        if payload is not None
        else _Parsed(None, body.decode("utf-8", "replace").strip(), None, quotable=False)
    )
    return _build(parsed, status, request_id_from_headers(headers))


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
    if isinstance(exc, httpx.TimeoutException):
        return _timeout_failure(exc, timeout)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        text = "The DashScope base URL is not valid. Check it in admin."
        return _failure("network_error", text, str(exc), retryable=False)
    if isinstance(exc, httpx.ConnectError):
        text = "Could not connect to DashScope. Check the network and the base URL, then retry."
    else:
        text = "The connection to DashScope broke during the response. Try again."
    return _failure("network_error", text, str(exc) or type(exc).__name__, retryable=True)


def truncated_failure(request_id: str | None = None) -> Failure:
    text = (
        "The response stopped before the model finished "
        "(the connection ended without a finish signal)."
    )
    return _failure("truncated", text, "", retryable=True, status=200, request_id=request_id)


def malformed_failure(data: str, request_id: str | None = None) -> Failure:
    text = "DashScope sent a piece of the response that could not be read. Try again."
    quoted = data[:MAX_QUOTED_CHARS]
    return _failure(
        "malformed_stream", text, quoted, retryable=True, status=200, request_id=request_id
    )


def _timeout_failure(exc: httpx.TimeoutException, timeout: httpx.Timeout | None) -> Failure:
    what, seconds = "timeout", None
    for cls, attribute, description in _TIMEOUT_KINDS:
        if isinstance(exc, cls):
            what, seconds = description, getattr(timeout, attribute, None)
            break
    if seconds is not None:
        what += f" within {seconds:g} s"
    text = f"DashScope did not respond in time ({what}). Try again."
    return _failure("timeout", text, str(exc) or type(exc).__name__, retryable=True)


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


def _build(parsed: _Parsed, status: int | None, fallback_request_id: str | None) -> Failure:
    code = parsed.code or _own_code(status)
    explanation = _explain(parsed, status)
    retryable = explanation.retryable and status not in NEVER_RETRY_STATUSES
    return _failure(
        code,
        explanation.text,
        parsed.message[:MAX_QUOTED_CHARS],
        retryable=retryable,
        status=status,
        request_id=parsed.request_id or fallback_request_id,
    )


def _own_code(status: int | None) -> str:
    if status is None or 200 <= status < 300:
        return "stream_error"
    return f"http_{status}"


def _explain(parsed: _Parsed, status: int | None) -> _Explanation:
    code, message = parsed.code, parsed.message
    for needle, explanation in _BY_MESSAGE:
        if needle in message:
            return explanation
    if code in _CONTENT_FILTER_CODES or "inappropriate content" in message:
        return _content_filter(message)
    known = _lookup_code(code)
    if known is not None:
        return _with_detail(known, message) if known is _BAD_PARAMETER else known
    generic = _by_status(status)
    return _with_detail(generic, message) if parsed.quotable else generic


def _lookup_code(code: str | None) -> _Explanation | None:
    # "InternalError.Algo" and similar sub-codes fall back to their parent code.
    while code:
        if code in _BY_CODE:
            return _BY_CODE[code]
        code = code.rpartition(".")[0]
    return None


def _content_filter(message: str) -> _Explanation:
    lowered = message.lower()
    about_input, about_output = "input" in lowered, "output" in lowered
    if about_output and not about_input:
        return _OUTPUT_BLOCKED
    if about_input and not about_output:
        return _INPUT_BLOCKED
    return _CONTENT_BLOCKED


def _by_status(status: int | None) -> _Explanation:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is None or 200 <= status < 300:
        return _fatal("DashScope reported an error during the response.")
    retryable = status in RETRYABLE_STATUSES
    return _Explanation(f"DashScope answered with an unexpected error (HTTP {status}).", retryable)


def _with_detail(explanation: _Explanation, message: str) -> _Explanation:
    if not message:
        return explanation
    quoted = message[:MAX_QUOTED_CHARS].rstrip(". ")
    return _Explanation(f"{explanation.text} DashScope said: “{quoted}”.", explanation.retryable)


def _failure(
    code: str,
    text: str,
    upstream_message: str,
    *,
    retryable: bool,
    status: int | None = None,
    request_id: str | None = None,
) -> Failure:
    return Failure(
        code=code,
        message=f"{text} ({code})",
        upstream_message=upstream_message,
        status=status,
        request_id=request_id,
        retryable=retryable,
    )
