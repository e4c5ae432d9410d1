"""Supervision: an actor that crashes is logged and restarted with backoff; the daemon lives on."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable

import anyio
import structlog

from daemon.logs import REDACTOR

__all__ = ["Health", "supervise"]

log = structlog.get_logger("esd.supervisor")


@dataclasses.dataclass
class Health:
    """What the operator sees of one actor."""

    name: str
    state: str = "starting"  # starting | running | restarting | stopped
    restarts: int = 0
    last_error: str | None = None
    last_crash_at: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {"health": self.state, "restarts": self.restarts, "last_error": self.last_error}


async def supervise(
    health: Health,
    target: Callable[[], Awaitable[None]],
    *,
    initial_backoff: float = 1.0,
    max_backoff: float = 60.0,
    stable_after: float = 60.0,
) -> None:
    """Run `target` forever; after a crash wait (doubling, capped) and start it again.

    The backoff resets once a run has lasted `stable_after` seconds, so a rare crash is retried
    quickly while a crash loop slows down instead of spinning.
    """
    backoff = initial_backoff
    while True:
        started = time.monotonic()
        health.state = "running"
        try:
            await target()
        except anyio.get_cancelled_exc_class():
            health.state = "stopped"
            raise
        except Exception as exc:
            if time.monotonic() - started >= stable_after:
                backoff = initial_backoff
            health.state = "restarting"
            health.restarts += 1
            health.last_error = REDACTOR.redact(_describe(exc))
            health.last_crash_at = time.time()
            log.exception(
                "actor.crashed", actor=health.name, restarts=health.restarts, backoff=backoff
            )
            await anyio.sleep(backoff)
            backoff = min(max_backoff, backoff * 2)
        else:
            health.state = "stopped"
            return


def _describe(exc: BaseException) -> str:
    """The crash in one line; a task group's single-error wrapper is looked through."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
