"""A temporary password is good for one thing: choosing a new one."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.signals import MUST_CHANGE_PASSWORD


class PasswordChangeRequiredMiddleware:
    """Sends a user signed in with a temporary password to the password page, whatever page
    they ask for (the websocket refuses them too: accounts.websocket)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.session.get(MUST_CHANGE_PASSWORD) and not self._allowed(request.path):
            return redirect("accounts:password_change")
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/")
        allowed = (reverse("accounts:password_change"), reverse("logout"), static)
        return path.startswith(allowed)
