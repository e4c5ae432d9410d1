"""The durable event inbox: every input is stored here before anything acts on it.

`(source, dedupe_key)` is unique: a duplicate is acknowledged and ignored. Events are processed
in id order; one whose processing raises is marked poisoned with its error and traceback and
skipped, so it never blocks other orders; the operator can list it and replay it after a fix.

`GroupCommitter` lets many concurrent producers (webhook requests, the operator socket) share
one fsync'd transaction: each waits for the commit that holds its event, so an acknowledgement
is never given before the event is on disk, and intake is not limited to one fsync per request.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from daemon.store.database import Database, Txn

__all__ = [
    "EventRecord",
    "GroupCommitter",
    "NewEvent",
    "Stored",
    "count_by_status",
    "get_event",
    "insert_event",
    "insert_events",
    "list_events",
    "mark_done",
    "mark_poisoned",
    "pending_events",
    "record_of",
    "requeue",
]


@dataclasses.dataclass(frozen=True, slots=True)
class NewEvent:
    """An input about to be stored."""

    source: str
    dedupe_key: str
    kind: str
    payload: Mapping[str, Any]
    subject: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Stored:
    """What storing an event did: its id, and whether it was a duplicate of an earlier one."""

    id: int
    duplicate: bool


@dataclasses.dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event."""

    id: int
    source: str
    dedupe_key: str
    kind: str
    subject: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    error: str | None
    traceback: str | None
    received_at: float
    processed_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> EventRecord:
        return cls(
            id=row["id"],
            source=row["source"],
            dedupe_key=row["dedupe_key"],
            kind=row["kind"],
            subject=row["subject"],
            payload=json.loads(row["payload"]),
            status=row["status"],
            attempts=row["attempts"],
            error=row["error"],
            traceback=row["traceback"],
            received_at=row["received_at"],
            processed_at=row["processed_at"],
        )


def _dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


async def insert_event(txn: Txn, event: NewEvent, now: float, *, status: str = "pending") -> Stored:
    """Store `event` unless its (source, dedupe_key) was stored before."""
    row = await txn.fetchone(
        "INSERT INTO events (source, dedupe_key, kind, subject, payload, status, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id",
        (
            event.source,
            event.dedupe_key,
            event.kind,
            event.subject,
            _dumps(event.payload),
            status,
            now,
        ),
    )
    if row is not None:
        return Stored(id=int(row[0]), duplicate=False)
    existing = await txn.scalar(
        "SELECT id FROM events WHERE source = ? AND dedupe_key = ?",
        (event.source, event.dedupe_key),
    )
    return Stored(id=int(existing), duplicate=True)


#: rows per multi-row INSERT: 7 parameters each, far below SQLite's 32766-variable limit
_ROWS_PER_INSERT = 256
_EVENT_COLUMNS = "(source, dedupe_key, kind, subject, payload, status, received_at)"


async def insert_events(
    txn: Txn, events: Sequence[NewEvent], now: float, *, status: str = "pending"
) -> list[Stored]:
    """`insert_event` for many events at once: the same results, in the same order.

    One multi-row INSERT per 256 events (plus one look-up for the duplicates among them), not
    one statement per event: each statement is a round trip to the database thread, and under
    load each round trip waits for a turn of the busy event loop (`make bench`, intake). A
    (source, dedupe_key) repeated within `events` is stored once; the repeats are duplicates.
    """
    results: list[Stored] = []
    for start in range(0, len(events), _ROWS_PER_INSERT):
        chunk = events[start : start + _ROWS_PER_INSERT]
        params: list[Any] = []
        for event in chunk:
            params += (
                event.source,
                event.dedupe_key,
                event.kind,
                event.subject,
                _dumps(event.payload),
                status,
                now,
            )
        rows = await txn.fetchall(
            f"INSERT INTO events {_EVENT_COLUMNS} VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            + " ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id, source, dedupe_key",
            params,
        )
        created = {(row[1], row[2]): int(row[0]) for row in rows}
        stored_before = {
            (event.source, event.dedupe_key)
            for event in chunk
            if (event.source, event.dedupe_key) not in created
        }
        ids = {**(await _ids_of(txn, stored_before) if stored_before else {}), **created}
        fresh = set(created)  # only the first occurrence of a key in `events` is new
        for event in chunk:
            key = (event.source, event.dedupe_key)
            results.append(Stored(id=ids[key], duplicate=key not in fresh))
            fresh.discard(key)
    return results


async def _ids_of(txn: Txn, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of stored events by (source, dedupe_key)."""
    ordered = sorted(keys)
    rows = await txn.fetchall(
        "SELECT id, source, dedupe_key FROM events WHERE (source, dedupe_key) IN (VALUES "
        + ", ".join(["(?, ?)"] * len(ordered))
        + ")",
        [part for key in ordered for part in key],
    )
    return {(row[1], row[2]): int(row[0]) for row in rows}


def record_of(event: NewEvent, event_id: int, now: float) -> EventRecord:
    """The record of an event just inserted as pending (no read back from the store)."""
    return EventRecord(
        id=event_id,
        source=event.source,
        dedupe_key=event.dedupe_key,
        kind=event.kind,
        subject=event.subject,
        payload=json.loads(_dumps(event.payload)),  # exactly what a read would give
        status="pending",
        attempts=0,
        error=None,
        traceback=None,
        received_at=now,
        processed_at=None,
    )


async def pending_events(txn: Txn, limit: int, after: int = 0) -> list[EventRecord]:
    """The oldest unprocessed events with an id above `after`."""
    rows = await txn.fetchall(
        "SELECT * FROM events WHERE status = 'pending' AND id > ? ORDER BY id LIMIT ?",
        (after, limit),
    )
    return [EventRecord.from_row(r) for r in rows]


def done_statement(event_id: int, now: float) -> tuple[str, tuple[Any, ...]]:
    """The statement that marks an event processed (for `Database.savepoint(finish=...)`)."""
    return (
        "UPDATE events SET status = 'done', processed_at = ?, attempts = attempts + 1,"
        " error = NULL, traceback = NULL WHERE id = ?",
        (now, event_id),
    )


async def mark_done(txn: Txn, event_id: int, now: float) -> None:
    """Record that the event was processed."""
    await txn.execute(*done_statement(event_id, now))


async def mark_poisoned(txn: Txn, event_id: int, error: str, traceback: str, now: float) -> None:
    """Record that processing the event raised; it is kept, shown and replayable."""
    await txn.execute(
        "UPDATE events SET status = 'poisoned', processed_at = ?, attempts = attempts + 1,"
        " error = ?, traceback = ? WHERE id = ?",
        (now, error, traceback, event_id),
    )


async def requeue(txn: Txn, event_id: int) -> bool:
    """Put a poisoned event back in the queue; False if it is not poisoned."""
    changed = await txn.changes(
        "UPDATE events SET status = 'pending' WHERE id = ? AND status = 'poisoned'", (event_id,)
    )
    return changed > 0


async def get_event(txn: Txn, event_id: int) -> EventRecord | None:
    """One event by id."""
    row = await txn.fetchone("SELECT * FROM events WHERE id = ?", (event_id,))
    return None if row is None else EventRecord.from_row(row)


async def list_events(
    txn: Txn, *, status: str | None = None, subject: str | None = None, limit: int = 100
) -> list[EventRecord]:
    """Events, newest first, filtered by status and/or subject."""
    clauses, params = [], []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if subject is not None:
        clauses.append("subject = ?")
        params.append(subject)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await txn.fetchall(
        f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?", (*params, limit)
    )
    return [EventRecord.from_row(r) for r in rows]


async def count_by_status(txn: Txn) -> dict[str, int]:
    """How many events are pending, done and poisoned."""
    rows = await txn.fetchall("SELECT status, COUNT(*) AS n FROM events GROUP BY status")
    counts = {"pending": 0, "done": 0, "poisoned": 0}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


class GroupCommitter:
    """Store events from many concurrent producers in shared transactions.

    `store()` returns only after the transaction holding the event committed. While one commit
    runs, new arrivals gather in the next batch, so N concurrent producers cost about one
    fsync per batch instead of N.
    """

    def __init__(self, db: Database, clock: Any, *, max_batch: int = 512) -> None:
        self._db = db
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[tuple[NewEvent, _Slot]] = []
        self._wakeup = anyio.Event()
        self.on_commit: list[Any] = []

    async def store(self, event: NewEvent) -> Stored:
        """Durably store one event (or find its duplicate)."""
        slot = _Slot()
        self._queue.append((event, slot))
        self._wakeup.set()
        await slot.done.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result

    async def store_many(self, events: Sequence[NewEvent]) -> list[Stored]:
        """Store several events in one go (each its own dedupe)."""
        async with self._db.transaction() as txn:
            results = await insert_events(txn, events, self._clock.now())
        for callback in self.on_commit:
            callback()
        return results

    async def run(self) -> None:
        """The committer loop; runs for the daemon's lifetime."""
        while True:
            await self._wakeup.wait()
            self._wakeup = anyio.Event()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                try:
                    results = await self.store_many([event for event, _ in batch])
                except Exception as exc:  # the whole batch failed: every producer hears it
                    for _, slot in batch:
                        slot.error = exc
                        slot.done.set()
                    continue
                for (_, slot), result in zip(batch, results, strict=True):
                    slot.result = result
                    slot.done.set()


class _Slot:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: Stored | None = None
        self.error: Exception | None = None
