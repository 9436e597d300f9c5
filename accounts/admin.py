"""Admin for people and how they get in: users (with their standing, identities, sessions and
conversations), the approval queue, invites and the sign-up policy. Every custom action is
written to the admin's history (LogEntry), as Django's own actions are."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts import services
from accounts.forms import TemporaryPasswordForm
from accounts.models import (
    AccountStatus,
    ExternalIdentity,
    Invite,
    PendingUser,
    SessionRecord,
    SignupPolicy,
)
from accounts.selectors import signup_policy_get

User = get_user_model()


def _user_link(user: object) -> str:
    if user is None:
        return "—"
    url = reverse("admin:auth_user_change", args=[user.pk])
    return format_html('<a href="{}">{}</a>', url, user.get_username())


class AccountStatusInline(admin.StackedInline):
    model = AccountStatus
    fk_name = "user"
    can_delete = False
    fields = ("approval", "approved_at", "approved_by", "must_change_password")
    readonly_fields = ("approval", "approved_at", "approved_by")
    verbose_name_plural = "Standing"


class ExternalIdentityInline(admin.TabularInline):
    model = ExternalIdentity
    extra = 0
    fields = ("issuer", "subject", "created_at", "last_login_at")
    readonly_fields = fields
    verbose_name_plural = "Single sign-on identities"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SessionRecordInline(admin.TabularInline):
    model = SessionRecord
    extra = 0
    fields = ("created_at", "method", "ip_address", "device")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Sign-ins (use the action “Sign out everywhere” to end them)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SignInMethodFilter(admin.SimpleListFilter):
    title = "sign-in"
    parameter_name = "sign_in"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("sso", "Single sign-on"), ("password", "Password only")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "sso":
            return queryset.filter(external_identities__isnull=False).distinct()
        if self.value() == "password":
            return queryset.filter(external_identities__isnull=True)
        return queryset


@admin.action(description="Approve selected accounts")
def approve(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    approved = services.users_approve(users=list(queryset), approved_by=request.user)
    for user in approved:
        modeladmin.log_change(request, user, "Approved the account.")
    modeladmin.message_user(request, f"Approved {len(approved)} account(s).", messages.SUCCESS)


@admin.action(description="Deactivate selected accounts (closes their open chats at once)")
def deactivate(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    count = 0
    for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
        user.is_active = False
        user.save(update_fields=["is_active"])
        modeladmin.log_change(request, user, "Deactivated the account.")
        count += 1
    modeladmin.message_user(request, f"Deactivated {count} account(s).", messages.SUCCESS)


@admin.action(description="Sign out everywhere (ends every session and open chat)")
def sign_out_everywhere(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    total = 0
    for user in queryset:
        ended = services.sessions_end(user=user)
        modeladmin.log_change(request, user, f"Signed out of {ended} session(s).")
        total += ended
    modeladmin.message_user(request, f"Ended {total} session(s).", messages.SUCCESS)


admin.site.unregister(User)


@admin.register(User)
class AccountUserAdmin(UserAdmin):
    change_password_form = TemporaryPasswordForm
    list_display = (
        "username",
        "email",
        "full_name",
        "is_active",
        "standing",
        "is_staff",
        "sign_in",
        "conversations_link",
        "last_login",
        "date_joined",
    )
    list_filter = (
        "is_active",
        "account_status__approval",
        "account_status__must_change_password",
        SignInMethodFilter,
        "is_staff",
        "is_superuser",
        "groups",
        "date_joined",
        "last_login",
    )
    search_fields = ("username", "email", "first_name", "last_name", "external_identities__subject")
    readonly_fields = ("activity",)
    actions = [approve, deactivate, sign_out_everywhere]
    inlines = [AccountStatusInline, ExternalIdentityInline, SessionRecordInline]
    fieldsets = (*UserAdmin.fieldsets, ("Activity", {"fields": ("activity",)}))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("account_status")
            .annotate(
                conversation_count=Count("conversations", distinct=True),
                identity_count=Count("external_identities", distinct=True),
            )
        )

    def get_inlines(self, request: HttpRequest, obj: object) -> list:
        return self.inlines if obj is not None else []

    @admin.display(description="Name", ordering="first_name")
    def full_name(self, user: object) -> str:
        return user.get_full_name() or "—"

    @admin.display(description="Standing", ordering="account_status__approval")
    def standing(self, user: object) -> str:
        status = getattr(user, "account_status", None)
        if status is None:
            return "—"
        if status.approval == AccountStatus.Approval.PENDING:
            return "Waiting for approval"
        return "Must change password" if status.must_change_password else "—"

    @admin.display(description="Sign-in", ordering="identity_count")
    def sign_in(self, user: object) -> str:
        return "Single sign-on" if user.identity_count else "Password"

    @admin.display(description="Conversations", ordering="conversation_count")
    def conversations_link(self, user: object) -> str:
        url = reverse("admin:chat_conversation_changelist") + f"?owner__id__exact={user.pk}"
        return format_html('<a href="{}">{}</a>', url, user.conversation_count)

    @admin.display(description="Links")
    def activity(self, user: object) -> str:
        # Other apps' pages about one user (conversations now; usage and quotas later) are
        # listed here, one link each.
        links = [
            (
                reverse("admin:chat_conversation_changelist") + f"?owner__id__exact={user.pk}",
                f"Conversations ({user.conversations.count()})",
            ),
            (
                reverse("admin:accounts_invite_changelist") + f"?created_by__id__exact={user.pk}",
                "Invites created",
            ),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)


@admin.register(PendingUser)
class ApprovalQueueAdmin(admin.ModelAdmin):
    list_display = ("username", "email", "full_name", "date_joined")
    search_fields = ("username", "email", "first_name", "last_name")
    list_filter = ("date_joined",)
    ordering = ("date_joined",)
    actions = [approve]
    fields = ("username", "email", "first_name", "last_name", "date_joined")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .filter(account_status__approval=AccountStatus.Approval.PENDING)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Viewing and the approve action; the account itself is edited on the user page.
        return request.user.has_perm("auth.change_user")

    @admin.display(description="Name")
    def full_name(self, user: object) -> str:
        return user.get_full_name() or "—"


class InviteStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("open", "Usable"), ("used", "Used"), ("expired", "Expired unused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "open":
            return queryset.filter(used_at__isnull=True, expires_at__gt=now)
        if self.value() == "used":
            return queryset.filter(used_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(used_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.action(description="Revoke selected invites (expire them now)")
def revoke(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    now = timezone.now()
    revoked = list(queryset.filter(used_at__isnull=True, expires_at__gt=now))
    for invite in revoked:
        invite.expires_at = now
        invite.save(update_fields=["expires_at"])
        modeladmin.log_change(request, invite, "Revoked the invite.")
    modeladmin.message_user(request, f"Revoked {len(revoked)} invite(s).", messages.SUCCESS)


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "state",
        "created_by_link",
        "created_at",
        "expires_at",
        "used_by_link",
    )
    list_filter = (InviteStateFilter, "created_at", "expires_at")
    search_fields = ("note", "used_by__username", "created_by__username")
    list_select_related = ("created_by", "used_by")
    date_hierarchy = "created_at"
    actions = [revoke]
    fields = ("note", "expires_at", "state", "created_by_link", "used_by_link", "used_at")
    readonly_fields = ("state", "created_by_link", "used_by_link", "used_at")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        days = signup_policy_get().invite_valid_days
        return {"expires_at": timezone.now() + timedelta(days=days)}

    def save_model(self, request: HttpRequest, obj: Invite, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token = services.invite_prepare(invite=obj, created_by=request.user)
        super().save_model(request, obj, form, change)
        link = request.build_absolute_uri(reverse("accounts:invite", args=[token]))
        self.message_user(
            request,
            format_html(
                "Invite link — copy it now, it is shown only this once: "
                '<code id="invite-link">{}</code>',
                link,
            ),
            messages.SUCCESS,
        )

    @admin.display(description="State")
    def state(self, invite: Invite) -> str:
        if invite.used_at:
            return "Used"
        if invite.expires_at and invite.expires_at <= timezone.now():
            return "Expired"
        if signup_policy_get().mode != SignupPolicy.Mode.INVITE:
            return "Usable once invites are on (sign-up policy)"
        return "Usable"

    @admin.display(description="Created by", ordering="created_by__username")
    def created_by_link(self, invite: Invite) -> str:
        return _user_link(invite.created_by)

    @admin.display(description="Used by", ordering="used_by__username")
    def used_by_link(self, invite: Invite) -> str:
        return _user_link(invite.used_by)


@admin.register(SignupPolicy)
class SignupPolicyAdmin(admin.ModelAdmin):
    fields = ("mode", "invite_valid_days", "sso_accounts_approved", "updated_at")
    readonly_fields = ("updated_at",)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        # One row: the list would be a page with one link on it.
        policy = signup_policy_get()
        return HttpResponseRedirect(reverse("admin:accounts_signuppolicy_change", args=[policy.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
