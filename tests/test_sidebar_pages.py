"""The sidebar at any size: the chat page carries one page of conversations (pinned first,
newest first) in a constant number of queries; the rest comes as keyset pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation
from chat.selectors.conversations import (
    PAGE_SIZE,
    BadCursor,
    Cursor,
    conversation_page_for_user,
)
from chat.views import FIRST_PAGE_SIZE

pytestmark = pytest.mark.django_db


def _conversations(owner, count: int, **fields) -> list[Conversation]:
    now = timezone.now()
    made = Conversation.objects.bulk_create(
        Conversation(owner=owner, title=f"chat {i}", **fields) for i in range(count)
    )
    # Distinct dates, some equal (ties are ordered by id), newest last-made.
    for i, conversation in enumerate(made):
        Conversation.objects.filter(pk=conversation.pk).update(
            updated_at=now - timedelta(minutes=(count - i) // 2)
        )
    return made


def _all_pages(user, size: int) -> list[int]:
    ids, after = [], None
    while True:
        page = conversation_page_for_user(user=user, after=after, size=size)
        ids += [c.pk for c in page.conversations]
        if page.next_cursor is None:
            return ids
        after = Cursor.decode(page.next_cursor.encode())


def test_pages_cover_every_conversation_once_pinned_first_then_newest(alice, bob):
    _conversations(alice, 23)
    pinned = _conversations(alice, 4, pinned=True)
    _conversations(alice, 3, archived=True)
    _conversations(bob, 5)

    ids = _all_pages(alice, size=5)

    expected = list(
        Conversation.objects.filter(owner=alice, archived=False)
        .order_by("-pinned", "-updated_at", "-id")
        .values_list("pk", flat=True)
    )
    assert ids == expected and len(ids) == 27
    assert set(ids[:4]) == {c.pk for c in pinned}


def test_the_archive_pages_the_same_way(alice):
    archived = _conversations(alice, 7, archived=True)
    _conversations(alice, 2)
    page = conversation_page_for_user(user=alice, archived=True, size=10)
    assert {c.pk for c in page.conversations} == {c.pk for c in archived}


def test_a_forged_cursor_is_refused_with_words(client, alice):
    for text in ["nonsense", "2~2026-01-01T00:00:00+00:00~1", "1~yesterday~1", "1~~"]:
        with pytest.raises(BadCursor):
            Cursor.decode(text)
    client.force_login(alice)
    response = client.get(reverse("chat:conversation_page"), {"after": "x~y~z"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "That page link is not valid. Reload the page."


def test_the_json_pages_follow_each_other(client, alice):
    _conversations(alice, PAGE_SIZE + 3)
    client.force_login(alice)

    first = client.get(reverse("chat:conversation_page")).json()
    second = client.get(reverse("chat:conversation_page"), {"after": first["next"]}).json()

    assert len(first["conversations"]) == PAGE_SIZE and len(second["conversations"]) == 3
    assert second["next"] is None
    assert {"pinned", "archived", "title", "updated_at"} <= first["conversations"][0].keys()


def test_the_chat_page_holds_one_page_in_the_same_queries_at_any_size(client, alice, bob):
    _conversations(alice, 5)
    _conversations(bob, PAGE_SIZE * 4)

    def render(user) -> tuple[int, str]:
        client.force_login(user)
        queries = []
        with connection.execute_wrapper(
            lambda run, sql, *args: queries.append(sql) or run(sql, *args)
        ):
            html = client.get(reverse("chat:home")).content.decode()
        return len(queries), html

    small_queries, _ = render(alice)
    large_queries, html = render(bob)

    assert small_queries == large_queries > 0
    assert html.count('class="conversation-item"') == FIRST_PAGE_SIZE
    assert 'data-next="1~' not in html and 'data-next="0~' in html
