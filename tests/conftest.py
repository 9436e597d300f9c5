"""Shared fixtures: a small world of users who may and may not see things."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def admin_user_(db):
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic` first; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def charlie(db):
    """An inactive account: may not see anything."""
    return get_user_model().objects.create_user("charlie", password=PASSWORD, is_active=False)


@pytest.fixture
def world(alice, bob, charlie):
    """Alice's conversations with messages in every state, and Bob's one conversation (which
    Alice may not see). Tests that need a world of who may see what start here."""
    from chat.models import Conversation, Message

    def conversation(owner, title: str, *assistant_states: str) -> Conversation:
        conv = Conversation.objects.create(owner=owner, title=title)
        for state in assistant_states:
            Message.objects.create(conversation=conv, role="user", content=f"ask {state}")
            Message.objects.create(
                conversation=conv,
                role="assistant",
                content=f"answer {state}",
                reasoning=f"thinking {state}",
                status=state,
                error_code="limit_requests" if state == "failed" else "",
                error_status=429 if state == "failed" else None,
            )
        return conv

    return SimpleNamespace(
        alice=alice,
        bob=bob,
        charlie=charlie,
        finished=conversation(alice, "finished", "complete", "stopped", "failed", "complete"),
        interrupted=conversation(alice, "interrupted", "complete", "interrupted"),
        bobs=conversation(bob, "bob's", "complete"),
    )


@pytest.fixture
async def sockets():
    """Open websockets with `await sockets.open(user)`; every one is disconnected at teardown,
    whatever the test did, so no consumer outlives its test."""
    from tests.wsclient import connect

    opened = []

    class Sockets:
        async def open(self, user=None, **kwargs):
            communicator, connected = await connect(user, **kwargs)
            opened.append(communicator)
            return communicator, connected

    yield Sockets()
    for communicator in opened:
        # Already closed by the server or by the test: nothing left to do.
        with contextlib.suppress(Exception):
            await communicator.disconnect()


UPSTREAM_PROTOCOLS = ("openai_compat", "dashscope_native")


@pytest.fixture(params=UPSTREAM_PROTOCOLS)
def upstream_protocol(request, settings) -> str:
    """Run the test once per wire protocol: the offline demo transport (the fake upstream
    in-process) then speaks it, and so does the app's client."""
    settings.OFFLINE_DEMO_PROTOCOL = request.param
    return request.param


def upstream_code(error_name: str, protocol: str) -> str:
    """The code the fake sends for its error `error_name` on `protocol`."""
    from chat.fakeupstream.scenarios import ERRORS

    spec = ERRORS[error_name]
    return spec.native_code if protocol == "dashscope_native" else spec.code


@pytest.fixture(autouse=True)
def _fast_upstream_retries(settings):
    # Automatic retries wait seconds in production; tests that hit a 429 or 503 must not.
    settings.UPSTREAM_RETRY_BASE_DELAY = 0.01
    settings.UPSTREAM_RETRY_MAX_DELAY = 0.05
