"""What usage accounting and quotas add to admitting a send: the median time of
`chat.services.message_send` (limits, quota check, start record, messages, reservation; one
transaction) with no quotas, and with a default, a group and a user quota over a user who
already has many usage records this month.

    .venv/bin/python bench/quota_bench.py [--sends 300] [--records 20000] [--database-url URL]

Without --database-url it uses a fresh SQLite file in a temporary DATA_DIR. With one, it
migrates that database and writes to it: use a database of your own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _setup(database_url: str | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minimax_web.settings")
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="quota-bench-")
    os.environ["MAX_CONCURRENT_GENERATIONS_PER_USER"] = "1000000"
    os.environ["MAX_MESSAGES_PER_MINUTE"] = "1000000"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _sends(user, count: int) -> list[float]:
    from chat import services
    from chat.models import Conversation

    timings = []
    for n in range(count):
        conversation = Conversation.objects.create(owner=user, title=f"bench {n}")
        started = time.perf_counter()
        services.message_send(conversation=conversation, text="How far is the moon?", demo=True)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _with_quotas(user, records: int) -> None:
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from usage.models import Quota, UsageRecord

    group = Group.objects.create(name=f"bench-{user.pk}")
    group.user_set.add(user)
    Quota.objects.get_or_create(scope="default", defaults={"daily_tokens": 10**12})
    Quota.objects.create(scope="group", group=group, monthly_tokens=10**12)
    Quota.objects.create(scope="user", user=user, requests_per_minute=10**6)
    now = timezone.now()
    UsageRecord.objects.bulk_create(
        UsageRecord(
            user=user,
            model="MiniMax-M2.5",
            outcome="complete",
            prompt_tokens=500,
            completion_tokens=1500,
            started_at=now - timedelta(minutes=n % (60 * 24 * 20)),
        )
        for n in range(records)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    _setup(args.database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from usage.models import Quota

    stamp = int(time.time())
    plain = get_user_model().objects.create_user(f"bench-plain-{stamp}")
    limited = get_user_model().objects.create_user(f"bench-limited-{stamp}")
    Quota.objects.filter(scope="default").delete()
    _sends(plain, 20)  # warm-up
    without = _sends(plain, args.sends)
    _with_quotas(limited, args.records)
    with_quotas = _sends(limited, args.sends)
    print(f"database: {connection.vendor}, {args.sends} sends each")
    for name, timings in (("no quotas", without), ("quotas", with_quotas)):
        quartiles = statistics.quantiles(timings, n=4)
        print(
            f"{name:>10}: median {statistics.median(timings):.2f} ms "
            f"[p25 {quartiles[0]:.2f} - p75 {quartiles[2]:.2f}]"
            + (f" over {args.records} usage records" if name == "quotas" else "")
        )


if __name__ == "__main__":
    main()
