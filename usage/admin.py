"""Usage, prices and quotas in Django admin: read-only usage records, the usage report with its
chart and CSV, prices, quotas, and resetting a user's counters."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from usage.chart import stacked_bar_chart
from usage.forms import ReportForm
from usage.models import ModelPrice, Quota, QuotaReset, UsageRecord
from usage.quota import budgets_for_user, limits_for_user
from usage.reports import usage_report
from usage.services import quota_counters_reset
from usage.table import report_csv, report_header, row_cells


def _user_change_link(user: object) -> str:
    if user is None:
        return "—"
    url = reverse("admin:auth_user_change", args=[user.pk])
    return format_html('<a href="{}">{}</a>', url, user.get_username())


def usage_list_url(**filters: object) -> str:
    return reverse("admin:usage_usagerecord_changelist") + "?" + urlencode(filters)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = (
        "model",
        "currency",
        "input_per_million",
        "cached_input_per_million",
        "output_per_million",
        "updated_at",
    )
    list_filter = ("currency",)
    search_fields = ("model",)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    change_list_template = "admin/usage/usagerecord/change_list.html"
    list_display = (
        "started_at",
        "user_link",
        "model",
        "attempt",
        "outcome",
        "error_code",
        "prompt",
        "completion",
        "reasoning",
        "cached",
        "cost_display",
        "provider_key",
        "message_link",
    )
    list_filter = ("outcome", "model", "demo", "estimated", "provider_key", "started_at")
    search_fields = ("user__username", "error_code", "model")
    list_select_related = ("user", "provider_key")
    date_hierarchy = "started_at"
    readonly_fields = [field.name for field in UsageRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="User", ordering="user__username")
    def user_link(self, record: UsageRecord) -> str:
        return _user_change_link(record.user)

    @admin.display(description="Prompt", ordering="prompt_tokens")
    def prompt(self, record: UsageRecord) -> str:
        return f"{record.prompt_tokens:,}"

    @admin.display(description="Completion", ordering="completion_tokens")
    def completion(self, record: UsageRecord) -> str:
        approximate = "≈ " if record.estimated else ""
        return f"{approximate}{record.completion_tokens:,}"

    @admin.display(description="Reasoning", ordering="reasoning_tokens")
    def reasoning(self, record: UsageRecord) -> str:
        return f"{record.reasoning_tokens:,}"

    @admin.display(description="Cached", ordering="cached_tokens")
    def cached(self, record: UsageRecord) -> str:
        return f"{record.cached_tokens:,}"

    @admin.display(description="Cost", ordering="cost")
    def cost_display(self, record: UsageRecord) -> str:
        return f"{record.cost:.6f} {record.currency}" if record.currency else "—"

    @admin.display(description="Answer")
    def message_link(self, record: UsageRecord) -> str:
        if record.message_id is None:
            return "—"
        url = reverse("admin:chat_message_change", args=[record.message_id])
        return format_html('<a href="{}">#{}</a>', url, record.message_id)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("report/", wrap(self.report_view), name="usage_report"),
            path("user/<int:user_id>/", wrap(self.user_view), name="usage_user"),
            path("user/<int:user_id>/reset/", wrap(self.reset_view), name="usage_reset_counters"),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ReportForm.from_query(request.GET)
        report = None
        if form.is_valid():
            report = usage_report(**form.cleaned_data)
            if request.GET.get("format") == "csv":
                return _csv_response(report)
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage report",
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "header": report_header(report) if report else [],
            "rows": [_report_line(report, row) for row in report.rows] if report else [],
            "total": row_cells(report, report.total) if report else [],
            "chart": stacked_bar_chart(report.rows, day_labels=report.group_by == "day")
            if report
            else None,
            "csv_query": urlencode({**form.data, "format": "csv"}),
            "time_zone": settings.TIME_ZONE,
        }
        return TemplateResponse(request, "admin/usage/report.html", context)

    def user_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        user = get_object_or_404(get_user_model(), pk=user_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Usage and quota of {user.get_username()}",
            "opts": self.model._meta,
            "subject": user,
            "limits": limits_for_user(user_id=user.pk),
            "budgets": budgets_for_user(user_id=user.pk),
            "own_quota": Quota.objects.filter(user=user).first(),
            "groups": user.groups.all(),
            "resets": QuotaReset.objects.filter(user=user)[:5],
            "records_url": usage_list_url(user__id__exact=user.pk),
            "can_reset": request.user.has_perm("usage.add_quotareset"),
        }
        return TemplateResponse(request, "admin/usage/user.html", context)

    def reset_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("usage.add_quotareset"):
            raise PermissionDenied
        user = get_object_or_404(get_user_model(), pk=user_id)
        quota_counters_reset(user=user, reset_by=request.user)
        messages.success(request, f"The usage counters of {user.get_username()} start again now.")
        return redirect("admin:usage_user", user_id=user.pk)


def _report_line(report: object, row: object) -> dict:
    """A table row of the report page: its cells and where its label links to."""
    return {"cells": row_cells(report, row), "link": _row_link(report.group_by, row)}


def _row_link(group_by: str, row: object) -> str | None:
    if row.key is None:
        return None
    if group_by == "user":
        return reverse("admin:usage_user", args=[row.key])
    if group_by == "key":
        return usage_list_url(provider_key__id__exact=row.key)
    if group_by == "model":
        return usage_list_url(model__exact=row.key)
    day = row.key.isoformat()
    return usage_list_url(started_at__date=day)


def _csv_response(report: object) -> HttpResponse:
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    name = f"usage-by-{report.group_by}-{report.start}-{report.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = (
        "applies_to",
        "scope",
        "daily",
        "monthly",
        "requests_per_minute",
        "usage_link",
        "updated_at",
    )
    list_filter = ("scope",)
    search_fields = ("user__username", "group__name")
    list_select_related = ("user", "group")
    raw_id_fields = ("user",)
    fields = ("scope", "group", "user", "daily_tokens", "monthly_tokens", "requests_per_minute")

    @admin.display(description="Applies to")
    def applies_to(self, quota: Quota) -> str:
        return str(quota)

    @admin.display(description="Tokens a day", ordering="daily_tokens")
    def daily(self, quota: Quota) -> str:
        return _limit_text(quota.daily_tokens)

    @admin.display(description="Tokens a month", ordering="monthly_tokens")
    def monthly(self, quota: Quota) -> str:
        return _limit_text(quota.monthly_tokens)

    @admin.display(description="Usage")
    def usage_link(self, quota: Quota) -> str:
        if quota.user_id is not None:
            url = reverse("admin:usage_user", args=[quota.user_id])
            return format_html('<a href="{}">Usage and counters</a>', url)
        report = reverse("admin:usage_report") + "?group_by=user"
        return format_html('<a href="{}">Report by user</a>', report)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # "Add a quota for this user" links from the user's usage page pass ?scope=user&user=N.
        return {key: request.GET[key] for key in ("scope", "user", "group") if key in request.GET}


def _limit_text(value: int | None) -> str:
    return "inherits" if value is None else f"{value:,}"


@admin.register(QuotaReset)
class QuotaResetAdmin(admin.ModelAdmin):
    list_display = ("user", "reset_by", "created_at")
    list_filter = ("created_at",)
    search_fields = ("user__username", "reset_by__username")
    list_select_related = ("user", "reset_by")
    readonly_fields = ("user", "reset_by", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # through "Reset counters" on a user's usage page, which records who

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
