"""What both wire protocols share once SSE events are decoded: the end rules and the text.

A subclass reads one JSON payload (`_on_payload`); this base turns error frames, unreadable
frames, EOF and `[DONE]` into the one terminal event (docs/upstream-protocol.md §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import failure_from_stream_payload, malformed_failure, truncated_failure
from ..events import Event, Failure, Finish, ReasoningDelta, Usage
from ..reasoning import ThinkTagSplitter, reasoning_from_delta
from ..sse import SSEEvent, json_payloads

DONE_MARKER = "[DONE]"


class StreamAssembler:
    """Assembles one response. After a terminal event (Finish/Failure) `finished` is True."""

    def __init__(self, request_id: str | None = None, status: int = 200) -> None:
        self._request_id = request_id
        self._status = status
        self._splitter = ThinkTagSplitter()
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self.finished = False

    def on_event(self, sse: SSEEvent) -> list[Event]:
        if self.finished:
            return []
        if sse.data.startswith(DONE_MARKER):
            return self._end()
        try:
            payloads = json_payloads(sse.data)
        except ValueError:
            return self._unreadable(sse)
        events: list[Event] = []
        for payload in payloads:
            events += self._on_any_payload(payload, sse.event)
            if self.finished:
                break
        return events

    def on_eof(self, trailing: list[SSEEvent]) -> list[Event]:
        """End of body. `trailing` are the events SSEDecoder.close() flushed."""
        events: list[Event] = []
        for sse in trailing:
            # An unreadable last frame at EOF was cut off mid-way: that is truncation, not junk.
            if _is_readable(sse):
                events += self.on_event(sse)
        if not self.finished:
            events += self._end()
        return events

    def fail(self, failure: Failure) -> list[Event]:
        """End with `failure`, keeping whatever text was already received."""
        if self.finished:
            return []
        self.finished = True
        return [*self._splitter.close(), *self._usage_events(), failure]

    def _on_any_payload(self, payload: object, event_name: str | None) -> list[Event]:
        if not isinstance(payload, Mapping):
            return self.fail(malformed_failure(str(payload), self._request_id))
        if _is_error(payload, event_name):
            failure = failure_from_stream_payload(
                payload, event_name, self._status, request_id=self._request_id
            )
            return self.fail(failure)
        return self._on_payload(payload)

    def _on_payload(self, payload: Mapping[str, Any]) -> list[Event]:
        raise NotImplementedError

    def _on_message(self, message: Mapping[str, Any], finish_reason: object) -> list[Event]:
        """One piece of the assistant message (an OpenAI delta or a native message)."""
        events: list[Event] = []
        reasoning = reasoning_from_delta(message)
        if reasoning:
            events.append(ReasoningDelta(reasoning))
        content = message.get("content")
        if isinstance(content, str):
            events += self._splitter.feed(content)
        # The native protocol spells "not finished" as the string "null".
        if isinstance(finish_reason, str) and finish_reason not in ("", "null"):
            self._finish_reason = finish_reason
            events += self._splitter.close()
        return events

    def _unreadable(self, sse: SSEEvent) -> list[Event]:
        if sse.event == "error":
            failure = failure_from_stream_payload(
                {"message": sse.data}, sse.event, self._status, request_id=self._request_id
            )
            return self.fail(failure)
        return self.fail(malformed_failure(sse.data, self._request_id))

    def _end(self) -> list[Event]:
        if self._finish_reason is None:
            return self.fail(truncated_failure(self._request_id))
        self.finished = True
        return [*self._splitter.close(), *self._usage_events(), Finish(self._finish_reason)]

    def _usage_events(self) -> list[Event]:
        usage, self._usage = self._usage, None
        return [usage] if usage is not None else []


def usage_from_dict(raw: Mapping[str, Any]) -> Usage:
    """Usage from either protocol's usage object; every *_details part is optional."""
    prompt = _int(raw.get("prompt_tokens", raw.get("input_tokens")))
    completion = _int(raw.get("completion_tokens", raw.get("output_tokens")))
    total = _int(raw.get("total_tokens")) or prompt + completion
    completion_details = mapping(
        raw.get("completion_tokens_details") or raw.get("output_tokens_details")
    )
    prompt_details = mapping(raw.get("prompt_tokens_details"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        reasoning_tokens=_optional_int(completion_details.get("reasoning_tokens")),
        cached_tokens=_optional_int(prompt_details.get("cached_tokens")),
    )


def first_choice(choices: object) -> Mapping[str, Any] | None:
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, Mapping) and choice.get("index", 0) == 0:
            return choice
    return None


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_error(payload: Mapping[str, Any], event_name: str | None) -> bool:
    if event_name == "error" or payload.get("error"):
        return True
    return bool(payload.get("code")) and "choices" not in payload and "output" not in payload


def _is_readable(sse: SSEEvent) -> bool:
    if sse.event == "error" or sse.data.startswith(DONE_MARKER):
        return True
    try:
        json_payloads(sse.data)
    except ValueError:
        return False
    return True


def _optional_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _int(value: object) -> int:
    return _optional_int(value) or 0
