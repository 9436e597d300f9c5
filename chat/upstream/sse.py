"""Incremental Server-Sent Events decoder (WHATWG "event stream interpretation").

Bytes go in as they arrive from the socket, split anywhere; complete events come out.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str
    id: str | None


class SSEDecoder:
    """Feed raw bytes with feed(); call close() once at end of stream."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True
        self._partial_line = ""
        # A CR ending one chunk may be the first half of a CRLF split across chunks.
        self._skip_next_lf = False
        self._data_lines: list[str] = []
        self._event_type: str | None = None
        self._last_id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        return self._consume(self._utf8.decode(chunk))

    def close(self) -> list[SSEEvent]:
        """Flush at EOF: an unterminated last line and event are still delivered."""
        events = self._consume(self._utf8.decode(b"", final=True))
        if self._partial_line:
            line, self._partial_line = self._partial_line, ""
            self._process_line(line)
        pending = self._dispatch()
        if pending is not None:
            events.append(pending)
        return events

    def _consume(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        if self._skip_next_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_next_lf = text.endswith("\r")
        if "\r" not in text and "\n" not in text:
            self._partial_line += text
            return []
        lines = _LINE_BREAK.split(self._partial_line + text)
        self._partial_line = lines.pop()
        events = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _process_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data_lines.append(value)
        elif name == "event":
            self._event_type = value or None
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        data_lines, event_type = self._data_lines, self._event_type
        self._data_lines, self._event_type = [], None
        if not data_lines:
            return None
        return SSEEvent(event=event_type, data="\n".join(data_lines), id=self._last_id)


def json_payloads(data: str) -> list[object]:
    """Parse an event's data as JSON; raises ValueError when it is not.

    Older DashScope gateways omit the blank line between complete JSON frames, which joins
    several one-line JSON documents into one multi-line data field; each line is tried alone then.
    """
    try:
        return [json.loads(data)]
    except ValueError:
        if "\n" not in data:
            raise
    payloads = [json.loads(line) for line in data.split("\n") if line.strip()]
    if not payloads:
        raise ValueError("no JSON in event data")
    return payloads
