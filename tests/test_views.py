"""Pages: login, first-run setup, the chat page with ownership checks, health, headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from chat.models import Conversation
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_the_chat_page_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_shows_first_run_setup_only_when_there_are_no_users(client):
    assert b"/setup/" in client.get("/login/").content
    get_user_model().objects.create_user("someone", password=PASSWORD)
    assert b"/setup/" not in client.get("/login/").content


def test_first_run_setup_creates_an_administrator_and_logs_in(client):
    response = client.post(
        "/setup/", {"username": "owner", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    owner = get_user_model().objects.get(username="owner")
    assert owner.is_superuser and owner.is_staff
    assert client.get("/").status_code == 200


def test_first_run_setup_is_gone_once_a_user_exists(client, alice):
    response = client.post(
        "/setup/", {"username": "intruder", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert not get_user_model().objects.filter(username="intruder").exists()


def test_a_user_logs_in_and_sees_only_their_conversations(client, alice, bob):
    Conversation.objects.create(owner=alice, title="Alice's plans")
    Conversation.objects.create(owner=bob, title="Bob's secrets")
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert "Alice&#x27;s plans" in page or "Alice's plans" in page
    assert "Bob" not in page


def test_a_conversation_of_another_user_is_a_404(client, alice, bob):
    theirs = Conversation.objects.create(owner=bob, title="Bob's secrets")
    client.force_login(alice)
    assert client.get(f"/c/{theirs.pk}/").status_code == 404


def test_an_own_conversation_page_names_its_id_for_the_socket(client, alice):
    mine = Conversation.objects.create(owner=alice, title="Mine")
    client.force_login(alice)
    response = client.get(f"/c/{mine.pk}/")
    assert response.status_code == 200
    assert f'data-conversation-id="{mine.pk}"' in response.content.decode()


def test_the_page_says_it_is_the_offline_demo_without_a_key(client, alice, settings):
    settings.DASHSCOPE_API_KEY = ""
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'data-demo="true"' in page
    assert "Offline demo" in page
    assert "DASHSCOPE_API_KEY" in page


def test_the_page_has_no_demo_banner_with_a_key(client, alice, settings):
    settings.DASHSCOPE_API_KEY = "sk-real"
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'data-demo="false"' in page
    assert 'id="demo-banner"' not in page
    assert "sk-real" not in page


def test_pages_send_a_strict_content_security_policy(client, alice):
    client.force_login(alice)
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


def test_no_template_has_an_inline_script_or_handler():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            if "src=" not in tag:
                offenders.append(f"{template.name}: {tag}")
        if re.search(r"\son[a-z]+\s*=", text, flags=re.I):
            offenders.append(f"{template.name}: inline event handler")
        if re.search(r"\sstyle\s*=", text, flags=re.I):
            offenders.append(f"{template.name}: inline style")
    assert offenders == []


def test_healthz_touches_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_broken_database(client, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503


def test_a_wrong_password_is_explained_on_the_login_page(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert 'class="form-error"' in response.content.decode()
    assert "correct username and password" in response.content.decode()
