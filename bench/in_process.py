"""Django in this process on a fresh database, for the benchmarks that time selectors and
pages without a server in between: a new SQLite file in a temporary DATA_DIR (the default), or,
with --database-url, a new PostgreSQL database named after that one plus "_bench" (made like
Django's test database, dropped at exit). Migrated either way."""

from __future__ import annotations

import atexit
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def setup_django(database_url: str | None) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="minimax-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minimax_web.settings")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("REDIS_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django
    from django.conf import settings

    django.setup()
    # Pages render {% static %} without a collectstatic run.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        # Never the database named in the URL: a new one, dropped when the bench ends.
        original = connection.settings_dict["NAME"]
        connection.settings_dict["TEST"]["NAME"] = f"{original}_bench"
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        atexit.register(connection.creation.destroy_test_db, original, verbosity=0)
    else:
        call_command("migrate", verbosity=0)


def median_ms(action: Callable[[], object], runs: int) -> dict:
    """Median, min and max wall time of `action` in milliseconds, after one warm-up run."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return summary(times)


def summary(times_ms: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(times_ms), 2),
        "min_ms": round(min(times_ms), 2),
        "max_ms": round(max(times_ms), 2),
    }


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    return f"PostgreSQL {connection.pg_version}"
