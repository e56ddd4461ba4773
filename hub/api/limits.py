"""Per-client limits that keep one client from stalling the others: a token bucket per key."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["RateLimiter"]


class RateLimiter:
    """A token bucket per key: on average `rate` units per second, in bursts of up to `burst`.

    `allow(key, cost)` takes `cost` units from the key's bucket and returns None, or, when the bucket
    holds less than `cost`, takes nothing and returns the seconds to wait before the same call would
    pass (for a `Retry-After` header). A cost above `burst` can never pass; it is refused with the
    time until the bucket is full. Buckets of the least recently seen keys are forgotten beyond
    `max_keys` (a forgotten key starts full again), so memory stays bounded. Safe to call from any
    thread; each call takes a lock for a few dictionary operations.

        limiter = RateLimiter(rate=5, burst=10)   # 5 per second, 10 at once
        if (wait := limiter.allow(client_id)) is not None:
            refuse(retry_after=wait)
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError(f"rate={rate!r}, burst={burst!r}: both must be positive")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def allow(self, key: Hashable, cost: float = 1.0) -> float | None:
        """Take `cost` from `key`'s bucket and return None, or return the seconds to wait if refused."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait: float | None = None
            if tokens >= cost:
                tokens -= cost
            else:
                wait = (min(cost, self.burst) - tokens) / self.rate
                if cost > self.burst:
                    wait = max(wait, 1.0 / self.rate)
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait
