"""Sign-in, first-run setup, sign-up (invite or approval), and the user's own account page:
password and sessions. Thin: the rules live in accounts.services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import SignupForm
from accounts.models import SignupPolicy
from accounts.oidc import INVITE_SESSION_KEY
from accounts.selectors import invite_get_usable, signup_policy_get, user_live_sessions
from accounts.signals import MUST_CHANGE_PASSWORD
from chat.protocol.texts import account_text

PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _no_users_yet() -> bool:
    return not get_user_model().objects.exists()


def _sign_in_context() -> dict:
    return {
        "local_passwords": settings.LOCAL_PASSWORDS,
        "sso_enabled": settings.OIDC_ENABLED,
        "sso_name": settings.OIDC_PROVIDER_NAME,
    }


class ChatLoginView(LoginView):
    redirect_authenticated_user = True

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method == "POST" and not settings.LOCAL_PASSWORDS:
            return HttpResponseNotAllowed(["GET"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: object) -> dict:
        return {
            **super().get_context_data(**kwargs),
            **_sign_in_context(),
            "first_run": _no_users_yet(),
            "signup_open": signup_policy_get().mode == SignupPolicy.Mode.APPROVAL,
        }


@never_cache
def first_run_setup(request: HttpRequest) -> HttpResponse:
    """Create the first account (an administrator). Gone as soon as any user exists, so it
    cannot be used to add accounts later. Without local passwords the first single-sign-on
    account becomes the administrator instead (accounts.services)."""
    if not _no_users_yet() or not settings.LOCAL_PASSWORDS:
        return redirect("login")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save(commit=False)
        user.is_staff = True
        user.is_superuser = True
        user.save()
        login(request, user, backend=PASSWORD_BACKEND)
        return redirect("chat:home")
    return render(request, "accounts/setup.html", {"form": form})


@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up with approval: the account is created inactive and waits in the queue."""
    if signup_policy_get().mode != SignupPolicy.Mode.APPROVAL:
        raise Http404("Sign-up is not open")
    form = SignupForm(request.POST or None) if settings.LOCAL_PASSWORDS else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            services.signup_for_approval(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=form.cleaned_data["email"],
            )
        except services.SignupRefused as refusal:
            form.add_error(None, account_text(refusal.code))
        else:
            return redirect("accounts:signup_pending")
    context = {"form": form, **_sign_in_context()}
    return render(request, "accounts/signup.html", context)


def signup_pending(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_pending.html")


@never_cache
def invite_signup(request: HttpRequest, token: str) -> HttpResponse:
    """Create an account with a one-time invite link."""
    invites_on = signup_policy_get().mode == SignupPolicy.Mode.INVITE
    if not invites_on or invite_get_usable(token=token) is None:
        return render(request, "accounts/invite_invalid.html", status=404)
    form = SignupForm(request.POST or None) if settings.LOCAL_PASSWORDS else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            user = services.signup_with_invite(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=form.cleaned_data["email"],
            )
        except services.SignupRefused:
            return render(request, "accounts/invite_invalid.html", status=404)
        login(request, user, backend=PASSWORD_BACKEND)
        return redirect("chat:home")
    context = {"form": form, "token": token, **_sign_in_context()}
    return render(request, "accounts/invite.html", context)


@require_POST
def invite_sso(request: HttpRequest, token: str) -> HttpResponse:
    """Redeem the invite with single sign-on: remembered in the session until the provider
    sends the person back (accounts.oidc)."""
    if not settings.OIDC_ENABLED or invite_get_usable(token=token) is None:
        raise Http404("No such invite")
    request.session[INVITE_SESSION_KEY] = token
    return redirect("oidc_authentication_init")


@login_required
@never_cache
def account(request: HttpRequest) -> HttpResponse:
    sessions = user_live_sessions(user=request.user)
    context = {
        "sessions": sessions,
        "current_session_key": request.session.session_key,
        "can_change_password": settings.LOCAL_PASSWORDS and request.user.has_usable_password(),
        "other_sessions": sum(
            1 for record in sessions if record.session_key != request.session.session_key
        ),
    }
    return render(request, "accounts/account.html", context)


@login_required
@require_POST
def sessions_sign_out_others(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_end(user=request.user, keep_session_key=request.session.session_key)
    messages.success(request, account_text("sessions_ended", {"count": ended}))
    return redirect("accounts:account")


@login_required
@require_POST
def session_sign_out(request: HttpRequest, record_id: int) -> HttpResponse:
    if not services.session_end_one(user=request.user, record_id=record_id):
        raise Http404("No such session")
    messages.success(request, account_text("sessions_ended", {"count": 1}))
    return redirect("accounts:account")


class AccountPasswordChangeView(PasswordChangeView):
    """Change one's own password; also the page a temporary password leads to. Other
    sessions end (their password hash no longer holds), this one stays."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not settings.LOCAL_PASSWORDS or (
            request.user.is_authenticated and not request.user.has_usable_password()
        ):
            raise Http404("Passwords are managed by single sign-on")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: object) -> HttpResponse:
        response = super().form_valid(form)
        services.user_password_changed(user=self.request.user)
        self.request.session.pop(MUST_CHANGE_PASSWORD, None)
        messages.success(self.request, account_text("password_changed"))
        return response

    def get_context_data(self, **kwargs: object) -> dict:
        forced = bool(self.request.session.get(MUST_CHANGE_PASSWORD))
        return {**super().get_context_data(**kwargs), "forced": forced}
