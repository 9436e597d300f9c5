"""The invite flow in a browser: an administrator makes a link in admin (shown once), a new
person opens it, creates an account and lands in the chat; the link then no longer works.
Screenshots of each step go to test-artifacts/screenshots/accounts/ (docs/screenshots/accounts/
keeps a copy)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, log_in
from tests.liveserver import manage

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "screenshots" / "accounts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SET_POLICY = (
    "from accounts.models import SignupPolicy; "
    "SignupPolicy.objects.update_or_create(pk=1, defaults={{'mode': {mode!r}}})"
)


@pytest.fixture(scope="module")
def invite_only(live_app):
    manage(live_app.env, "shell", "-c", SET_POLICY.format(mode="invite"))
    yield
    manage(live_app.env, "shell", "-c", SET_POLICY.format(mode="closed"))


def _context(browser, theme: str, viewport: dict):
    context = browser.new_context(viewport=viewport)
    context.add_init_script(f"window.localStorage.setItem('minimax-web:theme', '{theme}')")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _make_invite(browser, live_app, note: str, screenshot: bool = False) -> str:
    context, page, errors = _context(browser, "light", DESKTOP)
    log_in(page, live_app)
    page.goto(f"{live_app.url}/admin/accounts/invite/add/")
    page.fill("#id_note", note)
    page.click("input[name=_save]")
    link = page.locator("#invite-link")
    expect(link).to_be_visible()
    if screenshot:
        page.screenshot(path=str(SHOTS / "1-admin-invite-created.png"))
    url = link.inner_text()
    page.reload()
    expect(page.locator("#invite-link")).to_have_count(0)  # shown once
    assert errors == []
    context.close()
    return url


def test_an_invite_link_creates_an_account_once(browser, live_app, invite_only):
    SHOTS.mkdir(parents=True, exist_ok=True)
    url = _make_invite(browser, live_app, "for Mia", screenshot=True)

    context, page, errors = _context(browser, "light", DESKTOP)
    page.goto(url)
    expect(page.locator("#invite-welcome")).to_be_visible()
    page.screenshot(path=str(SHOTS / "2-invite-page-desktop-light.png"))
    page.fill("#id_username", "mia")
    page.fill("#id_password1", "mia's long password 7")
    page.fill("#id_password2", "mia's long password 7")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_app.url}/")
    expect(page.locator(".user-name")).to_have_text("mia")
    page.click("#account-link")
    expect(page.locator("#session-list li")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "4-account-page-desktop-light.png"))
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / "4-account-page-phone-light.png"), full_page=True)
    context.close()

    context, page, _ = _context(browser, "light", DESKTOP)
    response = page.goto(url)
    assert response.status == 404
    expect(page.locator("#invite-invalid")).to_be_visible()
    page.screenshot(path=str(SHOTS / "3-invite-used-desktop-light.png"))
    assert errors == []
    context.close()


@pytest.mark.parametrize(
    ("theme", "viewport", "name"),
    [
        ("dark", DESKTOP, "desktop-dark"),
        ("light", PHONE, "phone-light"),
        ("dark", PHONE, "phone-dark"),
    ],
)
def test_the_invite_page_fits_each_screen(browser, live_app, invite_only, theme, viewport, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    url = _make_invite(browser, live_app, f"layout {name}")
    context, page, errors = _context(browser, theme, viewport)
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    expect(page.locator("#invite-welcome")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    page.screenshot(path=str(SHOTS / f"2-invite-page-{name}.png"), full_page=True)
    assert errors == []
    context.close()
