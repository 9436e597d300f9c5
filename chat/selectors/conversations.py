"""The sidebar's and the archive's lists of conversations, a page at a time.

Pages are keyset pages in the order (pinned first, newest first, then by id): a cursor names
the last row shown, so the page after it costs one index range read however far the reader
has scrolled, and rows that move meanwhile are neither skipped nor shown twice on one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from chat.models import Conversation

PAGE_SIZE = 50
SIDEBAR_FIELDS = ("id", "title", "model", "updated_at", "pinned", "archived")


class BadCursor(ValueError):
    """A cursor this module did not make."""


@dataclass(frozen=True)
class Cursor:
    pinned: bool
    updated_at: datetime
    id: int

    def encode(self) -> str:
        return f"{int(self.pinned)}~{self.updated_at.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            pinned, updated_at, row_id = text.split("~")
            when = parse_datetime(updated_at)
            if pinned not in ("0", "1") or when is None:
                raise ValueError(text)
            return cls(pinned=pinned == "1", updated_at=when, id=int(row_id))
        except ValueError as exc:
            raise BadCursor(text) from exc


@dataclass(frozen=True)
class ConversationPage:
    conversations: list[Conversation]
    next_cursor: Cursor | None


def conversation_page_for_user(
    *,
    user: AbstractBaseUser,
    archived: bool = False,
    after: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> ConversationPage:
    """One page of the user's conversations (archived ones, or the others), after `after`."""
    rows = Conversation.objects.filter(owner=user, archived=archived)
    if after is not None:
        rows = rows.filter(_after(after))
    rows = rows.order_by("-pinned", "-updated_at", "-id").only(*SIDEBAR_FIELDS)
    page = list(rows[: size + 1])
    if len(page) <= size:
        return ConversationPage(conversations=page, next_cursor=None)
    last = page[size - 1]
    return ConversationPage(
        conversations=page[:size],
        next_cursor=Cursor(pinned=last.pinned, updated_at=last.updated_at, id=last.pk),
    )


def _after(cursor: Cursor) -> Q:
    later_in_group = Q(updated_at__lt=cursor.updated_at) | Q(
        updated_at=cursor.updated_at, id__lt=cursor.id
    )
    if cursor.pinned:
        return Q(pinned=True) & later_in_group | Q(pinned=False)
    return Q(pinned=False) & later_in_group
