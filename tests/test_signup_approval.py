"""Open sign-up with approval: a new account waits, inactive, and cannot sign in or chat until
an administrator approves it from the queue."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model

from accounts.models import AccountStatus, SignupPolicy
from tests.wsclient import connect

pytestmark = pytest.mark.django_db(transaction=True)

NEW_ACCOUNT = {
    "username": "heidi",
    "email": "heidi@example.org",
    "password1": "a long new pass 42",
    "password2": "a long new pass 42",
}


def _policy(mode: str) -> None:
    SignupPolicy.objects.update_or_create(pk=1, defaults={"mode": mode})


def _log_in(client):
    return client.post("/login/", {"username": "heidi", "password": NEW_ACCOUNT["password1"]})


def test_sign_up_is_not_offered_unless_the_policy_is_open(client, alice):
    for mode in (SignupPolicy.Mode.CLOSED, SignupPolicy.Mode.INVITE):
        _policy(mode)
        assert client.get("/signup/").status_code == 404
        assert client.post("/signup/", NEW_ACCOUNT).status_code == 404
        assert 'id="signup-link"' not in client.get("/login/").content.decode()
    assert not get_user_model().objects.filter(username="heidi").exists()


def test_a_new_account_waits_and_cannot_sign_in(client, alice):
    _policy(SignupPolicy.Mode.APPROVAL)
    assert 'id="signup-link"' in client.get("/login/").content.decode()
    response = client.post("/signup/", NEW_ACCOUNT)
    assert response.url == "/signup/pending/"
    heidi = get_user_model().objects.get(username="heidi")
    assert not heidi.is_active
    assert heidi.account_status.approval == AccountStatus.Approval.PENDING
    assert _log_in(client).status_code == 200  # the form again, with an error
    assert client.get("/").status_code == 302


async def test_a_waiting_account_cannot_open_a_chat_socket(alice):
    await sync_to_async(_policy)(SignupPolicy.Mode.APPROVAL)
    await sync_to_async(get_user_model().objects.create_user)("heidi", password="x" * 12)
    heidi = await get_user_model().objects.aget(username="heidi")
    from accounts import services

    await sync_to_async(services.signup_for_approval)(username="ivan", password="y" * 12)
    ivan = await get_user_model().objects.aget(username="ivan")
    communicator, _ = await connect(ivan)
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()
    # The same path lets an active account in.
    communicator, connected = await connect(heidi)
    assert connected
    await communicator.disconnect()


def test_approval_from_the_queue_lets_the_account_in_and_is_logged(client, admin_client, alice):
    _policy(SignupPolicy.Mode.APPROVAL)
    client.post("/signup/", NEW_ACCOUNT)
    heidi = get_user_model().objects.get(username="heidi")
    queue = admin_client.get("/admin/accounts/pendinguser/").content.decode()
    assert "heidi" in queue and "alice" not in queue

    admin_client.post(
        "/admin/accounts/pendinguser/", {"action": "approve", "_selected_action": [heidi.pk]}
    )
    heidi.refresh_from_db()
    assert heidi.is_active
    assert heidi.account_status.approval == AccountStatus.Approval.APPROVED
    assert heidi.account_status.approved_by.username == "admin"
    assert "heidi" not in admin_client.get("/admin/accounts/pendinguser/").content.decode()
    assert LogEntry.objects.get(object_id=str(heidi.pk)).get_change_message() == (
        "Approved the account."
    )
    assert _log_in(client).status_code == 302
    assert client.get("/").status_code == 200
