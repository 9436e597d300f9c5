"""The websocket side of accounts: a session still on a temporary password is not let in."""

from __future__ import annotations

from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from accounts.signals import MUST_CHANGE_PASSWORD


class PasswordChangeRequiredGate(BaseMiddleware):
    """Inside channels' AuthMiddlewareStack: the socket of such a session counts as signed
    out, so the consumer closes it as unauthenticated."""

    async def __call__(self, scope: dict, receive: object, send: object) -> object:
        session = scope.get("session")
        if session is not None and await session.aget(MUST_CHANGE_PASSWORD):
            scope = {**scope, "user": AnonymousUser()}
        return await super().__call__(scope, receive, send)
