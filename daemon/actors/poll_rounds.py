"""Rounds of an actor's periodic work (a status poll, a reconciliation poll), numbered, so an
operator's `esd sync --wait` / `esd poll --wait` can wait for the round its request started
and hear how it went, without polling the store.

Rounds may overlap (each Poll message starts its own): a waiter asks for the first round that
starts after its request (`next_number` before asking) and is woken when that round, or any
later one, has finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import anyio

__all__ = ["PollRounds", "Round"]


@dataclasses.dataclass(slots=True)
class Round:
    """One round: how many subjects it covered and what failed (redacted texts)."""

    number: int
    done: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    def failed(self, error: str) -> None:
        self.failures.append(error)


class PollRounds:
    """The rounds of one actor."""

    def __init__(self) -> None:
        self._started = 0
        self._finished: dict[int, Round] = {}
        self._changed = anyio.Event()

    @property
    def next_number(self) -> int:
        """The number the next round to start will have."""
        return self._started + 1

    @contextlib.contextmanager
    def round(self) -> Iterator[Round]:
        """Run one round inside this block; it counts as finished however the block ends."""
        self._started += 1
        current = Round(self._started)
        try:
            yield current
        finally:
            self._finished[current.number] = current
            # Only the newest few are kept: a waiter asks for a recent one.
            for old in [n for n in self._finished if n < current.number - 64]:
                del self._finished[old]
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_for(self, number: int) -> Round:
        """The first finished round numbered `number` or later (waits until there is one)."""
        while True:
            done = [n for n in self._finished if n >= number]
            if done:
                return self._finished[min(done)]
            await self._changed.wait()
