"""The charts' subjects' `state` column and the transition history.

A move writes the subject's state and its history row together, in the transaction of the event
that caused it (daemon.engine.machines); the operator reads the rows back (an item's trace, what
an event changed), annotated when the operator replays an event.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from typing import TypeVar

from daemon.store.database import Row, Txn

__all__ = [
    "TABLES",
    "EventChange",
    "Transition",
    "changes_of_event",
    "ever_reached",
    "item_trace",
    "last_transition_id",
    "move_state",
    "note_on_transitions",
    "record_birth",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    """One state change of one chart subject."""

    id: int
    chart: str
    subject_id: int
    from_state: str
    to_state: str
    trigger: str
    event_id: int | None
    reason: str | None
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class EventChange:
    """One transition an event made, with the order item it moved (None for other charts)."""

    chart: str
    from_state: str
    to_state: str
    trigger: str
    site: str | None
    order_number: str | None
    seq: int | None
    account: str | None


_Record = TypeVar("_Record", Transition, EventChange)


def _rows_as(record: type[_Record], rows: Sequence[Row]) -> list[_Record]:
    """Each row as a `record`: the query selects one column per field, named as the field."""
    names = [field.name for field in dataclasses.fields(record)]
    return [record(**{name: row[name] for name in names}) for row in rows]


async def item_trace(txn: Txn, item_ids: Sequence[int]) -> list[Transition]:
    """Every transition of these order items, oldest first."""
    rows = await txn.fetchall(
        "SELECT * FROM transitions WHERE chart = 'order_item' AND subject_id IN"
        f" ({','.join('?' * len(item_ids)) or 'NULL'}) ORDER BY id",
        list(item_ids),
    )
    return _rows_as(Transition, rows)


async def last_transition_id(txn: Txn) -> int:
    """The id of the newest transition (0 when there is none): what came later is new."""
    return int(await txn.scalar("SELECT COALESCE(MAX(id), 0) FROM transitions"))


async def note_on_transitions(txn: Txn, event_id: int, after: int, note: str) -> None:
    """Append `note` to the reason of each transition `event_id` made after id `after`."""
    await txn.execute(
        "UPDATE transitions SET reason = TRIM(COALESCE(reason, '') || ?)"
        " WHERE event_id = ? AND id > ?",
        (note, event_id, after),
    )


async def changes_of_event(txn: Txn, event_id: int, after: int) -> list[EventChange]:
    """The transitions `event_id` made after id `after`, oldest first."""
    rows = await txn.fetchall(
        "SELECT t.chart, t.from_state, t.to_state, t.trigger, i.site, i.order_number,"
        " i.seq, i.account FROM transitions t LEFT JOIN items i"
        " ON t.chart = 'order_item' AND i.id = t.subject_id"
        " WHERE t.event_id = ? AND t.id > ? ORDER BY t.id",
        (event_id, after),
    )
    return _rows_as(EventChange, rows)


#: chart name -> table holding its subjects
TABLES = {"order_item": "items", "import_batch": "import_batches"}


async def move_state(
    txn: Txn,
    chart: str,
    subject_id: int,
    from_state: str,
    to_state: str,
    trigger: str,
    *,
    event_id: int | None,
    reason: str | None,
    now: float,
) -> bool:
    """Move the subject if it is still in `from_state`, with its history row; False if not.

    The UPDATE is guarded by the expected current state, so a stale caller cannot overwrite
    a newer state."""
    table = TABLES[chart]

    def write(raw: sqlite3.Connection) -> bool:  # both statements in one hop to SQLite
        changed = raw.execute(
            f"UPDATE {table} SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
            (to_state, now, subject_id, from_state),
        ).rowcount
        if changed != 1:
            return False
        raw.execute(
            "INSERT INTO transitions (chart, subject_id, from_state, to_state, trigger,"
            " event_id, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (chart, subject_id, from_state, to_state, trigger, event_id, reason, now),
        )
        return True

    return await txn.run(write)


async def record_birth(
    txn: Txn,
    chart: str,
    subject_id: int,
    initial: str,
    *,
    event_id: int | None,
    reason: str,
    now: float,
) -> None:
    """History row for a subject's birth in the chart's initial state."""
    await txn.execute(
        "INSERT INTO transitions (chart, subject_id, from_state, to_state, trigger, event_id,"
        " reason, at) VALUES (?, ?, '', ?, 'created', ?, ?, ?)",
        (chart, subject_id, initial, event_id, reason, now),
    )


async def ever_reached(txn: Txn, chart: str, subject_id: int, state: str) -> bool:
    """Whether the subject's history has it entering `state` at least once."""
    return bool(
        await txn.scalar(
            "SELECT 1 FROM transitions WHERE chart = ? AND subject_id = ? AND to_state = ? LIMIT 1",
            (chart, subject_id, state),
        )
    )
