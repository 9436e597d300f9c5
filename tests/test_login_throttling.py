"""Login throttling (django-axes): per account, per client address, the lockout page, unlocking,
and which address counts behind the TLS proxy."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from minimax_web.login_throttling import client_address
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "minimax_web" / "settings.py"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every failed login hashes a password; the default hasher would make these tests slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _log_in(client, username, password, *, address="192.0.2.1", path="/login/", **headers):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def _fail(client, username, times, *, address="192.0.2.1", path="/login/"):
    for _ in range(times):
        _log_in(client, username, "wrong", address=address, path=path)


def _is_logged_in(client):
    return client.get("/").status_code == 200


def test_it_locks_an_account_after_five_wrong_passwords_from_different_addresses(client, alice):
    statuses = [
        _log_in(client, "alice", "wrong", address=f"198.51.100.{n}").status_code for n in range(5)
    ]
    # The failure that reaches the limit is already answered with the lockout page.
    assert statuses == [200, 200, 200, 200, 429]
    response = _log_in(client, "alice", PASSWORD, address="203.0.113.50")
    assert response.status_code == 429
    assert not _is_logged_in(client)


def test_four_wrong_passwords_do_not_lock_the_account(client, alice):
    _fail(client, "alice", 4)
    assert _log_in(client, "alice", PASSWORD).status_code == 302


def test_it_locks_an_address_that_tries_many_accounts(client, alice, bob):
    for n in range(19):
        _fail(client, f"guess{n}", 1, address="198.51.100.7")
    assert _log_in(client, "alice", PASSWORD, address="198.51.100.7").status_code == 302
    client.logout()
    _fail(client, "guess19", 1, address="198.51.100.7")
    assert _log_in(client, "bob", PASSWORD, address="198.51.100.7").status_code == 429
    assert _log_in(client, "bob", PASSWORD, address="198.51.100.8").status_code == 302


def test_the_right_password_is_refused_while_locked_and_the_page_says_when_to_retry(client, alice):
    _fail(client, "alice", 5)
    response = _log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert 899 <= int(response["Retry-After"]) <= 900
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "Try again in 15 minutes" in page
    retry_at = AccessAttempt.objects.get().attempt_time + timedelta(minutes=15)
    assert retry_at.strftime("%H:%M UTC") in page
    assert 'href="/login/"' in page
    assert not _is_logged_in(client)


def test_the_page_names_the_moment_the_oldest_counted_failure_ages_out(client, alice):
    for n in range(5):
        _fail(client, "alice", 1, address=f"198.51.100.{n}")
    oldest = AccessAttempt.objects.get(ip_address="198.51.100.0")
    oldest.attempt_time = timezone.now() - timedelta(minutes=10)
    oldest.save()
    response = _log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert 299 <= int(response["Retry-After"]) <= 300
    assert "Try again in 5 minutes" in response.content.decode()


def test_attempts_while_locked_do_not_extend_the_lock(client, alice):
    _fail(client, "alice", 5)
    assert _log_in(client, "alice", "wrong again").status_code == 429
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 5


def test_the_lock_lifts_after_the_cool_off_period(client, alice):
    _fail(client, "alice", 5)
    assert _log_in(client, "alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert _log_in(client, "alice", PASSWORD).status_code == 302


def test_the_cool_off_period_is_a_setting(client, alice, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=2)
    _fail(client, "alice", 5)
    response = _log_in(client, "alice", PASSWORD)
    assert "Try again in 2 minutes" in response.content.decode()
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=2, seconds=1))
    assert _log_in(client, "alice", PASSWORD).status_code == 302


def test_the_admin_login_is_locked_too(client, admin_user_):
    _fail(client, "root", 5, path="/admin/login/")
    response = _log_in(client, "root", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Try again in 15 minutes" in page
    assert 'href="/admin/login/"' in page
    # The same account is locked on the app's own login page.
    assert _log_in(client, "root", PASSWORD).status_code == 429


def test_an_administrator_sees_the_attempts_and_unlocks_by_deleting_them(
    client, alice, admin_user_
):
    _fail(client, "alice", 5)
    admin = type(client)()
    admin.force_login(admin_user_)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="alice")
    deleted = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert _log_in(client, "alice", PASSWORD).status_code == 302


def test_axes_reset_username_unlocks_the_account(client, alice):
    _fail(client, "alice", 5)
    call_command("axes_reset_username", "alice")
    assert _log_in(client, "alice", PASSWORD).status_code == 302


def test_first_run_setup_works_from_a_locked_address(client):
    for n in range(20):
        _fail(client, f"guess{n}", 1)
    response = client.post(
        "/setup/",
        {"username": "owner", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="192.0.2.1",
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="owner").exists()


# --- Which address counts --------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_without_the_tls_proxy(client, alice, settings):
    settings.BEHIND_TLS_PROXY = False
    for n in range(20):
        client.post(
            "/login/",
            {"username": f"guess{n}", "password": "wrong"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    response = _log_in(client, "alice", PASSWORD, address="198.51.100.7")
    assert response.status_code == 429


def test_behind_the_proxy_the_address_the_proxy_appended_counts(client, alice, settings):
    settings.BEHIND_TLS_PROXY = True
    proxy = "10.0.0.2"
    # The client rotates a forged first entry; the proxy appends the address it really saw.
    for n in range(20):
        client.post(
            "/login/",
            {"username": f"guess{n}", "password": "wrong"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    locked = _log_in(client, "alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert locked.status_code == 429
    # Someone else behind the same proxy is not locked out with them.
    other = _log_in(client, "alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("behind_proxy", "forwarded", "expected"),
    [
        (False, "203.0.113.1", "192.0.2.1"),
        (True, "203.0.113.1", "203.0.113.1"),
        (True, "203.0.113.1, 198.51.100.7", "198.51.100.7"),
        (True, "2001:db8::1", "2001:db8::1"),
        (True, None, "192.0.2.1"),
        (True, "not-an-address", "192.0.2.1"),
    ],
)
def test_client_address(settings, behind_proxy, forwarded, expected):
    settings.BEHIND_TLS_PROXY = behind_proxy
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    request = RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.1", **headers)
    assert client_address(request) == expected


def test_the_limits_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DJANGO_BEHIND_TLS_PROXY", "true")
    monkeypatch.setenv("LOGIN_FAILURES_PER_ACCOUNT", "3")
    monkeypatch.setenv("LOGIN_FAILURES_PER_ADDRESS", "50")
    monkeypatch.setenv("LOGIN_LOCKOUT_MINUTES", "60")
    resolved = runpy.run_path(str(SETTINGS_FILE))
    assert resolved["BEHIND_TLS_PROXY"] is True
    assert resolved["AXES_FAILURE_LIMIT"] == 3
    assert resolved["LOGIN_FAILURES_PER_ADDRESS"] == 50
    assert resolved["AXES_COOLOFF_TIME"] == timedelta(hours=1)


def test_the_proxy_is_not_trusted_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DJANGO_BEHIND_TLS_PROXY", raising=False)
    assert runpy.run_path(str(SETTINGS_FILE))["BEHIND_TLS_PROXY"] is False


def test_daphne_is_not_told_to_trust_x_forwarded_for():
    # Daphne's --proxy-headers takes the left-most X-Forwarded-For entry (the client's own) as
    # REMOTE_ADDR, which would let anyone choose the address their failures count against.
    root = SETTINGS_FILE.parent.parent
    for name in ("Dockerfile", "README.md", "Makefile"):
        lines = (root / name).read_text().splitlines()
        commands = [line for line in lines if "daphne" in line and not line.startswith("#")]
        assert commands, name
        assert not any("--proxy-headers" in line for line in commands), name
