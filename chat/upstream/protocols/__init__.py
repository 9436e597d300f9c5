"""One adapter per wire protocol; each turns a ChatRequest into a request and a response's SSE
events into the same typed events (chat.upstream.events)."""

from __future__ import annotations

from typing import Any, Protocol

from ..request import ChatRequest
from .dashscope_native import DashScopeNativeProtocol
from .openai_compat import OpenAICompatProtocol
from .stream import StreamAssembler


class WireProtocol(Protocol):
    name: str

    def url(self, base_url: str) -> str: ...

    def headers(self) -> dict[str, str]: ...

    def body(self, request: ChatRequest) -> dict[str, Any]: ...

    def assembler(self, request_id: str | None, status: int) -> StreamAssembler: ...


PROTOCOLS: dict[str, WireProtocol] = {
    protocol.name: protocol for protocol in (OpenAICompatProtocol(), DashScopeNativeProtocol())
}
OPENAI_COMPAT = OpenAICompatProtocol.name
DASHSCOPE_NATIVE = DashScopeNativeProtocol.name


def protocol_named(name: str) -> WireProtocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown upstream protocol {name!r}") from None
