"""Quotas: which limit applies (user beats group beats default; groups: the most generous),
and the check made before the upstream is called, also under racing sends."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from chat import services
from chat.models import Conversation, GenerationStart
from usage.models import Quota, QuotaReset, UsageRecord
from usage.quota import QuotaExceeded, limits_for_user, quota_check
from usage.services import quota_counters_reset


def _default(**limits) -> Quota:
    return Quota.objects.create(scope=Quota.Scope.DEFAULT, **limits)


def _group(name: str, *members, **limits) -> Quota:
    group = Group.objects.create(name=name)
    group.user_set.add(*members)
    return Quota.objects.create(scope=Quota.Scope.GROUP, group=group, **limits)


def _used(user, tokens: int, *, when=None, outcome=UsageRecord.Outcome.COMPLETE) -> UsageRecord:
    return UsageRecord.objects.create(
        user=user,
        model="MiniMax-M2.5",
        outcome=outcome,
        prompt_tokens=tokens // 2,
        completion_tokens=tokens - tokens // 2,
        started_at=when or timezone.now(),
    )


@pytest.mark.django_db
class TestWhichLimitApplies:
    def test_without_any_quota_nothing_is_limited(self, alice):
        limits = limits_for_user(user_id=alice.pk)
        assert (limits.daily_tokens, limits.monthly_tokens, limits.requests_per_minute) == (
            None,
            None,
            None,
        )

    def test_the_default_applies_to_everyone(self, alice):
        _default(daily_tokens=1000, requests_per_minute=5)
        assert limits_for_user(user_id=alice.pk).daily_tokens == 1000

    def test_a_group_beats_the_default_and_an_empty_field_inherits(self, alice, bob):
        _default(daily_tokens=1000, monthly_tokens=9000)
        _group("research", alice, daily_tokens=5000)
        limits = limits_for_user(user_id=alice.pk)
        assert (limits.daily_tokens, limits.monthly_tokens) == (5000, 9000)
        assert limits_for_user(user_id=bob.pk).daily_tokens == 1000

    def test_of_several_groups_the_most_generous_wins(self, alice):
        _default(daily_tokens=1000)
        _group("interns", alice, daily_tokens=200)
        _group("research", alice, daily_tokens=5000)
        assert limits_for_user(user_id=alice.pk).daily_tokens == 5000

    def test_the_user_beats_their_groups_even_when_stricter(self, alice):
        _default(daily_tokens=1000)
        _group("research", alice, daily_tokens=5000, requests_per_minute=9)
        Quota.objects.create(scope=Quota.Scope.USER, user=alice, daily_tokens=300)
        limits = limits_for_user(user_id=alice.pk)
        assert (limits.daily_tokens, limits.requests_per_minute) == (300, 9)


@pytest.mark.django_db
class TestTheCheck:
    def test_a_spent_daily_budget_is_refused_with_what_was_used_and_when_it_resets(self, alice):
        _default(daily_tokens=100)
        _used(alice, 100)
        with pytest.raises(QuotaExceeded) as refused:
            quota_check(user_id=alice.pk)
        assert refused.value.code == "quota_daily_tokens"
        assert refused.value.params["used"] == 100 and refused.value.params["limit"] == 100
        tomorrow = timezone.localtime() + timedelta(days=1)
        assert refused.value.params["reset_time"] == f"{tomorrow:%Y-%m-%d} 00:00 UTC"

    def test_a_budget_with_a_token_left_lets_the_answer_start(self, alice):
        _default(daily_tokens=100)
        _used(alice, 99)
        quota_check(user_id=alice.pk)

    def test_yesterdays_usage_does_not_count_today_but_this_months_does(self, alice):
        _default(daily_tokens=100, monthly_tokens=150)
        start_of_today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = start_of_today - timedelta(seconds=1)
        _used(alice, 100, when=yesterday)
        if yesterday.month != start_of_today.month:
            pytest.skip("today is the first of the month")
        quota_check(user_id=alice.pk)
        _used(alice, 50)
        with pytest.raises(QuotaExceeded) as refused:
            quota_check(user_id=alice.pk)
        assert refused.value.code == "quota_monthly_tokens"

    def test_a_running_answer_holds_its_reservation(self, alice):
        _default(daily_tokens=100)
        UsageRecord.objects.create(
            user=alice, model="MiniMax-M2.5", reserved_tokens=100, started_at=timezone.now()
        )
        with pytest.raises(QuotaExceeded):
            quota_check(user_id=alice.pk)

    def test_an_admin_reset_starts_the_count_again(self, alice, admin_user_):
        _default(daily_tokens=100)
        _used(alice, 100)
        quota_counters_reset(user=alice, reset_by=admin_user_)
        quota_check(user_id=alice.pk)
        assert QuotaReset.objects.get().reset_by == admin_user_


@pytest.mark.django_db(transaction=True)
def test_requests_per_minute_counts_every_start_and_records_no_refused_one(alice):
    _default(requests_per_minute=2)
    services.generation_start_record(user_id=alice.pk)
    services.generation_start_record(user_id=alice.pk)
    with pytest.raises(QuotaExceeded) as refused:
        services.generation_start_record(user_id=alice.pk)
    assert refused.value.code == "quota_requests_per_minute"
    assert 1 <= refused.value.params["retry_after"] <= 61
    assert GenerationStart.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_racing_sends_at_the_last_token_of_a_budget_let_exactly_one_through(alice, settings):
    settings.MAX_CONCURRENT_GENERATIONS_PER_USER = 5
    _default(daily_tokens=100)
    _used(alice, 99)
    conversations = [Conversation.objects.create(owner=alice, title=f"c{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def send_in(conversation) -> None:
        barrier.wait()
        try:
            services.message_send(conversation=conversation, text="hi", demo=True)
            outcomes.append("sent")
        except QuotaExceeded as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send_in, args=(c,)) for c in conversations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["quota_daily_tokens", "sent"]
    assert UsageRecord.objects.filter(outcome=UsageRecord.Outcome.RUNNING).count() == 1
