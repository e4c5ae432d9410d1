"""Whether the store can write now: one shared record the writers keep and the operator reads.

A full disk (or an I/O error) is a condition of the machine, not of an event: every loop that
writes (the event processor, the timer loop, the inbox's group committer, the alert outbox,
the actors' result reports) catches `StoreUnavailable`, waits with `StoreHealth.pause` and
tries the same write again, so the daemon stays up, nothing acknowledged is lost and it
resumes by itself. `Database` records each write's outcome here; `esd status` (`store`) and
the webhook listener's `/readyz` read it.

A disk that was full counts as writable again only once a write has succeeded AND the
filesystem has `min_free_bytes` free: SQLite reuses the WAL's already allocated frames, so a
small write can succeed on a disk that is still full, and the state would flap (and raise
an alert per flap) without that margin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import structlog

from daemon.clock import iso
from daemon.errors import StoreFull, StoreUnavailable
from daemon.logs import REDACTOR

__all__ = ["StoreHealth"]

log = structlog.get_logger("esd.store")

_T = TypeVar("_T")


class StoreHealth:
    """ok | full | unavailable, since when, and the last error."""

    def __init__(
        self,
        path: Path,
        *,
        min_free_bytes: int = 256 * 1024,
        initial_backoff: float = 0.25,
        max_backoff: float = 5.0,
    ) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.state = "ok"
        #: wall-clock time the current episode began (None while ok)
        self.since: float | None = None
        self.last_error: str | None = None
        #: how many times the store went from ok to full/unavailable since the start
        self.episodes = 0
        self._failures = 0
        self._recovered = anyio.Event()
        self._unhealthy = anyio.Event()

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def failed(self, exc: StoreUnavailable) -> None:
        """A write (or read) failed for the store's sake."""
        self.last_error = REDACTOR.redact(exc.message)
        self._failures += 1
        state = "full" if isinstance(exc, StoreFull) else "unavailable"
        if self.state == "ok":
            self.episodes += 1
            self.since = time.time()
            self._recovered = anyio.Event()
            self._unhealthy.set()
            log.error("store.unavailable", state=state, code=exc.code, error=self.last_error)
        self.state = state

    def succeeded(self) -> None:
        """A write committed (cheap while ok: called after every commit)."""
        if self.state == "ok":
            return
        if self.state == "full" and self.free_bytes() < self.min_free_bytes:
            return  # a write fitted in space SQLite had already: the disk is still full
        log.info(
            "store.recovered",
            was=self.state,
            seconds=round(time.time() - (self.since or time.time()), 3),
        )
        self.state = "ok"
        self.since = None
        self._failures = 0
        self._unhealthy = anyio.Event()
        self._recovered.set()

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use on the store's filesystem."""
        try:
            stat = os.statvfs(self.path.parent)
        except OSError:
            return 0
        return stat.f_bavail * stat.f_frsize

    async def pause(self) -> None:
        """Wait before trying a failed write again: backoff doubling up to `max_backoff`,
        cut short when another writer finds the store writable again."""
        delay = min(self.max_backoff, self.initial_backoff * 2 ** min(self._failures, 16))
        recovered = self._recovered
        if recovered.is_set():
            return
        with anyio.move_on_after(delay):
            await recovered.wait()

    async def wait_unhealthy(self) -> None:
        """Return once the store is full or unavailable."""
        await self._unhealthy.wait()

    async def retrying(self, write: Callable[[], Awaitable[_T]], what: str) -> _T:
        """`await write()`, again and again while the store is unavailable (the daemon's own
        writes, which must not be lost: a result report, an alert's "sent" mark)."""
        while True:
            try:
                return await write()
            except StoreUnavailable as exc:
                log.warning("store.write_deferred", what=what, error=REDACTOR.redact(exc.message))
                await self.pause()

    def as_dict(self) -> dict[str, Any]:
        """For `esd status` and `/readyz`."""
        return {
            "state": self.state,
            "since": iso(self.since),
            "last_error": self.last_error,
            "episodes": self.episodes,
        }

    def check(self) -> tuple[bool, dict[str, Any]]:
        """The `/readyz` check: the store is open and writable."""
        return self.ok, self.as_dict()
