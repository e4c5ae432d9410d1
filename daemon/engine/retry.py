"""Retry policy maths for network errors (pure; the spine persists the outcome as a timer).

Defaults (config `[retry]`): the first retry 30 s after the failure, doubling each time up to a
1 h cap, with +-20 % jitter so a fleet of items does not retry in lockstep; a 429's Retry-After
is honoured when it asks for longer. 24 h after the FIRST failure of an episode the item gives
up: it goes to failed and one alert is raised. Business errors never come here: they fail at once.
"""

from __future__ import annotations

import dataclasses
import random

from daemon.config import RetryPolicy

__all__ = ["RetryDecision", "backoff_delay", "decide"]


@dataclasses.dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry at `due_at`, or give up (`due_at` is None) with `reason`."""

    due_at: float | None
    reason: str

    @property
    def give_up(self) -> bool:
        return self.due_at is None


def backoff_delay(policy: RetryPolicy, attempts: int, rng: random.Random) -> float:
    """The delay before retry number `attempts` (1 = after the first failure)."""
    exponent = max(0, attempts - 1)
    base = policy.initial_seconds * policy.multiplier**exponent
    base = min(base, policy.max_seconds)
    if policy.jitter:
        base *= 1 + rng.uniform(-policy.jitter, policy.jitter)
    return max(0.0, base)


def decide(
    policy: RetryPolicy,
    *,
    attempts: int,
    first_failure_at: float,
    now: float,
    retry_after: float | None,
    rng: random.Random,
) -> RetryDecision:
    """What to do after failure number `attempts` of an episode that began at `first_failure_at`."""
    elapsed = now - first_failure_at
    if elapsed >= policy.give_up_after_seconds:
        return RetryDecision(None, f"gave up after {attempts} attempts over {_span(elapsed)}")
    delay = backoff_delay(policy, attempts, rng)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    due = now + delay
    deadline = first_failure_at + policy.give_up_after_seconds
    # The last retry happens at the deadline itself, not a whole backoff past it.
    due = min(due, deadline)
    return RetryDecision(due, f"retry {attempts} in {_span(due - now)}")


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
