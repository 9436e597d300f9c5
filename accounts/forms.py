"""Forms of the account pages and of the admin's temporary password."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminPasswordChangeForm, UserCreationForm

from accounts import services


class SignupForm(UserCreationForm):
    """A new account's name, optional e-mail address and password."""

    email = forms.EmailField(
        required=False, help_text="Optional. Only administrators see it.", label="E-mail"
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class TemporaryPasswordForm(AdminPasswordChangeForm):
    """The admin's password form, with the choice to make the new password temporary."""

    must_change = forms.BooleanField(
        label="Temporary: the user must choose a new password at their next sign-in",
        required=False,
        initial=True,
    )

    def save(self, commit: bool = True) -> object:
        user = super().save(commit=commit)
        if commit and self.cleaned_data.get("must_change") and user.has_usable_password():
            services.user_require_password_change(user=user)
        return user
