"""How the history views answer: JSON for the page's scripts, a redirect for plain forms (the
pages work without JavaScript), and refusals as a code plus words from one table."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from chat.protocol.texts import request_text


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def refusal(code: str, status: int = 400, **params: object) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": request_text(code, params)}}, status=status
    )


def back_to(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the form's `next` when it is a page of this site, else to `fallback`."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe else fallback)
