"""Browser tests: a real Daphne process serving the app (fresh DATA_DIR, real migrations and
collectstatic, as a new user would run it), the fake upstream as a real process, and Debian's
Chromium driven by Playwright. Nothing here downloads a browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chat.fakeupstream.testing import RunningFake, start_fake_upstream
from tests.liveserver import PASSWORD, REPO, USERNAME, LiveApp, app_env, prepare, run_daphne

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class E2EApp:
    url: str
    fake: RunningFake
    app: LiveApp
    env: dict[str, str]

    def logs(self) -> str:
        return self.app.logs()


@pytest.fixture(scope="session")
def live_app(tmp_path_factory) -> Iterator[E2EApp]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    data_dir = tmp_path_factory.mktemp("data")
    with start_fake_upstream(["--tps", "60"]) as fake:
        env = app_env(data_dir, fake.url)
        prepare(env)
        with run_daphne(env, data_dir / "daphne.log") as app:
            yield E2EApp(url=app.url, fake=fake, app=app, env=env)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        (ARTIFACTS / f"{request.node.name}.daphne.log").write_text(live_app.logs())
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def log_in(page, live_app: E2EApp, username: str = USERNAME) -> None:
    page.goto(f"{live_app.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_app.url}/")
