"""The OpenAI-compatible chat-completions protocol (docs/upstream-protocol.md §1): DashScope's
compatible mode, MiniMax's own API, vLLM, SGLang, llama.cpp, Ollama, OpenRouter.

`CompatStream` is a pure state machine, no I/O: the client feeds it decoded SSE events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..events import Event
from ..request import ChatRequest
from .stream import StreamAssembler, first_choice, mapping, usage_from_dict

NAME = "openai_compat"


class CompatStream(StreamAssembler):
    """A finish_reason alone does not end the stream: the usage chunk comes after it, so Finish
    is held until `[DONE]` or EOF, and an error frame arriving in between still turns it into a
    Failure."""

    def _on_payload(self, payload: Mapping[str, Any]) -> list[Event]:
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            self._usage = usage_from_dict(usage)
        choice = first_choice(payload.get("choices"))
        if choice is None:
            return []
        return self._on_message(mapping(choice.get("delta")), choice.get("finish_reason"))


class OpenAICompatProtocol:
    name = NAME

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Accept": "text/event-stream"}

    def body(self, request: ChatRequest) -> dict[str, Any]:
        # DashScope's own parameters (enable_search, search_options) are top-level keys here.
        return {
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            **request.sampling(),
        }

    def assembler(self, request_id: str | None, status: int) -> CompatStream:
        return CompatStream(request_id, status)
