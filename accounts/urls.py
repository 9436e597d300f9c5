from django.urls import path

from accounts import oidc, views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/pending/", views.signup_pending, name="signup_pending"),
    path("invite/<str:token>/", views.invite_signup, name="invite"),
    path("invite/<str:token>/sso/", views.invite_sso, name="invite_sso"),
    path("account/", views.account, name="account"),
    path("account/password/", views.AccountPasswordChangeView.as_view(), name="password_change"),
    path(
        "account/sessions/sign-out-others/",
        views.sessions_sign_out_others,
        name="sessions_sign_out_others",
    ),
    path(
        "account/sessions/<int:record_id>/sign-out/",
        views.session_sign_out,
        name="session_sign_out",
    ),
]

# mozilla-django-oidc's views, under the names it reverses itself (outside this namespace).
oidc_urlpatterns = [
    path("oidc/authenticate/", oidc.authenticate, name="oidc_authentication_init"),
    path("oidc/callback/", oidc.callback, name="oidc_authentication_callback"),
]
