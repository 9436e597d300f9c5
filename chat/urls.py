from django.urls import path

from chat import views
from chat.views import conversations, search, sharing

app_name = "chat"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("conversations/", conversations.conversation_page, name="conversation_page"),
    path(
        "c/<int:conversation_id>/rename/",
        conversations.conversation_rename_view,
        name="conversation_rename",
    ),
    path(
        "c/<int:conversation_id>/pin/", conversations.conversation_pin_view, name="conversation_pin"
    ),
    path(
        "c/<int:conversation_id>/archive/",
        conversations.conversation_archive_view,
        name="conversation_archive",
    ),
    path(
        "c/<int:conversation_id>/delete/",
        conversations.conversation_delete_view,
        name="conversation_delete",
    ),
    path("archive/", conversations.archive, name="archive"),
    path("conversations/delete-all/", conversations.delete_all, name="delete_all"),
    path("search/", search.search, name="search"),
    path("c/<int:conversation_id>/share/", sharing.share_manage, name="share"),
    path("shares/<int:share_id>/revoke/", sharing.share_revoke_view, name="share_revoke"),
    path("s/<str:token>/", sharing.shared, name="shared"),
]
