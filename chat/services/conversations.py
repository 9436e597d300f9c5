"""What a user does to their conversations from the sidebar: rename, pin, archive, restore,
delete, delete all. Each change commits, then tells all the user's tabs (their sockets share
the user's group), so every open sidebar shows it at once."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from chat.models import Conversation
from chat.protocol.outbound import (
    conversation_deleted_frame,
    conversation_updated_frame,
    conversations_cleared_frame,
)
from chat.services import Refusal
from chat.streaming.groups import group_send, user_group

TITLE_MAX_CHARS = Conversation._meta.get_field("title").max_length


class EmptyTitle(Refusal):
    """A rename to nothing but white space."""


class TitleTooLong(Refusal):
    """A rename past the title column's length."""


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join(title.split())
    if not title:
        raise EmptyTitle
    if len(title) > TITLE_MAX_CHARS:
        raise TitleTooLong(limit=TITLE_MAX_CHARS, length=len(title))
    return _change(conversation, title=title)


def conversation_set_pinned(*, conversation: Conversation, pinned: bool) -> Conversation:
    return _change(conversation, pinned=pinned)


def conversation_set_archived(*, conversation: Conversation, archived: bool) -> Conversation:
    # Archiving unpins: the archive is one flat list, and a restored chat comes back plain.
    return _change(conversation, archived=archived, pinned=False)


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with its messages and shares (a running answer in it ends at its
    next checkpoint, which finds no row to write)."""
    owner_id, conversation_id = conversation.owner_id, conversation.pk
    with transaction.atomic():
        conversation.delete()
        _broadcast_on_commit(owner_id, conversation_deleted_frame(conversation_id=conversation_id))


def conversations_delete_all(*, user: AbstractBaseUser) -> int:
    with transaction.atomic():
        conversations = Conversation.objects.filter(owner=user)
        count = conversations.count()
        conversations.delete()
        _broadcast_on_commit(user.pk, conversations_cleared_frame())
    return count


def _change(conversation: Conversation, **fields: object) -> Conversation:
    """Save the given fields without touching updated_at: organising a chat is not new
    activity in it, so it keeps its place among the dates."""
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
        for name, value in fields.items():
            setattr(conversation, name, value)
        _broadcast_on_commit(
            conversation.owner_id, conversation_updated_frame(conversation=conversation)
        )
    return conversation


def _broadcast_on_commit(user_id: int, frame: dict) -> None:
    group = user_group(user_id)
    transaction.on_commit(lambda: async_to_sync(group_send)(group, frame))
