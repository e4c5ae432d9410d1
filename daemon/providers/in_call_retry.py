"""Short in-call retries for idempotent reads (tenacity); long waits are durable timers.

A read that hits a blip (a reset connection, a 502 from a proxy) is tried again at once, a
couple of times, inside the same push. Creates are NEVER retried here: whether a lost answer
created something is for the driver's journal and lookup to decide, and a longer outage
belongs to the spine's durable retry (daemon.engine.retry), which survives restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from daemon.errors import NetworkError, RateLimited, ServerError

__all__ = ["READ_ATTEMPTS", "retry_read"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: tries of one idempotent read before the error goes to the spine
READ_ATTEMPTS = 3


def _worth_retrying(exc: BaseException) -> bool:
    # 429 asks us to slow down: that is the durable timer's job (it honours Retry-After).
    return isinstance(exc, NetworkError | ServerError) and not isinstance(exc, RateLimited)


async def retry_read(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = READ_ATTEMPTS,
    first_wait: float = 0.1,
    max_wait: float = 1.0,
) -> T:
    """Run the idempotent `call`, retrying transient failures a few times quickly."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(_worth_retrying),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=first_wait, max=max_wait),
        reraise=True,
        before_sleep=lambda state: log.info(
            "http.read_retry",
            what=what,
            attempt=state.attempt_number,
            error=type(state.outcome.exception()).__name__ if state.outcome else None,
        ),
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
