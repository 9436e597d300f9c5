"""Providers and keys for tests: a provider of the fake upstream on either protocol, and keys
stored the way the admin stores them (encrypted)."""

from __future__ import annotations

from chat import services
from chat.fakeupstream.testing import RunningFake
from chat.models import Provider, ProviderKey


def fake_provider(fake: RunningFake, protocol: str, name: str = "Fake DashScope") -> Provider:
    base = fake.native_url if protocol == "dashscope_native" else fake.url
    return Provider.objects.create(
        name=name, protocol=protocol, endpoint=Provider.Endpoint.CUSTOM, custom_base_url=base
    )


def add_key(provider: Provider, name: str, secret: str, priority: int = 1) -> ProviderKey:
    key = ProviderKey(provider=provider, name=name, priority=priority)
    services.provider_key_set(provider_key=key, plaintext=secret)
    key.save()
    return key
