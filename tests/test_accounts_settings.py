"""Sign-in settings from the environment: single sign-on only when fully configured, and never
a configuration with no way in."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "minimax_web" / "settings.py"
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example.com/token",
    "OIDC_OP_USER_ENDPOINT": "https://idp.example.com/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://idp.example.com/jwks",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in [*ENDPOINTS, "OIDC_RP_CLIENT_ID", "OIDC_RP_CLIENT_SECRET", "LOCAL_PASSWORDS"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRUSTED_PROXY_USER_HEADER", raising=False)


def _settings() -> dict:
    return runpy.run_path(str(SETTINGS_FILE))


def test_by_default_passwords_only(monkeypatch):
    resolved = _settings()
    assert resolved["LOCAL_PASSWORDS"] is True and resolved["OIDC_ENABLED"] is False
    assert resolved["AUTHENTICATION_BACKENDS"] == [
        "minimax_web.login_throttling.PasswordLoginThrottle",
        "django.contrib.auth.backends.ModelBackend",
    ]


def test_a_client_id_without_its_endpoints_stops_the_start(monkeypatch):
    monkeypatch.setenv("OIDC_RP_CLIENT_ID", "minimax-web")
    monkeypatch.setenv("OIDC_RP_CLIENT_SECRET", "s")
    monkeypatch.setenv("OIDC_OP_TOKEN_ENDPOINT", ENDPOINTS["OIDC_OP_TOKEN_ENDPOINT"])
    with pytest.raises(ImproperlyConfigured, match="OIDC_OP_AUTHORIZATION_ENDPOINT"):
        _settings()


def test_sso_only_drops_the_password_backend(monkeypatch):
    for name, value in {
        **ENDPOINTS,
        "OIDC_RP_CLIENT_ID": "c",
        "OIDC_RP_CLIENT_SECRET": "s",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOCAL_PASSWORDS", "false")
    backends = _settings()["AUTHENTICATION_BACKENDS"]
    assert "accounts.oidc.PolicyOIDCBackend" in backends
    assert "django.contrib.auth.backends.ModelBackend" not in backends


def test_no_passwords_and_no_other_way_in_stops_the_start(monkeypatch):
    monkeypatch.setenv("LOCAL_PASSWORDS", "false")
    with pytest.raises(ImproperlyConfigured, match="LOCAL_PASSWORDS=false"):
        _settings()
