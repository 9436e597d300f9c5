"""Finding shares: by token for readers, by owner for the conversation's share page."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from chat.models import Conversation, ConversationShare


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_get_by_token(*, token: str) -> ConversationShare | None:
    """A live (unrevoked) share, or None. Looked up by hash: the token itself is not stored."""
    return ConversationShare.objects.filter(
        token_hash=token_hash(token), revoked_at__isnull=True
    ).first()


def share_list_for_conversation(*, conversation: Conversation) -> QuerySet[ConversationShare]:
    return conversation.shares.defer("messages")


def share_get_for_user(*, user: AbstractBaseUser, share_id: int) -> ConversationShare | None:
    return (
        ConversationShare.objects.select_related("conversation")
        .defer("messages")
        .filter(conversation__owner=user, pk=share_id)
        .first()
    )
