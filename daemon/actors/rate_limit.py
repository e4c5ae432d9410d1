"""The limits an actor's calls keep: a token bucket (at most `rate` operations per second on
average, bursts up to `burst`) and a concurrency limit (at most so many at once).

Neither yields to the event loop when it lets a caller through at once: anyio's locks and
limiters otherwise do, and with eight pushes at once each step of a push then queued behind
every other ready task (the push bench, Tharstern at concurrency 8)."""

from __future__ import annotations

import time

import anyio

__all__ = ["ConcurrencyLimit", "TokenBucket"]


class TokenBucket:
    """Async token bucket; `acquire()` waits until a token is free."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = anyio.Lock(fast_acquire=True)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def has_token(self) -> bool:
        """Whether `acquire()` would take a token now without waiting."""
        if self._lock.locked():
            return False
        self._refill()
        return self._tokens >= 1

    async def acquire(self) -> None:
        """Take one token, waiting for it if the bucket is empty."""
        async with self._lock:  # first come, first served
            self._refill()
            if self._tokens < 1:
                await anyio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


class ConcurrencyLimit:
    """At most `total` holders at once (`async with`), first come, first served: an
    `anyio.CapacityLimiter` whose free token is taken without yielding to the event loop."""

    def __init__(self, total: int) -> None:
        self._limiter = anyio.CapacityLimiter(total)

    @property
    def total_tokens(self) -> float:
        return self._limiter.total_tokens

    @property
    def available_tokens(self) -> float:
        return self._limiter.available_tokens

    async def __aenter__(self) -> None:
        try:
            self._limiter.acquire_nowait()  # refused while others wait: the queue is kept
        except anyio.WouldBlock:
            await self._limiter.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._limiter.release()
