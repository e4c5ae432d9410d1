"""The one retry bookkeeping items, leases and import batches share (pure part)."""

from __future__ import annotations

import random

import pytest

from daemon.config import RetryPolicy
from daemon.engine.retry_bookkeeping import Bookkeeping, after_failure

POLICY = RetryPolicy(
    initial_seconds=30, multiplier=2, max_seconds=3600, give_up_after_seconds=86400, jitter=0
)


@pytest.mark.parametrize(
    ("previous", "now", "retry_after", "attempts", "first", "due_at"),
    [
        # "the first retry 30 s after the failure, doubling each time" (daemon.engine.retry)
        (Bookkeeping(), 1000.0, None, 1, 1000.0, 1030.0),
        (Bookkeeping(1, 1000.0), 1030.0, None, 2, 1000.0, 1090.0),
        (Bookkeeping(2, 1000.0), 1090.0, None, 3, 1000.0, 1210.0),
        # "a 429's Retry-After is honoured when it asks for longer"
        (Bookkeeping(), 1000.0, 600.0, 1, 1000.0, 1600.0),
        (Bookkeeping(), 1000.0, 5.0, 1, 1000.0, 1030.0),
        # "the last retry happens at the deadline itself"
        (Bookkeeping(9, 100.0), 86300.0, None, 10, 100.0, 86500.0),
    ],
)
def test_a_failure_is_counted_and_its_retry_time_decided(
    previous: Bookkeeping,
    now: float,
    retry_after: float | None,
    attempts: int,
    first: float,
    due_at: float,
) -> None:
    failure = after_failure(
        POLICY, previous, now=now, retry_after=retry_after, rng=random.Random(0)
    )
    assert (failure.attempts, failure.first_failure_at, failure.due_at) == (attempts, first, due_at)
    assert not failure.decision.give_up


def test_24_hours_after_the_first_failure_it_gives_up() -> None:
    # "24 h after the FIRST failure of an episode the item gives up"
    failure = after_failure(
        POLICY, Bookkeeping(12, 100.0), now=86500.0, retry_after=None, rng=random.Random(0)
    )
    assert failure.decision.give_up and failure.attempts == 13
    assert failure.decision.reason.startswith("gave up after 13 attempts")
    with pytest.raises(ValueError, match="give up"):
        _ = failure.due_at


def test_items_failing_together_count_from_the_most_attempts_and_earliest_failure() -> None:
    merged = Bookkeeping.of_many([Bookkeeping(2, 500.0), Bookkeeping(0, None), Bookkeeping(1, 300)])
    assert merged == Bookkeeping(2, 300.0)
    assert Bookkeeping.of_many([]) == Bookkeeping()


def test_a_lease_keeps_its_bookkeeping_in_its_timer_json() -> None:
    assert Bookkeeping.of_json({"generation": 4}) == Bookkeeping()
    assert Bookkeeping.of_json({"attempts": 3, "first_failure_at": 12}) == Bookkeeping(3, 12.0)
    assert Bookkeeping.of_json({"attempts": None, "first_failure_at": None}) == Bookkeeping()
