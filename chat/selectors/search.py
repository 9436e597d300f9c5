"""Full-text search over a user's conversation titles, answers and reasoning: one function,
`search_for_user`, in front of SQLite FTS5 or PostgreSQL full-text search (chat.search_index
holds the index). Both backends require every word of the query, and match its last word as a
prefix too, since it is usually still being typed: "deploy clus" finds "deploy the cluster".
Earlier words match whole, as a prefix that expands to many words is what makes such queries
slow (docs/performance.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chat.search_index import POSTGRES_MESSAGE_DOCUMENT, POSTGRES_TITLE_DOCUMENT

MAX_QUERY_WORDS = 8
MESSAGE_HITS = 50
TITLE_HITS = 10
SNIPPET_WORDS = 24
# Markers the engines put around matched words; chosen because user text cannot hold them
# (they are stripped from the query and turned into <mark> only after escaping the snippet).
MARK_START, MARK_END = "\x02", "\x03"
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
    """The user's conversations whose title matches, and the newest messages whose answer or
    reasoning matches, with highlighted snippets. Streaming messages are not searched yet."""
    words = query_words(query)
    if not words:
        return SearchResults(query=query, words=[], titles=[], messages=[])
    backend = _postgres if connection.vendor == "postgresql" else _sqlite
    titles, messages = backend(user.pk, words)
    return SearchResults(query=query, words=words, titles=titles, messages=messages)


def query_words(query: str) -> list[str]:
    return WORD.findall(query.lower())[:MAX_QUERY_WORDS]


def highlight(snippet: str) -> SafeString:
    """Escape a snippet, then turn the engine's match markers into <mark> elements."""
    html = escape(snippet).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    return mark_safe(html)


def _hit(row: tuple) -> MessageHit:
    message_id, conversation_id, title, role, created_at, content_snippet, reasoning_snippet = row
    in_reasoning = MARK_START not in (content_snippet or "")
    return MessageHit(
        message_id=message_id,
        conversation_id=conversation_id,
        conversation_title=title,
        role=role,
        created_at=_as_datetime(created_at),
        in_reasoning=in_reasoning,
        snippet=highlight(reasoning_snippet if in_reasoning else content_snippet),
    )


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else parse_datetime(value)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# -- SQLite FTS5 ----------------------------------------------------------------------------------

# CROSS JOIN makes SQLite read the full-text index first: left to itself it may walk all of the
# user's conversations and probe the index once per row (0.5 s at 10,000 conversations).
# Hits first, snippets second: snippet() on hits read newest first costs seconds when a word is
# in most messages (FTS5 re-walks the word's whole position list per row in that order), while
# for a given set of rowids it is immediate.
SQLITE_MESSAGES = f"""
SELECT m.id, m.conversation_id, c.title, m.role, m.created_at
FROM chat_message_fts
CROSS JOIN chat_message m ON m.id = chat_message_fts.rowid
CROSS JOIN chat_conversation c ON c.id = m.conversation_id
WHERE chat_message_fts MATCH %s AND c.owner_id = %s
ORDER BY chat_message_fts.rowid DESC
LIMIT {MESSAGE_HITS}
"""
SQLITE_SNIPPETS = f"""
SELECT rowid,
       snippet(chat_message_fts, 0, char(2), char(3), '…', {SNIPPET_WORDS}),
       snippet(chat_message_fts, 1, char(2), char(3), '…', {SNIPPET_WORDS})
FROM chat_message_fts
WHERE chat_message_fts MATCH %s AND rowid IN ({{ids}})
"""
# Newest conversations first by id (creation), which the index yields in order; sorting every
# match by updated_at cost 120 ms for a word in most titles.
SQLITE_TITLES = f"""
SELECT c.id, highlight(chat_conversation_fts, 0, char(2), char(3)), c.updated_at
FROM chat_conversation_fts
CROSS JOIN chat_conversation c ON c.id = chat_conversation_fts.rowid
WHERE chat_conversation_fts MATCH %s AND c.owner_id = %s
ORDER BY chat_conversation_fts.rowid DESC
LIMIT {TITLE_HITS}
"""


def _sqlite(user_id: int, words: list[str]) -> tuple[list[TitleHit], list[MessageHit]]:
    # Every word quoted (FTS5 syntax in it is then plain text); the last one as a prefix.
    match = " ".join([*(f'"{word}"' for word in words[:-1]), f'"{words[-1]}"*'])
    titles = [
        TitleHit(conversation_id=row[0], title=highlight(row[1]), updated_at=_as_datetime(row[2]))
        for row in _fetch(SQLITE_TITLES, [match, user_id])
    ]
    hits = _fetch(SQLITE_MESSAGES, [match, user_id])
    if not hits:
        return titles, []
    ids = [row[0] for row in hits]
    snippets_sql = SQLITE_SNIPPETS.format(ids=", ".join(["%s"] * len(ids)))
    snippets = {row[0]: row[1:] for row in _fetch(snippets_sql, [match, *ids])}
    return titles, [_hit((*row, *snippets[row[0]])) for row in hits]


# -- PostgreSQL full-text search --------------------------------------------------------------

HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, MinWords=8, "
    "MaxFragments=1, FragmentDelimiter=…"
)
# The newest hits first, then their headlines: ts_headline re-parses the text, so it runs only
# for the page of hits, never for every match.
POSTGRES_MESSAGES = f"""
WITH hits AS (
    SELECT m.id FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
    WHERE m.status <> 'streaming' AND {POSTGRES_MESSAGE_DOCUMENT} @@ to_tsquery('simple', %s)
      AND c.owner_id = %s
    ORDER BY m.id DESC LIMIT {MESSAGE_HITS}
)
SELECT m.id, m.conversation_id, c.title, m.role, m.created_at,
       ts_headline('simple', m.content, to_tsquery('simple', %s), %s),
       ts_headline('simple', m.reasoning, to_tsquery('simple', %s), %s)
FROM hits JOIN chat_message m ON m.id = hits.id JOIN chat_conversation c ON c.id = m.conversation_id
ORDER BY m.id DESC
"""
POSTGRES_TITLES = f"""
SELECT c.id, ts_headline('simple', c.title, to_tsquery('simple', %s), %s), c.updated_at
FROM chat_conversation c
WHERE {POSTGRES_TITLE_DOCUMENT} @@ to_tsquery('simple', %s) AND c.owner_id = %s
ORDER BY c.id DESC
LIMIT {TITLE_HITS}
"""


def _postgres(user_id: int, words: list[str]) -> tuple[list[TitleHit], list[MessageHit]]:
    # Each word quoted as a lexeme, all of them required; the last one as a prefix.
    tsquery = " & ".join([*(f"'{word}'" for word in words[:-1]), f"'{words[-1]}':*"])
    whole_title = "HighlightAll=true, " + HEADLINE_OPTIONS
    titles = [
        TitleHit(conversation_id=row[0], title=highlight(row[1]), updated_at=row[2])
        for row in _fetch(POSTGRES_TITLES, [tsquery, whole_title, tsquery, user_id])
    ]
    params = [tsquery, user_id, tsquery, HEADLINE_OPTIONS, tsquery, HEADLINE_OPTIONS]
    return titles, [_hit(row) for row in _fetch(POSTGRES_MESSAGES, params)]
