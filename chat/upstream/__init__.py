"""Client for DashScope's OpenAI-compatible streaming API. Framework-free: no Django imports."""

from .client import (
    ChatRequest,
    UpstreamTarget,
    aclose_http_clients,
    http_client,
    stream_chat,
)
from .events import (
    AnswerDelta,
    Event,
    Failure,
    Finish,
    ReasoningDelta,
    ResponseStarted,
    Retrying,
    Usage,
)
from .retry import RetryPolicy, stream_chat_with_retries

__all__ = [
    "AnswerDelta",
    "ChatRequest",
    "Event",
    "Failure",
    "Finish",
    "ReasoningDelta",
    "ResponseStarted",
    "RetryPolicy",
    "Retrying",
    "UpstreamTarget",
    "Usage",
    "aclose_http_clients",
    "http_client",
    "stream_chat",
    "stream_chat_with_retries",
]
