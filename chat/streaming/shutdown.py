"""Ending this process's generations cleanly when it is told to stop.

Daphne cancels its consumers when the reactor stops and never tells the generation tasks, so
without this an answer being written stays `streaming` in the database with up to a checkpoint
interval of text lost. minimax_web.graceful_shutdown calls drain() on SIGTERM/SIGINT before it
lets Daphne stop: no new answers start (services.ShuttingDown), the running ones get
`grace_seconds` to finish, and the rest end as interrupted with everything streamed so far
saved and announced to their conversation groups.
"""

from __future__ import annotations

import asyncio
import logging

from chat.streaming import registry

log = logging.getLogger(__name__)

SHUTDOWN_CODE = "server_shutdown"
# How long the interrupted generations get for their final save and `end` frame.
FINALIZE_SECONDS = 2.0
# How long the consumers get to write the last `end` frames to their sockets before Daphne
# cancels them; a group send only queues a frame for each consumer.
DELIVERY_SECONDS = 0.25

_draining = False


def begin_drain() -> None:
    """From now on no generation starts in this process."""
    global _draining
    _draining = True


def is_draining() -> bool:
    return _draining


def _live_tasks() -> set[asyncio.Task]:
    return {g.task for g in registry.live_generations() if g.task is not None and not g.task.done()}


async def _wait_for_generations(timeout: float) -> None:
    """Until no generation runs or starts here, or `timeout` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        tasks = _live_tasks()
        if tasks:
            await asyncio.wait(tasks, timeout=min(remaining, 0.1))
        elif registry.any_starting():  # a send that passed the check just before the drain
            await asyncio.sleep(min(remaining, 0.05))
        else:
            return


async def drain(grace_seconds: float) -> None:
    """Stop starting generations, let the running ones finish for up to `grace_seconds`, then
    end the rest as interrupted (code `server_shutdown`) and give the sockets their `end`."""
    begin_drain()
    running = len(_live_tasks())
    if running:
        log.info("shutting down: waiting up to %.1f s for %d answer(s)", grace_seconds, running)
    await _wait_for_generations(grace_seconds)
    unfinished = registry.live_generations()
    for generation in unfinished:
        generation.interrupt(SHUTDOWN_CODE)
    if unfinished:
        log.warning("shutting down: interrupted %d unfinished answer(s)", len(unfinished))
        await _wait_for_generations(FINALIZE_SECONDS)
    # Also after answers that finished on their own: their `end` was queued just now.
    await asyncio.sleep(DELIVERY_SECONDS)
