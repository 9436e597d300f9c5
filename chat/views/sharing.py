"""Sharing a conversation: the owner's page to make and revoke links, and the read-only page a
link opens for any signed-in user of this instance."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from chat.protocol.texts import request_text
from chat.selectors.sharing import (
    share_get_by_token,
    share_get_for_user,
    share_list_for_conversation,
)
from chat.services.sharing import share_create, share_revoke
from chat.views import conversation_or_404


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def share_manage(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET: the conversation's links. POST: a new link, whose address is shown this once."""
    conversation = conversation_or_404(request, conversation_id)
    new_link = ""
    if request.method == "POST":
        include_reasoning = request.POST.get("include_reasoning") == "on"
        created = share_create(conversation=conversation, include_reasoning=include_reasoning)
        new_link = request.build_absolute_uri(reverse("chat:shared", args=[created.token]))
    context = {
        "conversation": conversation,
        "shares": share_list_for_conversation(conversation=conversation),
        "new_link": new_link,
    }
    return render(request, "chat/share_manage.html", context)


@login_required
@require_POST
def share_revoke_view(request: HttpRequest, share_id: int) -> HttpResponse:
    share = share_get_for_user(user=request.user, share_id=share_id)
    if share is None:
        return render(request, "404.html", {"message": request_text("share_not_found")}, status=404)
    share_revoke(share=share)
    return redirect("chat:share", conversation_id=share.conversation_id)


@login_required
@never_cache
def shared(request: HttpRequest, token: str) -> HttpResponse:
    share = share_get_by_token(token=token)
    if share is None:
        return render(request, "404.html", {"message": request_text("share_not_found")}, status=404)
    return render(request, "chat/shared.html", {"share": share})
