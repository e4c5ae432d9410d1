"""One retry bookkeeping for everything that retries: items, leases and import batches.

Each keeps the same two numbers of its failure episode, where it already stored them (items
and batches in their `attempts` and `first_failure_at` columns, a lease in its timer's JSON):
how many attempts failed and when the first of them did. After a failure `after_failure`
counts it, asks the policy (daemon.engine.retry) and returns the decision with the new
numbers; the caller stores them where it keeps them and arms its durable timer with `arm`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.config import RetryPolicy
from daemon.engine.retry import RetryDecision, decide
from daemon.store.database import Txn
from daemon.store.timers import cancel_timer, set_timer

__all__ = ["Bookkeeping", "Failure", "after_failure", "arm", "disarm"]


@dataclasses.dataclass(frozen=True, slots=True)
class Bookkeeping:
    """A failure episode so far: attempts failed, and when the first one did (None: none)."""

    attempts: int = 0
    first_failure_at: float | None = None

    @classmethod
    def of_many(cls, episodes: Iterable[Bookkeeping]) -> Bookkeeping:
        """Several subjects failing as one (an order's items pushed together): the most
        attempts any made, counted from the earliest first failure."""
        episodes = list(episodes)
        return cls(
            max((e.attempts for e in episodes), default=0),
            min((e.first_failure_at for e in episodes if e.first_failure_at), default=None),
        )

    @classmethod
    def of_json(cls, data: Mapping[str, Any]) -> Bookkeeping:
        """As a lease's timer payload carries it (`attempts`, `first_failure_at`)."""
        first = data.get("first_failure_at")
        return cls(int(data.get("attempts") or 0), float(first) if first else None)


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """What one more failure means: retry at `decision.due_at` or give up, and the new count."""

    decision: RetryDecision
    bookkeeping: Bookkeeping

    @property
    def attempts(self) -> int:
        return self.bookkeeping.attempts

    @property
    def due_at(self) -> float:
        """When to retry (only asked when the decision is not to give up)."""
        if self.decision.due_at is None:
            raise ValueError("no retry: the decision was to give up")
        return self.decision.due_at

    @property
    def first_failure_at(self) -> float:
        assert self.bookkeeping.first_failure_at is not None
        return self.bookkeeping.first_failure_at


def after_failure(
    policy: RetryPolicy,
    previous: Bookkeeping,
    *,
    now: float,
    retry_after: float | None,
    rng: random.Random,
) -> Failure:
    """Count one more failure of the episode `previous` (it begins now if it had not) and
    decide by `policy` (a Retry-After the other side asked for is honoured)."""
    attempts = previous.attempts + 1
    first = previous.first_failure_at or now
    decision = decide(
        policy,
        attempts=attempts,
        first_failure_at=first,
        now=now,
        retry_after=retry_after,
        rng=rng,
    )
    return Failure(decision, Bookkeeping(attempts, first))


async def arm(txn: Txn, kind: str, subject: str, due_at: float, payload: Mapping[str, Any]) -> None:
    """Set (or move) the durable `(kind, subject)` timer that retries the subject at `due_at`."""
    await set_timer(txn, kind, subject, due_at, payload)


async def disarm(txn: Txn, kind: str, subject: str) -> None:
    """The subject leaves its retry by another way than its timer: the timer goes."""
    await cancel_timer(txn, kind, subject)
