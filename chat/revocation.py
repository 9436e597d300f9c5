"""Sockets end with the session that opened them.

A websocket is authenticated once, at connect. So whenever a session may have stopped being
valid — it was deleted (logout, an admin removing it, a cycled key), or its user was deactivated
or changed password — every socket of that user is told to re-check its own session
(`auth.check` on the user's group), and closes if it is no longer valid. Each command re-checks
too, so nothing relies on the broadcast alone. A deactivated user's running answers are stopped
through the stop flag their owning process polls (chat.streaming, every checkpoint).
"""

from __future__ import annotations

from types import SimpleNamespace

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.module_loading import import_string

from chat import services
from chat.streaming.groups import user_group

AUTH_CHECK_EVENT = {"type": "auth.check"}


def session_is_valid(*, session_key: str | None, user_id: int) -> bool:
    """Whether the session still authenticates this user, by Django's own rules (the session
    exists and is unexpired, the user is active, the password hash it was made with holds)."""
    if not session_key:
        return False
    session = _session_store_class()(session_key)
    user = auth.get_user(SimpleNamespace(session=session))
    return user.is_authenticated and user.pk == user_id


def _session_store_class() -> type[SessionBase]:
    from django.conf import settings

    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")


def _broadcast_auth_check(user_id: int) -> None:
    # After commit: a socket that re-checks must see the change (a deleted session row, a
    # new password hash), not the state before it.
    group = user_group(user_id)
    transaction.on_commit(
        lambda: async_to_sync(get_channel_layer().group_send)(group, AUTH_CHECK_EVENT)
    )


@receiver(post_delete, sender=Session)
def _session_deleted(sender: type[Session], instance: Session, **kwargs: object) -> None:
    user_id = instance.get_decoded().get(auth.SESSION_KEY)
    if user_id is not None:
        _broadcast_auth_check(int(user_id))


@receiver(user_logged_out)
def _logged_out(sender: object, request: object, user: object, **kwargs: object) -> None:
    # Covers session engines that do not store rows (and so send no post_delete).
    if user is not None and user.pk is not None:
        _broadcast_auth_check(user.pk)


@receiver(post_save, sender=get_user_model())
def _user_saved(sender: type, instance: object, created: bool, **kwargs: object) -> None:
    update_fields = kwargs.get("update_fields")
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    if not instance.is_active:
        services.user_generations_request_stop(user_id=instance.pk)
    _broadcast_auth_check(instance.pk)
