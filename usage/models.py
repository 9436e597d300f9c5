"""Usage of the upstream per attempt, the prices that turn it into money, and the quotas that
limit it (docs/architecture.md, "Usage, prices and quotas")."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from chat.models import MODEL_CHOICES

PRICE_FIELD = {"max_digits": 12, "decimal_places": 4, "validators": [MinValueValidator(0)]}


class ModelPrice(models.Model):
    """What one million tokens of a model cost. Reasoning tokens are part of the completion
    tokens, so they are billed at the output price."""

    model = models.CharField(max_length=64, unique=True, choices=MODEL_CHOICES)
    currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217 code, e.g. USD, CNY, EUR."
    )
    input_per_million = models.DecimalField("input / 1M tokens", **PRICE_FIELD)
    cached_input_per_million = models.DecimalField("cached input / 1M tokens", **PRICE_FIELD)
    output_per_million = models.DecimalField(
        "output / 1M tokens", help_text="Reasoning tokens are billed as output.", **PRICE_FIELD
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]

    def __str__(self) -> str:
        return f"{self.model} ({self.currency})"


class UsageRecord(models.Model):
    """One upstream attempt. Created when a send is admitted (status running, holding
    `reserved_tokens` of the user's budget), settled with the real usage when the answer ends;
    earlier attempts of an automatic retry get rows of their own then."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        COMPLETE = "complete"
        STOPPED = "stopped"
        FAILED = "failed"
        INTERRUPTED = "interrupted"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="usage_records",
    )
    message = models.ForeignKey(
        "chat.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage_records",
    )
    provider_key = models.ForeignKey(
        "chat.ProviderKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage_records",
    )
    model = models.CharField(max_length=64)
    demo = models.BooleanField(default=False, help_text="Answered by the offline demo model.")
    attempt = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    error_code = models.CharField(max_length=100, blank=True, default="")

    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(
        default=0, help_text="Includes the reasoning tokens."
    )
    reasoning_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    reserved_tokens = models.PositiveIntegerField(
        default=0, help_text="Held against the budget while the attempt runs."
    )
    estimated = models.BooleanField(
        default=False,
        help_text="The upstream reported no usage (stopped or cut off): counted from the text.",
    )
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    currency = models.CharField(max_length=3, blank=True, default="")

    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # Covers the budget sums (usage.quota.tokens_used), so they read only the index.
            models.Index(
                fields=[
                    "user",
                    "started_at",
                    "outcome",
                    "reserved_tokens",
                    "prompt_tokens",
                    "completion_tokens",
                ],
                name="usage_budget_sum",
            ),
            models.Index(fields=["message", "outcome"]),
        ]

    def __str__(self) -> str:
        return f"{self.model} attempt {self.attempt} ({self.outcome})"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Quota(models.Model):
    """Limits for everyone (scope default), a group, or one user. An empty field inherits:
    user beats group beats default; of several groups the most generous wins; an empty
    default means no limit."""

    class Scope(models.TextChoices):
        DEFAULT = "default", "Everyone (default)"
        GROUP = "group", "Group"
        USER = "user", "User"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    group = models.OneToOneField(
        Group, on_delete=models.CASCADE, null=True, blank=True, related_name="quota"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quota",
    )
    daily_tokens = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Prompt + completion (reasoning included) per day."
    )
    monthly_tokens = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Prompt + completion (reasoning included) per month."
    )
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(scope="default"),
                name="one_default_quota",
                violation_error_message="There is already a default quota; change that one.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(scope="default", group__isnull=True, user__isnull=True)
                    | Q(scope="group", group__isnull=False, user__isnull=True)
                    | Q(scope="user", group__isnull=True, user__isnull=False)
                ),
                name="quota_scope_matches_its_target",
                violation_error_message=(
                    "A default quota names no group or user; a group quota names a group only; "
                    "a user quota names a user only."
                ),
            ),
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.GROUP:
            return f"Group {self.group}"
        if self.scope == self.Scope.USER:
            return f"User {self.user}"
        return "Everyone (default)"


class QuotaReset(models.Model):
    """An admin reset a user's counters: budgets count usage from this moment on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_resets"
    )
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} at {self.created_at:%Y-%m-%d %H:%M}"
