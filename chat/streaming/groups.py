"""Channel-layer group names and the one way frames are sent to them."""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def conversation_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def group_send(group: str, frame: dict, *, except_channel: str | None = None) -> None:
    """Send a protocol frame to every socket in a group (but `except_channel`, a socket that
    already has it). A failing layer must not kill a stream: the text is checkpointed and
    clients heal gaps with a new snapshot."""
    event = {"type": "chat.frame", "frame": frame, "except_channel": except_channel}
    try:
        await get_channel_layer().group_send(group, event)
    except Exception:
        log.exception("channel layer send to %s failed", group)
