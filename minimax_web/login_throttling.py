"""Login throttling on top of django-axes: which address a login comes from, how many failures an
account and an address may have, and the page a locked-out login gets.

Axes records every failed login (username, client address) and refuses further logins while
too many recent failures match the request. See docs/architecture.md, "Login throttling".
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_address(request: HttpRequest) -> str | None:
    """The address failed logins are counted against.

    Behind the TLS proxy it is the right-most `X-Forwarded-For` entry: the address the proxy
    itself saw and appended. Entries to its left were sent by the client and prove nothing.
    Without the proxy the header is only the client's claim, so only REMOTE_ADDR counts.
    """
    if settings.BEHIND_TLS_PROXY:
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        nearest = hops[-1].strip()
        try:
            return str(ipaddress.ip_address(nearest))
        except ValueError:
            pass  # no header, or the proxy wrote no plain address: fall back to the peer
    return request.META.get("REMOTE_ADDR")


def _counters(request: HttpRequest, credentials: dict | None) -> list[tuple[QuerySet, int]]:
    """Recent failures of this account (from any address) and of this address (for any
    account), each with the limit at which it locks."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
    username = get_client_username(request, credentials)
    return [
        (recent.filter(username=username), settings.AXES_FAILURE_LIMIT),
        (recent.filter(ip_address=request.axes_ip_address), settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def _is_password_login(credentials: dict | None) -> bool:
    # Django passes the credentials with the password's value masked, but the key stays.
    return bool(credentials) and "password" in credentials


class PasswordLoginThrottle(AxesStandaloneBackend):
    """Axes' backend for password logins only. A single-sign-on callback carries a one-time
    code bound to this browser's state and PKCE verifier, not a guessable secret; its
    identity provider throttles the password guessing there."""

    def authenticate(
        self,
        request: HttpRequest,
        username: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> None:
        if password is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class AccountAndAddressHandler(AxesDatabaseHandler):
    """Axes' database handler with a separate, higher limit per address.

    Axes compares one failure count with one limit (AXES_FAILURE_LIMIT, here the per-account
    limit). An address gets more room, because several people behind one NAT share it: its
    count is lowered by the difference between the two limits before the comparison, so it
    reaches AXES_FAILURE_LIMIT exactly when the address reaches LOGIN_FAILURES_PER_ADDRESS.
    """

    def user_login_failed(
        self, sender: object, credentials: dict, request: HttpRequest | None = None, **kwargs
    ) -> None:
        if _is_password_login(credentials):
            super().user_login_failed(sender, credentials, request=request, **kwargs)

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        (account, account_limit), (address, address_limit) = _counters(request, credentials)
        account_failures = _failures(account)
        address_failures = _failures(address) - (address_limit - account_limit)
        return max(account_failures, address_failures)


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def locked_until(request: HttpRequest, credentials: dict | None) -> datetime | None:
    """When logging in is possible again, or None if nothing is at its limit.

    Axes stores one row per (username, address, user agent) with the time of its latest
    failure; a row stops counting a cool-off period after that. A counter at its limit drops
    below it once the row that completed the limit (counting from the newest) has aged out.
    """
    cool_off = get_cool_off(request)
    completions = [
        _time_limit_was_reached(attempts, limit)
        for attempts, limit in _counters(request, credentials)
    ]
    return max((moment + cool_off for moment in completions if moment), default=None)


def _time_limit_was_reached(attempts: QuerySet, limit: int) -> datetime | None:
    total = 0
    newest_first = attempts.order_by("-attempt_time")
    for attempt_time, failures in newest_first.values_list("attempt_time", "failures_since_start"):
        total += failures
        if total >= limit:
            return attempt_time
    return None


def lockout_response(request: HttpRequest, *args: object) -> HttpResponse:
    """The page for a refused login (AXES_LOCKOUT_CALLABLE): 429, with when to try again.

    Axes' async middleware passes the credentials where the sync one passes the original
    response, so they are read from the request, where axes leaves them.
    """
    now = timezone.now()
    credentials = getattr(request, "axes_credentials", None)
    retry_at = locked_until(request, credentials) or now + get_cool_off(request)
    seconds = max(1, math.ceil((retry_at - now).total_seconds()))
    context = {"retry_at": retry_at, "minutes": math.ceil(seconds / 60), "login_url": request.path}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
