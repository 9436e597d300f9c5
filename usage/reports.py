"""Reads for the usage pages: usage over a period grouped by user, model, key or day (the admin
report and its CSV read the same rows), and one user's today / this month."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from usage.models import UsageRecord

COST_PLACES = Decimal("0.000001")
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")

GROUPINGS = {
    "user": ("user_id", "user__username"),
    "model": ("model", "model"),
    "key": ("provider_key_id", "provider_key__name"),
    "day": ("day", "day"),
}


@dataclass
class ReportRow:
    key: object  # what the row groups by: a user or key id, a model name, a date
    label: str
    requests: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, values: dict) -> None:
        self.requests += values["requests"]
        self.failures += values["failures"]
        for name in TOKEN_FIELDS:
            setattr(self, name, getattr(self, name) + (values[name] or 0))
        if values["currency"]:
            # SQLite sums decimals as floats: back to the stored precision.
            amount = self.cost.get(values["currency"], Decimal(0)) + (values["cost"] or 0)
            self.cost[values["currency"]] = Decimal(amount).quantize(COST_PLACES)


@dataclass(frozen=True)
class Report:
    group_by: str
    start: date
    end: date  # inclusive
    rows: list[ReportRow]
    total: ReportRow
    currencies: list[str]


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the current time zone."""
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def records_in(start: date, end: date) -> QuerySet[UsageRecord]:
    since, until = period_bounds(start, end)
    return UsageRecord.objects.filter(started_at__gte=since, started_at__lt=until)


def usage_report(*, start: date, end: date, group_by: str) -> Report:
    """Requests (upstream attempts), failures, the four token counts and the cost per
    currency, per group. Running attempts count as requests with no tokens yet."""
    key_field, label_field = GROUPINGS[group_by]
    records = records_in(start, end).annotate(
        day=TruncDate("started_at", tzinfo=timezone.get_current_timezone())
    )
    grouped = (
        records.values(key_field, label_field, "currency")
        .annotate(
            requests=Count("id"),
            failures=Count("id", filter=Q(outcome=UsageRecord.Outcome.FAILED)),
            cost=Sum("cost"),
            **{name: Sum(name) for name in TOKEN_FIELDS},
        )
        .order_by()
    )
    rows: dict[object, ReportRow] = {}
    total = ReportRow(key=None, label="Total")
    for values in grouped:
        key = values[key_field]
        row = rows.setdefault(key, ReportRow(key=key, label=_label(group_by, values[label_field])))
        row.add(values)
        total.add(values)
    ordered = _ordered(group_by, rows, start, end)
    currencies = sorted(total.cost)
    return Report(group_by, start, end, ordered, total, currencies)


def _label(group_by: str, value: object) -> str:
    if value is None:
        return {"user": "(deleted user)", "key": "Environment key or demo"}.get(group_by, "—")
    return value.isoformat() if isinstance(value, date) else str(value)


def _ordered(group_by: str, rows: dict, start: date, end: date) -> list[ReportRow]:
    if group_by != "day":
        return sorted(rows.values(), key=lambda row: (-row.total_tokens, row.label))
    # Every day of the period, the empty ones too: the chart is a time line.
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [rows.get(day) or ReportRow(key=day, label=day.isoformat()) for day in days]


@dataclass(frozen=True)
class UserPeriodUsage:
    requests: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def user_usage_since(*, user_id: int, since: datetime) -> UserPeriodUsage:
    totals = UsageRecord.objects.filter(user_id=user_id, started_at__gte=since).aggregate(
        requests=Count("id"),
        failures=Count("id", filter=Q(outcome=UsageRecord.Outcome.FAILED)),
        **{name: Sum(name) for name in TOKEN_FIELDS},
    )
    return UserPeriodUsage(**{name: value or 0 for name, value in totals.items()})
