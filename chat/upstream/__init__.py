"""Client for DashScope's two streaming protocols and other OpenAI-compatible servers.
Framework-free: no Django imports."""

from .client import (
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
    KeyFailover,
    ReasoningDelta,
    ResponseStarted,
    Retrying,
    SearchResults,
    SearchSource,
    Usage,
)
from .pool import KeyPool, KeyVerdict, key_verdict
from .protocols import DASHSCOPE_NATIVE, OPENAI_COMPAT, PROTOCOLS
from .request import ChatRequest
from .retry import RetryPolicy, stream_chat_with_retries

__all__ = [
    "DASHSCOPE_NATIVE",
    "OPENAI_COMPAT",
    "PROTOCOLS",
    "AnswerDelta",
    "ChatRequest",
    "Event",
    "Failure",
    "Finish",
    "KeyFailover",
    "KeyPool",
    "KeyVerdict",
    "ReasoningDelta",
    "ResponseStarted",
    "RetryPolicy",
    "Retrying",
    "SearchResults",
    "SearchSource",
    "UpstreamTarget",
    "Usage",
    "aclose_http_clients",
    "http_client",
    "key_verdict",
    "stream_chat",
    "stream_chat_with_retries",
]
