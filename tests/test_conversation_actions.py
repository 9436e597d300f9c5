"""Rename, pin, archive, restore, delete and delete all: POSTs with CSRF, only on one's own
conversations, each change told to every tab of the user through the user's socket group."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, ConversationShare, Message
from chat.streaming.groups import user_group
from tests.protocol_schemas import check_frame

pytestmark = pytest.mark.django_db(transaction=True)

JSON = {"accept": "application/json"}


@pytest.fixture
def listener(alice):
    """A channel in Alice's user group, as each of her tabs' sockets is."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.pk), channel)

    def frames() -> list[dict]:
        received = []
        while True:
            try:
                event = async_to_sync(_receive_now)(layer, channel)
            except TimeoutError:
                return received
            check_frame(event["frame"])
            received.append(event["frame"])

    return frames


async def _receive_now(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)


@pytest.fixture
def alices_client(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("chat:home"))  # sets the CSRF cookie
    return client


def _post(client: Client, name: str, conversation_id: int, **data):
    token = client.cookies["csrftoken"].value
    return client.post(
        reverse(name, args=[conversation_id]), data, headers={**JSON, "x-csrftoken": token}
    )


def test_rename_trims_saves_and_tells_every_tab(alices_client, alice, listener):
    conversation = Conversation.objects.create(owner=alice, title="Old")

    response = _post(
        alices_client, "chat:conversation_rename", conversation.pk, title="  New\n name "
    )

    assert response.status_code == 200
    assert response.json()["conversation"]["title"] == "New name"
    conversation.refresh_from_db()
    assert conversation.title == "New name"
    [frame] = listener()
    assert frame["type"] == "conversation.updated" and frame["conversation"]["title"] == "New name"


def test_an_empty_or_too_long_title_is_refused_with_words_and_changes_nothing(alices_client, alice):
    conversation = Conversation.objects.create(owner=alice, title="Kept")

    empty = _post(alices_client, "chat:conversation_rename", conversation.pk, title="   ")
    long = _post(alices_client, "chat:conversation_rename", conversation.pk, title="x" * 201)

    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_title"
    assert long.json()["error"]["message"] == (
        "A title can have at most 200 characters; this one has 201."
    )
    conversation.refresh_from_db()
    assert conversation.title == "Kept"


def test_pin_archive_and_restore_keep_the_date_and_tell_every_tab(alices_client, alice, listener):
    conversation = Conversation.objects.create(owner=alice, title="t")
    updated_at = conversation.updated_at

    _post(alices_client, "chat:conversation_pin", conversation.pk, pinned="true")
    conversation.refresh_from_db()
    assert conversation.pinned
    _post(alices_client, "chat:conversation_archive", conversation.pk, archived="true")
    conversation.refresh_from_db()
    assert conversation.archived and not conversation.pinned
    _post(alices_client, "chat:conversation_archive", conversation.pk, archived="false")
    conversation.refresh_from_db()
    assert not conversation.archived and conversation.updated_at == updated_at

    frames = listener()
    assert [(f["conversation"]["pinned"], f["conversation"]["archived"]) for f in frames] == [
        (True, False),
        (False, True),
        (False, False),
    ]


def test_delete_removes_messages_and_shares_and_tells_every_tab(alices_client, alice, listener):
    conversation = Conversation.objects.create(owner=alice, title="t")
    Message.objects.create(conversation=conversation, role="user", content="hi")
    ConversationShare.objects.create(conversation=conversation, token_hash="x" * 64, title="t")

    response = _post(alices_client, "chat:conversation_delete", conversation.pk)

    assert response.json() == {"deleted": conversation.pk}
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.exists() and not ConversationShare.objects.exists()
    assert listener() == [{"type": "conversation.deleted", "id": conversation.pk}]


def test_another_users_conversation_is_not_found_and_untouched(alices_client, bob):
    bobs = Conversation.objects.create(owner=bob, title="bob's")
    for name in ("conversation_rename", "conversation_pin", "conversation_archive"):
        response = _post(alices_client, f"chat:{name}", bobs.pk, title="mine", pinned="true")
        assert response.status_code == 404
    assert _post(alices_client, "chat:conversation_delete", bobs.pk).status_code == 404
    bobs.refresh_from_db()
    assert (bobs.title, bobs.pinned) == ("bob's", False)


def test_actions_need_post_and_the_csrf_token(alice):
    conversation = Conversation.objects.create(owner=alice, title="t")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    url = reverse("chat:conversation_delete", args=[conversation.pk])

    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_plain_forms_go_back_to_a_local_next_page_only(alice):
    conversation = Conversation.objects.create(owner=alice, title="t", archived=True)
    client = Client()
    client.force_login(alice)
    url = reverse("chat:conversation_archive", args=[conversation.pk])

    local = client.post(url, {"archived": "false", "next": "/archive/"})
    foreign = client.post(url, {"archived": "true", "next": "https://evil.example/"})

    assert local["Location"] == "/archive/"
    assert foreign["Location"] == reverse("chat:home")


def test_delete_all_asks_first_then_deletes_only_the_users_own(alice, bob, listener):
    for owner in (alice, alice, bob):
        Conversation.objects.create(owner=owner, title="t")
    Conversation.objects.create(owner=alice, title="archived", archived=True)
    client = Client()
    client.force_login(alice)

    assert "Delete 3 conversations" in client.get(reverse("chat:delete_all")).content.decode()
    assert Conversation.objects.count() == 4
    client.post(reverse("chat:delete_all"))

    assert list(Conversation.objects.values_list("owner", flat=True)) == [bob.pk]
    assert listener() == [{"type": "conversations.cleared"}]


def test_the_archive_page_lists_archived_conversations_with_restore(alice, bob):
    Conversation.objects.create(owner=alice, title="Shelved", archived=True)
    Conversation.objects.create(owner=alice, title="Active")
    Conversation.objects.create(owner=bob, title="Bob's shelf", archived=True)
    client = Client()
    client.force_login(alice)

    page = client.get(reverse("chat:archive")).content.decode()

    assert "Shelved" in page and "Restore" in page
    assert "Active" not in page and "Bob&#x27;s shelf" not in page
