"""Where a model's chain of thought hides in a stream, and how to pull it out.

Servers disagree (docs/upstream-protocol.md §6): DashScope and DeepSeek send
`reasoning_content`, vLLM and OpenRouter `reasoning`, MiniMax's own API `reasoning_details[]` or
inline `<think>` tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto
from typing import Any

from .events import AnswerDelta, ReasoningDelta

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def reasoning_from_delta(delta: Mapping[str, Any]) -> str:
    """The reasoning text carried by one OpenAI-style stream delta ("" when none)."""
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if isinstance(value, str) and value:
            return value
    details = delta.get("reasoning_details")
    if not isinstance(details, list):
        return ""
    return "".join(_detail_text(item) for item in details)


def _detail_text(item: object) -> str:
    if not isinstance(item, Mapping):
        return ""
    if item.get("type", "reasoning.text") != "reasoning.text":
        return ""
    text = item.get("text")
    return text if isinstance(text, str) else ""


class _State(Enum):
    DETECT = auto()
    THINK = auto()
    AFTER_THINK = auto()
    PASS = auto()


class ThinkTagSplitter:
    """Routes a `<think>…</think>` block at the very start of the answer to reasoning.

    Feed the model's answer pieces in order. Only a block that opens the answer (after optional
    whitespace) counts; a `<think>` later in the answer is the model talking about tags, so
    everything after a non-`<think>` start passes through untouched. Tags may be split across
    pieces; at most a few characters are held back while a tag might be forming.
    """

    def __init__(self) -> None:
        self._state = _State.DETECT
        self._held = ""

    def feed(self, text: str) -> list[ReasoningDelta | AnswerDelta]:
        if not text:
            return []
        if self._state is _State.PASS:
            return [AnswerDelta(text)]
        self._held += text
        if self._state is _State.DETECT:
            return self._detect()
        if self._state is _State.THINK:
            return self._think()
        return self._after_think()

    def close(self) -> list[ReasoningDelta | AnswerDelta]:
        """Flush at end of stream: an unclosed think block is all reasoning."""
        held, state = self._held, self._state
        self._held, self._state = "", _State.PASS
        if not held:
            return []
        if state is _State.THINK:
            return [ReasoningDelta(held)]
        return [AnswerDelta(held)]

    def _detect(self) -> list[ReasoningDelta | AnswerDelta]:
        stripped = self._held.lstrip()
        if len(stripped) < len(OPEN_TAG) and OPEN_TAG.startswith(stripped):
            return []
        if stripped.startswith(OPEN_TAG):
            self._held = stripped[len(OPEN_TAG) :]
            self._state = _State.THINK
            return self._think()
        held, self._held, self._state = self._held, "", _State.PASS
        return [AnswerDelta(held)]

    def _think(self) -> list[ReasoningDelta | AnswerDelta]:
        end = self._held.find(CLOSE_TAG)
        if end >= 0:
            reasoning, rest = self._held[:end], self._held[end + len(CLOSE_TAG) :]
            self._held, self._state = rest, _State.AFTER_THINK
            return _reasoning(reasoning) + self._after_think()
        split = len(self._held) - _partial_tag_suffix(self._held, CLOSE_TAG)
        ready, self._held = self._held[:split], self._held[split:]
        return _reasoning(ready)

    def _after_think(self) -> list[ReasoningDelta | AnswerDelta]:
        # Models put a blank line between </think> and the answer; it is not part of the answer.
        answer, self._held = self._held.lstrip(), ""
        if not answer:
            return []
        self._state = _State.PASS
        return [AnswerDelta(answer)]


def _reasoning(text: str) -> list[ReasoningDelta | AnswerDelta]:
    return [ReasoningDelta(text)] if text else []


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
