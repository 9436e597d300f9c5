"""Who may have an account and how they got it: the sign-up policy, invites, each account's
standing (approval, forced password change), single-sign-on identities and the sessions a
user can see and end."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models

from accounts.user_agents import device_label


class SignupPolicy(models.Model):
    """One row (pk=1), edited in admin: how new accounts come to exist."""

    class Mode(models.TextChoices):
        CLOSED = "closed", "Closed: administrators create accounts"
        INVITE = "invite", "Invite only: one-time links created in admin"
        APPROVAL = "approval", "Open, with approval: new accounts wait for an administrator"

    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CLOSED)
    invite_valid_days = models.PositiveSmallIntegerField(
        default=7, help_text="How long a new invite link can be used."
    )
    sso_accounts_approved = models.BooleanField(
        default=False,
        verbose_name="Trust the identity provider",
        help_text="Anyone the single sign-on provider lets in gets an active account at "
        "first sign-in, whatever the mode above. Leave off to apply the mode to them too.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sign-up policy"
        verbose_name_plural = "sign-up policy"

    def __str__(self) -> str:
        return self.get_mode_display()


class Invite(models.Model):
    """A one-time sign-up link. Only a hash of its token is stored: the link is shown once."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    note = models.CharField(
        max_length=200, blank=True, help_text="Who it is for (shown only in admin)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="invites_created",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invite_used",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.note or f"Invite #{self.pk}"


class AccountStatus(models.Model):
    """What Django's user model has no field for."""

    class Approval(models.TextChoices):
        APPROVED = "approved"
        PENDING = "pending"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_status"
    )
    approval = models.CharField(
        max_length=16, choices=Approval.choices, default=Approval.APPROVED, db_index=True
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    must_change_password = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "account statuses"

    def __str__(self) -> str:
        return f"{self.user} ({self.approval})"


class ExternalIdentity(models.Model):
    """A single-sign-on identity: the provider's stable subject, never the e-mail address
    (which an identity provider may let people change)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "external identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class SessionRecord(models.Model):
    """Facts about a signed-in session that Django's session row does not keep in a form one
    can query by user. The session row stays the truth: a record without one is over."""

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_records"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=16, default="password")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def device(self) -> str:
        return device_label(self.user_agent)


class PendingUser(User):
    """The approval queue in admin: accounts that asked to join and wait for a decision."""

    class Meta:
        proxy = True
        verbose_name = "account waiting for approval"
        verbose_name_plural = "approval queue"
