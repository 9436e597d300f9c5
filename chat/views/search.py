"""GET /search/?q=…: a page that works without JavaScript, and the same results as JSON for
the sidebar's search box."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from chat.selectors.search import SearchResults, search_for_user
from chat.serializers import iso
from chat.views.responses import wants_json

MAX_QUERY_CHARS = 200


def message_url(conversation_id: int, message_id: int) -> str:
    """The conversation, opened scrolled to the message (static/chat/app.js reads ?m=);
    templates/chat/search.html builds the same address."""
    return f"{reverse('chat:conversation', args=[conversation_id])}?m={message_id}#m-{message_id}"


@login_required
@never_cache
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY_CHARS]
    results = search_for_user(user=request.user, query=query)
    if wants_json(request):
        return JsonResponse(_as_json(results))
    return render(request, "chat/search.html", {"results": results})


def _as_json(results: SearchResults) -> dict:
    return {
        "query": results.query,
        "titles": [
            {
                "conversation_id": hit.conversation_id,
                "title_html": str(hit.title),
                "updated_at": iso(hit.updated_at),
                "url": reverse("chat:conversation", args=[hit.conversation_id]),
            }
            for hit in results.titles
        ],
        "messages": [
            {
                "message_id": hit.message_id,
                "conversation_id": hit.conversation_id,
                "conversation_title": hit.conversation_title,
                "role": hit.role,
                "in_reasoning": hit.in_reasoning,
                "snippet_html": str(hit.snippet),
                "created_at": iso(hit.created_at),
                "url": message_url(hit.conversation_id, hit.message_id),
            }
            for hit in results.messages
        ],
    }
