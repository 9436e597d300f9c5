"""Snippets of search hits, made here rather than by the engines: FTS5's snippet() took seconds
for a prefix of a word found in most messages, and PostgreSQL's ts_headline re-parses each
document; this reads the page of hits only (docs/architecture.md, "History, search and
sharing"). Words compare as the engines' tokenizers compare them: case-folded, without
diacritics; every query word whole, the last one also as a prefix."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WORD = re.compile(r"\w+")
CONTEXT_BEFORE = 6


@dataclass(frozen=True)
class Matcher:
    whole: frozenset[str]
    prefix: str

    @classmethod
    def for_words(cls, words: list[str]) -> Matcher:
        return cls(whole=frozenset(map(fold, words)), prefix=fold(words[-1]))

    def matches(self, word: str) -> bool:
        folded = fold(word)
        return folded in self.whole or folded.startswith(self.prefix)


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def has_match(text: str, matcher: Matcher) -> bool:
    return any(matcher.matches(found.group()) for found in WORD.finditer(text))


def snippet(text: str, matcher: Matcher, *, words: int) -> SafeString:
    """About `words` words of `text` around its first match, matches in <mark>, escaped."""
    spans = list(WORD.finditer(text))
    first = next((i for i, found in enumerate(spans) if matcher.matches(found.group())), 0)
    start = max(0, first - CONTEXT_BEFORE)
    end = min(len(spans), start + words)
    if not spans:
        return mark_safe("")
    cut_from, cut_to = spans[start].start(), spans[end - 1].end()
    parts = ["…" if start > 0 else ""]
    position = cut_from
    for found in spans[start:end]:
        parts.append(escape(text[position : found.start()]))
        word = escape(found.group())
        parts.append(f"<mark>{word}</mark>" if matcher.matches(found.group()) else word)
        position = found.end()
    parts.append("…" if cut_to < len(text.rstrip()) else "")
    return mark_safe("".join(parts))


def highlight_all(text: str, matcher: Matcher) -> SafeString:
    """All of a short text (a title), matches in <mark>, escaped."""
    parts, position = [], 0
    for found in WORD.finditer(text):
        parts.append(escape(text[position : found.start()]))
        word = escape(found.group())
        parts.append(f"<mark>{word}</mark>" if matcher.matches(found.group()) else word)
        position = found.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))
