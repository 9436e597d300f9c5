"""A user sees where they are signed in and signs out of the other sessions; the sockets of
those sessions close at once."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.models import SessionRecord
from tests.wsclient import connect, receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED = {"type": "websocket.close", "code": 4401}


def _signed_in(user, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    client.post("/login/", {"username": user.username, "password": "correct horse battery staple"})
    return client


def test_the_account_page_lists_the_users_live_sessions_only(alice, bob):
    here = _signed_in(alice, "Firefox on the desk")
    _signed_in(alice, "Phone browser")
    _signed_in(bob, "Bob's browser")
    gone = _signed_in(alice, "Old laptop")
    gone.post("/logout/")
    page = here.get("/account/").content.decode()
    assert "Firefox on the desk" in page and "Phone browser" in page
    assert "Bob&#x27;s browser" not in page and "Old laptop" not in page
    assert "This session" in page
    assert "Sign out of 1 other session" in page


def test_signing_out_of_the_others_keeps_this_one(alice, bob):
    here = _signed_in(alice, "desk")
    there = _signed_in(alice, "phone")
    bobs = _signed_in(bob, "bob")
    response = here.post("/account/sessions/sign-out-others/", follow=True)
    assert "Signed out of 1 other session" in response.content.decode()
    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    assert bobs.get("/").status_code == 200


def test_one_session_can_be_ended_but_not_someone_elses(alice, bob):
    here = _signed_in(alice, "desk")
    there = _signed_in(alice, "phone")
    bobs = _signed_in(bob, "bob")
    phone = SessionRecord.objects.get(user=alice, user_agent="phone")
    bobs_record = SessionRecord.objects.get(user=bob)
    assert here.post(f"/account/sessions/{bobs_record.pk}/sign-out/").status_code == 404
    assert bobs.get("/").status_code == 200
    assert here.post(f"/account/sessions/{phone.pk}/sign-out/").status_code == 302
    assert there.get("/").status_code == 302
    assert here.get("/").status_code == 200


async def test_signing_out_of_the_others_closes_their_sockets_at_once(alice):
    here = await sync_to_async(_signed_in)(alice, "desk")
    there = await sync_to_async(_signed_in)(alice, "phone")
    mine, connected_here = await connect(session_key=here.cookies["sessionid"].value)
    theirs, connected_there = await connect(session_key=there.cookies["sessionid"].value)
    assert connected_here and connected_there
    await sync_to_async(here.post)("/account/sessions/sign-out-others/")
    assert await theirs.receive_output(timeout=1) == CLOSED
    await send(mine, {"type": "subscribe", "conversation_id": 999999})
    assert (await receive_type(mine, "error"))["code"] == "not_found"
    await mine.disconnect()
    await theirs.disconnect()
