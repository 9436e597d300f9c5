"""Single sign-on end to end: the app (Django's test client as the browser's app side) against
a real OpenID Connect provider process (django-oauth-toolkit), over HTTP: authorization code
with PKCE, token exchange, ID token signature (JWKS) and userinfo. First sign-in creates the
account under the sign-up policy."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.models import AccountStatus, ExternalIdentity, SignupPolicy
from accounts.services import invite_create
from tests.oidc_provider.testing import sign_in_at_provider, start_provider

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/oidc/callback/"
IDP_PASSWORD = "idp-password-not-secret"


@pytest.fixture(scope="module")
def provider():
    with start_provider(
        redirect_uris=[CALLBACK],
        users=[f"dora:{IDP_PASSWORD}:dora@example.org", f"eve:{IDP_PASSWORD}:eve@example.org"],
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def _sso_on(settings, provider):
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "accounts.oidc.PolicyOIDCBackend",
    ]


def _policy(mode: str, *, trusted: bool = False) -> None:
    SignupPolicy.objects.update_or_create(
        pk=1, defaults={"mode": mode, "sso_accounts_approved": trusted}
    )


def _sso_sign_in(client, username: str = "dora", start: str = "/oidc/authenticate/"):
    """The whole round trip; returns the app's answer to the callback."""
    to_provider = client.get(start) if start.startswith("/oidc") else client.post(start)
    if to_provider.url.startswith("/"):  # the invite page sends to the app's own start first
        to_provider = client.get(to_provider.url)
    back = sign_in_at_provider(to_provider.url, username=username, password=IDP_PASSWORD)
    assert back.startswith(CALLBACK)
    return client.get(back.removeprefix("http://testserver"))


def _signed_in_as(client) -> str | None:
    response = client.get("/account/")
    if response.status_code != 200:
        return None
    return response.context["user"].get_username()


def test_first_sign_in_creates_and_signs_in_the_user_when_the_provider_is_trusted(client, alice):
    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    response = _sso_sign_in(client)
    assert response.status_code == 302 and response.url == "/"
    assert _signed_in_as(client) == "dora"
    dora = get_user_model().objects.get(username="dora")
    assert dora.email == "dora@example.org" and dora.is_active
    assert not dora.has_usable_password()
    identity = ExternalIdentity.objects.get(user=dora)
    assert identity.issuer.startswith("http://127.0.0.1:")
    assert dora.session_records.get().method == "sso"


def test_a_closed_policy_creates_no_account_and_says_why(client, alice):
    _policy(SignupPolicy.Mode.CLOSED)
    response = _sso_sign_in(client)
    assert response.url == "/login/"
    assert not get_user_model().objects.filter(username="dora").exists()
    page = client.get("/login/").content.decode()
    assert "new accounts are created by administrators only" in page
    assert _signed_in_as(client) is None


def test_approval_mode_creates_a_waiting_account_that_is_not_signed_in(client, alice, admin_user_):
    _policy(SignupPolicy.Mode.APPROVAL)
    _sso_sign_in(client)
    dora = get_user_model().objects.get(username="dora")
    assert not dora.is_active
    assert dora.account_status.approval == AccountStatus.Approval.PENDING
    assert "waits for an administrator" in client.get("/login/").content.decode()
    assert _signed_in_as(client) is None

    admin = client.__class__()
    admin.force_login(admin_user_)
    admin.post(
        "/admin/accounts/pendinguser/",
        {"action": "approve", "_selected_action": [dora.pk]},
    )
    _sso_sign_in(client)
    assert _signed_in_as(client) == "dora"


def test_invite_only_needs_an_invite_and_the_invite_link_offers_sso(client, alice):
    _policy(SignupPolicy.Mode.INVITE)
    _sso_sign_in(client)
    assert "by invitation only" in client.get("/login/").content.decode()
    assert not get_user_model().objects.filter(username="dora").exists()

    created = invite_create(created_by=alice)
    _sso_sign_in(client, start=f"/invite/{created.token}/sso/")
    assert _signed_in_as(client) == "dora"
    created.invite.refresh_from_db()
    assert created.invite.used_by.username == "dora"


def test_the_identity_not_the_email_finds_the_account_on_the_next_sign_in(client, alice):
    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    get_user_model().objects.create_user("dora", email="dora@example.org", password="x" * 12)
    _sso_sign_in(client)
    sso_dora = ExternalIdentity.objects.get().user
    # A local account with the same name and address is not taken over.
    assert sso_dora.username == "dora2"
    client.logout()
    _sso_sign_in(client)
    assert _signed_in_as(client) == "dora2"
    assert get_user_model().objects.filter(email="dora@example.org").count() == 2


def test_the_first_account_of_a_new_installation_becomes_the_administrator(client):
    _sso_sign_in(client, username="eve")
    eve = get_user_model().objects.get(username="eve")
    assert eve.is_active and eve.is_staff and eve.is_superuser
    assert _signed_in_as(client) == "eve"


def test_a_deactivated_sso_user_loses_their_session(client, alice):
    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    _sso_sign_in(client)
    get_user_model().objects.filter(username="dora").update(is_active=False)
    assert _signed_in_as(client) is None


def test_sso_is_off_unless_configured(client, settings):
    settings.OIDC_ENABLED = False
    assert client.get("/oidc/authenticate/").status_code == 404
    assert "Continue with" not in client.get("/login/").content.decode()


def test_refused_sso_sign_ins_are_not_counted_as_password_failures(client, alice):
    from axes.models import AccessAttempt

    _policy(SignupPolicy.Mode.CLOSED)
    for _ in range(3):
        _sso_sign_in(client)
    assert not AccessAttempt.objects.exists()


def test_an_address_locked_for_passwords_can_still_use_sso(client, alice, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    for attempt in range(settings.LOGIN_FAILURES_PER_ADDRESS):
        client.post("/login/", {"username": f"guess{attempt}", "password": "wrong"})
    assert client.post("/login/", {"username": "alice", "password": "x"}).status_code == 429
    _sso_sign_in(client)
    assert _signed_in_as(client) == "dora"


def test_a_provider_that_stops_answering_is_told_not_a_server_error(client, alice, settings):
    from tests.liveserver import free_port

    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    to_provider = client.get("/oidc/authenticate/")
    back = sign_in_at_provider(to_provider.url, username="dora", password=IDP_PASSWORD)
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{free_port()}/o/token/"
    response = client.get(back.removeprefix("http://testserver"), follow=True)
    assert "sign-on provider did not answer" in response.content.decode()
    assert _signed_in_as(client) is None


def test_a_deactivated_account_is_told_so_at_sign_in(client, alice):
    _policy(SignupPolicy.Mode.CLOSED, trusted=True)
    _sso_sign_in(client)
    client.logout()
    get_user_model().objects.filter(username="dora").update(is_active=False)
    response = _sso_sign_in(client)
    assert "This account is deactivated" in client.get(response.url).content.decode()
