"""Full-text search over a user's conversation titles, answers and reasoning: one function,
`search_for_user`, in front of SQLite FTS5 or PostgreSQL full-text search (chat.search_index
holds the index). Both backends require every word of the query, and match its last word as a
prefix too, since it is usually still being typed: "deploy clus" finds "deploy the cluster".
Earlier words match whole, as a prefix that expands to many words is what makes such queries
slow (docs/performance.md). The engines find the hits; chat.selectors.snippets cuts the
snippets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString

from chat.search_index import POSTGRES_MESSAGE_DOCUMENT, POSTGRES_TITLE_DOCUMENT
from chat.selectors.snippets import Matcher, has_match, highlight_all, snippet

MAX_QUERY_WORDS = 8
MESSAGE_HITS = 50
TITLE_HITS = 10
SNIPPET_WORDS = 24
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class MessageHit:
    message_id: int
    conversation_id: int
    conversation_title: str
    role: str
    created_at: datetime
    in_reasoning: bool
    snippet: SafeString


@dataclass(frozen=True)
class TitleHit:
    conversation_id: int
    title: SafeString
    updated_at: datetime


@dataclass(frozen=True)
class SearchResults:
    query: str
    words: list[str]
    titles: list[TitleHit]
    messages: list[MessageHit]

    @property
    def empty(self) -> bool:
        return not self.titles and not self.messages


def search_for_user(*, user: AbstractBaseUser, query: str) -> SearchResults:
    """The user's newest conversations whose title matches, and the newest messages whose text
    or reasoning matches, with highlighted snippets. Streaming messages are not searched yet."""
    words = query_words(query)
    if not words:
        return SearchResults(query=query, words=[], titles=[], messages=[])
    backend = _postgres if connection.vendor == "postgresql" else _sqlite
    title_rows, message_rows = backend(user.pk, words)
    matcher = Matcher.for_words(words)
    return SearchResults(
        query=query,
        words=words,
        titles=[_title_hit(row, matcher) for row in title_rows],
        messages=[_message_hit(row, matcher) for row in message_rows],
    )


def query_words(query: str) -> list[str]:
    return WORD.findall(query.lower())[:MAX_QUERY_WORDS]


def _title_hit(row: tuple, matcher: Matcher) -> TitleHit:
    conversation_id, title, updated_at = row
    return TitleHit(
        conversation_id=conversation_id,
        title=highlight_all(title, matcher),
        updated_at=_as_datetime(updated_at),
    )


def _message_hit(row: tuple, matcher: Matcher) -> MessageHit:
    message_id, conversation_id, title, role, created_at, content, reasoning = row
    # A hit matched across both fields shows the answer when the answer has a match.
    in_reasoning = not has_match(content, matcher) and bool(reasoning)
    return MessageHit(
        message_id=message_id,
        conversation_id=conversation_id,
        conversation_title=title,
        role=role,
        created_at=_as_datetime(created_at),
        in_reasoning=in_reasoning,
        snippet=snippet(reasoning if in_reasoning else content, matcher, words=SNIPPET_WORDS),
    )


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else parse_datetime(value)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# -- SQLite FTS5 ----------------------------------------------------------------------------------

# CROSS JOIN makes SQLite read the full-text index first: left to itself it may walk all of the
# user's conversations and probe the index once per row (0.5 s at 10,000 conversations). Both
# lists come newest first in rowid order, which the index yields without sorting.
SQLITE_MESSAGES = f"""
SELECT m.id, m.conversation_id, c.title, m.role, m.created_at, m.content, m.reasoning
FROM chat_message_fts
CROSS JOIN chat_message m ON m.id = chat_message_fts.rowid
CROSS JOIN chat_conversation c ON c.id = m.conversation_id
WHERE chat_message_fts MATCH %s AND c.owner_id = %s
ORDER BY chat_message_fts.rowid DESC
LIMIT {MESSAGE_HITS}
"""
SQLITE_TITLES = f"""
SELECT c.id, c.title, c.updated_at
FROM chat_conversation_fts
CROSS JOIN chat_conversation c ON c.id = chat_conversation_fts.rowid
WHERE chat_conversation_fts MATCH %s AND c.owner_id = %s
ORDER BY chat_conversation_fts.rowid DESC
LIMIT {TITLE_HITS}
"""


def _sqlite(user_id: int, words: list[str]) -> tuple[list[tuple], list[tuple]]:
    # Every word quoted (FTS5 syntax in it is then plain text); the last one also as a prefix.
    match = " ".join([*(f'"{word}"' for word in words[:-1]), f'"{words[-1]}"*'])
    return _fetch(SQLITE_TITLES, [match, user_id]), _fetch(SQLITE_MESSAGES, [match, user_id])


# -- PostgreSQL full-text search --------------------------------------------------------------

# The matches first, in one scan of the GIN index (MATERIALIZED keeps it one scan), then the
# user's newest among them. Left to itself the planner probed the index once per conversation
# of the user (a minute at 10,000 conversations, with stale statistics), or walked the titles
# newest first computing each one's tsvector until ten matched (150 ms when none does).
POSTGRES_MESSAGES = f"""
WITH matches AS MATERIALIZED (
    SELECT m.id FROM chat_message m
    WHERE m.status <> 'streaming' AND {POSTGRES_MESSAGE_DOCUMENT} @@ to_tsquery('simple', %s)
)
SELECT m.id, m.conversation_id, c.title, m.role, m.created_at, m.content, m.reasoning
FROM matches
JOIN chat_message m ON m.id = matches.id
JOIN chat_conversation c ON c.id = m.conversation_id
WHERE c.owner_id = %s
ORDER BY m.id DESC
LIMIT {MESSAGE_HITS}
"""
POSTGRES_TITLES = f"""
WITH matches AS MATERIALIZED (
    SELECT c.id FROM chat_conversation c
    WHERE {POSTGRES_TITLE_DOCUMENT} @@ to_tsquery('simple', %s)
)
SELECT c.id, c.title, c.updated_at
FROM matches JOIN chat_conversation c ON c.id = matches.id
WHERE c.owner_id = %s
ORDER BY c.id DESC
LIMIT {TITLE_HITS}
"""


def _postgres(user_id: int, words: list[str]) -> tuple[list[tuple], list[tuple]]:
    # Each word quoted as a lexeme, all of them required; the last one also as a prefix.
    tsquery = " & ".join([*(f"'{word}'" for word in words[:-1]), f"'{words[-1]}':*"])
    return (
        _fetch(POSTGRES_TITLES, [tsquery, user_id]),
        _fetch(POSTGRES_MESSAGES, [tsquery, user_id]),
    )
