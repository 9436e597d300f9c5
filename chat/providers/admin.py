"""Provider admin: protocol and endpoint, offered models, the key pool with each key's health,
re-enabling keys, and testing a connection through the app's own client."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format

from chat import services
from chat.models import Provider, ProviderKey
from chat.protocol.texts import failure_text, provider_text
from chat.providers.connection import connection_test
from chat.providers.health import provider_keys_reenable
from chat.upstream_config import key_target


class ProviderForm(forms.ModelForm):
    custom_base_url = forms.URLField(
        label="Custom base URL",
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "vURLField"}),
        help_text=Provider._meta.get_field("custom_base_url").help_text,
    )

    class Meta:
        model = Provider
        widgets = {"offered_models": forms.Textarea(attrs={"rows": 3, "cols": 40})}
        fields = (
            "name",
            "protocol",
            "endpoint",
            "custom_base_url",
            "offered_models",
            "send_reasoning",
            "enabled",
            "is_default",
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        custom = cleaned.get("endpoint") == Provider.Endpoint.CUSTOM
        if custom and not cleaned.get("custom_base_url"):
            self.add_error("custom_base_url", "A custom endpoint needs its base URL.")
        if not custom and cleaned.get("custom_base_url"):
            self.add_error("custom_base_url", "Only a custom endpoint takes a base URL.")
        return cleaned


class ProviderKeyForm(forms.ModelForm):
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: it is encrypted at rest and never shown again. "
        "Leave empty to keep the current key.",
    )

    class Meta:
        model = ProviderKey
        fields = ("provider", "name", "api_key", "priority", "enabled")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("api_key"):
            self.add_error("api_key", "An API key is required for a new key.")
        return cleaned

    def save(self, commit: bool = True) -> ProviderKey:
        provider_key = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            services.provider_key_set(
                provider_key=provider_key, plaintext=self.cleaned_data["api_key"]
            )
        if commit:
            provider_key.save()
        return provider_key


def key_is_resting(provider_key: ProviderKey) -> bool:
    return provider_key.resting_until is not None and provider_key.resting_until > timezone.now()


def key_is_healthy(provider_key: ProviderKey) -> bool:
    return (
        provider_key.enabled
        and provider_key.unhealthy_since is None
        and not key_is_resting(provider_key)
    )


def key_health(provider_key: ProviderKey, *, short: bool = False) -> str:
    """The key's health in words; `short` names the code instead of explaining it."""
    if not provider_key.enabled:
        return provider_text("key_disabled")
    if provider_key.unhealthy_since is not None:
        since = date_format(timezone.localtime(provider_key.unhealthy_since), "DATETIME_FORMAT")
        if short:
            return provider_text(
                "key_unhealthy_short", {"since": since, "code": provider_key.unhealthy_code}
            )
        failure = failure_text(
            provider_key.unhealthy_kind,
            provider_key.unhealthy_code,
            {"upstream_message": provider_key.unhealthy_message},
        )
        return provider_text("key_unhealthy", {"since": since, "failure": failure})
    if key_is_resting(provider_key):
        until = date_format(timezone.localtime(provider_key.resting_until), "TIME_FORMAT")
        return provider_text("key_resting", {"until": until})
    return provider_text("key_healthy")


def _report(admin_: admin.ModelAdmin, request: HttpRequest, label: str, result: tuple) -> None:
    worked, words = result
    level = messages.SUCCESS if worked else messages.ERROR
    admin_.message_user(request, f"{label}: {words}", level)


def _test_key(provider_key: ProviderKey) -> tuple[bool, str]:
    provider = provider_key.provider
    return async_to_sync(connection_test)(
        key_target(provider, provider_key), provider.model_names()[0]
    )


class ProviderKeyInline(admin.TabularInline):
    model = ProviderKey
    form = ProviderKeyForm
    extra = 0
    fields = ("name", "api_key", "masked_key", "priority", "enabled", "health")
    readonly_fields = ("masked_key", "health")
    show_change_link = True

    @admin.display(description="Key")
    def masked_key(self, obj: ProviderKey) -> str:
        return obj.masked_key

    @admin.display(description="Health")
    def health(self, obj: ProviderKey) -> str:
        return key_health(obj) if obj.pk else ""


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ("name", "protocol", "endpoint", "base_url", "enabled", "is_default", "keys")
    list_filter = ("protocol", "endpoint", "enabled")
    fields = ProviderForm.Meta.fields
    inlines = [ProviderKeyInline]
    actions = ["test_connection"]

    @admin.display(description="Keys")
    def keys(self, obj: Provider) -> str:
        keys = list(obj.keys.all())
        healthy = sum(1 for key in keys if key_is_healthy(key))
        return f"{healthy} of {len(keys)} healthy"

    @admin.action(description="Test connection (first enabled key)")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            provider_key = provider.keys.filter(enabled=True).order_by("priority", "id").first()
            if provider_key is None:
                _report(self, request, provider.name, (False, provider_text("connection_no_key")))
                continue
            _report(
                self, request, f"{provider.name} / {provider_key.name}", _test_key(provider_key)
            )


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    form = ProviderKeyForm
    list_display = (
        "name",
        "provider",
        "masked_key",
        "priority",
        "enabled",
        "health_summary",
        "request_count",
    )
    list_filter = ("provider", "enabled")
    list_select_related = ("provider",)
    readonly_fields = (
        "masked_key",
        "health",
        "request_count",
        "last_used_at",
        "created_at",
        "updated_at",
    )
    fields = (
        "provider",
        "name",
        "api_key",
        "masked_key",
        "priority",
        "enabled",
        "health",
        "request_count",
        "last_used_at",
        "created_at",
        "updated_at",
    )
    actions = ["test_connection", "reenable"]

    @admin.display(description="Key")
    def masked_key(self, obj: ProviderKey) -> str:
        return obj.masked_key

    @admin.display(description="Health")
    def health(self, obj: ProviderKey) -> str:
        return key_health(obj)

    @admin.display(description="Health")
    def health_summary(self, obj: ProviderKey) -> str:
        return key_health(obj, short=True)

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        for provider_key in queryset.select_related("provider"):
            _report(self, request, provider_key.name, _test_key(provider_key))

    @admin.action(description="Re-enable (clear unhealthy and resting)")
    def reenable(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        count = provider_keys_reenable(provider_key_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} key(s) will be tried again.", messages.SUCCESS)
