"""LOCAL_PASSWORDS=false: single sign-on is the only way in; no page takes a password."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sso_only(settings):
    settings.LOCAL_PASSWORDS = False
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Example SSO"
    settings.AUTHENTICATION_BACKENDS = [
        "minimax_web.login_throttling.PasswordLoginThrottle",
        "accounts.oidc.PolicyOIDCBackend",
    ]


def test_the_login_page_offers_only_single_sign_on(client, alice):
    page = client.get("/login/").content.decode()
    assert "Continue with Example SSO" in page
    assert 'name="password"' not in page


def test_no_password_is_accepted_anywhere(client, alice):
    credentials = {"username": "alice", "password": "correct horse battery staple"}
    assert client.post("/login/", credentials).status_code == 405
    assert client.post("/admin/login/", credentials).status_code == 405
    assert client.get("/").status_code == 302


def test_a_new_installation_says_the_first_sign_in_becomes_administrator(client):
    assert client.get("/setup/").url == "/login/"
    assert "The first person to sign in becomes the administrator" in (
        client.get("/login/").content.decode()
    )


def test_there_is_no_password_to_change(client, alice):
    client.force_login(alice, backend="accounts.oidc.PolicyOIDCBackend")
    assert client.get("/account/password/").status_code == 404
    assert "managed there" in client.get("/account/").content.decode()
