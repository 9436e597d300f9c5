"""Trusted reverse-proxy sign-in (off by default): an authenticating proxy in front (oauth2-proxy,
Authelia, a corporate gateway) names the signed-in person in a request header, and the app
believes it. Anyone who can reach the app without passing that proxy can claim to be anyone,
so it is only for deployments where the proxy is the sole way in and overwrites the header
(README, "Accounts and single sign-on")."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse

from accounts import services
from chat.protocol.texts import account_text

ISSUER = "trusted-proxy-header"
SUBJECT_SESSION_KEY = "accounts.proxy_subject"


class ProxyHeaderBackend(ModelBackend):
    """The account named by the proxy, created at first sight under the sign-up policy."""

    def authenticate(
        self, request: HttpRequest | None, proxy_user: str | None = None, **kwargs: object
    ) -> AbstractBaseUser | None:
        if request is None or not proxy_user:
            return None
        try:
            user = services.external_user_get_or_create(
                issuer=ISSUER, subject=proxy_user, username_hint=proxy_user, email="", full_name=""
            )
        except services.SignupRefused as refusal:
            messages.error(request, account_text(refusal.code))
            return None
        if not self.user_can_authenticate(user):
            messages.info(request, account_text(services.inactive_reason(user=user)))
            return None
        return user


class TrustedProxyHeaderMiddleware:
    """Signs the named person in, and out again when the proxy names someone else or nobody."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.meta_key = "HTTP_" + settings.TRUSTED_PROXY_USER_HEADER.upper().replace("-", "_")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        named = request.META.get(self.meta_key, "").strip()
        signed_in_as = request.session.get(SUBJECT_SESSION_KEY)
        if signed_in_as is not None and signed_in_as != named:
            auth.logout(request)
        if named and request.session.get(SUBJECT_SESSION_KEY) != named:
            user = auth.authenticate(request, proxy_user=named)
            if user is not None:
                auth.login(request, user)
                request.session[SUBJECT_SESSION_KEY] = named
        return self.get_response(request)
