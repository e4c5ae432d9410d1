"""Import batches as stored: the import_batch chart's subjects (daemon.engine moves them)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.store.database import Txn
from daemon.store.json_columns import to_column

__all__ = [
    "ImportBatch",
    "add_page",
    "create_batch",
    "import_batch",
    "latest_batch",
    "record_failure",
    "reset_failures",
    "set_last_error",
    "unfinished_batches",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ImportBatch:
    """One import from a MIS (products, categories, prices, stock)."""

    id: int
    account: str
    kind: str
    state: str
    pages: int
    records: int
    attempts: int
    first_failure_at: float | None
    next_retry_at: float | None
    last_error: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ImportBatch:
        return cls(**dict(row))


async def import_batch(txn: Txn, batch_id: int) -> ImportBatch | None:
    """One batch by id."""
    row = await txn.fetchone("SELECT * FROM import_batches WHERE id = ?", (batch_id,))
    return None if row is None else ImportBatch.from_row(row)


async def unfinished_batches(txn: Txn, account: str) -> list[ImportBatch]:
    """The account's batches still pending or running, oldest first."""
    rows = await txn.fetchall(
        "SELECT * FROM import_batches WHERE account = ?"
        " AND state IN ('running', 'pending') ORDER BY id",
        (account,),
    )
    return [ImportBatch.from_row(r) for r in rows]


async def latest_batch(txn: Txn, account: str, kind: str) -> ImportBatch | None:
    """The account's newest batch of `kind`, or None."""
    row = await txn.fetchone(
        "SELECT * FROM import_batches WHERE account = ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (account, kind),
    )
    return None if row is None else ImportBatch.from_row(row)


async def create_batch(txn: Txn, account: str, kind: str, state: str, now: float) -> int:
    """A new batch in `state`; returns its id."""
    return await txn.execute(
        "INSERT INTO import_batches (account, kind, state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (account, kind, state, now, now),
    )


async def add_page(
    txn: Txn, batch: ImportBatch, records: Sequence[Mapping[str, Any]], now: float
) -> None:
    """Keep one page of records (each by its `key`, the newest data wins) and count it."""
    await txn.off_loop().executemany(
        "INSERT INTO imported_records (account, kind, key, data, batch_id, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET data = excluded.data,"
        " batch_id = excluded.batch_id, updated_at = excluded.updated_at",
        [(batch.account, batch.kind, str(r["key"]), to_column(r), batch.id, now) for r in records],
    )
    await txn.execute(
        "UPDATE import_batches SET pages = pages + 1, records = records + ?, updated_at = ?"
        " WHERE id = ?",
        (len(records), now, batch.id),
    )


async def reset_failures(txn: Txn, batch_id: int, *, clear_error: bool = False) -> None:
    """A new failure episode starts (a rerun), or the batch succeeded (`clear_error`)."""
    sql = "UPDATE import_batches SET attempts = 0, first_failure_at = NULL"
    if clear_error:
        sql += ", last_error = NULL"
    await txn.execute(sql + " WHERE id = ?", (batch_id,))


async def set_last_error(txn: Txn, batch_id: int, error: str) -> None:
    await txn.execute("UPDATE import_batches SET last_error = ? WHERE id = ?", (error, batch_id))


async def record_failure(
    txn: Txn,
    batch_id: int,
    *,
    attempts: int,
    first_failure_at: float,
    next_retry_at: float | None,
    error: str,
) -> None:
    """The batch failed again: its count, episode start, next try and error."""
    await txn.execute(
        "UPDATE import_batches SET attempts = ?, first_failure_at = ?, next_retry_at = ?,"
        " last_error = ? WHERE id = ?",
        (attempts, first_failure_at, next_retry_at, error, batch_id),
    )
