"""What the upstream said about a key, recorded where every process sees it (the key's row)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from chat.models import ProviderKey
from chat.upstream import Failure, KeyVerdict

MAX_MESSAGE_CHARS = 500


def provider_key_record_verdict(
    *, provider_key_id: int, verdict: KeyVerdict, failure: Failure, rest_seconds: float
) -> None:
    """Mark the key unhealthy (until an admin re-enables it) or resting (until the wait ends)."""
    keys = ProviderKey.objects.filter(pk=provider_key_id)
    now = timezone.now()
    if verdict is KeyVerdict.UNHEALTHY:
        keys.update(
            unhealthy_code=failure.code[:100],
            unhealthy_kind=failure.kind[:40],
            unhealthy_message=failure.upstream_message[:MAX_MESSAGE_CHARS],
            unhealthy_since=now,
        )
    else:
        keys.update(resting_until=now + timedelta(seconds=max(rest_seconds, 1.0)))


def provider_keys_reenable(*, provider_key_ids: list[int]) -> int:
    """Clear the health marks: the keys are tried again from the next request."""
    return ProviderKey.objects.filter(pk__in=provider_key_ids).update(
        unhealthy_code="",
        unhealthy_kind="",
        unhealthy_message="",
        unhealthy_since=None,
        resting_until=None,
    )


def provider_key_record_use(*, provider_key_id: int) -> None:
    ProviderKey.objects.filter(pk=provider_key_id).update(
        request_count=F("request_count") + 1, last_used_at=timezone.now()
    )
