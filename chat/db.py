"""Database calls from async code.

Channels' database_sync_to_async runs every call in one shared thread by default, so N
simultaneous sends were set up one after another. These calls each run in a worker thread of
the loop's executor instead (docs/architecture.md, "Database calls do not queue behind one
thread"); none of them relies on thread-local state beyond its own connection.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def db_async(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def with_connection_hygiene(*args: P.args, **kwargs: P.kwargs) -> R:
        # Inside the call, not around it as Channels does: the connection the function used
        # must be the one released (to the pool, or closed past CONN_MAX_AGE), and outside the
        # call the worker thread sees another context's connection.
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(with_connection_hygiene, thread_sensitive=False)
