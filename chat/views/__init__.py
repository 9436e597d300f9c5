from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from chat.models import Conversation
from chat.selectors import conversation_get_for_user
from chat.selectors.conversations import conversation_page_for_user
from chat.upstream_config import models_on_offer, search_sources_available
from usage.quota import tightest_budget


def conversation_or_404(request: HttpRequest, conversation_id: int) -> Conversation:
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


# Enough to fill a tall sidebar; the pages after it hold PAGE_SIZE.
FIRST_PAGE_SIZE = 30


def _chat_page(request: HttpRequest, active: Conversation | None) -> HttpResponse:
    models = models_on_offer()
    # One page, not the whole history: the rest comes as the sidebar scrolls
    # (static/chat/ui/sidebar.js), so the page stays small and its queries constant.
    first_page = conversation_page_for_user(user=request.user, size=FIRST_PAGE_SIZE)
    context = {
        "conversations": first_page.conversations,
        "next_cursor": first_page.next_cursor.encode() if first_page.next_cursor else "",
        "active_conversation": active,
        "model_choices": [(name, name) for name in models],
        "search_sources": search_sources_available(active.model if active else models[0]),
        "source_icons": settings.SEARCH_SOURCE_ICONS,
        "max_message_chars": settings.MAX_MESSAGE_CHARS,
        "tightest_budget": tightest_budget(user_id=request.user.pk),
    }
    return render(request, "chat/chat.html", context)


@login_required
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    return _chat_page(request, None)


@login_required
@never_cache
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _chat_page(request, conversation_or_404(request, conversation_id))


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
