"""The `state` column of a chart's subjects and its history rows, written together."""

from __future__ import annotations

import sqlite3

from daemon.store.database import Txn

__all__ = ["TABLES", "ever_reached", "move_state", "record_birth"]

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
