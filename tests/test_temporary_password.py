"""A temporary password set in admin: its sessions end, and the next sign-in leads only to
choosing a new password (pages and the chat socket alike)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.test import Client

from accounts.models import AccountStatus
from tests.conftest import PASSWORD
from tests.wsclient import connect

pytestmark = pytest.mark.django_db(transaction=True)

TEMPORARY = "temporary pass 4711"
CHOSEN = "my own new pass 0815"


def _set_temporary(admin_client, user, *, must_change: bool = True) -> None:
    form = {"password1": TEMPORARY, "password2": TEMPORARY, "usable_password": "true"}
    if must_change:
        form["must_change"] = "on"
    response = admin_client.post(f"/admin/auth/user/{user.pk}/password/", form)
    assert response.status_code == 302, response.content.decode()


def _log_in(client, password: str = TEMPORARY):
    return client.post("/login/", {"username": "alice", "password": password})


def test_a_temporary_password_leads_only_to_the_password_page(admin_client, alice):
    browser = Client()
    _set_temporary(admin_client, alice)
    assert _log_in(browser).status_code == 302
    for path in ("/", "/account/", "/admin/"):
        response = browser.get(path)
        assert response.status_code == 302 and response.url == "/account/password/"
    page = browser.get("/account/password/").content.decode()
    assert "gave you a temporary password" in page

    response = browser.post(
        "/account/password/",
        {"old_password": TEMPORARY, "new_password1": CHOSEN, "new_password2": CHOSEN},
    )
    assert response.url == "/account/"
    assert browser.get("/").status_code == 200
    assert not AccountStatus.objects.get(user=alice).must_change_password
    assert LogEntry.objects.filter(object_id=str(alice.pk)).exists()


def test_setting_it_ends_the_users_sessions(admin_client, alice):
    browser = Client()
    browser.force_login(alice)
    _set_temporary(admin_client, alice)
    assert browser.get("/").status_code == 302
    assert browser.get("/").url.startswith("/login/")


def test_an_ordinary_password_reset_does_not_force_a_change(admin_client, alice):
    browser = Client()
    _set_temporary(admin_client, alice, must_change=False)
    _log_in(browser)
    assert browser.get("/").status_code == 200


async def test_the_chat_socket_refuses_a_temporary_password_session(alice):
    from accounts import services

    await sync_to_async(services.user_set_temporary_password)(user=alice, password=TEMPORARY)
    browser = Client()
    await sync_to_async(_log_in)(browser)
    session_key = browser.cookies["sessionid"].value
    communicator, _ = await connect(session_key=session_key)
    assert await communicator.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": 4401,
    }
    await communicator.disconnect()


def test_a_user_changes_their_own_password_and_their_other_sessions_end(alice):
    here, elsewhere = Client(), Client()
    here.force_login(alice)
    elsewhere.force_login(alice)
    response = here.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": CHOSEN, "new_password2": CHOSEN},
    )
    assert response.url == "/account/"
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
