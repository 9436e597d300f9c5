"""Which upstream a new generation talks to: the environment key, the key pool of the provider
that offers the conversation's model, or the offline demo (the fake upstream's protocol through
the real client, in-process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import httpx
from django.conf import settings

from chat import services
from chat.crypto import decrypt_secret
from chat.db import db_async
from chat.models import DEFAULT_MODEL, Provider, ProviderKey
from chat.providers.health import provider_key_record_verdict
from chat.providers.selection import enabled_providers, keys_to_try, offered_models
from chat.upstream import (
    DASHSCOPE_NATIVE,
    OPENAI_COMPAT,
    Failure,
    KeyPool,
    KeyVerdict,
    RetryPolicy,
    UpstreamTarget,
)

DEMO_BASE_URLS = {
    OPENAI_COMPAT: "http://offline-demo.invalid/compatible-mode/v1",
    DASHSCOPE_NATIVE: "http://offline-demo.invalid/api/v1",
}
# Sources and citation marks, where the protocol returns them (docs/upstream-protocol.md §4).
NATIVE_SEARCH_OPTIONS = {
    "enable_source": True,
    "enable_citation": True,
    "citation_format": "[<number>]",
}


@dataclass(frozen=True)
class ResolvedUpstream:
    pool: KeyPool
    demo: bool
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    send_reasoning: bool = False

    @property
    def target(self) -> UpstreamTarget:
        """The first target of the pool (the only one outside a provider's pool)."""
        return self.pool.targets[0]

    @property
    def protocol(self) -> str:
        return self.target.protocol

    def search_options(self) -> dict:
        return NATIVE_SEARCH_OPTIONS if self.protocol == DASHSCOPE_NATIVE else {}


@lru_cache(maxsize=1)
def demo_transport() -> httpx.AsyncBaseTransport:
    from chat.fakeupstream.scenarios import Scenario
    from chat.fakeupstream.transport import FakeUpstreamTransport

    return FakeUpstreamTransport(
        Scenario(tokens_per_second=settings.OFFLINE_DEMO_TPS, answer="demo", reasoning_tokens=None)
    )


def timeouts() -> dict:
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


def demo_mode_active() -> bool:
    return not settings.DASHSCOPE_API_KEY and not enabled_providers()


def serving_providers() -> list[Provider]:
    """The providers answers come from: none while DASHSCOPE_API_KEY is set, which wins (and
    then needs no query)."""
    return [] if settings.DASHSCOPE_API_KEY else enabled_providers()


def models_on_offer() -> list[str]:
    """What the model picker shows."""
    return offered_models(serving_providers())


def search_sources_available(model: str) -> bool:
    """Whether web search on `model` comes back with its sources: only DashScope's native
    protocol returns them (docs/upstream-protocol.md §4)."""
    if settings.DASHSCOPE_API_KEY:
        return False  # the environment key speaks the OpenAI-compatible protocol
    providers = serving_providers()
    if not providers:
        return settings.OFFLINE_DEMO_PROTOCOL == DASHSCOPE_NATIVE
    provider = next((p for p in providers if model in p.model_names()), None)
    return provider is not None and provider.protocol == DASHSCOPE_NATIVE


def key_target(provider: Provider, provider_key: ProviderKey) -> UpstreamTarget:
    """The key's target: decrypted here, only when a request is about to be built."""
    return UpstreamTarget(
        base_url=provider.base_url,
        api_key=decrypt_secret(provider_key.encrypted_key),
        protocol=provider.protocol,
        key_id=provider_key.pk,
        **timeouts(),
    )


async def record_verdict(
    target: UpstreamTarget, verdict: KeyVerdict, failure: Failure, rest_seconds: float
) -> None:
    if target.key_id is not None:
        await db_async(provider_key_record_verdict)(
            provider_key_id=target.key_id,
            verdict=verdict,
            failure=failure,
            rest_seconds=rest_seconds,
        )


def upstream_resolve(model: str = DEFAULT_MODEL) -> ResolvedUpstream:
    """Called once per generation, in a thread (it hits the database). Raises
    services.ModelUnavailable when no enabled provider (or, without providers, MiniMax on
    DashScope) offers `model`."""
    providers = serving_providers()
    if model not in offered_models(providers):
        raise services.ModelUnavailable(model=model)
    if settings.DASHSCOPE_API_KEY:
        target = UpstreamTarget(
            base_url=settings.DASHSCOPE_BASE_URL, api_key=settings.DASHSCOPE_API_KEY, **timeouts()
        )
        return ResolvedUpstream(KeyPool((target,)), demo=False, retry_policy=retry_policy())
    if providers:
        provider = next(p for p in providers if model in p.model_names())
        targets = [key_target(provider, key) for key in keys_to_try(provider)]
        return ResolvedUpstream(
            KeyPool(targets, on_verdict=record_verdict),
            demo=False,
            retry_policy=retry_policy(),
            send_reasoning=provider.send_reasoning,
        )
    target = UpstreamTarget(
        base_url=DEMO_BASE_URLS[settings.OFFLINE_DEMO_PROTOCOL],
        api_key="offline-demo",
        transport=demo_transport(),
        protocol=settings.OFFLINE_DEMO_PROTOCOL,
        **timeouts(),
    )
    return ResolvedUpstream(KeyPool((target,)), demo=True, retry_policy=retry_policy())
