"""The streaming core: one Generation (state machine) per assistant message, a per-process
registry of them, the orchestration the consumer calls (start/retry/stop/snapshot), and the
channel-layer groups frames go to. See docs/architecture.md."""

from chat.streaming.groups import conversation_group, group_send, user_group
from chat.streaming.orchestration import (
    conversation_history,
    conversation_snapshot,
    conversation_start,
    generation_launch,
    generation_retry,
    generation_send,
    generation_stop,
    prepared_snapshot,
)

__all__ = [
    "conversation_group",
    "conversation_history",
    "conversation_snapshot",
    "conversation_start",
    "generation_launch",
    "generation_retry",
    "generation_send",
    "generation_stop",
    "group_send",
    "prepared_snapshot",
    "user_group",
]
