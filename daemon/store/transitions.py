"""The transition history, as the operator reads it: an item's trace, what an event changed.

The rows are written by the engine (daemon.engine.machines), each in the transaction of the
event that caused it; here they are read back, and annotated when the operator replays an event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from daemon.store.database import Row, Txn

__all__ = [
    "EventChange",
    "Transition",
    "changes_of_event",
    "item_trace",
    "last_transition_id",
    "note_on_transitions",
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
