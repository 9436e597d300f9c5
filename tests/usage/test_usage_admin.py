"""The usage pages in admin: the report (chart, table, CSV), a user's usage and counters, the
records list and the quota form."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from usage.models import Quota, QuotaReset, UsageRecord

pytestmark = pytest.mark.django_db

REPORT = "/admin/usage/usagerecord/report/"


class _TableCells(HTMLParser):
    """The text of every cell of the report's table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_table = self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table" and ("class", "usage-table") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][-1] += data.strip()


def _record(user, *, model="MiniMax-M2.5", outcome="complete", days_ago=0, **tokens):
    return UsageRecord.objects.create(
        user=user,
        model=model,
        outcome=outcome,
        started_at=timezone.now() - timedelta(days=days_ago),
        **tokens,
    )


@pytest.fixture
def usage_world(alice, bob):
    _record(
        alice,
        prompt_tokens=1200,
        completion_tokens=3400,
        reasoning_tokens=3000,
        cost=Decimal("0.031080"),
        currency="CNY",
    )
    _record(alice, outcome="failed", error_code="limit_requests")
    _record(
        bob,
        model="MiniMax-M2.1",
        prompt_tokens=10,
        completion_tokens=20,
        days_ago=2,
        cost=Decimal("0.000190"),
        currency="CNY",
    )
    _record(bob, prompt_tokens=99, completion_tokens=1, days_ago=400)  # outside the period
    return alice, bob


@pytest.fixture
def staff_client(admin_user_) -> Client:
    client = Client()
    client.force_login(admin_user_)
    return client


def test_the_report_is_for_staff_only(alice, client):
    client.force_login(alice)
    assert client.get(REPORT).status_code == 302


def test_the_report_by_user_adds_up_and_draws_a_chart(usage_world, staff_client):
    response = staff_client.get(REPORT, {"group_by": "user"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="chart-input"') >= 2 and "<svg" in html
    table = _TableCells()
    table.feed(html)
    header, *rows = table.rows
    assert header == [
        "User",
        "Requests",
        "Failures",
        "Prompt tokens",
        "Completion tokens",
        "Reasoning tokens",
        "Cached tokens",
        "Cost (CNY)",
    ]
    assert rows[0] == ["alice", "2", "1", "1,200", "3,400", "3,000", "0", "0.031080"]
    assert rows[1] == ["bob", "1", "0", "10", "20", "0", "0", "0.000190"]
    assert rows[2] == ["Total", "3", "1", "1,210", "3,420", "3,000", "0", "0.031270"]


@pytest.mark.parametrize("group_by", ["day", "user", "model", "key"])
def test_the_csv_matches_the_page(usage_world, staff_client, group_by):
    query = {"group_by": group_by}
    table = _TableCells()
    table.feed(staff_client.get(REPORT, query).content.decode())
    response = staff_client.get(REPORT, {**query, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    exported = list(csv.reader(io.StringIO(response.content.decode())))
    page = [[cell.replace(",", "") for cell in row] for row in table.rows]
    assert exported == page
    assert len(exported) >= 3


def test_a_day_report_lists_every_day_of_the_period(usage_world, staff_client):
    today = timezone.localdate()
    response = staff_client.get(
        REPORT,
        {
            "group_by": "day",
            "start": (today - timedelta(days=6)).isoformat(),
            "end": today.isoformat(),
            "format": "csv",
        },
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[0] for row in rows[1:-1]] == [
        (today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)
    ]


def test_a_bad_period_says_what_is_wrong(staff_client):
    response = staff_client.get(REPORT, {"start": "2026-05-02", "end": "2026-05-01"})
    assert "The end is before the start." in response.content.decode()


def test_an_admin_resets_a_users_counters_and_the_history_shows_it(usage_world, staff_client):
    alice, _ = usage_world
    url = f"/admin/usage/usagerecord/user/{alice.pk}/reset/"
    assert staff_client.get(url).status_code == 403
    response = staff_client.post(url)
    assert response.status_code == 302
    assert QuotaReset.objects.get().user == alice
    entry = LogEntry.objects.get(object_id=str(alice.pk))
    assert entry.get_change_message() == "Reset the usage quota counters."


def test_a_users_usage_page_shows_budgets_and_where_they_come_from(usage_world, staff_client):
    alice, _ = usage_world
    Quota.objects.create(scope=Quota.Scope.DEFAULT, daily_tokens=10_000)
    html = staff_client.get(f"/admin/usage/usagerecord/user/{alice.pk}/").content.decode()
    assert "4,600" in html and "10,000" in html and "5,400" in html
    assert f"/admin/usage/quota/add/?scope=user&amp;user={alice.pk}" in html


def test_the_records_list_filters_and_links(usage_world, staff_client):
    alice, _ = usage_world
    response = staff_client.get(
        "/admin/usage/usagerecord/", {"user__id__exact": alice.pk, "outcome__exact": "failed"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "limit_requests" in html and f"/admin/auth/user/{alice.pk}/change/" in html


def test_a_quota_naming_the_wrong_target_is_refused_in_words(alice, staff_client):
    response = staff_client.post(
        "/admin/usage/quota/add/", {"scope": "default", "user": alice.pk, "daily_tokens": "5"}
    )
    assert "a default quota names no group or user" in response.content.decode().lower()
    assert not Quota.objects.exists()
