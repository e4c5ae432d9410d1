"""Wall-clock time, behind a seam so tests can move it."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "iso"]


class Clock(Protocol):
    """Something that tells the time in UNIX seconds."""

    def now(self) -> float:
        """The current time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """The current time."""
        return time.time()


def iso(ts: float | None) -> str | None:
    """UNIX seconds as an ISO 8601 UTC string (None stays None)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")
