"""Screenshots of the chat page at desktop and phone width, light and dark, saved to
test-artifacts/screenshots/ (docs/ keeps a copy of two of them). The layout checks are the ones
a person notices first: nothing wider than the phone screen, the sidebar out of the way on a
phone and reachable from the menu button, no script errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, log_in
from tests.liveserver import PASSWORD, manage

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "screenshots"
USER = "ada"
PROMPTS = [
    "Why is the sky blue?",
    "Compare TCP and UDP with a table and a code example.",
]


@pytest.fixture(scope="module")
def ada(browser, live_app):
    """A user with two finished conversations, so the sidebar and page look lived in."""
    manage(
        live_app.env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({USER!r}, password={PASSWORD!r})",
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, live_app, USER)
    for prompt in PROMPTS:
        page.click("#new-chat")
        page.fill("#composer-input", prompt)
        page.press("#composer-input", "Enter")
        expect(page.locator(".message[data-role=assistant] >> nth=-1")).to_have_attribute(
            "data-status", "complete", timeout=30_000
        )
    url = page.url
    context.close()
    return url


def _open(browser, live_app, url: str, theme: str, viewport: dict, scale: int = 1):
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    context.add_init_script(f"window.localStorage.setItem('minimax-web:theme', '{theme}')")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_app, USER)
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    expect(page.locator(".message[data-role=assistant][data-status=complete]")).to_be_visible()
    page.evaluate("() => document.getElementById('message-scroller').scrollTo(0, 0)")
    return context, page, errors


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_desktop_chat_page(browser, live_app, ada, theme):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = _open(browser, live_app, ada, theme, {"width": 1280, "height": 800})
    expect(page.locator("#sidebar")).to_be_in_viewport()
    expect(page.locator(".thinking-label").first).to_contain_text("Thought for")
    page.locator(".thinking summary").first.click()  # show the reasoning, as a reader would
    expect(page.locator("details.thinking").first).to_have_attribute("open", "")
    page.screenshot(path=str(SHOTS / f"desktop-{theme}.png"), animations="disabled")
    assert errors == []
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_chat_page(browser, live_app, ada, theme):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = _open(browser, live_app, ada, theme, {"width": 390, "height": 844}, 2)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    page.screenshot(path=str(SHOTS / f"phone-{theme}.png"), animations="disabled")
    page.click("#menu-button")
    expect(page.locator("#sidebar")).to_be_in_viewport()
    page.screenshot(path=str(SHOTS / f"phone-{theme}-menu.png"), animations="disabled")
    assert errors == []
    context.close()


@pytest.fixture(scope="module")
def ada_failed(browser, live_app, ada):
    """A conversation of ada's whose last answer was cut off: it ends in an error and Retry."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, live_app, USER)
    page.click("#new-chat")
    for prompt in ["Why is the sky blue?", "And at sunset? [[fake truncate=60 reasoning=20]]"]:
        page.fill("#composer-input", prompt)
        expect(page.locator("#send-button")).to_be_enabled()  # the socket is open
        page.press("#composer-input", "Enter")
        expect(page.locator(".message[data-role=assistant] >> nth=-1")).not_to_have_attribute(
            "data-status", "streaming", timeout=30_000
        )
    expect(page.locator(".message[data-role=assistant] >> nth=-1")).to_have_attribute(
        "data-status", "failed"
    )
    url = page.url
    context.close()
    return url


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(
    ("size", "viewport", "scale"),
    [("desktop", {"width": 1280, "height": 800}, 1), ("phone", {"width": 390, "height": 844}, 2)],
)
def test_a_failed_answer_ends_the_page_with_its_retry_in_view(
    browser, live_app, ada_failed, theme, size, viewport, scale
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    context.add_init_script(f"window.localStorage.setItem('minimax-web:theme', '{theme}')")
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, live_app, USER)
    page.goto(ada_failed)
    retry = page.locator(".message[data-role=assistant] >> nth=-1").locator(".retry-button")
    expect(retry).to_be_in_viewport(ratio=1)
    expect(page.locator("#new-text-pill")).to_be_hidden()
    page.screenshot(path=str(SHOTS / f"{size}-{theme}-failed.png"), animations="disabled")
    context.close()
