"""Which upstream a new generation talks to: the environment key, an admin-managed key, or the
offline demo (the fake upstream's protocol through the real client, in-process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import httpx
from django.conf import settings

from chat.crypto import decrypt_secret
from chat.models import ProviderKey
from chat.upstream import RetryPolicy, UpstreamTarget

DEMO_BASE_URL = "http://offline-demo.invalid/compatible-mode/v1"


@dataclass(frozen=True)
class ResolvedUpstream:
    target: UpstreamTarget
    demo: bool
    provider_key_id: int | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)


@lru_cache(maxsize=1)
def demo_transport() -> httpx.AsyncBaseTransport:
    from chat.fakeupstream.scenarios import Scenario
    from chat.fakeupstream.transport import FakeUpstreamTransport

    return FakeUpstreamTransport(
        Scenario(tokens_per_second=settings.OFFLINE_DEMO_TPS, answer="demo", reasoning_tokens=None)
    )


def _timeouts() -> dict:
    return {
        "connect_timeout": settings.UPSTREAM_CONNECT_TIMEOUT,
        "first_byte_timeout": settings.UPSTREAM_FIRST_BYTE_TIMEOUT,
        "idle_timeout": settings.UPSTREAM_IDLE_TIMEOUT,
        "total_timeout": settings.UPSTREAM_TOTAL_TIMEOUT,
    }


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.UPSTREAM_RETRY_MAX_ATTEMPTS,
        base_delay=settings.UPSTREAM_RETRY_BASE_DELAY,
        max_delay=settings.UPSTREAM_RETRY_MAX_DELAY,
        max_total=settings.UPSTREAM_RETRY_BUDGET,
    )


def _default_provider_key() -> ProviderKey | None:
    return ProviderKey.objects.filter(enabled=True).order_by("-is_default", "id").first()


def demo_mode_active() -> bool:
    return not settings.DASHSCOPE_API_KEY and _default_provider_key() is None


def upstream_resolve() -> ResolvedUpstream:
    """Called once per generation, in a thread (it may hit the database)."""
    if settings.DASHSCOPE_API_KEY:
        target = UpstreamTarget(
            base_url=settings.DASHSCOPE_BASE_URL, api_key=settings.DASHSCOPE_API_KEY, **_timeouts()
        )
        return ResolvedUpstream(target=target, demo=False, retry_policy=retry_policy())
    provider_key = _default_provider_key()
    if provider_key is not None:
        target = UpstreamTarget(
            base_url=provider_key.base_url,
            api_key=decrypt_secret(provider_key.encrypted_key),
            **_timeouts(),
        )
        return ResolvedUpstream(
            target=target,
            demo=False,
            provider_key_id=provider_key.pk,
            retry_policy=retry_policy(),
        )
    target = UpstreamTarget(
        base_url=DEMO_BASE_URL, api_key="offline-demo", transport=demo_transport(), **_timeouts()
    )
    return ResolvedUpstream(target=target, demo=True, retry_policy=retry_policy())
