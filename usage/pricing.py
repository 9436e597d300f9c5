"""Money for tokens: ModelPrice per million, reasoning billed as output (it is part of the
completion tokens), cached prompt tokens at the cached-input price."""

from __future__ import annotations

from decimal import Decimal

from usage.models import ModelPrice

MILLION = Decimal(1_000_000)


def attempt_cost(
    *, price: ModelPrice | None, prompt: int, cached: int, completion: int
) -> tuple[Decimal, str]:
    """(cost, currency); (0, "") when the model has no price."""
    if price is None:
        return Decimal(0), ""
    cached = min(cached, prompt)
    amount = (
        (prompt - cached) * price.input_per_million
        + cached * price.cached_input_per_million
        + completion * price.output_per_million
    ) / MILLION
    return amount.quantize(Decimal("0.000001")), price.currency
