"""The admin of people: lists with filters and search, readable columns, links between a user
and their conversations, actions written to the admin's history, the policy as one page."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model

from accounts.models import SignupPolicy
from accounts.services import invite_create, signup_for_approval

pytestmark = pytest.mark.django_db


def test_every_accounts_list_answers_with_its_filters_and_search(admin_client, world):
    SignupPolicy.objects.update_or_create(pk=1, defaults={"mode": SignupPolicy.Mode.APPROVAL})
    signup_for_approval(username="judy", password="p" * 12)
    invite_create(created_by=world.alice, note="for Karl")
    lists = {
        "/admin/auth/user/": ["?is_active__exact=0", "?sign_in=sso", "?sign_in=password", "?q=ali"],
        "/admin/accounts/pendinguser/": ["?q=judy"],
        "/admin/accounts/invite/": ["?state=open", "?state=used", "?state=expired", "?q=Karl"],
        "/admin/chat/conversation/": [f"?owner__id__exact={world.alice.pk}"],
    }
    for path, queries in lists.items():
        for query in ["", *queries]:
            response = admin_client.get(path + query)
            assert response.status_code == 200, path + query
    page = admin_client.get("/admin/auth/user/?account_status__approval__exact=pending")
    assert "Waiting for approval" in page.content.decode()


def test_a_user_links_to_their_conversations_and_back(admin_client, world):
    users = admin_client.get("/admin/auth/user/").content.decode()
    conversations_url = f"/admin/chat/conversation/?owner__id__exact={world.alice.pk}"
    assert f'href="{conversations_url}"' in users
    listed = admin_client.get(conversations_url).content.decode()
    assert "finished" in listed and "bob&#x27;s" not in listed
    assert f'href="/admin/auth/user/{world.alice.pk}/change/"' in listed
    change = admin_client.get(f"/admin/auth/user/{world.alice.pk}/change/").content.decode()
    assert "Conversations (2)" in change


def test_deactivating_from_the_list_is_logged_and_spares_the_admin(admin_client, alice):
    admin = get_user_model().objects.get(username="admin")
    admin_client.post(
        "/admin/auth/user/", {"action": "deactivate", "_selected_action": [alice.pk, admin.pk]}
    )
    alice.refresh_from_db()
    admin.refresh_from_db()
    assert not alice.is_active and admin.is_active
    assert LogEntry.objects.get(object_id=str(alice.pk)).get_change_message() == (
        "Deactivated the account."
    )


def test_signing_a_user_out_everywhere_is_logged(admin_client, client, alice):
    client.force_login(alice)
    admin_client.post(
        "/admin/auth/user/", {"action": "sign_out_everywhere", "_selected_action": [alice.pk]}
    )
    assert client.get("/").status_code == 302
    entry = LogEntry.objects.get(object_id=str(alice.pk))
    assert entry.get_change_message() == "Signed out of 1 session(s)."


def test_the_policy_is_one_page_that_cannot_be_added_or_deleted(admin_client):
    response = admin_client.get("/admin/accounts/signuppolicy/")
    assert response.status_code == 302
    assert response.url == "/admin/accounts/signuppolicy/1/change/"
    assert admin_client.get("/admin/accounts/signuppolicy/add/").status_code == 403
    response = admin_client.post(
        "/admin/accounts/signuppolicy/1/change/",
        {"mode": "invite", "invite_valid_days": "3"},
    )
    assert response.status_code == 302
    assert SignupPolicy.objects.get().mode == "invite"
    assert LogEntry.objects.filter(object_id="1", change_message__contains="mode").exists()


def test_the_chat_page_links_staff_to_the_admin_and_everyone_to_their_account(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'id="account-link"' in page and 'id="admin-link"' not in page
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert 'id="admin-link"' in client.get("/").content.decode()
