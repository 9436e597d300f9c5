"""The usage pages in a real browser: a user's own usage page, the refusal of a send over quota
(nothing typed is lost), and the admin report with its chart. Screenshots go to
test-artifacts/screenshots/usage/ (docs/screenshots/usage/ keeps a copy)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, log_in
from tests.liveserver import PASSWORD, USERNAME, manage

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "screenshots" / "usage"
VIEWPORTS = {
    "desktop": ({"width": 1280, "height": 800}, 1),
    "phone": ({"width": 390, "height": 844}, 2),
}

# Two weeks of usage for two users, a price, and per-user quotas (per user, so the other
# browser tests sharing this server are not limited): grace has budget left, lin has none.
SEED = f"""
from datetime import timedelta
from decimal import Decimal
from django.contrib.auth.models import User
from django.utils import timezone
from usage.models import ModelPrice, Quota, UsageRecord
grace = User.objects.create_user("grace", password={PASSWORD!r})
lin = User.objects.create_user("lin", password={PASSWORD!r})
ModelPrice.objects.create(model="MiniMax-M2.5", currency="USD", input_per_million=Decimal("0.3"),
    cached_input_per_million=Decimal("0.03"), output_per_million=Decimal("1.2"))
Quota.objects.create(scope="user", user=grace, daily_tokens=60000, monthly_tokens=900000)
Quota.objects.create(scope="user", user=lin, daily_tokens=20000, requests_per_minute=10)
now = timezone.now()
for day in range(14):
    for n, user in enumerate([grace, lin] * (1 + day % 3)):
        prompt, completion = 900 + 350 * ((day * 7 + n) % 9), 1500 + 420 * ((day * 5 + n) % 11)
        UsageRecord.objects.create(user=user, model="MiniMax-M2.5" if n % 3 else "MiniMax-M2.1",
            outcome="failed" if (day + n) % 7 == 0 else "complete", prompt_tokens=prompt,
            completion_tokens=completion, reasoning_tokens=completion * 2 // 3,
            cached_tokens=prompt // 4, cost=Decimal(prompt * 3 + completion * 12) / 10_000_000,
            currency="USD", started_at=now - timedelta(days=13 - day, minutes=n))
UsageRecord.objects.create(user=lin, model="MiniMax-M2.5", outcome="complete",
    prompt_tokens=8000, completion_tokens=12000, reasoning_tokens=9000, started_at=now)
"""


@pytest.fixture(scope="module")
def seeded(live_app):
    manage(live_app.env, "shell", "-c", SEED)
    return live_app


def _context(browser, theme: str, size: str):
    viewport, scale = VIEWPORTS[size]
    context = browser.new_context(viewport=viewport, device_scale_factor=scale, color_scheme=theme)
    context.add_init_script(f"window.localStorage.setItem('minimax-web:theme', '{theme}')")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_users_own_usage_page(browser, seeded, theme, size):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = _context(browser, theme, size)
    log_in(page, seeded, "grace")
    if size == "desktop":
        page.click("#budget-link")  # the way there, from the chat
    else:
        page.goto(f"{seeded.url}/usage/")
    expect(page.locator("h1")).to_have_text("Your usage")
    expect(page.locator(".usage-card")).to_have_count(2)
    expect(page.locator(".usage-card").first).to_contain_text("tokens left")
    assert (
        page.evaluate("() => document.documentElement.scrollWidth") <= VIEWPORTS[size][0]["width"]
    )
    page.screenshot(path=str(SHOTS / f"my-usage-{size}-{theme}.png"), full_page=True)
    assert errors == []
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_send_over_quota_is_refused_with_its_reset_time(browser, seeded, theme):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = _context(browser, theme, "desktop")
    log_in(page, seeded, "lin")
    expect(page.locator("#budget-link")).to_contain_text("No tokens left today")
    before = seeded.fake.received()["total"]
    page.fill("#composer-input", "One more question, please.")
    expect(page.locator("#send-button")).to_be_enabled()
    page.press("#composer-input", "Enter")
    toast = page.locator("#toasts").get_by_text("tokens for today")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("resets at")
    expect(page.locator("#composer-input")).to_have_value("One more question, please.")
    page.screenshot(path=str(SHOTS / f"quota-refusal-{theme}.png"), animations="disabled")
    assert seeded.fake.received()["total"] == before
    assert errors == []
    context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("group_by", ["day", "user"])
def test_the_admin_usage_report(browser, seeded, theme, group_by):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = _context(browser, theme, "desktop")
    log_in(page, seeded, USERNAME)
    page.goto(f"{seeded.url}/admin/usage/usagerecord/report/?group_by={group_by}")
    expect(page.locator(".usage-chart svg rect.chart-input").first).to_be_visible()
    expect(page.locator(".usage-table tfoot")).to_contain_text("Total")
    page.screenshot(path=str(SHOTS / f"admin-report-{group_by}-{theme}.png"))
    assert errors == []
    context.close()
