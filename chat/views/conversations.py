"""The sidebar's pages and its actions on one conversation (rename, pin, archive, restore,
delete), the archive page and deleting everything. Actions are POSTs (CSRF-checked); their
effect reaches every tab through the user's socket group (chat.services.conversations)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat.models import Conversation
from chat.selectors.conversations import BadCursor, Cursor, conversation_page_for_user
from chat.serializers import conversation_to_dict
from chat.services import Refusal
from chat.services.conversations import (
    EmptyTitle,
    TitleTooLong,
    conversation_delete,
    conversation_rename,
    conversation_set_archived,
    conversation_set_pinned,
    conversations_delete_all,
)
from chat.views import conversation_or_404
from chat.views.responses import back_to, refusal, wants_json

REFUSAL_CODES = {EmptyTitle: "empty_title", TitleTooLong: "title_too_long"}


def _cursor(request: HttpRequest) -> Cursor | None:
    text = request.GET.get("after", "")
    return Cursor.decode(text) if text else None


@login_required
@never_cache
@require_GET
def conversation_page(request: HttpRequest) -> JsonResponse:
    """A page of the sidebar (or, with ?archived=1, of the archive) after the cursor."""
    try:
        page = conversation_page_for_user(
            user=request.user, archived=request.GET.get("archived") == "1", after=_cursor(request)
        )
    except BadCursor:
        return refusal("bad_cursor")
    return JsonResponse(
        {
            "conversations": [conversation_to_dict(c) for c in page.conversations],
            "next": page.next_cursor.encode() if page.next_cursor else None,
        }
    )


def _answer(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"conversation": conversation_to_dict(conversation)})
    return back_to(request, reverse("chat:home"))


@login_required
@require_POST
def conversation_rename_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    try:
        conversation_rename(conversation=conversation, title=request.POST.get("title", ""))
    except Refusal as exc:
        return refusal(REFUSAL_CODES[type(exc)], **exc.params)
    return _answer(request, conversation)


@login_required
@require_POST
def conversation_pin_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    conversation_set_pinned(conversation=conversation, pinned=request.POST.get("pinned") == "true")
    return _answer(request, conversation)


@login_required
@require_POST
def conversation_archive_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    archived = request.POST.get("archived") == "true"
    conversation_set_archived(conversation=conversation, archived=archived)
    return _answer(request, conversation)


@login_required
@require_POST
def conversation_delete_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    conversation_delete(conversation=conversation)
    if wants_json(request):
        return JsonResponse({"deleted": conversation_id})
    return back_to(request, reverse("chat:home"))


@login_required
@never_cache
@require_GET
def archive(request: HttpRequest) -> HttpResponse:
    try:
        page = conversation_page_for_user(user=request.user, archived=True, after=_cursor(request))
    except BadCursor:
        return redirect("chat:archive")
    return render(
        request,
        "chat/archive.html",
        {"page": page, "next_cursor": page.next_cursor.encode() if page.next_cursor else ""},
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def delete_all(request: HttpRequest) -> HttpResponse:
    """A page that asks once more, and deletes every conversation of the user on POST."""
    if request.method == "POST":
        conversations_delete_all(user=request.user)
        return redirect("chat:home")
    count = request.user.conversations.count()
    return render(request, "chat/delete_all.html", {"count": count})
