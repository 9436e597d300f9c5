from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from chat.models import MODEL_CHOICES, Conversation
from chat.selectors import conversation_get_for_user, conversation_list_for_user
from usage.quota import tightest_budget


def _get_conversation_for_user(request: HttpRequest, conversation_id: int) -> Conversation:
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _chat_page(request: HttpRequest, active: Conversation | None) -> HttpResponse:
    context = {
        "conversations": conversation_list_for_user(user=request.user),
        "active_conversation": active,
        "model_choices": MODEL_CHOICES,
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
    return _chat_page(request, _get_conversation_for_user(request, conversation_id))


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
