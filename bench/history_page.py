"""The chat page at any history size: HTML bytes, database queries and server time of `GET /`
for a user with 10 conversations and one with 10,000 (docs/performance.md).

    .venv/bin/python bench/history_page.py [--runs 50] [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import timedelta

from in_process import database_label, setup_django, summary

SIZES = (10, 10_000)


def make_user(username: str, conversations: int):
    """A user with `conversations` conversations spread over the last year, five pinned."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from chat.models import Conversation

    user = get_user_model().objects.create_user(username, password="bench-password")
    now = timezone.now()
    made = Conversation.objects.bulk_create(
        (
            Conversation(owner=user, title=f"Conversation {i} about a topic")
            for i in range(conversations)
        ),
        batch_size=1000,
    )
    for i, conversation in enumerate(made):
        conversation.updated_at = now - timedelta(hours=i * 365 * 24 / conversations)
        conversation.pinned = i % (conversations // 5) == 7
    Conversation.objects.bulk_update(made, ["updated_at", "pinned"], batch_size=1000)
    return user


def logged_in_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def page_facts(client) -> dict:
    from django.db import connection

    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        response = client.get("/")
    assert response.status_code == 200
    return {"html_bytes": len(response.content), "queries": len(queries)}


def timings(clients: dict, runs: int) -> dict:
    """Each run times every user's page once, one after the other, so a busy machine slows
    them alike and the difference between them stays visible."""
    times = {size: [] for size in clients}
    for _ in range(runs + 1):
        for size, client in clients.items():
            start = time.perf_counter()
            client.get("/")
            times[size].append((time.perf_counter() - start) * 1000)
    return {size: summary(values[1:]) for size, values in times.items()}  # the first warms up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup_django(args.database_url)
    clients = {size: logged_in_client(make_user(f"user{size}", size)) for size in SIZES}
    measured = timings(clients, args.runs)
    results = {size: {**page_facts(clients[size]), **measured[size]} for size in SIZES}
    report = {
        "database": database_label(),
        "python": platform.python_version(),
        "runs": args.runs,
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
