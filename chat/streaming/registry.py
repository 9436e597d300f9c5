"""The generations this process runs: conversation id -> Generation, plus the ones starting."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chat.streaming.generation import Generation

# conversation id -> the generation streaming in it, in this process.
_live: dict[int, Generation] = {}
# conversation ids whose generation is being created (row stored, task not registered yet).
_starting: set[int] = set()


def generation_for(conversation_id: int) -> Generation | None:
    return _live.get(conversation_id)


def live_generations() -> list[Generation]:
    return list(_live.values())


def live_message_ids() -> set[int]:
    return {generation.message_id for generation in _live.values()}


def is_starting(conversation_id: int) -> bool:
    return conversation_id in _starting


def any_starting() -> bool:
    return bool(_starting)


def mark_starting(conversation_id: int) -> None:
    _starting.add(conversation_id)


def unmark_starting(conversation_id: int) -> None:
    _starting.discard(conversation_id)


def register(generation: Generation) -> None:
    _live[generation.conversation_id] = generation
    generation.task = asyncio.create_task(
        generation.run(), name=f"generation-{generation.message_id}"
    )


def unregister(generation: Generation) -> None:
    if _live.get(generation.conversation_id) is generation:
        del _live[generation.conversation_id]
