"""Which limits apply to a user, how much of them is used, and the check made before an answer
starts (inside the transaction that records the start, under the user's row lock, so two
racing sends cannot both take the last of a budget)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.db.models import Case, F, Max, Q, Sum, When
from django.utils import timezone

from chat.models import GenerationStart
from usage.models import Quota, QuotaReset, UsageRecord
from usage.periods import Period, day_of, month_of, reset_time_text

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Limits:
    """None: no limit."""

    daily_tokens: int | None = None
    monthly_tokens: int | None = None
    requests_per_minute: int | None = None


@dataclass(frozen=True)
class BudgetStatus:
    name: str  # "daily_tokens" or "monthly_tokens"
    limit: int | None
    used: int
    resets_at: datetime

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit


class QuotaExceeded(Exception):
    """A start refused by a quota. `code` names the limit (chat.protocol.texts words it)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


def limits_for_user(*, user_id: int) -> Limits:
    """Per limit: the user's own value, else the most generous of their groups' values, else
    the default's. An empty value inherits; an empty default is no limit."""
    quotas = list(
        Quota.objects.filter(
            Q(scope=Quota.Scope.DEFAULT) | Q(user_id=user_id) | Q(group__user__id=user_id)
        )
    )
    return Limits(**{field.name: _resolve(quotas, field.name) for field in fields(Limits)})


def _resolve(quotas: list[Quota], name: str) -> int | None:
    def values(scope: str) -> list[int]:
        chosen = (getattr(q, name) for q in quotas if q.scope == scope)
        return [value for value in chosen if value is not None]

    if own := values(Quota.Scope.USER):
        return own[0]
    if of_groups := values(Quota.Scope.GROUP):
        return max(of_groups)
    default = values(Quota.Scope.DEFAULT)
    return default[0] if default else None


def counted_since(*, user_id: int, period_start: datetime) -> datetime:
    """The period's start, or the user's last counter reset if it came later."""
    last_reset = QuotaReset.objects.filter(user_id=user_id).aggregate(last=Max("created_at"))
    if last_reset["last"] is not None and last_reset["last"] > period_start:
        return last_reset["last"]
    return period_start


def tokens_used(*, user_id: int, since: datetime) -> int:
    """Tokens of the user's attempts started since then: the real usage of settled attempts,
    the reservation of running ones."""
    total = UsageRecord.objects.filter(user_id=user_id, started_at__gte=since).aggregate(
        tokens=Sum(
            Case(
                When(outcome=UsageRecord.Outcome.RUNNING, then=F("reserved_tokens")),
                default=F("prompt_tokens") + F("completion_tokens"),
            )
        )
    )
    return total["tokens"] or 0


def budget_status(*, user_id: int, name: str, limit: int | None, period: Period) -> BudgetStatus:
    since = counted_since(user_id=user_id, period_start=period.start)
    return BudgetStatus(name, limit, tokens_used(user_id=user_id, since=since), period.end)


def budgets_for_user(
    *, user_id: int, now: datetime | None = None, limits: Limits | None = None
) -> list[BudgetStatus]:
    now = now or timezone.now()
    limits = limits or limits_for_user(user_id=user_id)
    return [
        budget_status(
            user_id=user_id, name="daily_tokens", limit=limits.daily_tokens, period=day_of(now)
        ),
        budget_status(
            user_id=user_id,
            name="monthly_tokens",
            limit=limits.monthly_tokens,
            period=month_of(now),
        ),
    ]


def tightest_budget(*, user_id: int) -> BudgetStatus | None:
    """The limited budget with the least left (shown beside the chat), or None."""
    limits = limits_for_user(user_id=user_id)
    if limits.daily_tokens is None and limits.monthly_tokens is None:
        return None  # one query for the many who have no token limits
    budgets = budgets_for_user(user_id=user_id, limits=limits)
    limited = [b for b in budgets if b.limit is not None]
    return min(limited, key=lambda b: b.remaining, default=None)


def quota_check(*, user_id: int) -> None:
    """Raise QuotaExceeded when a limit is reached. A budget with anything left lets the start
    through (an answer is never cut by its own usage); its reservation then uses it up."""
    now = timezone.now()
    limits = limits_for_user(user_id=user_id)
    if limits.requests_per_minute is not None:
        _check_requests_per_minute(user_id=user_id, limit=limits.requests_per_minute, now=now)
    if limits.daily_tokens is None and limits.monthly_tokens is None:
        return
    for budget in budgets_for_user(user_id=user_id, now=now, limits=limits):
        if budget.exhausted:
            raise QuotaExceeded(
                f"quota_{budget.name}",
                used=budget.used,
                limit=budget.limit,
                reset_time=reset_time_text(budget.resets_at),
                retry_after=max(1, int((budget.resets_at - now).total_seconds()) + 1),
            )


def _check_requests_per_minute(*, user_id: int, limit: int, now: datetime) -> None:
    starts = list(
        GenerationStart.objects.filter(user_id=user_id, created_at__gte=now - MINUTE)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(starts) < limit:
        return
    frees_at = starts[-1] + MINUTE
    raise QuotaExceeded(
        "quota_requests_per_minute",
        limit=limit,
        reset_time=reset_time_text(frees_at),
        retry_after=max(1, int((frees_at - now).total_seconds()) + 1),
    )
