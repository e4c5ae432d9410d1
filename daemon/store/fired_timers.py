"""Taking a due timer off the table as it fires (its firing is an event from then on)."""

from __future__ import annotations

from daemon.store.database import Txn

__all__ = ["take_timer"]


async def take_timer(txn: Txn, timer_id: int) -> None:
    await txn.execute("DELETE FROM timers WHERE id = ?", (timer_id,))
