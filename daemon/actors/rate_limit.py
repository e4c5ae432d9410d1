"""A token bucket: at most `rate` operations per second on average, bursts up to `burst`."""

from __future__ import annotations

import time

import anyio

__all__ = ["TokenBucket"]


class TokenBucket:
    """Async token bucket; `acquire()` waits until a token is free."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = anyio.Lock()

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
