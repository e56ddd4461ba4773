"""Limits that keep one client from stalling the others: request size and time, query size and shape,
representations, string lengths, per-client rate and concurrency, and clean errors for bad input."""

from __future__ import annotations

from hub.api.limits import RateLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_refuses_with_the_wait() -> None:
    clock = _Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [None, None, None]
    assert limiter.allow("a") == 0.5
    assert limiter.allow("b") is None  # buckets are per key
    clock.now = 0.5
    assert limiter.allow("a") is None
    assert limiter.allow("a") == 0.5
    assert limiter.allow("a", cost=2.5) == 1.25


def test_rate_limiter_forgets_the_least_recent_keys_beyond_its_bound() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_keys=2, clock=_Clock())
    for key in ("a", "b", "c"):
        assert limiter.allow(key) is None
    assert limiter.allow("a") is None  # forgotten, so full again
    assert limiter.allow("c") == 1.0
