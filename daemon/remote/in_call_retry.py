"""Short in-call retries for idempotent reads (tenacity); long waits are durable timers.

A read that hits a blip (a reset connection, a 502 from a proxy) is tried again at once, a
couple of times, inside the same push. Creates are NEVER retried here: whether a lost answer
created something is for the driver's journal and lookup to decide, and a longer outage
belongs to the spine's durable retry (daemon.engine.retry), which survives restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from daemon.errors import CallDeadlineExceeded, NetworkError, RateLimited, ServerError

__all__ = ["READ_ATTEMPTS", "retry_if_read", "retry_read"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: tries of one idempotent read before the error goes to the spine
READ_ATTEMPTS = 3


def _worth_retrying(exc: BaseException) -> bool:
    # 429 asks us to slow down: that is the durable timer's job (it honours Retry-After). A
    # call that ran out its whole deadline would only hold the push as long again.
    return isinstance(exc, NetworkError | ServerError) and not isinstance(
        exc, RateLimited | CallDeadlineExceeded
    )


async def retry_read(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = READ_ATTEMPTS,
    first_wait: float = 0.1,
    max_wait: float = 1.0,
) -> T:
    """Run the idempotent `call`, retrying transient failures a few times quickly.

    Waits `first_wait`, doubling up to `max_wait`, between tries. The first try runs bare: a
    push makes a dozen reads and nearly all succeed at once, so tenacity's machinery is only
    built after a failure (it cost ~30 us a read in the push bench).
    """
    try:
        return await call()
    except Exception as exc:
        if attempts <= 1 or not _worth_retrying(exc):
            raise
        _log_retry(what, 1, exc)
    await anyio.sleep(min(first_wait, max_wait))
    retrying = AsyncRetrying(
        retry=retry_if_exception(_worth_retrying),
        stop=stop_after_attempt(attempts - 1),
        # try n (n >= 2) waits first_wait * 2 ** (n - 1) after failing, as one schedule would
        wait=wait_exponential(multiplier=first_wait * 2, max=max_wait),
        reraise=True,
        before_sleep=lambda state: _log_retry(
            what,
            state.attempt_number + 1,
            state.outcome.exception() if state.outcome else None,
        ),
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


async def retry_if_read(method: str, call: Callable[[], Awaitable[T]], *, what: str) -> T:
    """`call` through `retry_read` when `method` is GET (idempotent), else run once: a create
    whose answer was lost is the journal's and the spine's to settle, never retried here."""
    if method == "GET":
        return await retry_read(call, what=what)
    return await call()


def _log_retry(what: str, attempt: int, error: BaseException | None) -> None:
    log.info(
        "http.read_retry",
        what=what,
        attempt=attempt,
        error=type(error).__name__ if error is not None else None,
    )
