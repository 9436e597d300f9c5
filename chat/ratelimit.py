"""A token bucket: `burst` actions at once, then `rate` per second. Per socket, in memory."""

from __future__ import annotations

import time


class TokenBucket:
    def __init__(self, *, burst: int, rate: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Spend a token if one is left; False means the action is refused."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
