from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from chat.models import Conversation, Message
from chat.providers import admin as providers_admin  # noqa: F401  (registers the provider admin)


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
