"""DashScope's native text-generation protocol (docs/upstream-protocol.md §2).

`POST {base}/services/aigc/text-generation/generation` with `X-DashScope-SSE: enable`; the
knobs live under `parameters`, the messages under `input`. Every event carries the running
usage; there is no `[DONE]`: the event whose finish_reason is not the string "null" is the last.
Web search sources arrive in `output.search_info.search_results` (this protocol only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..events import Event, SearchResults, SearchSource
from ..request import ChatRequest
from .stream import StreamAssembler, first_choice, mapping, usage_from_dict

NAME = "dashscope_native"
GENERATION_PATH = "/services/aigc/text-generation/generation"


class NativeStream(StreamAssembler):
    def __init__(self, request_id: str | None = None, status: int = 200) -> None:
        super().__init__(request_id, status)
        self._sources_sent = False

    def _on_payload(self, payload: Mapping[str, Any]) -> list[Event]:
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            self._usage = usage_from_dict(usage)  # running totals: the last one counts
        output = mapping(payload.get("output"))
        events: list[Event] = self._search_results(mapping(output.get("search_info")))
        choice = first_choice(output.get("choices"))
        if choice is not None:
            events += self._on_message(mapping(choice.get("message")), choice.get("finish_reason"))
        if self._finish_reason is not None:
            events += self._end()  # the connection closes after this event anyway
        return events

    def _search_results(self, search_info: Mapping[str, Any]) -> list[Event]:
        results = search_info.get("search_results")
        if self._sources_sent or not isinstance(results, list):
            return []
        sources = tuple(
            source for item in results if (source := _source(item, len(results))) is not None
        )
        if not sources:
            return []
        self._sources_sent = True
        return [SearchResults(sources)]


def _source(item: object, count: int) -> SearchSource | None:
    if not isinstance(item, Mapping):
        return None
    index, url = item.get("index"), item.get("url")
    if isinstance(index, bool) or not isinstance(index, int) or not isinstance(url, str) or not url:
        return None
    return SearchSource(
        index=index,
        title=_text(item.get("title")) or url,
        url=url,
        site_name=_text(item.get("site_name")),
        icon=_text(item.get("icon")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class DashScopeNativeProtocol:
    name = NAME

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}{GENERATION_PATH}"

    def headers(self) -> dict[str, str]:
        return {"Accept": "text/event-stream", "X-DashScope-SSE": "enable"}

    def body(self, request: ChatRequest) -> dict[str, Any]:
        # incremental_output and result_format "message" are required in thinking mode.
        parameters = {"result_format": "message", "incremental_output": True, **request.sampling()}
        return {
            "model": request.model,
            "input": {"messages": request.messages},
            "parameters": parameters,
        }

    def assembler(self, request_id: str | None, status: int) -> NativeStream:
        return NativeStream(request_id, status)
