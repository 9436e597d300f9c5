"""SIGTERM/SIGINT drain the generations (chat.streaming.shutdown) before Daphne stops.

Twisted's reactor installs SIGTERM/SIGINT handlers that call reactor.stop(), and Daphne's
"before shutdown" trigger (daphne.server.Server.kill_all_applications) then cancels every
consumer. A "before shutdown" trigger of our own would not help: Twisted calls all of a
phase's triggers at once and only then waits for their Deferreds, so the consumers would be
cancelled while we drain, and the `end` frames would never reach the sockets. Instead, once
the reactor runs (its handlers are installed by then), the handlers it installed are replaced
with ones that run the drain on the event loop and call reactor.stop() only when it is done.
A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from django.conf import settings
from twisted.internet.error import ReactorNotRunning

from chat.streaming import shutdown

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_drain_task: asyncio.Task | None = None


def install() -> None:
    """Take over the reactor's stop signals once it runs (a no-op if it never does)."""
    # Imported here, not at the top: importing the reactor installs it, and in a Daphne process
    # daphne.server must have installed its asyncio reactor first.
    from twisted.internet import reactor

    reactor.callWhenRunning(_replace_reactor_handlers, reactor)


def _replace_reactor_handlers(reactor) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signals can only be handled there; e.g. runserver with its autoreloader
    for number in _SIGNALS:
        # Only where Twisted put its own handler (not when run with signal handling off).
        if signal.getsignal(number) in (reactor.sigTerm, reactor.sigInt):
            signal.signal(number, lambda number, frame: reactor.callFromThread(_begin, reactor))


def _begin(reactor) -> None:
    global _drain_task
    if _drain_task is not None:
        log.warning("second stop signal: stopping without waiting for the answers")
        _stop(reactor)
        return
    _drain_task = asyncio.ensure_future(_drain_then_stop(reactor))


async def _drain_then_stop(reactor) -> None:
    try:
        await shutdown.drain(settings.SHUTDOWN_DRAIN_SECONDS)
    except Exception:
        log.exception("draining the generations failed")
    finally:
        _stop(reactor)


def _stop(reactor) -> None:
    with contextlib.suppress(ReactorNotRunning):  # already stopping
        reactor.stop()
