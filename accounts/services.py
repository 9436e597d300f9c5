"""Writes for accounts: sign-up under the policy, invites, approval, temporary passwords,
ending sessions. Views, admin and the sign-on backends go through these."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.models import AccountStatus, ExternalIdentity, Invite, SessionRecord, SignupPolicy
from accounts.selectors import signup_policy_get, token_hash


class SignupRefused(Exception):
    """The policy does not let this person create an account; `code` names why
    (accounts.texts)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CreatedInvite:
    invite: Invite
    token: str


def invite_create(*, created_by: AbstractBaseUser | None, note: str = "") -> CreatedInvite:
    """A new invite and its token. The token exists only in the return value."""
    invite = Invite(note=note)
    token = invite_prepare(invite=invite, created_by=created_by)
    invite.save()
    return CreatedInvite(invite=invite, token=token)


def invite_prepare(*, invite: Invite, created_by: AbstractBaseUser | None) -> str:
    """Give an unsaved invite (the admin's add form) its token, maker and expiry; returns the
    token, which is not stored."""
    token = secrets.token_urlsafe(32)
    invite.token_hash = token_hash(token)
    invite.created_by = created_by
    if invite.expires_at is None:
        invite.expires_at = timezone.now() + timedelta(days=signup_policy_get().invite_valid_days)
    return token


def _invite_claim(*, token: str, user: AbstractBaseUser) -> bool:
    """Mark the invite used by this user, if it still can be: one UPDATE, so two people
    racing with one link cannot both get in."""
    claimed = Invite.objects.filter(
        token_hash=token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(used_at=timezone.now(), used_by=user)
    return claimed == 1


def _mark_pending(user: AbstractBaseUser) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])
    AccountStatus.objects.update_or_create(
        user=user, defaults={"approval": AccountStatus.Approval.PENDING}
    )


@transaction.atomic
def signup_with_invite(*, token: str, username: str, password: str, email: str = "") -> object:
    """Create an active account with a one-time invite, or raise SignupRefused."""
    if signup_policy_get().mode != SignupPolicy.Mode.INVITE:
        raise SignupRefused("signup_closed")
    user = get_user_model().objects.create_user(username, email=email, password=password)
    if not _invite_claim(token=token, user=user):
        transaction.set_rollback(True)
        raise SignupRefused("invite_invalid")
    return user


@transaction.atomic
def signup_for_approval(*, username: str, password: str, email: str = "") -> object:
    """Create an inactive account that waits in the approval queue, or raise SignupRefused."""
    if signup_policy_get().mode != SignupPolicy.Mode.APPROVAL:
        raise SignupRefused("signup_closed")
    user = get_user_model().objects.create_user(username, email=email, password=password)
    _mark_pending(user)
    return user


def users_approve(*, users: list, approved_by: AbstractBaseUser) -> list:
    """Activate the pending accounts among `users`; returns those approved."""
    approved = []
    for user in users:
        with transaction.atomic():
            updated = AccountStatus.objects.filter(
                user=user, approval=AccountStatus.Approval.PENDING
            ).update(
                approval=AccountStatus.Approval.APPROVED,
                approved_at=timezone.now(),
                approved_by=approved_by,
            )
            if updated:
                user.is_active = True
                user.save(update_fields=["is_active"])
                approved.append(user)
    return approved


def user_set_temporary_password(*, user: AbstractBaseUser, password: str) -> None:
    """Set a password the user must replace at their next sign-in. Their sessions end (the
    password hash they were made with no longer holds)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        user_require_password_change(user=user)


def user_require_password_change(*, user: AbstractBaseUser) -> None:
    AccountStatus.objects.update_or_create(user=user, defaults={"must_change_password": True})


def user_password_changed(*, user: AbstractBaseUser) -> None:
    """The user chose their own password: nothing more is required of them."""
    AccountStatus.objects.filter(user=user).update(must_change_password=False)


def inactive_reason(*, user: AbstractBaseUser) -> str:
    """Why an inactive account cannot sign in, as an ACCOUNT_TEXTS code."""
    pending = AccountStatus.objects.filter(
        user=user, approval=AccountStatus.Approval.PENDING
    ).exists()
    return "approval_pending" if pending else "account_inactive"


def session_record(
    *,
    user: AbstractBaseUser,
    session_key: str,
    ip_address: str | None,
    user_agent: str,
    method: str,
) -> None:
    # Records of sessions that ended (logout, expiry, clearsessions) go as new ones come.
    live_keys = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    SessionRecord.objects.filter(user=user).exclude(session_key__in=live_keys).delete()
    SessionRecord.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip_address": ip_address,
            "user_agent": user_agent[:300],
            "method": method,
        },
    )


def sessions_end(*, user: AbstractBaseUser, keep_session_key: str | None = None) -> int:
    """End the user's sessions except `keep_session_key`. Deleting a session row closes its
    sockets (chat.revocation listens for it). Returns how many ended."""
    records = SessionRecord.objects.filter(user=user)
    if keep_session_key:
        records = records.exclude(session_key=keep_session_key)
    keys = list(records.values_list("session_key", flat=True))
    # One by one, so each deletion sends its post_delete signal (a queryset delete would too,
    # but this keeps the count to sessions that really existed).
    ended = 0
    for session in Session.objects.filter(session_key__in=keys):
        session.delete()
        ended += 1
    records.delete()
    return ended


def session_end_one(*, user: AbstractBaseUser, record_id: int) -> bool:
    """End one of the user's own sessions by its record id; False if it is not theirs."""
    record = SessionRecord.objects.filter(user=user, pk=record_id).first()
    if record is None:
        return False
    for session in Session.objects.filter(session_key=record.session_key):
        session.delete()
    record.delete()
    return True


def external_user_get_or_create(
    *, issuer: str, subject: str, username_hint: str, email: str, full_name: str
) -> AbstractBaseUser:
    """The account of a single-sign-on identity, created at first sign-in under the policy.

    Raises SignupRefused when the policy lets no new account in. An account waiting for
    approval is returned inactive (the caller does not sign it in).
    """
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_related("user").filter(
            issuer=issuer, subject=subject
        )
        existing = identity.first()
        if existing is not None:
            identity.update(last_login_at=timezone.now())
            return existing.user
        user_model = get_user_model()
        first_account = not user_model.objects.exists()
        policy = signup_policy_get()
        trusted = policy.sso_accounts_approved
        if not first_account and not trusted and policy.mode == SignupPolicy.Mode.CLOSED:
            raise SignupRefused("sso_no_account")
        if not first_account and not trusted and policy.mode == SignupPolicy.Mode.INVITE:
            raise SignupRefused("sso_invite_required")
        user = user_model(
            username=_free_username(username_hint or subject),
            email=email,
            first_name=full_name[:150],
            is_staff=first_account,
            is_superuser=first_account,
        )
        user.set_unusable_password()
        user.save()
        ExternalIdentity.objects.create(
            user=user, issuer=issuer, subject=subject, last_login_at=timezone.now()
        )
        if not first_account and not trusted:
            _mark_pending(user)
        return user


def external_user_with_invite(
    *, token: str, issuer: str, subject: str, username_hint: str, email: str, full_name: str
) -> AbstractBaseUser:
    """First single-sign-on sign-in that redeems an invite: an active account, or
    SignupRefused("invite_invalid")."""
    with transaction.atomic():
        if ExternalIdentity.objects.filter(issuer=issuer, subject=subject).exists():
            return external_user_get_or_create(
                issuer=issuer,
                subject=subject,
                username_hint=username_hint,
                email=email,
                full_name=full_name,
            )
        user = get_user_model()(
            username=_free_username(username_hint or subject), email=email, first_name=full_name
        )
        user.set_unusable_password()
        user.save()
        if not _invite_claim(token=token, user=user):
            transaction.set_rollback(True)
            raise SignupRefused("invite_invalid")
        ExternalIdentity.objects.create(
            user=user, issuer=issuer, subject=subject, last_login_at=timezone.now()
        )
        return user


def _free_username(hint: str) -> str:
    """The hint cut to a valid length, with a number after it if the name is taken."""
    user_model = get_user_model()
    base = "".join(ch for ch in hint if ch.isalnum() or ch in "@.+-_")[:140] or "user"
    candidate, number = base, 1
    while user_model.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}{number}"
    return candidate
