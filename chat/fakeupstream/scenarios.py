"""What the fake upstream does for one request, and the DashScope error table it draws from.

A Scenario is chosen per server (CLI flags), then overridden per request by the
`X-Fake-Scenario: key=value;key=value` header and by a `[[fake key=value ...]]` marker in the
last user message (marker wins over header, header over the server's flags).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ANSWER_KINDS = ("markdown", "short", "cjk", "emoji", "long", "echo", "demo")
# Before the stream: json = JSON body; sse/data = `data: {"error":…}` body; event = native
# `event:error` frame body. During the stream: event = native frame, the others = `data:` frame.
ERROR_SHAPES = ("json", "sse", "event", "data")
FINISH_REASONS = ("stop", "length")
SCENARIO_HEADER = "x-fake-scenario"
MARKER = re.compile(r"\[\[fake(?:\s+([^\]]*))?\]\]")


class ScenarioError(ValueError):
    """An invalid scenario spec; the responder turns it into a 400 invalid_fake_scenario."""


@dataclass(frozen=True)
class ErrorSpec:
    """One DashScope error (docs/upstream-protocol.md §3); `{model}` in a message is the model."""

    status: int
    code: str
    type: str
    message: str
    native_code: str
    native_message: str
    # The captures of these errors put "code" first ({"code","param","message","type"}).
    code_first: bool = False
    # The captured data_inspection body also carries a top-level "id".
    with_chat_id: bool = False


_RATE = "https://help.aliyun.com/zh/model-studio/error-code#rate-limit"
_TOKEN = "https://help.aliyun.com/zh/model-studio/error-code#token-limit"
_OVERDUE = "https://help.aliyun.com/zh/model-studio/error-code#overdue-payment"
_INTERNAL = "An internal error has occured, please try again later or contact service support."
_INVALID = "invalid_parameter_error"
_REQ = "invalid_request_error"


def _invalid(message: str) -> ErrorSpec:
    return ErrorSpec(400, _INVALID, _REQ, message, "InvalidParameter", message, code_first=True)


def _same(status: int, code: str, message: str) -> ErrorSpec:
    """An error with one code, which the fake uses on both wires (docs/upstream-protocol.md §3)."""
    return ErrorSpec(status, code, code, message, code, message)


ERRORS: dict[str, ErrorSpec] = {
    "invalid_api_key": ErrorSpec(
        401,
        "invalid_api_key",
        _REQ,
        "Incorrect API key provided. ",
        "InvalidApiKey",
        "Invalid API-key provided.",
    ),
    "arrearage": _same(
        400,
        "Arrearage",
        "Access denied, please make sure your account is in good standing. "
        f"For details, see: {_OVERDUE}",
    ),
    "data_inspection_input": ErrorSpec(
        400,
        "data_inspection_failed",
        "data_inspection_failed",
        "Input data may contain inappropriate content.",
        "DataInspectionFailed",
        "Input data may contain inappropriate content.",
        code_first=True,
        with_chat_id=True,
    ),
    "data_inspection_output": ErrorSpec(
        400,
        "data_inspection_failed",
        "data_inspection_failed",
        "Output data may contain inappropriate content.",
        "DataInspectionFailed",
        "Output data may contain inappropriate content.",
        code_first=True,
        with_chat_id=True,
    ),
    "input_too_long": _invalid("Range of input length should be [1, 196601]"),
    "invalid_parameter": _invalid("Range of max_tokens should be [1, 32768]"),
    "temperature_range": _invalid("Temperature should be in [0.0, 2.0)"),
    "top_p_range": _invalid("Range of top_p should be (0.0, 1.0]"),
    "presence_penalty_range": _invalid("Presence_penalty should be in [-2.0, 2.0]"),
    "messages_too_short": _invalid("[] is too short"),
    "no_user_message": _invalid(
        "The input messages do not contain elements with the role of user."
    ),
    "model_not_exist": _invalid("Model not exist."),
    "invalid_json": _invalid("The request body is not valid JSON."),
    "access_denied": ErrorSpec(
        403, "access_denied", "access_denied", "Access denied.", "AccessDenied", "Access denied."
    ),
    "access_denied_unpurchased": _same(
        403,
        "AccessDenied.Unpurchased",
        "Access to model denied. Please make sure you are eligible for using the model.",
    ),
    "model_access_denied": _same(403, "Model.AccessDenied", "Model access denied."),
    "free_tier_only": _same(
        403,
        "AllocationQuota.FreeTierOnly",
        "The free tier of the model has been exhausted. If you wish to continue access the "
        'model on a paid basis, please disable the "use free tier only" mode in the '
        "management console.",
    ),
    "model_not_found": ErrorSpec(
        404,
        "model_not_found",
        _REQ,
        "The model `{model}` does not exist or you do not have access to it.",
        "ModelNotFound",
        "Model can not be found.",
        code_first=True,
    ),
    "model_not_supported": _same(
        404, "model_not_supported", "Unsupported model {model} for OpenAI compatibility mode."
    ),
    "not_found": _same(404, "not_found", "Not found."),
    "method_not_allowed": _same(405, "method_not_allowed", "Method not allowed."),
    "throttling": _same(429, "Throttling", "Requests throttling triggered."),
    "limit_requests": ErrorSpec(
        429,
        "limit_requests",
        "limit_requests",
        f"You have exceeded your current request limit. For details, see: {_RATE}",
        "Throttling.RateQuota",
        "Requests rate limit exceeded, please try again later.",
    ),
    "limit_burst_rate": ErrorSpec(
        429,
        "limit_burst_rate",
        "limit_burst_rate",
        "Request rate increased too quickly. To ensure system stability, please adjust your "
        "client logic to scale requests more smoothly over time.",
        "Throttling.BurstRate",
        "Request rate increased too quickly. To ensure system stability, please adjust your "
        "client logic to scale requests more smoothly over time.",
    ),
    "insufficient_quota": ErrorSpec(
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. "
        f"For details, see: {_TOKEN}",
        "Throttling.AllocationQuota",
        "Allocated quota exceeded, please increase your quota limit.",
    ),
    "free_quota_exhausted": ErrorSpec(
        429,
        "insufficient_quota",
        "insufficient_quota",
        "Free allocated quota exceeded.",
        "Throttling.AllocationQuota",
        "Free allocated quota exceeded.",
    ),
    # The native code inside a compatible-mode envelope, as reported for SSE-bodied 429s.
    "throttling_allocation_quota": _same(
        429,
        "Throttling.AllocationQuota",
        "Allocated quota exceeded, please increase your quota limit.",
    ),
    "commodity_not_purchased": _same(
        429, "CommodityNotPurchased", "Commodity has not purchased yet."
    ),
    "prepaid_bill_overdue": _same(429, "PrepaidBillOverdue", "The prepaid bill is overdue."),
    "postpaid_bill_overdue": _same(429, "PostpaidBillOverdue", "The postpaid bill is overdue."),
    "internal_error": ErrorSpec(
        500,
        "internal_error",
        "internal_error",
        _INTERNAL,
        "InternalError",
        _INTERNAL,
        code_first=True,
    ),
    "internal_error_algo": ErrorSpec(
        500,
        "internal_error",
        "internal_error",
        "inference internal error.",
        "InternalError.Algo",
        "inference internal error.",
        code_first=True,
    ),
    "request_timeout": _same(500, "RequestTimeOut", "Request timed out, please try again later."),
    "model_serving_error": _same(
        503,
        "ModelServingError",
        "Too many requests. Your requests are being throttled due to system capacity limits. "
        "Please try again later.",
    ),
    "model_unavailable": _same(
        503, "ModelUnavailable", "Model is unavailable, please try again later."
    ),
    "invalid_fake_scenario": ErrorSpec(
        400,
        "invalid_fake_scenario",
        _REQ,
        "Invalid fake scenario.",
        "InvalidFakeScenario",
        "Invalid fake scenario.",
        code_first=True,
    ),
}


@dataclass(frozen=True)
class Scenario:
    tokens_per_second: float = 200.0
    reasoning_tokens: int | None = None  # None: the kind's natural reasoning length
    answer: str = "markdown"
    answer_tokens: int | None = None
    error: str | None = None
    error_at: int | None = None
    error_shape: str = "json"
    truncate_after: int | None = None
    stall_after: int | None = None
    stall_seconds: float = 30.0
    malformed_after: int | None = None
    finish_reason: str = "stop"
    # Fail only the first N requests for the same prompt (or the same `key`), then answer:
    # what a transient 429/503 looks like to a client that retries.
    fail_first: int | None = None
    key: str | None = None
    retry_after: float | None = None  # a Retry-After header (seconds) on the error response
    headers_delay: float = 0.0  # seconds before the response headers are sent
    silence_after_headers: float = 0.0  # seconds between the headers and the first event
    split_utf8: bool = False
    keepalive: bool = False
    crlf: bool = False
    model: str | None = None  # None: echo the request's model

    def __post_init__(self) -> None:
        _check(self)

    def summary(self) -> str:
        """The fields that differ from the defaults, e.g. `tps=50 error=limit_requests`."""
        default = Scenario()
        parts = [
            f"{_SHORT.get(f.name, f.name)}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return " ".join(parts) or "default"


_COUNTS = (
    "reasoning_tokens",
    "answer_tokens",
    "error_at",
    "truncate_after",
    "stall_after",
    "malformed_after",
    "fail_first",
)


def _check(s: Scenario) -> None:
    _require(math.isfinite(s.tokens_per_second) and s.tokens_per_second >= 0, "tps must be >= 0")
    _require(math.isfinite(s.stall_seconds) and s.stall_seconds >= 0, "stall_seconds must be >= 0")
    for name in ("headers_delay", "silence_after_headers"):
        value = getattr(s, name)
        _require(math.isfinite(value) and value >= 0, f"{name} must be >= 0")
    _require(
        s.retry_after is None or (math.isfinite(s.retry_after) and s.retry_after >= 0),
        "retry_after must be >= 0",
    )
    for name in _COUNTS:
        value = getattr(s, name)
        _require(value is None or value >= 0, f"{name} must be >= 0")
    _require(s.answer in ANSWER_KINDS, f"answer must be one of {', '.join(ANSWER_KINDS)}")
    _require(s.error is None or s.error in ERRORS, f"unknown error {s.error!r}; see ERRORS")
    _require(s.error_at is None or s.error is not None, "error_at needs an error name")
    _require(s.fail_first is None or s.error is not None, "fail_first needs an error name")
    _require(s.error_shape in ERROR_SHAPES, f"shape must be one of {', '.join(ERROR_SHAPES)}")
    _require(s.finish_reason in FINISH_REASONS, "finish_reason must be stop or length")
    _require(s.model is None or s.model != "", "model must not be empty")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ScenarioError(message)


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _optional(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        return None if value.lower() in ("none", "null", "") else convert(value)

    return parse


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "tokens_per_second": float,
    "reasoning_tokens": _optional(int),
    "answer": str,
    "answer_tokens": _optional(int),
    "error": _optional(str),
    "error_at": _optional(int),
    "error_shape": str,
    "truncate_after": _optional(int),
    "stall_after": _optional(int),
    "stall_seconds": float,
    "malformed_after": _optional(int),
    "finish_reason": str,
    "fail_first": _optional(int),
    "key": _optional(str),
    "retry_after": _optional(float),
    "headers_delay": float,
    "silence_after_headers": float,
    "split_utf8": _bool,
    "keepalive": _bool,
    "crlf": _bool,
    "model": _optional(str),
}
_BOOLEAN = {"split_utf8", "keepalive", "crlf"}
ALIASES: dict[str, str] = {
    "tps": "tokens_per_second",
    "reasoning": "reasoning_tokens",
    "kind": "answer",
    "tokens": "answer_tokens",
    "at": "error_at",
    "shape": "error_shape",
    "truncate": "truncate_after",
    "stall": "stall_after",
    "stall_for": "stall_seconds",
    "malformed": "malformed_after",
    "finish": "finish_reason",
    "split": "split_utf8",
    "ping": "keepalive",
}
_SHORT = {field: alias for alias, field in ALIASES.items() if alias != "kind"}


def parse_spec(spec: str) -> dict[str, Any]:
    """`key=value;key=value` (or space-separated) → {field: value}; a bare flag means true."""
    overrides: dict[str, Any] = {}
    for item in re.split(r"[;\s]+", spec.strip()):
        if item:
            field, value = _parse_item(item)
            overrides[field] = value
    return overrides


def _parse_item(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    field = _field_name(key)
    if not sep:
        _require(field in _BOOLEAN, f"{key!r} needs a value ({key}=...)")
        return field, True
    try:
        return field, _CONVERTERS[field](raw)
    except ValueError:
        raise ScenarioError(f"bad value for {field}: {raw!r}") from None


def _field_name(key: str) -> str:
    name = key.strip().lower().replace("-", "_")
    name = ALIASES.get(name, name)
    _require(name in _CONVERTERS, f"unknown scenario key {key!r}; keys: {', '.join(_CONVERTERS)}")
    return name


def with_overrides(base: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    try:
        return dataclasses.replace(base, **overrides)
    except TypeError as exc:  # a wrong Python type passed programmatically
        raise ScenarioError(str(exc)) from None


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of text parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def prompt_of(messages: list[Any]) -> str:
    """The last user message without fake markers, stripped: the `prompt` texts.py receives."""
    return MARKER.sub("", last_user_text(messages)).strip()


def scenario_from(headers: Mapping[str, str], messages: list[Any], base: Scenario) -> Scenario:
    """Apply the X-Fake-Scenario header, then markers in the last user message, to base."""
    overrides: dict[str, Any] = {}
    for name, value in headers.items():
        if name.lower() == SCENARIO_HEADER:
            overrides.update(parse_spec(value))
    for match in MARKER.finditer(last_user_text(messages)):
        overrides.update(parse_spec(match.group(1) or ""))
    return with_overrides(base, overrides)


_CLI_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--tps", "tokens_per_second", "tokens per second (0 = no delay)"),
    ("--reasoning-tokens", "reasoning_tokens", "reasoning tokens (none = natural length)"),
    ("--answer", "answer", f"answer kind: {', '.join(ANSWER_KINDS)}"),
    ("--answer-tokens", "answer_tokens", "answer tokens (default: natural length)"),
    ("--error", "error", "error name from ERRORS"),
    ("--error-at", "error_at", "fail after N streamed tokens (default: before the stream)"),
    ("--error-shape", "error_shape", f"error shape: {', '.join(ERROR_SHAPES)}"),
    ("--truncate-after", "truncate_after", "close the connection after N tokens"),
    ("--stall-after", "stall_after", "stop sending after N tokens for --stall-seconds"),
    ("--stall-seconds", "stall_seconds", "length of the stall"),
    ("--malformed-after", "malformed_after", "emit a broken JSON line after N tokens"),
    ("--finish-reason", "finish_reason", "stop or length"),
    ("--fail-first", "fail_first", "with --error: fail only the first N requests per prompt"),
    ("--retry-after", "retry_after", "Retry-After header (seconds) on error responses"),
    ("--headers-delay", "headers_delay", "seconds before the response headers"),
    (
        "--silence-after-headers",
        "silence_after_headers",
        "seconds between the response headers and the first event",
    ),
    ("--model", "model", "model name to report (default: echo the request's)"),
)
_CLI_SWITCHES: tuple[tuple[str, str, str], ...] = (
    ("--split-utf8", "split_utf8", "split multi-byte characters across two writes"),
    ("--keepalive", "keepalive", "send ': ping' comments between chunks"),
    ("--crlf", "crlf", "use CRLF line endings"),
)


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """Scenario flags; unset flags are absent from the namespace so they don't override."""
    for flag, dest, help_text in _CLI_FLAGS:
        parser.add_argument(
            flag, dest=dest, type=_CONVERTERS[dest], default=argparse.SUPPRESS, help=help_text
        )
    for flag, dest, help_text in _CLI_SWITCHES:
        parser.add_argument(
            flag, dest=dest, action="store_true", default=argparse.SUPPRESS, help=help_text
        )


def scenario_from_cli(args: argparse.Namespace, base: Scenario | None = None) -> Scenario:
    given = {k: v for k, v in vars(args).items() if k in _CONVERTERS}
    return with_overrides(base or Scenario(), given)


class AttemptCounter:
    """How many requests each prompt (or `key`) has made, for `fail_first`. Bounded, so a
    long-running demo server does not grow without end."""

    def __init__(self, limit: int = 1000) -> None:
        self._counts: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._limit = limit

    def count(self, key: str) -> int:
        """Requests seen so far for `key`."""
        return self._counts.get(key, 0)

    def next(self, key: str) -> int:
        """Count one more request for `key` and return its number (1 for the first)."""
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count
        while len(self._counts) > self._limit:
            self._counts.popitem(last=False)
        return count


def after_attempt(scenario: Scenario, messages: list[Any], attempts: AttemptCounter) -> Scenario:
    """The scenario for this request: with fail_first=N, the N+1-th request for the same
    prompt (or key) and every later one succeeds."""
    if scenario.fail_first is None:
        return scenario
    number = attempts.next(scenario.key or last_user_text(messages))
    if number <= scenario.fail_first:
        return scenario
    return dataclasses.replace(scenario, error=None, error_at=None, fail_first=None)
