"""Search across titles, answers and reasoning: one selector over the database's own full-text
engine (SQLite FTS5 by default, PostgreSQL when DATABASE_URL points there — the CI runs both),
kept in sync with every write, showing only the searcher's own conversations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from chat import search_index
from chat.models import Conversation, Message
from chat.selectors.search import query_words, search_for_user
from chat.selectors.snippets import Matcher, highlight_all, snippet
from chat.services.conversations import conversation_rename

pytestmark = pytest.mark.django_db


def _conversation(owner, title="Trip planning") -> Conversation:
    return Conversation.objects.create(owner=owner, title=title)


def _message(conversation, content="", reasoning="", role="assistant", **fields) -> Message:
    return Message.objects.create(
        conversation=conversation, role=role, content=content, reasoning=reasoning, **fields
    )


def _hit_ids(user, query: str) -> list[int]:
    return [hit.message_id for hit in search_for_user(user=user, query=query).messages]


def test_a_word_only_in_the_reasoning_is_found_and_marked_as_reasoning(alice):
    message = _message(_conversation(alice), "Take the train.", "Consider the zeppelin option.")

    results = search_for_user(user=alice, query="zeppelin")

    [hit] = results.messages
    assert hit.message_id == message.pk and hit.in_reasoning
    assert "<mark>zeppelin</mark>" in hit.snippet


def test_answers_user_messages_and_titles_are_found(alice):
    conversation = _conversation(alice, "Kyoto in autumn")
    question = _message(conversation, "What about temples?", role="user")
    answer = _message(conversation, "Visit Kiyomizu temples early.")

    assert set(_hit_ids(alice, "temples")) == {question.pk, answer.pk}
    [title] = search_for_user(user=alice, query="kyoto").titles
    assert title.conversation_id == conversation.pk
    assert "<mark>Kyoto</mark>" in title.title


def test_every_word_must_match_and_the_last_one_as_a_prefix(alice):
    conversation = _conversation(alice)
    both = _message(conversation, "deploy the cluster")
    longer = _message(conversation, "deployment of the cluster")
    _message(conversation, "deploy only")

    assert _hit_ids(alice, "deploy clust") == [both.pk]
    assert set(_hit_ids(alice, "cluster deploy")) == {both.pk, longer.pk}


def test_other_users_conversations_are_never_found(alice, bob):
    _message(_conversation(bob, "secret plans"), "bob's hidden answer")

    results = search_for_user(user=alice, query="hidden secret")
    assert results.empty
    assert search_for_user(user=alice, query="plans").titles == []


def test_query_syntax_is_plain_text_and_snippets_are_escaped(alice):
    _message(_conversation(alice), 'if a < b: alert("<img src=x onerror=y>") AND NOT OR "q"*')

    for query in ['"', "AND OR NOT", "*", "a:b", "NEAR(", "'; DROP TABLE", "script"]:
        search_for_user(user=alice, query=query)  # none raises
    [hit] = search_for_user(user=alice, query="alert").messages
    assert "<mark>alert</mark>" in hit.snippet and "<img" not in hit.snippet


def test_a_query_without_words_searches_nothing(alice):
    _message(_conversation(alice), "anything")
    assert query_words("  ?! … ") == []
    assert search_for_user(user=alice, query="?!").empty


def test_edits_renames_and_deletes_keep_the_index_in_step(alice):
    conversation = _conversation(alice, "Old name")
    message = _message(conversation, "first words")

    Message.objects.filter(pk=message.pk).update(content="second words")
    conversation_rename(conversation=conversation, title="Fresh name")

    assert _hit_ids(alice, "first") == []
    assert _hit_ids(alice, "second") == [message.pk]
    assert search_for_user(user=alice, query="old").titles == []
    assert len(search_for_user(user=alice, query="fresh").titles) == 1
    conversation.delete()
    assert search_for_user(user=alice, query="second fresh").empty


def test_a_streaming_answer_is_indexed_once_it_ends(alice):
    """Checkpoints of a live answer do not touch the index; its end puts it in."""
    message = _message(_conversation(alice), status=Message.Status.STREAMING)
    Message.objects.filter(pk=message.pk).update(content="half a thou", reasoning="musing")
    Message.objects.filter(pk=message.pk).update(content=F_concat("half a thought"))
    assert _hit_ids(alice, "musing") == []

    Message.objects.filter(pk=message.pk).update(status=Message.Status.COMPLETE)
    assert _hit_ids(alice, "musing") == [message.pk]
    assert _hit_ids(alice, "thought") == [message.pk]


def F_concat(text: str):
    # An append-style checkpoint (content = content || …), as the capacity work may write them.
    from django.db.models import Value
    from django.db.models.functions import Concat

    return Concat(Value(""), Value(text))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables to alter them")
@pytest.mark.django_db(transaction=True)
def test_a_table_rebuild_by_a_later_migration_does_not_lose_the_index(alice):
    conversation = _conversation(alice)
    before = _message(conversation, "kept through the rebuild")
    try:
        with connection.schema_editor() as editor:
            editor._remake_table(Message)  # what Django does for most ALTERs on SQLite
    finally:
        repaired = search_index.repair(connection)

    assert repaired is True
    after = _message(conversation, "written after the rebuild")
    assert set(_hit_ids(alice, "rebuild")) == {before.pk, after.pk}
    assert search_index.repair(connection) is False


def test_snippets_escape_then_mark_whole_words_and_the_last_as_a_prefix():
    matcher = Matcher.for_words(["cafe", "deplo"])

    assert highlight_all("<b>Café</b> deployment", matcher) == (
        "&lt;b&gt;<mark>Café</mark>&lt;/b&gt; <mark>deployment</mark>"
    )
    assert highlight_all("cafeteria", Matcher.for_words(["cafe", "x"])) == "cafeteria"
    words = " ".join(f"w{i}" for i in range(100))
    cut = snippet(words.replace("w50", "cafe"), matcher, words=10)
    assert cut == "…w44 w45 w46 w47 w48 w49 <mark>cafe</mark> w51 w52 w53…"


def test_the_search_page_works_without_javascript(client, alice):
    message = _message(_conversation(alice), "", "a quokka appears")
    client.force_login(alice)

    page = client.get(reverse("chat:search"), {"q": "quokka"}).content.decode()

    assert f"?m={message.pk}#m-{message.pk}" in page
    assert "in the reasoning" in page and "<mark>quokka</mark>" in page
    assert "Nothing matches" in client.get(reverse("chat:search"), {"q": "zzz"}).content.decode()


def test_the_search_json_gives_links_to_messages(client, alice, bob):
    message = _message(_conversation(alice), "the axolotl answer")
    client.force_login(alice)

    data = client.get(
        reverse("chat:search"), {"q": "axolotl"}, headers={"accept": "application/json"}
    ).json()

    [hit] = data["messages"]
    assert hit["message_id"] == message.pk and hit["in_reasoning"] is False
    assert hit["url"].endswith(f"?m={message.pk}#m-{message.pk}")
    client.force_login(bob)
    bobs = client.get(
        reverse("chat:search"), {"q": "axolotl"}, headers={"accept": "application/json"}
    )
    assert bobs.json()["messages"] == []


def test_search_requires_login(client):
    assert client.get(reverse("chat:search"), {"q": "x"}).status_code == 302
