"""The durable event inbox: every input is stored here before anything acts on it.

`(source, dedupe_key)` is unique: a duplicate is acknowledged and ignored. Events are processed
in id order; one whose processing raises is marked poisoned with its error and traceback and
skipped, so it never blocks other orders; the operator can list it and replay it after a fix.

`GroupCommitter` lets many concurrent producers (webhook requests, the operator socket) share
one fsync'd transaction: each waits for the commit that holds its event, so an acknowledgement
is never given before the event is on disk, and intake is not limited to one fsync per request.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from daemon.store.database import Database, Txn, unavailable

__all__ = [
    "EventRecord",
    "EventRow",
    "GroupCommitter",
    "NewEvent",
    "Stored",
    "count_by_status",
    "event_row",
    "get_event",
    "has_subject",
    "insert_event",
    "insert_events",
    "insert_rows",
    "last_event_id",
    "list_events",
    "mark_done",
    "mark_poisoned",
    "pending_events",
    "record_of",
    "requeue",
    "seqs_of_webhook_type",
    "subjects_ending",
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


# What `json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)` gives,
# without building an encoder for each call (a third of the time of a small payload's dump).
_PAYLOAD_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _dumps(payload: Mapping[str, Any]) -> str:
    return _PAYLOAD_ENCODER.encode(payload)


async def insert_event(txn: Txn, event: NewEvent, now: float, *, status: str = "pending") -> Stored:
    """Store `event` unless its (source, dedupe_key) was stored before."""
    row = await txn.fetchone(
        f"INSERT INTO events {_EVENT_COLUMNS}"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id",
        event_row(event, now, status=status),
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

#: one event's INSERT parameters, in `_EVENT_COLUMNS` order
EventRow = tuple[str, str, str, str | None, str, str, float]


def event_row(event: NewEvent, now: float, *, status: str = "pending") -> EventRow:
    """The INSERT parameters of `event`, its payload serialised.

    Raises (TypeError, ValueError) if the payload is not JSON, or if a text is one SQLite cannot
    take (a lone surrogate, which JSON's `\\ud800` escapes can carry): the producer of that
    event hears it here, before its row joins a batch whose INSERT it would fail for everyone.
    """
    payload = _dumps(event.payload)
    subject = event.subject
    for field, text in (
        ("source", event.source),
        ("dedupe_key", event.dedupe_key),
        ("kind", event.kind),
        ("subject", subject or ""),
        ("payload", payload),
    ):
        if not text.isascii():  # a few ns; only non-ASCII text needs the real check
            _check_storable(field, text)
    return (event.source, event.dedupe_key, event.kind, subject, payload, status, now)


def _check_storable(field: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"event {field}: not storable text (a lone surrogate at position {exc.start})"
        ) from None


async def insert_events(
    txn: Txn, events: Sequence[NewEvent], now: float, *, status: str = "pending"
) -> list[Stored]:
    """`insert_event` for many events at once: the same results, in the same order.

    The payloads are serialised here, then every statement runs in ONE hop to the database
    thread (`insert_rows`): one multi-row INSERT per 256 events, plus one look-up for the
    duplicates among them. Each hop waits for a turn of the event loop, which under load is
    the longest part of a group commit (`make bench`, intake). A (source, dedupe_key) repeated
    within `events` is stored once; the repeats are duplicates.
    """
    rows = [event_row(event, now, status=status) for event in events]
    return await txn.run(functools.partial(insert_rows, rows=rows))


def insert_rows(raw: sqlite3.Connection, rows: Sequence[EventRow]) -> list[Stored]:
    """`insert_events` on the database thread: inside the caller's transaction, or in autocommit
    (the group committer), where each INSERT of up to 256 rows is a transaction of its own.

    As few calls into SQLite as it can: on the database thread each one gives up the GIL and
    then waits to get it back from the busy event loop (`make bench`, intake). So the ids of
    new rows are not read back (RETURNING costs a step per row) but known from SQLite's rowid
    rule: a new row gets the largest rowid so far plus one (sqlite.org/autoinc.html). When
    every row of a chunk is new, its ids are the ones after the largest before the INSERT;
    only a chunk with duplicates looks its ids up.
    """
    results: list[Stored] = []
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        top = _largest_id(raw)
        if top > _MAX_ROWID - len(chunk):  # SQLite picks new rowids at random from here on
            results += _insert_returning(raw, chunk)
            continue
        cursor = raw.execute(_insert_sql(len(chunk)), [value for row in chunk for value in row])
        inserted, last = cursor.rowcount, cursor.lastrowid
        cursor.close()
        if inserted == len(chunk) and last == top + inserted:
            results += [Stored(id=top + n, duplicate=False) for n in range(1, inserted + 1)]
            continue
        # Some were stored before (their ids are not above `top`), or repeat in the chunk.
        ids = _ids_of(raw, {(row[0], row[1]) for row in chunk})
        seen: set[tuple[str, str]] = set()
        for row in chunk:
            key = (row[0], row[1])
            results.append(Stored(id=ids[key], duplicate=ids[key] <= top or key in seen))
            seen.add(key)
    return results


#: the largest rowid SQLite gives; above it new rows get random ones
_MAX_ROWID = 2**63 - 1


def _largest_id(raw: sqlite3.Connection) -> int:
    cursor = raw.execute("SELECT max(id) FROM events")
    try:
        return int(cursor.fetchone()[0] or 0)
    finally:
        cursor.close()


def _insert_returning(raw: sqlite3.Connection, chunk: Sequence[EventRow]) -> list[Stored]:
    """`insert_rows` for one chunk, reading the new ids back (whatever rowids SQLite picks)."""
    cursor = raw.execute(
        _insert_sql(len(chunk)) + " RETURNING id, source, dedupe_key",
        [value for row in chunk for value in row],
    )
    try:
        created = {(row[1], row[2]): int(row[0]) for row in cursor.fetchall()}
    finally:
        cursor.close()
    ids = created
    if len(created) < len(chunk):
        stored_before = {(r[0], r[1]) for r in chunk if (r[0], r[1]) not in created}
        if stored_before:
            ids = {**_ids_of(raw, stored_before), **created}
    fresh = set(created)  # only the first occurrence of a key in the chunk is new
    results = []
    for row in chunk:
        key = (row[0], row[1])
        results.append(Stored(id=ids[key], duplicate=key not in fresh))
        fresh.discard(key)
    return results


@functools.lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_sql(count: int) -> str:
    return (
        f"INSERT INTO events {_EVENT_COLUMNS} VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)
        + " ON CONFLICT (source, dedupe_key) DO NOTHING"
    )


def _ids_of(raw: sqlite3.Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of stored events by (source, dedupe_key)."""
    ordered = sorted(keys)
    cursor = raw.execute(
        "SELECT id, source, dedupe_key FROM events WHERE (source, dedupe_key) IN (VALUES "
        + ", ".join(["(?, ?)"] * len(ordered))
        + ")",
        [part for key in ordered for part in key],
    )
    try:
        return {(row[1], row[2]): int(row[0]) for row in cursor.fetchall()}
    finally:
        cursor.close()


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


async def requeue(txn: Txn, event_id: int, *, done_too: bool = False) -> bool:
    """Put a poisoned event (with `done_too`, a processed one too) back in the queue; False if
    it is neither."""
    statuses = "('poisoned', 'done')" if done_too else "('poisoned')"
    changed = await txn.changes(
        f"UPDATE events SET status = 'pending' WHERE id = ? AND status IN {statuses}", (event_id,)
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


async def last_event_id(txn: Txn) -> int | None:
    """The id of the newest event, None when the inbox is empty."""
    newest = await txn.scalar("SELECT MAX(id) FROM events")
    return None if newest is None else int(newest)


async def has_subject(txn: Txn, subject: str) -> bool:
    """Whether any event names `subject`."""
    return (
        await txn.scalar("SELECT 1 FROM events WHERE subject = ? LIMIT 1", (subject,)) is not None
    )


async def subjects_ending(txn: Txn, suffix: str) -> list[str]:
    """Every distinct event subject that ends with `suffix` (exactly, case and all) and is
    longer than it. A scan of the subjects: for the rare look-up, not for a hot path."""
    pattern = "%" + suffix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await txn.fetchall(
        "SELECT DISTINCT subject FROM events WHERE subject LIKE ? ESCAPE '\\'", (pattern,)
    )
    # LIKE ignores ASCII case: the exact suffix decides.
    return [str(r[0]) for r in rows if str(r[0]).endswith(suffix) and len(str(r[0])) > len(suffix)]


async def count_by_status(txn: Txn) -> dict[str, int]:
    """How many events are pending, done and poisoned."""
    rows = await txn.fetchall("SELECT status, COUNT(*) AS n FROM events GROUP BY status")
    counts = {"pending": 0, "done": 0, "poisoned": 0}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


class GroupCommitter:
    """Store events from many concurrent producers in shared transactions.

    `store()` returns only after the transaction holding the event committed. Arrivals gather
    in a batch while the one before commits, so N concurrent producers cost about one fsync
    per batch instead of N.

    Each batch (of at most 256 events) is one transaction, committed on the database thread
    (`_pump`), back to back for as long as batches keep coming, without a turn of the event
    loop between them: under load the loop is busy with requests, and every await that waits
    for its turn (a hop, a lock, a wake-up) held each commit up by about one turn (`make
    bench`, intake). The thread hands each committed batch back to the loop, which wakes all
    of its producers at once. The pump gives the database lock back when no batch is waiting,
    or after `pump_seconds`, so a steady stream of events does not starve the other writers.

    The hand-back uses the asyncio loop the committer runs in (aiosqlite is asyncio's too).
    """

    def __init__(
        self,
        db: Database,
        clock: Any,
        *,
        max_batch: int = _ROWS_PER_INSERT,
        pump_seconds: float = 0.05,
    ) -> None:
        self._db = db
        self._clock = clock
        # One batch, one INSERT: a batch is stored whole or not at all (see `_pump`).
        self._max_batch = min(max_batch, _ROWS_PER_INSERT)
        self._pump_seconds = pump_seconds
        #: batches waiting for their commit, oldest first; producers join the last one.
        #: Shared with the database thread: touched only under `_queue_lock`.
        self._batches: collections.deque[_Batch] = collections.deque()
        self._queue_lock = threading.Lock()
        self._wakeup = anyio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: called on the event loop after each commit
        self.on_commit: list[Callable[[], object]] = []

    async def store(self, event: NewEvent) -> Stored:
        """Durably store one event (or find its duplicate).

        Raises what the commit of its batch raised; a payload that is not JSON fails here,
        for this producer alone.
        """
        row = event_row(event, self._clock.now())
        # A bare future per producer, not an anyio Event per batch: ~3 us less per event on
        # the event loop (`make bench`, intake). Only the loop touches `waiters`.
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._queue_lock:
            batches = self._batches
            if batches and len(batches[-1].rows) < self._max_batch:
                batch = batches[-1]
            else:
                batch = _Batch()
                batches.append(batch)
            index = len(batch.rows)
            batch.rows.append(row)
        batch.waiters.append(committed)
        if not self._wakeup.is_set():
            self._wakeup.set()
        await committed
        if batch.error is not None:
            raise batch.error
        return batch.results[index]

    async def store_many(self, events: Sequence[NewEvent]) -> list[Stored]:
        """Store several events in one transaction (each its own dedupe), one hop."""
        now = self._clock.now()
        rows = [event_row(event, now) for event in events]
        results = await self._db.write(functools.partial(insert_rows, rows=rows))
        for callback in self.on_commit:
            callback()
        return results

    async def run(self) -> None:
        """The committer loop; runs for the daemon's lifetime."""
        self._loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup = anyio.Event()
            while self._batches:
                await self._pump_while_busy()

    async def _pump_while_busy(self) -> None:
        """Commit the waiting batches, and those arriving meanwhile, under one lock hold."""
        pump = _Pump()
        try:
            # The lock, but no transaction: each batch is one of its own (see `_pump`).
            # Shielded: a batch taken from the queue is committed and handed back, always.
            async with self._db.exclusive() as txn:
                with anyio.CancelScope(shield=True):
                    await txn.run(functools.partial(self._pump, pump=pump))
        except Exception as exc:  # every producer of the batch in the commit hears it
            failed = pump.in_flight or self._take()  # always one: never retry forever
            if failed is not None:
                self._committed(failed, exc)

    def _pump(self, raw: sqlite3.Connection, pump: _Pump) -> None:
        """On the database thread, holding the database lock: store batch after batch while
        there are any (at least one; no more once `pump_seconds` have passed).

        No BEGIN and COMMIT around a batch: its INSERT (one statement: a batch holds at most
        256 events) runs in autocommit, so it is its own transaction and commits, fsync
        included, within the one call into SQLite. On this thread each call gives up the GIL
        and then waits to get it back from the busy event loop, so a batch costs as few calls
        as it can.
        """
        loop = self._loop
        assert loop is not None
        deadline = time.monotonic() + self._pump_seconds
        while (batch := self._take()) is not None:
            pump.in_flight = batch
            error: Exception | None = None
            try:
                batch.results = insert_rows(raw, batch.rows)
            except Exception as exc:  # this batch's producers hear it; the pump goes on
                error = unavailable(exc) or exc  # a full disk: StoreFull, a 503 for the sender
            pump.in_flight = None
            loop.call_soon_threadsafe(self._committed, batch, error)
            if time.monotonic() >= deadline:
                return

    def _take(self) -> _Batch | None:
        """The oldest waiting batch, taken from the queue."""
        with self._queue_lock:
            return self._batches.popleft() if self._batches else None

    def _committed(self, batch: _Batch, error: Exception | None) -> None:
        """On the event loop: the batch is committed (or failed); tell `on_commit`, then wake
        all of its producers (whatever a callback raises)."""
        batch.error = error
        try:
            health = self._db.health
            if error is None:
                if not health.ok:
                    health.succeeded()
                for callback in self.on_commit:
                    callback()
            elif (failure := unavailable(error)) is not None:
                health.failed(failure)
        finally:
            for waiter in batch.waiters:
                if not waiter.done():  # its producer was cancelled
                    waiter.set_result(None)


class _Batch:
    """Events that share one commit, and what it did (`results` in the order of `rows`)."""

    __slots__ = ("error", "results", "rows", "waiters")

    def __init__(self) -> None:
        self.rows: list[EventRow] = []
        #: one future per producer, set on the event loop once the batch is committed
        self.waiters: list[asyncio.Future[None]] = []
        self.results: list[Stored] = []
        self.error: Exception | None = None


class _Pump:
    """The batch a `_pump` run is committing, for the error path."""

    __slots__ = ("in_flight",)

    def __init__(self) -> None:
        self.in_flight: _Batch | None = None


async def seqs_of_webhook_type(
    txn: Txn, kinds: tuple[str, ...], subject: str, webhook_type: str
) -> list[int]:
    """The item seqs named by stored webhooks of `kinds` and `webhook_type` for `subject`."""
    marks = ",".join("?" * len(kinds))
    rows = await txn.fetchall(
        "SELECT DISTINCT json_extract(payload, '$.item_seq') FROM events"
        f" WHERE kind IN ({marks}) AND subject = ? AND json_extract(payload, '$.type') = ?",
        (*kinds, subject, webhook_type),
    )
    return [int(r[0]) for r in rows if r[0] is not None]
