"""Writes of usage: the reservation made when a start is admitted, the settlement when the
answer ends, and an admin's reset of a user's counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from usage.models import ModelPrice, QuotaReset, UsageRecord
from usage.pricing import attempt_cost


@dataclass(frozen=True)
class AttemptUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0  # reasoning included
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False


@dataclass(frozen=True)
class Settlement:
    """How the last attempt of an answer ended, and the codes of the attempts that failed
    before it (automatic retries before the first token)."""

    outcome: str
    usage: AttemptUsage
    model: str
    provider_key_id: int | None
    error_code: str = ""
    earlier_failures: Sequence[str] = ()


def attempt_reserve(
    *, user_id: int, message_id: int, model: str, demo: bool, reserved_tokens: int
) -> UsageRecord:
    """The running record of an admitted start. Call it in the transaction that records the
    start, so the reservation is visible to the next check the moment the lock is released."""
    return UsageRecord.objects.create(
        user_id=user_id,
        message_id=message_id,
        model=model,
        demo=demo,
        reserved_tokens=max(1, reserved_tokens),
        started_at=timezone.now(),
    )


def attempts_settle(*, message_id: int, settlement: Settlement) -> None:
    """Write the real usage into the message's running record and add rows for the attempts
    that failed before it. Does nothing when no record is running (already settled), so the
    final save may be retried."""
    with transaction.atomic():
        record = (
            UsageRecord.objects.select_for_update()
            .filter(message_id=message_id, outcome=UsageRecord.Outcome.RUNNING)
            .order_by("-id")
            .first()
        )
        if record is None:
            return
        now = timezone.now()
        UsageRecord.objects.bulk_create(
            [
                _failed_attempt(record, number, code, now)
                for number, code in enumerate(settlement.earlier_failures, start=1)
            ]
        )
        _apply_settlement(record, settlement, now)
        record.save()


def _failed_attempt(record: UsageRecord, number: int, code: str, now: object) -> UsageRecord:
    return UsageRecord(
        user_id=record.user_id,
        message_id=record.message_id,
        provider_key_id=None,
        model=record.model,
        demo=record.demo,
        attempt=number,
        outcome=UsageRecord.Outcome.FAILED,
        error_code=code[:100],
        started_at=record.started_at,
        ended_at=now,
    )


def _apply_settlement(record: UsageRecord, settlement: Settlement, now: object) -> None:
    usage = settlement.usage
    record.attempt = len(settlement.earlier_failures) + 1
    record.outcome = settlement.outcome
    record.error_code = settlement.error_code[:100]
    record.model = settlement.model or record.model
    record.provider_key_id = settlement.provider_key_id
    record.prompt_tokens = usage.prompt_tokens
    record.completion_tokens = usage.completion_tokens
    record.reasoning_tokens = usage.reasoning_tokens
    record.cached_tokens = usage.cached_tokens
    record.estimated = usage.estimated
    record.ended_at = now
    price = None if record.demo else ModelPrice.objects.filter(model=record.model).first()
    record.cost, record.currency = attempt_cost(
        price=price,
        prompt=usage.prompt_tokens,
        cached=usage.cached_tokens,
        completion=usage.completion_tokens,
    )


def attempts_interrupt(*, message_ids: Sequence[int]) -> int:
    """Running records of answers found dead (their process went away): interrupted, keeping
    the reservation as their estimated usage."""
    return UsageRecord.objects.filter(
        message_id__in=message_ids, outcome=UsageRecord.Outcome.RUNNING
    ).update(
        outcome=UsageRecord.Outcome.INTERRUPTED,
        prompt_tokens=F("reserved_tokens"),
        estimated=True,
        ended_at=timezone.now(),
    )


def quota_counters_reset(*, user: AbstractBaseUser, reset_by: AbstractBaseUser) -> QuotaReset:
    """From now on the user's budgets count only new usage; recorded in the user's admin
    history."""
    reset = QuotaReset.objects.create(user=user, reset_by=reset_by)
    LogEntry.objects.log_actions(
        user_id=reset_by.pk,
        queryset=[user],
        action_flag=CHANGE,
        change_message="Reset the usage quota counters.",
        single_object=True,
    )
    return reset
