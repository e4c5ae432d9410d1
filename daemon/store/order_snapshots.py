"""The stored snapshot of each order (the last one judged) and what the engine asks of it."""

from __future__ import annotations

import json
from typing import Any

from daemon.store.database import Txn
from daemon.store.json_columns import to_column

__all__ = ["has_open_items", "is_known", "save_snapshot", "snapshot_of"]


async def save_snapshot(
    txn: Txn, site: str, order_number: str, snapshot: Any, event_id: int, now: float
) -> None:
    """Keep `snapshot` as the order's latest (insert or replace), with the event it came by."""
    await txn.execute(
        "INSERT INTO orders (site, order_number, snapshot, event_id, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET snapshot = excluded.snapshot,"
        " event_id = excluded.event_id, updated_at = excluded.updated_at",
        (site, order_number, to_column(snapshot), event_id, now),
    )


async def snapshot_of(txn: Txn, site: str, order_number: str) -> Any | None:
    """The order's stored snapshot (parsed JSON), or None if it was never stored."""
    text = await txn.scalar(
        "SELECT snapshot FROM orders WHERE site = ? AND order_number = ?", (site, order_number)
    )
    return None if text is None else json.loads(text)


async def is_known(txn: Txn, site: str, order_number: str) -> bool:
    """Whether the order was ever stored."""
    return bool(
        await txn.scalar(
            "SELECT 1 FROM orders WHERE site = ? AND order_number = ?", (site, order_number)
        )
    )


async def has_open_items(txn: Txn, site: str, order_number: str) -> bool:
    """Whether an item of the order still waits on the push rules (pending or ready)."""
    return bool(
        await txn.scalar(
            "SELECT COUNT(*) FROM items WHERE site = ? AND order_number = ?"
            " AND state IN ('pending', 'ready')",
            (site, order_number),
        )
    )
