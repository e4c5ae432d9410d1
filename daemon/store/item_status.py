"""MIS status of pushed items: the history of what the MIS said, and items by MIS id."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.store.database import Txn
from daemon.store.json_columns import to_column

__all__ = ["pushed_lines", "record_status"]


async def record_status(
    txn: Txn, item_id: int, status: str, tracking: Sequence[str], event_id: int, now: float
) -> None:
    """One history row: the item's MIS status and tracking numbers as of `now`."""
    await txn.execute(
        "INSERT INTO item_status_history (item_id, status, tracking, event_id, at)"
        " VALUES (?, ?, ?, ?, ?)",
        (item_id, status, to_column(list(tracking)), event_id, now),
    )


async def pushed_lines(
    txn: Txn, account: str, external_ids: Sequence[str]
) -> list[tuple[str, str, int, str]]:
    """(site, order_number, seq, external_id) of the account's pushed items carrying one of
    `external_ids` (the MIS's own line ids)."""
    if not external_ids:
        return []
    marks = ",".join("?" * len(external_ids))
    rows = await txn.fetchall(
        "SELECT site, order_number, seq, external_id FROM items"
        f" WHERE account = ? AND state = 'pushed' AND external_id IN ({marks})",
        (account, *external_ids),
    )
    return [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]
