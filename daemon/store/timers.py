"""Durable timers: retry backoff, scheduled status polls and imports.

A timer is a row (kind, subject, due_at). Setting one for the same (kind, subject) moves it.
After a restart, overdue timers fire at once and the rest at their time, because the timer
loop (daemon.engine.timer_loop) only ever reads this table.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from daemon.store.database import Txn

__all__ = [
    "Timer",
    "bring_forward",
    "cancel_timer",
    "count_due",
    "due_timers",
    "ensure_timer",
    "next_timer",
    "set_timer",
    "take_timer",
    "timers_of_kind",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Timer:
    """One durable timer."""

    id: int
    kind: str
    subject: str
    due_at: float
    payload: dict[str, Any]


def _timer(row: Any) -> Timer:
    return Timer(row["id"], row["kind"], row["subject"], row["due_at"], json.loads(row["payload"]))


async def set_timer(
    txn: Txn, kind: str, subject: str, due_at: float, payload: Mapping[str, Any] | None = None
) -> int:
    """Create the (kind, subject) timer, or move it to `due_at`; return its id."""
    txn.timers_changed = True
    row = await txn.fetchone(
        "INSERT INTO timers (kind, subject, due_at, payload) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (kind, subject) DO UPDATE SET due_at = excluded.due_at,"
        " payload = excluded.payload RETURNING id",
        (kind, subject, due_at, json.dumps(dict(payload or {}), sort_keys=True)),
    )
    assert row is not None
    return int(row[0])


async def ensure_timer(
    txn: Txn, kind: str, subject: str, due_at: float, payload: Mapping[str, Any] | None = None
) -> bool:
    """Create the (kind, subject) timer unless it exists (an existing one keeps its time);
    True if it was created."""
    created = await txn.changes(
        "INSERT INTO timers (kind, subject, due_at, payload) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (kind, subject) DO NOTHING",
        (kind, subject, due_at, json.dumps(dict(payload or {}), sort_keys=True)),
    )
    if created:
        txn.timers_changed = True
    return created > 0


async def bring_forward(txn: Txn, kind: str, subject: str, due_at: float) -> bool:
    """Move the (kind, subject) timer to `due_at` if it is due later (never later, never
    creating one); True if it moved."""
    txn.timers_changed = True
    moved = await txn.changes(
        "UPDATE timers SET due_at = ? WHERE kind = ? AND subject = ? AND due_at > ?",
        (due_at, kind, subject, due_at),
    )
    return moved > 0


async def cancel_timer(txn: Txn, kind: str, subject: str) -> bool:
    """Remove the (kind, subject) timer; False if there was none."""
    return (
        await txn.changes("DELETE FROM timers WHERE kind = ? AND subject = ?", (kind, subject)) > 0
    )


async def take_timer(txn: Txn, timer_id: int) -> None:
    """Take a due timer off the table as it fires (its firing is an event from then on)."""
    await txn.execute("DELETE FROM timers WHERE id = ?", (timer_id,))


async def due_timers(txn: Txn, now: float, limit: int = 256) -> list[Timer]:
    """Timers whose time has come, oldest first."""
    rows = await txn.fetchall(
        "SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, id LIMIT ?", (now, limit)
    )
    return [_timer(r) for r in rows]


async def next_timer(txn: Txn) -> Timer | None:
    """The timer that fires next."""
    row = await txn.fetchone("SELECT * FROM timers ORDER BY due_at, id LIMIT 1")
    return None if row is None else _timer(row)


async def timers_of_kind(txn: Txn, kind: str) -> list[Timer]:
    """Every timer of one kind, by subject."""
    rows = await txn.fetchall("SELECT * FROM timers WHERE kind = ? ORDER BY subject", (kind,))
    return [_timer(r) for r in rows]


async def count_due(txn: Txn, now: float) -> int:
    """How many timers are due by `now` (overdue ones included)."""
    return int(await txn.scalar("SELECT COUNT(*) FROM timers WHERE due_at <= ?", (now,)) or 0)
