"""The streaming core: one Generation (state machine) per assistant message, a per-process
registry of them, the orchestration the consumer calls (start/retry/stop/snapshot), and the
channel-layer groups frames go to. See docs/architecture.md."""

from chat.streaming.groups import conversation_group, group_send, user_group
from chat.streaming.orchestration import (
    conversation_history,
    conversation_snapshot,
    generation_check_limits,
    generation_retry,
    generation_send,
    generation_stop,
)

__all__ = [
    "conversation_group",
    "conversation_history",
    "conversation_snapshot",
    "generation_check_limits",
    "generation_retry",
    "generation_send",
    "generation_stop",
    "group_send",
    "user_group",
]
