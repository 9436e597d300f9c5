"""Login throttling on top of django-axes: which address a login comes from, and how many
failures an account and an address may have.

Axes records every failed login (username, client address) and refuses further logins while
too many recent failures match the request. See docs/architecture.md, "Login throttling".
"""

from __future__ import annotations

import ipaddress

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpRequest


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


class AccountAndAddressHandler(AxesDatabaseHandler):
    """Axes' database handler with a separate, higher limit per address.

    Axes compares one failure count with one limit (AXES_FAILURE_LIMIT, here the per-account
    limit). An address gets more room, because several people behind one NAT share it: its
    count is lowered by the difference between the two limits before the comparison, so it
    reaches AXES_FAILURE_LIMIT exactly when the address reaches LOGIN_FAILURES_PER_ADDRESS.
    """

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        (account, account_limit), (address, address_limit) = _counters(request, credentials)
        account_failures = _failures(account)
        address_failures = _failures(address) - (address_limit - account_limit)
        return max(account_failures, address_failures)


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
