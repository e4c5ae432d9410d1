"""Firing statechart triggers against stored subjects, with the history row in the same txn.

The state lives in SQLite; the shared `transitions` Machine of the chart decides whether a
trigger is allowed and where it leads (daemon.statecharts). `fire` is the only code that
writes a `state` column, so every change has its history row: subject, from, to, trigger,
the event that caused it and why.
"""

from __future__ import annotations

from daemon.statecharts import Chart
from daemon.store.database import Txn
from daemon.store.transitions import TABLES, move_state, record_birth

__all__ = ["TABLES", "fire", "record_created"]


async def fire(
    txn: Txn,
    chart: Chart,
    subject_id: int,
    state: str,
    trigger: str,
    *,
    event_id: int | None,
    reason: str | None,
    now: float,
) -> str:
    """Move subject `subject_id` from `state` by `trigger`; return the new state.

    Raises TransitionNotAllowed if the chart has no such trigger from `state`. The write is
    guarded by the expected current state, so a stale caller cannot overwrite a newer state.
    """
    dest = chart.next_state(state, trigger)
    moved = await move_state(
        txn, chart.name, subject_id, state, dest, trigger, event_id=event_id, reason=reason, now=now
    )
    if not moved:
        raise RuntimeError(f"{chart.name} {subject_id} is no longer in state {state!r}")
    return dest


async def record_created(
    txn: Txn, chart: Chart, subject_id: int, *, event_id: int | None, reason: str, now: float
) -> None:
    """History row for a subject's birth in the chart's initial state."""
    await record_birth(
        txn, chart.name, subject_id, chart.initial, event_id=event_id, reason=reason, now=now
    )
