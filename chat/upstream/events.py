"""Typed events that the upstream client yields, in the order they happen.

A stream yields: ResponseStarted once (HTTP 200 arrived), then any number of ReasoningDelta /
AnswerDelta, at most one Usage, and ends with exactly one Finish or exactly one Failure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    request_id: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """The model ended normally. reason: "stop", "length", "tool_calls", "content_filter"..."""

    reason: str


@dataclass(frozen=True, slots=True)
class Failure:
    """The request failed, before or during the stream. Always the last event.

    code: the upstream's own code when it sent one ("invalid_api_key", "Throttling.RateQuota"),
    else one of ours: "http_<status>", "network_error", "timeout", "truncated", "malformed_stream".
    message: plain language for a person, ending with the code, e.g.
    "The API key was rejected by DashScope. Check the key in admin or DASHSCOPE_API_KEY.
    (invalid_api_key)".
    upstream_message: the upstream's literal message text ("" when none).
    """

    code: str
    message: str
    upstream_message: str = ""
    status: int | None = None
    request_id: str | None = None
    retryable: bool = False


Event = ResponseStarted | ReasoningDelta | AnswerDelta | Usage | Finish | Failure
