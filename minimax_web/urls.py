from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as accounts_views
from accounts.urls import oidc_urlpatterns
from chat import views as chat_views

admin.site.site_header = "minimax-web administration"
admin.site.site_title = "minimax-web admin"

urlpatterns = [
    path("healthz", chat_views.healthz, name="healthz"),
    path("login/", accounts_views.ChatLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("setup/", accounts_views.first_run_setup, name="setup"),
    # One sign-in page for everyone: it applies throttling, the temporary-password rule and
    # single sign-on, which the admin's own login form would bypass.
    path("admin/login/", accounts_views.ChatLoginView.as_view()),
    path("admin/", admin.site.urls),
    *oidc_urlpatterns,
    path("usage/", include("usage.urls")),
    path("", include("accounts.urls")),
    path("", include("chat.urls")),
]
