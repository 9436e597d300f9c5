"""What the app asks the model for, independent of the wire protocol that carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. The protocol adapters (protocols/) turn it into a request body.

    enable_search / search_options: DashScope's web search (docs/upstream-protocol.md §4); the
    options are sent only when search is on.
    """

    model: str
    messages: list[dict[str, Any]]
    temperature: float = 1.0
    top_p: float = 0.95
    presence_penalty: float = 0.0
    max_tokens: int | None = None
    enable_search: bool = False
    search_options: Mapping[str, Any] = field(default_factory=dict)

    def sampling(self) -> dict[str, Any]:
        """The generation knobs both protocols share, under the same names."""
        # MiniMax-M2.5 only runs in thinking mode: thinking_budget and enable_thinking:false are
        # unsupported (docs/upstream-protocol.md §1), so neither is ever sent.
        knobs: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "presence_penalty": self.presence_penalty,
        }
        if self.max_tokens is not None:
            knobs["max_tokens"] = self.max_tokens
        if self.enable_search:
            knobs["enable_search"] = True
            if self.search_options:
                knobs["search_options"] = dict(self.search_options)
        return knobs
