"""A provider's keys, tried in order before the first token (docs/upstream-protocol.md §5).

Django-free: the pool only says what a failure means for the key that got it; whoever built the
pool records that (`on_verdict`), e.g. in the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from .client import UpstreamTarget
from .events import Failure


class KeyVerdict(Enum):
    UNHEALTHY = "unhealthy"  # the key cannot work until an admin acts: skip it from now on
    RESTING = "resting"  # the key is throttled: skip it until the upstream's wait is over


# Failures that belong to the key (or the account behind it), not to the request: another key
# may well work. 401 and 403 arrive as these kinds, Arrearage as "overdue".
UNHEALTHY_KINDS = frozenset(
    {
        "bad_key",
        "access_denied",
        "model_not_activated",
        "free_tier_only",
        "free_quota_used",
        "overdue",
        "not_purchased",
        "prepaid_overdue",
        "postpaid_overdue",
    }
)


def key_verdict(failure: Failure) -> KeyVerdict | None:
    """What `failure` says about the key that got it (None: nothing, the key is fine)."""
    if failure.kind in UNHEALTHY_KINDS or failure.status in (401, 403):
        return KeyVerdict.UNHEALTHY
    if failure.status == 429 and failure.retryable:
        return KeyVerdict.RESTING
    return None


VerdictHook = Callable[[UpstreamTarget, KeyVerdict, Failure, float], Awaitable[None]]


@dataclass(frozen=True)
class KeyPool:
    """Targets in the order to try them (highest priority first); `on_verdict(target, verdict,
    failure, rest_seconds)` hears about every key that failed in a way that is the key's."""

    targets: Sequence[UpstreamTarget]
    on_verdict: VerdictHook | None = None

    @classmethod
    def of(cls, targets: UpstreamTarget | KeyPool) -> KeyPool:
        return targets if isinstance(targets, KeyPool) else cls((targets,))

    async def report(self, target: UpstreamTarget, failure: Failure, rest_seconds: float) -> bool:
        """Record what `failure` means for `target`; True when the failure was the key's."""
        verdict = key_verdict(failure)
        if verdict is None:
            return False
        if self.on_verdict is not None:
            await self.on_verdict(target, verdict, failure, rest_seconds)
        return True
