"""Every sign-in leaves a record the user can later see and end (accounts.selectors), and
notes in the session whether the password must be changed first."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import services
from accounts.selectors import user_must_change_password
from minimax_web.login_throttling import client_address

MUST_CHANGE_PASSWORD = "accounts.must_change_password"
_METHODS = {"oidc": "sso", "proxy_header": "proxy"}


def _method(backend_path: str) -> str:
    return next((name for key, name in _METHODS.items() if key in backend_path), "password")


@receiver(user_logged_in)
def _record_session(sender: type, request: HttpRequest | None, user: object, **kwargs: object):
    if request is None or not hasattr(request, "session"):
        return
    if user_must_change_password(user=user):
        request.session[MUST_CHANGE_PASSWORD] = True
    if request.session.session_key is None:
        request.session.save()
    services.session_record(
        user=user,
        session_key=request.session.session_key,
        ip_address=client_address(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        method=_method(getattr(user, "backend", "")),
    )
