from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from chat import views as chat_views

admin.site.site_header = "minimax-web administration"
admin.site.site_title = "minimax-web admin"

urlpatterns = [
    path("healthz", chat_views.healthz, name="healthz"),
    path(
        "login/",
        chat_views.ChatLoginView.as_view(),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("setup/", chat_views.first_run_setup, name="setup"),
    path("admin/", admin.site.urls),
    path("usage/", include("usage.urls")),
    path("", include("chat.urls")),
]
