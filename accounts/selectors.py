"""Reads for accounts."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AccountStatus, Invite, SessionRecord, SignupPolicy


def signup_policy_get() -> SignupPolicy:
    """The one policy row; a new installation starts closed."""
    policy, _ = SignupPolicy.objects.get_or_create(pk=1)
    return policy


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_get_usable(*, token: str) -> Invite | None:
    """The invite for this link if it is unused and unexpired."""
    return Invite.objects.filter(
        token_hash=token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()


def user_must_change_password(*, user: AbstractBaseUser) -> bool:
    return AccountStatus.objects.filter(user=user, must_change_password=True).exists()


def user_live_sessions(*, user: AbstractBaseUser) -> QuerySet[SessionRecord]:
    """The user's sessions that still exist and have not expired, newest first."""
    live_keys = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return SessionRecord.objects.filter(user=user, session_key__in=live_keys)
