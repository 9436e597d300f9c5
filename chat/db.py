"""Database calls from async code.

Channels' database_sync_to_async runs every call in one shared thread by default, so N
simultaneous sends were set up one after another. These calls each run in a worker thread of
the loop's executor instead (docs/architecture.md, "Database threads"); none of them relies on
thread-local state beyond its own connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async

P = ParamSpec("P")
R = TypeVar("R")


def db_async(func: Callable[P, R]) -> Callable[P, R]:
    return database_sync_to_async(func, thread_sensitive=False)
