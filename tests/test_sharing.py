"""Share links: a read-only snapshot, with or without the reasoning, behind an unguessable
token that is stored only as a hash, open to signed-in users, closed once revoked."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, ConversationShare, Message
from chat.services.sharing import share_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice) -> Conversation:
    conversation = Conversation.objects.create(owner=alice, title="Bridges")
    Message.objects.create(conversation=conversation, role="user", content="Why arches?")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Arches **carry** load <img src=x onerror=alert(1)>.",
        reasoning="Compression, not tension.",
    )
    return conversation


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _create_link(client: Client, conversation: Conversation, with_reasoning: bool) -> str:
    data = {"include_reasoning": "on"} if with_reasoning else {}
    page = client.post(reverse("chat:share", args=[conversation.pk]), data).content.decode()
    return re.search(r'id="share-link" type="text" value="([^"]+)"', page).group(1)


def test_another_user_reads_the_snapshot_without_reasoning_by_default(alice, bob, conversation):
    link = _create_link(_client(alice), conversation, with_reasoning=False)

    page = _client(bob).get(link).content.decode()

    assert "Why arches?" in page and "Arches **carry** load" in page
    assert "Compression" not in page
    # Text goes in escaped; the browser renders it through the chat's sanitiser (shared.js).
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert 'src="/static/chat/ui/shared.js"' in page


def test_the_owner_chooses_to_include_the_reasoning(alice, bob, conversation):
    link = _create_link(_client(alice), conversation, with_reasoning=True)
    assert "Compression, not tension." in _client(bob).get(link).content.decode()


def test_the_token_is_stored_only_as_its_hash(alice, conversation):
    created = share_create(conversation=conversation, include_reasoning=False)

    stored = ConversationShare.objects.get()
    assert len(created.token) >= 40
    assert stored.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in str(ConversationShare.objects.values().get())


def test_later_messages_are_not_in_the_snapshot(alice, bob, conversation):
    link = _create_link(_client(alice), conversation, with_reasoning=False)
    Message.objects.create(conversation=conversation, role="user", content="Added later")
    assert "Added later" not in _client(bob).get(link).content.decode()


def test_a_revoked_or_made_up_link_is_refused(alice, bob, conversation):
    link = _create_link(_client(alice), conversation, with_reasoning=False)
    share = ConversationShare.objects.get()

    _client(alice).post(reverse("chat:share_revoke", args=[share.pk]))

    refused = _client(bob).get(link)
    assert refused.status_code == 404
    assert "revoked" in refused.content.decode()
    assert _client(bob).get(reverse("chat:shared", args=["made-up"])).status_code == 404


def test_only_signed_in_users_open_a_link(alice, conversation):
    link = _create_link(_client(alice), conversation, with_reasoning=False)
    response = Client().get(link)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_only_the_owner_manages_links(alice, bob, conversation):
    _create_link(_client(alice), conversation, with_reasoning=False)
    share = ConversationShare.objects.get()
    bobs = _client(bob)

    assert bobs.get(reverse("chat:share", args=[conversation.pk])).status_code == 404
    assert bobs.post(reverse("chat:share_revoke", args=[share.pk])).status_code == 404
    share.refresh_from_db()
    assert share.revoked_at is None
