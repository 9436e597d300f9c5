"""A user's own usage page: today, this month, and what is left of each budget."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from usage.periods import day_of, month_of
from usage.quota import budgets_for_user, limits_for_user
from usage.reports import user_usage_since


@login_required
@never_cache
def my_usage(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    daily, monthly = budgets_for_user(user_id=request.user.pk, now=now)
    periods = [
        ("Today", user_usage_since(user_id=request.user.pk, since=day_of(now).start), daily),
        (
            "This month",
            user_usage_since(user_id=request.user.pk, since=month_of(now).start),
            monthly,
        ),
    ]
    context = {
        "periods": periods,
        "requests_per_minute": limits_for_user(user_id=request.user.pk).requests_per_minute,
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "usage/my_usage.html", context)
