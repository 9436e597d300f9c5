"""A user's own usage page and the budget line beside the chat."""

from __future__ import annotations

import pytest
from django.utils import timezone

from usage.models import Quota, UsageRecord

pytestmark = pytest.mark.django_db


def _spent(user, prompt: int, completion: int, reasoning: int = 0) -> None:
    UsageRecord.objects.create(
        user=user,
        model="MiniMax-M2.5",
        outcome="complete",
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning,
        started_at=timezone.now(),
    )


def test_it_needs_a_login(client):
    assert client.get("/usage/").status_code == 302


def test_it_shows_what_is_left_today_and_this_month_of_ones_own_budget(alice, bob, client):
    Quota.objects.create(scope=Quota.Scope.DEFAULT, daily_tokens=10_000, monthly_tokens=200_000)
    _spent(alice, 1_000, 2_500, reasoning=2_000)
    _spent(bob, 9_000, 0)
    client.force_login(alice)
    html = client.get("/usage/").content.decode()
    assert "6,500 <span>tokens left</span>" in html
    assert "196,500 <span>tokens left</span>" in html
    assert "3,500 of 10,000 used" in html
    assert "resets" in html
    assert '<meter class="usage-meter" min="0" max="10000"' in html


def test_without_limits_it_shows_the_usage_and_says_there_is_no_limit(alice, client):
    _spent(alice, 10, 20)
    client.force_login(alice)
    html = client.get("/usage/").content.decode()
    assert "No daily limit." in html and "No monthly limit." in html
    assert "30 <span>tokens</span>" in html


def test_the_chat_page_shows_the_tightest_budget(alice, client):
    Quota.objects.create(scope=Quota.Scope.DEFAULT, daily_tokens=10_000, monthly_tokens=12_000)
    _spent(alice, 5_000, 4_000)
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "1,000 tokens left today" in html
    assert 'href="/usage/"' in html
