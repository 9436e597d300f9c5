"""Invite-only sign-up: a link made in admin is shown once, works once, and expires."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Invite, SignupPolicy
from accounts.services import invite_create

pytestmark = pytest.mark.django_db

NEW_ACCOUNT = {
    "username": "frank",
    "email": "",
    "password1": "a long new pass 42",
    "password2": "a long new pass 42",
}


@pytest.fixture(autouse=True)
def _invite_only(db):
    SignupPolicy.objects.update_or_create(pk=1, defaults={"mode": SignupPolicy.Mode.INVITE})


def _sign_up(client, token: str, username: str = "frank"):
    return client.post(f"/invite/{token}/", {**NEW_ACCOUNT, "username": username})


def test_an_invite_link_creates_an_account_and_signs_it_in(client, alice):
    created = invite_create(created_by=alice, note="for Frank")
    assert client.get(f"/invite/{created.token}/").status_code == 200
    response = _sign_up(client, created.token)
    assert response.status_code == 302 and response.url == "/"
    frank = get_user_model().objects.get(username="frank")
    assert frank.is_active
    assert client.get("/").status_code == 200
    created.invite.refresh_from_db()
    assert created.invite.used_by == frank and created.invite.used_at is not None


def test_an_invite_link_works_once(client, alice):
    created = invite_create(created_by=alice)
    _sign_up(client, created.token)
    client.logout()
    assert client.get(f"/invite/{created.token}/").status_code == 404
    response = _sign_up(client, created.token, username="mallory")
    assert response.status_code == 404
    assert "cannot be used" in response.content.decode()
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_an_invite_link_expires(client, alice):
    created = invite_create(created_by=alice)
    Invite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/invite/{created.token}/").status_code == 404
    assert _sign_up(client, created.token).status_code == 404
    assert not get_user_model().objects.filter(username="frank").exists()


def test_a_taken_link_that_loses_the_race_creates_no_account(client, alice):
    """Two people submit one link: the form was valid for both, one UPDATE decides."""
    from accounts import services

    created = invite_create(created_by=alice)
    services.signup_with_invite(token=created.token, username="first", password="p" * 12)
    with pytest.raises(services.SignupRefused):
        services.signup_with_invite(token=created.token, username="second", password="p" * 12)
    assert not get_user_model().objects.filter(username="second").exists()


def test_invites_do_nothing_once_the_policy_is_closed(client, alice):
    created = invite_create(created_by=alice)
    SignupPolicy.objects.filter(pk=1).update(mode=SignupPolicy.Mode.CLOSED)
    assert _sign_up(client, created.token).status_code == 404


def test_a_wrong_password_pair_keeps_the_invite(client, alice):
    created = invite_create(created_by=alice)
    response = client.post(f"/invite/{created.token}/", {**NEW_ACCOUNT, "password2": "other"})
    assert response.status_code == 200
    assert "password fields didn\u2019t match" in response.content.decode()
    assert _sign_up(client, created.token).status_code == 302


def test_admin_shows_the_link_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(
        "/admin/accounts/invite/add/",
        {"note": "for Grace", "expires_at_0": "2099-01-01", "expires_at_1": "12:00:00"},
        follow=True,
    )
    page = response.content.decode()
    link = re.search(r'<code id="invite-link">(http://testserver/invite/([^/]+)/)</code>', page)
    assert link, page
    token = link.group(2)
    invite = Invite.objects.get()
    assert token not in invite.token_hash
    assert LogEntry.objects.filter(object_id=str(invite.pk)).exists()
    change_page = admin_client.get(f"/admin/accounts/invite/{invite.pk}/change/").content.decode()
    list_page = admin_client.get("/admin/accounts/invite/").content.decode()
    assert token not in change_page and token not in list_page
    assert admin_client.get(f"/invite/{token}/").status_code == 200


def test_revoking_in_admin_expires_the_link_and_is_logged(admin_client, alice):
    created = invite_create(created_by=alice)
    admin_client.post(
        "/admin/accounts/invite/", {"action": "revoke", "_selected_action": [created.invite.pk]}
    )
    assert admin_client.get(f"/invite/{created.token}/").status_code == 404
    entry = LogEntry.objects.get(object_id=str(created.invite.pk))
    assert entry.get_change_message() == "Revoked the invite."
