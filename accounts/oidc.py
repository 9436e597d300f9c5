"""OpenID Connect sign-in with mozilla-django-oidc (docs/architecture.md, "Accounts and single
sign-on"). The library runs the code flow (state, nonce, PKCE, token and signature checks);
this module decides which account an identity is, under the sign-up policy."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts import services
from chat.protocol.texts import account_text

log = logging.getLogger(__name__)

INVITE_SESSION_KEY = "accounts.invite_token"


class PolicyOIDCBackend(OIDCAuthenticationBackend):
    """An identity is its issuer and subject (ExternalIdentity), never its e-mail address;
    a first sign-in creates the account under the sign-up policy."""

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict
    ) -> AbstractBaseUser | None:
        claims = self.get_userinfo(access_token, id_token, payload)
        if not payload.get("sub") or claims.get("sub") != payload.get("sub"):
            # OpenID Connect Core 5.3.2: userinfo of another subject must not be used.
            raise SuspiciousOperation("The userinfo subject differs from the ID token's")
        identity = {
            "issuer": payload.get("iss", ""),
            "subject": payload["sub"],
            "username_hint": claims.get("preferred_username") or claims.get("email", ""),
            "email": claims.get("email", "") if claims.get("email_verified", True) else "",
            "full_name": claims.get("name", ""),
        }
        invite_token = self.request.session.pop(INVITE_SESSION_KEY, None)
        try:
            if invite_token:
                user = services.external_user_with_invite(token=invite_token, **identity)
            else:
                user = services.external_user_get_or_create(**identity)
        except services.SignupRefused as refusal:
            messages.error(self.request, account_text(refusal.code))
            return None
        if not user.is_active:
            messages.info(self.request, account_text(services.inactive_reason(user=user)))
            return None
        return user

    def get_user(self, user_id: int) -> AbstractBaseUser | None:
        # The library's get_user returns inactive users too; a deactivated account must lose
        # its sessions (and sockets: chat.revocation) as with the password backend.
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


def _require_oidc() -> None:
    if not settings.OIDC_ENABLED:
        raise Http404("Single sign-on is not configured")


def authenticate(request: HttpRequest) -> HttpResponse:
    """Send the browser to the identity provider."""
    _require_oidc()
    return OIDCAuthenticationRequestView.as_view()(request)


def callback(request: HttpRequest) -> HttpResponse:
    """The identity provider sends the browser back here with a code."""
    _require_oidc()
    try:
        return OIDCAuthenticationCallbackView.as_view()(request)
    except requests.RequestException as exc:
        # The token, key or userinfo request failed: say so instead of a server error page.
        log.warning("OpenID Connect provider request failed: %s", type(exc).__name__)
        messages.error(request, account_text("sso_unreachable"))
        return redirect("login")
