"""What the fake upstream was asked: `GET /requests` lists the chat requests it received (not
its own control routes), so a test can prove that a refused send never reached it."""

from __future__ import annotations

import collections
import json
from typing import Any

CONTROL_PATHS = frozenset({"/stats", "/requests"})


class RequestRecorder:
    """The last `limit` chat requests, oldest first; bounded for long-running demo servers."""

    def __init__(self, limit: int = 1000) -> None:
        self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)
        self.total = 0

    def record(self, method: str, path: str, body: bytes) -> None:
        self.total += 1
        self._requests.append({"method": method, "path": path, "model": _model_of(body)})

    def as_json(self) -> bytes:
        return json.dumps({"total": self.total, "requests": list(self._requests)}).encode()


def _model_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None
