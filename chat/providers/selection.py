"""Which provider serves a model, and which of its keys to try, in which order."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from chat.models import MODEL_CHOICES, Provider, ProviderKey


def _usable_keys() -> Q:
    return Q(enabled=True, unhealthy_since__isnull=True)


def enabled_providers() -> list[Provider]:
    """Enabled providers with at least one key that is not marked unhealthy, default first."""
    return list(
        Provider.objects.filter(enabled=True, keys__in=ProviderKey.objects.filter(_usable_keys()))
        .distinct()
        .order_by("-is_default", "name", "id")
    )


def offered_models(providers: list[Provider] | None = None) -> list[str]:
    """The models the model picker offers: those of the enabled providers (the default
    provider's first), or MiniMax's when no provider is set up (environment key, demo)."""
    providers = enabled_providers() if providers is None else providers
    if not providers:
        return [value for value, _label in MODEL_CHOICES]
    names: list[str] = []
    for provider in providers:
        names += [name for name in provider.model_names() if name not in names]
    return names


def keys_to_try(provider: Provider) -> list[ProviderKey]:
    """The provider's usable keys by priority, rested ones first. When every key rests, all of
    them, the one whose rest ends first leading: trying is better than refusing."""
    now = timezone.now()
    keys = list(provider.keys.filter(_usable_keys()).order_by("priority", "id"))
    rested = [key for key in keys if key.resting_until is None or key.resting_until <= now]
    return rested or sorted(keys, key=lambda key: key.resting_until)
