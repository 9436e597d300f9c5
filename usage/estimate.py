"""Token estimates for what the upstream did not count for us: the budget held by a running
attempt, and the usage of an attempt that ended without a usage report (stopped, cut off).

PROTOCOL.md §7's safe estimator: ceil(ascii / 3) + 1 per non-ASCII character, plus 4 per
message. The fake upstream has its own copy because it must stay free of app imports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

PER_MESSAGE = 4


def text_tokens(text: str) -> int:
    ascii_chars = sum(1 for char in text if ord(char) < 128)
    return math.ceil(ascii_chars / 3) + (len(text) - ascii_chars)


def prompt_tokens(messages: Iterable[dict]) -> int:
    """Estimated prompt tokens of an OpenAI-style message list."""
    return sum(PER_MESSAGE + text_tokens(str(m.get("content") or "")) for m in messages)
