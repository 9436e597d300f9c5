"""Full-text search at size: 100,000 messages over 10,000 conversations of one user, then the
median time of chat.selectors.search.search_for_user for words from rare to very common, and
what index upkeep costs a streaming checkpoint (docs/performance.md).

    .venv/bin/python bench/search_bench.py [--runs 20] [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

from in_process import database_label, median_ms, setup_django

CONVERSATIONS = 10_000
MESSAGES_PER_CONVERSATION = 10
VOCABULARY_SIZE = 8_000
# Planted words: how many messages hold each, and where.
PLANTED = {
    "zeppelin": (10, "reasoning"),
    "quokka": (1_000, "content"),
    "marmalade": (20, "content"),
}


def vocabulary(rng: random.Random) -> list[str]:
    """Pronounceable made-up words of 2 to 4 syllables, most frequent first: their prefixes
    spread over many words as a real language's do."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < VOCABULARY_SIZE:
        words.add("".join(rng.choice(syllables) for _ in range(rng.choice((2, 3, 3, 4)))))
    ordered = sorted(words)  # a set's order changes with PYTHONHASHSEED; this one does not
    rng.shuffle(ordered)
    return ordered


def queries(words: list[str]) -> dict[str, str]:
    return {
        "rare word, only in the reasoning (10 messages)": "zeppelin",
        "uncommon word (1,000 messages)": "quokka",
        "common word (rank 100)": words[99],
        "very common word (rank 1, in most messages)": words[0],
        "two common words": f"{words[9]} {words[19]}",
        "a word being typed: 3-letter prefix": words[4][:3],
        "rare word and very common word": f"marmalade {words[0]}",
        "no match": "xylophonist",
    }


def _text(rng: random.Random, words: list[str], count: int) -> str:
    # Zipf-like: a few words are everywhere, most are rare, as in real text.
    return " ".join(words[(int(rng.paretovariate(1.0)) - 1) % len(words)] for _ in range(count))


def populate(words: list[str]) -> object:
    from django.contrib.auth import get_user_model

    from chat.models import Conversation, Message

    rng = random.Random(7)
    user = get_user_model().objects.create_user("searcher", password="bench-password")
    conversations = Conversation.objects.bulk_create(
        (
            Conversation(owner=user, title=_text(rng, words, 5).capitalize())
            for _ in range(CONVERSATIONS)
        ),
        batch_size=2_000,
    )
    total = CONVERSATIONS * MESSAGES_PER_CONVERSATION
    planted = {
        word: (set(rng.sample(range(total), count)), field)
        for word, (count, field) in PLANTED.items()
    }
    batch = []
    for index in range(total):
        conversation = conversations[index // MESSAGES_PER_CONVERSATION]
        assistant = index % 2 == 1
        fields = {
            "content": _text(rng, words, 80 if assistant else 20),
            "reasoning": _text(rng, words, 120) if assistant else "",
        }
        for word, (indexes, field) in planted.items():
            if index in indexes:
                fields[field] += f" {word}"
        role = "assistant" if assistant else "user"
        batch.append(Message(conversation=conversation, role=role, **fields))
        if len(batch) == 5_000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    _analyze()
    return user


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum would have them after such a load."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def checkpoint_costs(user, words: list[str], runs: int) -> dict:
    """A streaming answer's checkpoint (text grows, index untouched) against its finish (the
    whole text enters the index), with 20,000 characters of text."""
    from chat.models import Conversation, Message
    from chat.services import message_checkpoint

    conversation = Conversation.objects.create(owner=user, title="live")
    text = _text(random.Random(3), words, 4_000)[:20_000]

    def checkpoint() -> None:
        message = Message.objects.create(
            conversation=conversation, role="assistant", status="streaming"
        )
        start = time.perf_counter()
        message_checkpoint(message_id=message.pk, fields={"content": text, "reasoning": text})
        timings["checkpoint"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        Message.objects.filter(pk=message.pk).update(status="complete")
        timings["finish"].append((time.perf_counter() - start) * 1000)

    timings = {"checkpoint": [], "finish": []}
    for _ in range(runs):
        checkpoint()
    return {name: round(sorted(values)[len(values) // 2], 2) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup_django(args.database_url)
    from chat.selectors.search import search_for_user

    words = vocabulary(random.Random(7))
    start = time.perf_counter()
    user = populate(words)
    populate_s = time.perf_counter() - start
    results = {}
    for label, query in queries(words).items():
        hits = search_for_user(user=user, query=query)
        results[label] = {
            "query": query,
            "message_hits": len(hits.messages),
            "title_hits": len(hits.titles),
            **median_ms(lambda q=query: search_for_user(user=user, query=q), args.runs),
        }
    report = {
        "database": database_label(),
        "python": platform.python_version(),
        "conversations": CONVERSATIONS,
        "messages": CONVERSATIONS * MESSAGES_PER_CONVERSATION,
        "populate_seconds": round(populate_s, 1),
        "runs": args.runs,
        "queries": results,
        "checkpoint_20k_chars_median_ms": checkpoint_costs(user, words, args.runs),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
