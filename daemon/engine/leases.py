"""Durable requests for I/O that a handler may not do itself: a timer used as a lease.

A handler asks by setting a `(kind, subject)` timer due now, stamped with its event id (the
generation). When the timer fires, the work is handed to an actor AND the timer is re-armed a
lease later, so a crash while the work runs means it is asked again, not lost. The actor's
answer (an event) clears the lease, but only for its own generation: a newer request for the
same subject keeps its timer. Failures back off by the retry policy and, when it gives up or
the failure is permanent, raise one alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.engine import retry_bookkeeping
from daemon.engine.alerts import raise_alert
from daemon.engine.context import Context
from daemon.engine.retry_bookkeeping import Bookkeeping
from daemon.store.leases import drop_lease_of_generation, lease_payload
from daemon.store.timers import set_timer

__all__ = ["LEASE_SECONDS", "clear_lease", "lease_failed", "rearm_lease", "request_lease"]

#: work handed to an actor is asked again after this long unless its answer arrived
LEASE_SECONDS = 120.0


async def request_lease(ctx: Context, kind: str, subject: str, data: Mapping[str, Any]) -> None:
    """Ask, durably, for the work `data` describes, now (a newer request replaces an older)."""
    await set_timer(
        ctx.txn,
        kind,
        subject,
        ctx.now,
        {**data, "generation": ctx.event.id, "attempts": 0, "first_failure_at": None},
    )


async def rearm_lease(ctx: Context, kind: str, subject: str, data: Mapping[str, Any]) -> None:
    """The timer fired and the work is handed out: ask again one lease later unless answered."""
    await set_timer(ctx.txn, kind, subject, ctx.now + LEASE_SECONDS, data)


async def clear_lease(ctx: Context, kind: str, subject: str, generation: int) -> bool:
    """The work of `generation` is done: cancel its timer unless a newer request owns it."""
    return await drop_lease_of_generation(ctx.txn, kind, subject, generation)


async def lease_failed(
    ctx: Context,
    kind: str,
    subject: str,
    generation: int,
    *,
    permanent: bool,
    error: str,
    retry_after: float | None,
    alert_account: str,
    what: str,
) -> str:
    """The work failed: retry on the timer with backoff, or give up with one alert."""
    data = await lease_payload(ctx.txn, kind, subject)
    if data is None:
        return "nothing pending"
    if int(data["generation"]) != generation:
        return "a newer request owns the work"
    if permanent:
        await clear_lease(ctx, kind, subject, generation)
        await raise_alert(ctx, alert_account, subject, f"{what}: {error}")
        return "gave up: permanent"
    failure = retry_bookkeeping.after_failure(
        ctx.config.retry,
        Bookkeeping.of_json(data),
        now=ctx.now,
        retry_after=retry_after,
        rng=ctx.rng,
    )
    decision = failure.decision
    if decision.give_up:
        await clear_lease(ctx, kind, subject, generation)
        await raise_alert(ctx, alert_account, subject, f"{what}: {decision.reason}: {error}")
        return "gave up"
    data.update(
        attempts=failure.attempts, first_failure_at=failure.first_failure_at, last_error=error
    )
    await retry_bookkeeping.arm(ctx.txn, kind, subject, failure.due_at, data)
    return decision.reason
