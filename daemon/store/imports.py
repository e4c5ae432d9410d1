"""Import batches as stored: the import_batch chart's subjects (daemon.engine moves them)."""

from __future__ import annotations

import dataclasses
import sqlite3

from daemon.store.database import Txn

__all__ = ["ImportBatch", "import_batch", "unfinished_batches"]


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
