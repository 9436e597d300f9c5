"""The trusted reverse-proxy header mode: off unless configured; when on, the named person is
signed in (created under the sign-up policy) and signed out when the proxy names someone else."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from accounts.models import SignupPolicy

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "minimax_web" / "settings.py"
MIDDLEWARE = "accounts.proxy_header.TrustedProxyHeaderMiddleware"


@pytest.fixture
def proxy_mode(settings):
    settings.TRUSTED_PROXY_USER_HEADER = "X-Forwarded-User"
    at = settings.MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: at + 1],
        MIDDLEWARE,
        *settings.MIDDLEWARE[at + 1 :],
    ]
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "accounts.proxy_header.ProxyHeaderBackend",
    ]


def _policy(mode: str, *, trusted: bool = False) -> None:
    SignupPolicy.objects.update_or_create(
        pk=1, defaults={"mode": mode, "sso_accounts_approved": trusted}
    )


def test_the_header_is_ignored_by_default(client, alice):
    assert client.get("/", HTTP_X_FORWARDED_USER="alice").status_code == 302


def test_settings_turn_it_on_only_when_named(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRUSTED_PROXY_USER_HEADER", raising=False)
    assert MIDDLEWARE not in runpy.run_path(str(SETTINGS_FILE))["MIDDLEWARE"]
    monkeypatch.setenv("TRUSTED_PROXY_USER_HEADER", "X-Forwarded-User")
    resolved = runpy.run_path(str(SETTINGS_FILE))
    assert MIDDLEWARE in resolved["MIDDLEWARE"]
    assert "accounts.proxy_header.ProxyHeaderBackend" in resolved["AUTHENTICATION_BACKENDS"]


def test_the_named_person_is_created_and_signed_in_when_trusted(proxy_mode, client, alice):
    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    assert client.get("/", HTTP_X_FORWARDED_USER="kim").status_code == 200
    kim = get_user_model().objects.get(username="kim")
    assert kim.session_records.get().method == "proxy"
    # Another name on the same browser session: the first person is signed out.
    assert client.get("/account/", HTTP_X_FORWARDED_USER="lee").context["user"].username == "lee"
    assert client.get("/").status_code == 302


def test_the_policy_applies_to_people_the_proxy_names(proxy_mode, client, alice):
    _policy(SignupPolicy.Mode.CLOSED)
    response = client.get("/", HTTP_X_FORWARDED_USER="kim", follow=True)
    assert "created by administrators only" in response.content.decode()
    assert not get_user_model().objects.filter(username="kim").exists()
    _policy(SignupPolicy.Mode.APPROVAL)
    client.get("/", HTTP_X_FORWARDED_USER="kim")
    assert not get_user_model().objects.get(username="kim").is_active
    assert client.get("/", HTTP_X_FORWARDED_USER="kim").status_code == 302
