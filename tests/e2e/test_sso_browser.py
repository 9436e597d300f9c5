"""Single sign-on in a browser: Chromium, a Daphne process configured only by environment
variables, and the test identity provider (django-oauth-toolkit) as a third process. The
login page offers the provider; signing in there lands in the chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS
from tests.liveserver import app_env, free_port, manage, prepare, run_daphne
from tests.oidc_provider.testing import start_provider

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "screenshots" / "accounts"
IDP_PASSWORD = "idp-password-not-secret"


@pytest.fixture(scope="module")
def sso_app(live_app, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sso-data")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/oidc/callback/"
    with start_provider(
        redirect_uris=[callback], users=[f"nina:{IDP_PASSWORD}:nina@example.org"]
    ) as provider:
        env = app_env(
            data_dir,
            live_app.fake.url,
            **provider.environment(),
            OIDC_PROVIDER_NAME="Example SSO",
        )
        prepare(env)
        trust = (
            "from accounts.models import SignupPolicy; "
            "SignupPolicy.objects.update_or_create(pk=1, defaults={'sso_accounts_approved': True})"
        )
        manage(env, "shell", "-c", trust)
        with run_daphne(env, data_dir / "daphne.log", port=port) as app:
            yield app


def test_sso_sign_in_lands_in_the_chat(browser, sso_app):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{sso_app.url}/login/")
    page.screenshot(path=str(SHOTS / "5-login-with-sso-desktop-light.png"))
    page.click("#sso-button")
    page.fill("input[name=username]", "nina")
    page.fill("input[name=password]", IDP_PASSWORD)
    page.click("#idp-sign-in")
    page.wait_for_url(f"{sso_app.url}/")
    expect(page.locator(".user-name")).to_have_text("nina")
    assert errors == []
    context.close()
