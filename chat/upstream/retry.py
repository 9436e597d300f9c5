"""Retry a request that failed before the model produced anything, on the same key or the next
one of its pool (docs/upstream-protocol.md §3 and §5).

Only transient failures are retried (429 throttles, 5xx, connection errors, connect and
first-byte timeouts), and only while no reasoning or answer text has been yielded: once a token
is out, a Failure ends the answer and the text so far is kept. A failure that is the key's
(bad key, billing, throttled) moves to the pool's next key at once, without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from .client import ChatRequest, UpstreamTarget, stream_chat
from .errors import (
    CONNECT_FAILED,
    CONNECTION_LOST,
    RETRYABLE_STATUSES,
    TIMEOUT_CONNECT,
    TIMEOUT_FIRST_BYTE,
    TIMEOUT_POOL,
)
from .events import (
    AnswerDelta,
    Event,
    Failure,
    KeyFailover,
    ReasoningDelta,
    ResponseStarted,
    Retrying,
)
from .pool import KeyPool

# Transient kinds worth a retry whatever the status says (network failures have none, and a
# throttle can arrive as an error frame on a 200 stream before any token).
RETRY_KINDS = frozenset(
    {
        CONNECT_FAILED,
        CONNECTION_LOST,
        TIMEOUT_CONNECT,
        TIMEOUT_FIRST_BYTE,
        TIMEOUT_POOL,
        "throttled",
        "rate_limited",
        "burst_rate",
        "token_throttle",
        "server_error",
        "overloaded",
        "gateway_error",
        "gateway_timeout",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: the n-th retry waits uniform(0, min(max_delay,
    base_delay * 2**(n-1))) seconds, or the upstream's Retry-After (still at most max_delay).
    No retry starts once max_total seconds have passed since the first attempt began.
    `sleep`, `random` and `clock` are injectable for tests."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 20.0
    max_total: float = 60.0
    sleep: Callable[[float], Awaitable[object]] = field(default=asyncio.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def should_retry(self, failure: Failure) -> bool:
        if not failure.retryable:
            return False
        return failure.status in RETRYABLE_STATUSES or failure.kind in RETRY_KINDS

    def delay(self, retry_number: int, failure: Failure) -> float:
        """Seconds to wait before retry number `retry_number` (1 = the second attempt)."""
        if failure.retry_after is not None:
            return min(failure.retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        return self.random() * ceiling

    def next_delay(self, attempt: int, failure: Failure, started: float) -> float | None:
        """The wait before the attempt after `attempt`, or None when it must not happen."""
        if attempt >= self.max_attempts or not self.should_retry(failure):
            return None
        delay = self.delay(attempt, failure)
        if self.clock() - started + delay > self.max_total:
            return None
        return delay


async def stream_chat_with_retries(
    request: ChatRequest, targets: UpstreamTarget | KeyPool, policy: RetryPolicy | None = None
) -> AsyncIterator[Event]:
    """The events of stream_chat, with a Retrying event and a new attempt in place of a
    retryable Failure that came before the first token, and the pool's next key in place of
    one whose failure was the key's. The last Failure ends the stream when the retries or the
    keys are exhausted. Cancelling the consumer interrupts a wait at once."""
    policy = policy or RetryPolicy()
    pool = KeyPool.of(targets)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + pool.targets[0].total_timeout
    started = policy.clock()
    attempt = 1
    key_index = 0
    while True:
        target = pool.targets[key_index]
        failure: Failure | None = None
        streamed = False
        async with contextlib.aclosing(stream_chat(request, target, deadline=deadline)) as events:
            async for event in events:
                if isinstance(event, ReasoningDelta | AnswerDelta):
                    streamed = True
                if isinstance(event, ResponseStarted | Failure):
                    event = dataclasses.replace(event, key_id=target.key_id)
                if isinstance(event, Failure) and not streamed:
                    failure = event  # always the last event of an attempt
                    continue
                yield event
        if failure is None:
            return
        if await pool.report(target, failure, _rest(policy, failure)) and key_index + 1 < len(
            pool.targets
        ):
            key_index += 1  # another key may work at once: no wait, no retry counted
            yield KeyFailover(failure)
            continue
        delay = policy.next_delay(attempt, failure, started)
        if delay is None or loop.time() + delay >= deadline:
            yield failure
            return
        attempt += 1
        yield Retrying(attempt, policy.max_attempts, delay, failure)
        await policy.sleep(delay)


def _rest(policy: RetryPolicy, failure: Failure) -> float:
    """How long a throttled key rests: the upstream's Retry-After, else the longest backoff."""
    if failure.retry_after is not None:
        return failure.retry_after
    return policy.max_delay
