"""Content-Security-Policy header (Django 5.2 has no built-in CSP support)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# script-src 'self': no inline scripts or handlers anywhere. img-src has no remote hosts so
# markdown images from model output cannot phone home. connect-src 'self' covers ws(s) to the
# same origin in current browsers.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _sign_on_origin() -> str:
    """The identity provider's origin when single sign-on is on, else ''."""
    if not settings.OIDC_ENABLED:
        return ""
    endpoint = urlsplit(settings.OIDC_OP_AUTHORIZATION_ENDPOINT)
    return f"{endpoint.scheme}://{endpoint.netloc}"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django admin uses inline styles; relax style-src there only.
        policy = CONTENT_SECURITY_POLICY
        if request.path.startswith("/admin/"):
            policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        if settings.SEARCH_SOURCE_ICONS:
            # Site icons of web search sources (markdown.js still blocks every remote image).
            policy = policy.replace("img-src 'self' data:", "img-src 'self' data: https:")
        provider = _sign_on_origin()
        if provider:
            # Browsers apply form-action to a form's redirects too: the single-sign-on buttons
            # are forms whose answer is a redirect to the identity provider.
            policy = policy.replace("form-action 'self'", f"form-action 'self' {provider}")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
