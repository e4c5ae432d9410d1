"""Retry maths: exponential backoff with cap and jitter, Retry-After, give-up deadline."""

from __future__ import annotations

import random

import pytest

from daemon.config import RetryPolicy
from daemon.engine.retry import backoff_delay, decide

POLICY = RetryPolicy(jitter=0.0)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (20, 3600)],
)
def test_backoff_doubles_to_the_cap(attempts: int, delay: float) -> None:
    assert backoff_delay(POLICY, attempts, random.Random(0)) == delay


def test_jitter_stays_within_its_band_and_varies() -> None:
    policy = RetryPolicy(jitter=0.2)
    rng = random.Random(7)
    delays = {backoff_delay(policy, 1, rng) for _ in range(200)}
    assert min(delays) >= 24 and max(delays) <= 36 and len(delays) > 100


@pytest.mark.parametrize(
    ("first", "now", "retry_after", "due", "give_up"),
    [
        (0, 0, None, 30, False),
        (0, 0, 500, 500, False),  # Retry-After longer than the backoff wins
        (0, 0, 5, 30, False),  # shorter one does not shorten the backoff
        (0, 86_390, None, 86_400, False),  # the last retry lands on the deadline
        (0, 86_400, None, None, True),
        (0, 90_000, None, None, True),
    ],
)
def test_decide(
    first: float, now: float, retry_after: float | None, due: float | None, give_up: bool
) -> None:
    decision = decide(
        POLICY,
        attempts=1,
        first_failure_at=first,
        now=now,
        retry_after=retry_after,
        rng=random.Random(0),
    )
    assert decision.give_up is give_up
    assert decision.due_at == due
