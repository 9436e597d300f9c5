"""Providers in the browser: an app with no environment key, whose one provider speaks
DashScope's native protocol to the fake upstream (a real process) through a pool whose first
key is bad. Web search sources render under the answer with safe links and no remote icon;
the provider admin shows key health and the test-connection result. Screenshots of each go to
test-artifacts/screenshots/providers/ (docs/screenshots/providers/ keeps a copy)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from chat.fakeupstream.search import SEARCH_RESULTS
from chat.fakeupstream.testing import start_fake_upstream
from tests.e2e.conftest import ARTIFACTS, E2EApp, log_in
from tests.liveserver import app_env, manage, prepare, run_daphne

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "screenshots" / "providers"
LAST_ASSISTANT = ".message[data-role=assistant] >> nth=-1"
PROMPT = "What makes MiniMax-M2.5 good at reasoning? [[fake tps=0 kind=short]]"
ICON_HOSTS = ("www.example.com", "docs.example.org", "blog.example.net")
SETUP = """
from chat import services
from chat.models import Provider, ProviderKey
provider = Provider.objects.create(
    name="DashScope (native, fake)", protocol="dashscope_native", endpoint="custom",
    custom_base_url={base!r}, is_default=True,
)
for name, secret, priority in [("old key", "sk-fake-bad-0001", 1), ("team key", "sk-team-7731", 2)]:
    key = ProviderKey(provider=provider, name=name, priority=priority)
    services.provider_key_set(provider_key=key, plaintext=secret)
    key.save()
"""


@pytest.fixture(scope="module")
def native_app(tmp_path_factory) -> Iterator[E2EApp]:
    data_dir = tmp_path_factory.mktemp("providers-data")
    with start_fake_upstream(["--tps", "200"]) as fake:
        env = app_env(data_dir, fake.url, DASHSCOPE_API_KEY="")
        prepare(env)
        manage(env, "shell", "-c", SETUP.format(base=fake.native_url))
        with run_daphne(env, data_dir / "daphne.log") as app:
            yield E2EApp(url=app.url, fake=fake, app=app, env=env)


def _ask_with_search(page, app: E2EApp) -> None:
    log_in(page, app)
    page.click("#search-toggle")
    expect(page.locator("#search-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#search-note")).to_be_hidden()  # this provider returns sources
    page.fill("#composer-input", PROMPT)
    expect(page.locator("#send-button")).to_be_enabled()
    page.press("#composer-input", "Enter")
    expect(page.locator(LAST_ASSISTANT)).to_have_attribute("data-status", "complete")


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_search_sources_render_with_safe_links_and_no_remote_icon(browser, native_app):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    _ask_with_search(page, native_app)

    message = page.locator(LAST_ASSISTANT)
    links = message.locator(".sources .source-link")
    expect(links).to_have_count(len(SEARCH_RESULTS))
    for index, result in enumerate(SEARCH_RESULTS):
        link = links.nth(index)
        expect(link).to_have_attribute("href", result["url"])
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_contain_text(result["title"])
    citations = message.locator(".answer a.citation")
    expect(citations).to_have_count(len(SEARCH_RESULTS))
    first = citations.first
    expect(first).to_have_attribute("href", f"#{links.first.locator('..').get_attribute('id')}")
    assert message.locator(".source-icon").count() == 0
    assert not any(host in url for url in requests for host in ICON_HOSTS)
    page.reload()
    reloaded = page.locator(LAST_ASSISTANT).locator(".sources .source-link")
    expect(reloaded).to_have_count(len(SEARCH_RESULTS))
    expect(page.locator("#search-toggle")).to_have_attribute("aria-pressed", "true")
    context.close()


@pytest.mark.parametrize(
    ("theme", "viewport", "name"),
    [
        ("light", {"width": 1280, "height": 800}, "answer-with-sources-desktop-light.png"),
        ("dark", {"width": 1280, "height": 800}, "answer-with-sources-desktop-dark.png"),
        ("light", {"width": 390, "height": 844}, "answer-with-sources-phone-light.png"),
        ("dark", {"width": 390, "height": 844}, "answer-with-sources-phone-dark.png"),
    ],
)
def test_screenshot_an_answer_with_its_sources(browser, native_app, theme, viewport, name):
    context = browser.new_context(viewport=viewport)
    context.add_init_script(f"window.localStorage.setItem('minimax-web:theme', '{theme}')")
    page = context.new_page()
    page.set_default_timeout(20_000)
    _ask_with_search(page, native_app)
    page.locator(LAST_ASSISTANT).locator(".sources").scroll_into_view_if_needed()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"], "nothing may be wider than the screen"
    _shoot(page, name)
    context.close()


def test_admin_shows_key_health_and_tests_a_connection(browser, native_app):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    _ask_with_search(page, native_app)  # the bad key is tried first and marked unhealthy

    page.goto(f"{native_app.url}/admin/chat/provider/")
    page.click("text=DashScope (native, fake)")
    keys = page.locator(".inline-group")
    expect(keys).to_contain_text("Unhealthy since")
    expect(keys).to_contain_text("DashScope rejected the API key")
    if page.locator("#nav-sidebar").is_visible():
        page.click("#toggle-nav-sidebar")  # room for the key table
    keys.scroll_into_view_if_needed()
    _shoot(page, "provider-admin-key-health.png")

    page.goto(f"{native_app.url}/admin/chat/providerkey/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "test_connection")
    page.click("button[name=index]")
    messages = page.locator(".messagelist")
    # The admin's message list capitalises the first letter.
    expect(messages).to_contain_text(
        re.compile(r"team key: Connection works: MiniMax-M2\.5 answered in \d+ ms", re.I)
    )
    expect(messages).to_contain_text(re.compile(r"old key: Connection failed \(HTTP 401\)", re.I))
    _shoot(page, "test-connection-result.png")
    context.close()


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]
)
def test_on_the_compatible_protocol_the_composer_says_no_sources_come(browser, live_app, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, live_app)
    expect(page.locator("#search-note")).to_be_hidden()

    page.click("#search-toggle")

    expect(page.locator("#search-note")).to_be_visible()
    expect(page.locator("#search-note")).to_have_text("This provider returns no sources")
    page.fill("#composer-input", "Search the web [[fake tps=0 kind=short]]")
    page.press("#composer-input", "Enter")
    expect(page.locator(LAST_ASSISTANT)).to_have_attribute("data-status", "complete")
    assert page.locator(LAST_ASSISTANT).locator(".sources").count() == 0
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"], "nothing may be wider than the screen"
    _shoot(page, f"compatible-search-note-{viewport['width']}.png")
    context.close()
