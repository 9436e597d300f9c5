"""The calendar periods budgets count in: days and months in settings.TIME_ZONE (UTC unless
configured), starting at local midnight and on the first of the month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # the moment the budget resets


def day_of(now: datetime) -> Period:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = timezone.make_aware(
        (start + timedelta(days=1)).replace(tzinfo=None), timezone.get_current_timezone()
    )
    return Period(start, end)


def month_of(now: datetime) -> Period:
    local = timezone.localtime(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    end = timezone.make_aware(
        start.replace(year=year, month=month, tzinfo=None), timezone.get_current_timezone()
    )
    return Period(start, end)


def reset_time_text(moment: datetime) -> str:
    """E.g. "2026-12-05 00:00 UTC": the words of a refusal name the reset this way."""
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
