"""Read-only links to a snapshot of a conversation. The link's token is shown to its owner
once; only its SHA-256 is stored, so neither the database nor its backups can open a share.
Signed-in users of this instance may open a link; its owner may revoke it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.utils import timezone

from chat.models import Conversation, ConversationShare, Message
from chat.selectors.sharing import token_hash
from chat.serializers import iso

TOKEN_BYTES = 32


@dataclass(frozen=True)
class NewShare:
    share: ConversationShare
    token: str


def share_create(*, conversation: Conversation, include_reasoning: bool) -> NewShare:
    """Copy the conversation's finished messages into a new share with a new token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = ConversationShare.objects.create(
        conversation=conversation,
        token_hash=token_hash(token),
        title=conversation.title,
        include_reasoning=include_reasoning,
        messages=[
            _snapshot(message, include_reasoning)
            for message in conversation.messages.exclude(status=Message.Status.STREAMING)
        ],
    )
    return NewShare(share=share, token=token)


def share_revoke(*, share: ConversationShare) -> None:
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])


def _snapshot(message: Message, include_reasoning: bool) -> dict:
    return {
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning if include_reasoning else "",
        "model": message.model,
        "status": message.status,
        "created_at": iso(message.created_at),
    }
