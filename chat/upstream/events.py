"""Typed events that the upstream client yields, in the order they happen.

A stream yields: ResponseStarted once (HTTP 200 arrived), then any number of ReasoningDelta /
AnswerDelta / SearchResults, at most one Usage, and ends with exactly one Finish or exactly one
Failure. stream_chat_with_retries (retry.py) may also yield Retrying or KeyFailover between
attempts, before the first delta.

`key_id` on ResponseStarted and Failure names the pool key (UpstreamTarget.key_id) the attempt
used, so every upstream attempt can be accounted to its key; None outside a key pool.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    request_id: str | None
    model: str | None
    key_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True, slots=True)
class SearchSource:
    """One web page the model's web search read; citation marks `[n]` refer to `index`."""

    index: int
    title: str
    url: str
    site_name: str = ""
    icon: str = ""


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The sources of a web search (DashScope's native protocol only); sent once per answer."""

    sources: tuple[SearchSource, ...]


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

    Facts only; the words are made from `kind` by the protocol layer (chat.protocol.texts), so
    they can be translated and stored errors follow the reader's language.

    code: the upstream's own code when it sent one ("invalid_api_key", "Throttling.RateQuota"),
    else one of ours: "http_<status>", "stream_error", "network_error", "timeout_connect",
    "timeout_first_byte", "timeout_idle", "timeout_total", "truncated", "malformed_stream".
    kind: our stable key for what happened and what to do ("bad_key", "rate_limited", …; see
    errors.KINDS). Several codes share a kind; one code can map to different kinds by message.
    upstream_message: the upstream's literal message text ("" when none).
    retryable: whether trying the same request again can help.
    retry_after: seconds from a Retry-After header, when the upstream sent one.
    timeout_seconds: the limit that expired, for the timeout kinds.
    """

    code: str
    kind: str
    status: int | None = None
    upstream_message: str = ""
    request_id: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    timeout_seconds: float | None = None
    key_id: int | None = None


@dataclass(frozen=True, slots=True)
class Retrying:
    """An attempt failed before the first token and another one starts after `delay_seconds`.

    attempt: the number of the attempt about to start (2 … max_attempts).
    """

    attempt: int
    max_attempts: int
    delay_seconds: float
    failure: Failure


@dataclass(frozen=True, slots=True)
class KeyFailover:
    """An attempt failed before the first token in a way that was its key's (`failure.key_id`);
    the pool's next key is tried at once. Not terminal: the stream goes on."""

    failure: Failure


Event = (
    ResponseStarted
    | ReasoningDelta
    | AnswerDelta
    | SearchResults
    | Usage
    | Finish
    | Failure
    | Retrying
    | KeyFailover
)
