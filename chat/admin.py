from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from chat import services
from chat.models import Conversation, Message, ProviderKey


class ReadOnlyAdminMixin:
    """Chat history is evidence of what the model said: admins may read and delete it, but
    never rewrite it."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MessageInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Message
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "role",
        "status",
        "finish_reason",
        "content",
        "reasoning",
        "error_code",
        "error_params",
        "total_ms",
    )
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "owner_link", "model", "updated_at", "created_at")
    list_filter = ("model", "archived")
    search_fields = ("title", "owner__username")
    list_select_related = ("owner",)
    date_hierarchy = "updated_at"
    inlines = [MessageInline]

    @admin.display(description="Owner", ordering="owner__username")
    def owner_link(self, conversation: Conversation) -> str:
        url = reverse("admin:auth_user_change", args=[conversation.owner_id])
        return format_html('<a href="{}">{}</a>', url, conversation.owner)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "conversation",
        "role",
        "status",
        "finish_reason",
        "model",
        "total_tokens",
        "total_ms",
        "created_at",
    )
    list_filter = ("role", "status", "finish_reason", "demo", "model")
    search_fields = ("content", "conversation__title", "request_id", "error_code")
    list_select_related = ("conversation",)


class ProviderKeyForm(forms.ModelForm):
    base_url = forms.URLField(
        label="Base URL",
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "vURLField"}),
        initial="https://dashscope.aliyuncs.com/compatible-mode/v1",
        help_text="OpenAI-compatible endpoint, e.g. "
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1 for Singapore keys.",
    )
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
        fields = ("name", "base_url", "api_key", "enabled", "is_default")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("api_key"):
            self.add_error("api_key", "An API key is required for a new entry.")
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


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    form = ProviderKeyForm
    list_display = (
        "name",
        "masked_key",
        "base_url",
        "enabled",
        "is_default",
        "request_count",
        "last_used_at",
    )
    list_filter = ("enabled", "is_default")
    readonly_fields = ("masked_key", "request_count", "last_used_at", "created_at", "updated_at")
    fields = (
        "name",
        "base_url",
        "api_key",
        "masked_key",
        "enabled",
        "is_default",
        "request_count",
        "last_used_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description="Key")
    def masked_key(self, obj: ProviderKey) -> str:
        return obj.masked_key
