"""Retention: processed inbox events and transition history older than `retention_days` go,
in small batches, in the background. Nothing else does.

Never pruned: pending or poisoned events (unfinished work, or evidence an operator must see),
an event anything still refers to (an order's last snapshot, a status-history row, an alert,
a kept transition), and anything of an order with an item that is not finished: finished is
`pushed`, `excluded` or `skipped` for an item, `done` or `failed` for an import batch. Items,
orders, journals, timers, alerts and imported records are never pruned: they are the state,
not its history, and the exactly-once promise rests on them.

A redelivery of a webhook whose event was pruned is stored again and judged again, which is
harmless: the order's items already say pushed, so nothing is pushed twice.

Each batch is one short write transaction (at most `batch` rows), so the processor and the
webhook intake are never held up for long.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Final

import anyio
import structlog

from daemon.clock import Clock
from daemon.errors import StoreError
from daemon.store.database import Database

__all__ = ["PRUNE_EVERY_SECONDS", "Pruned", "prune", "run_retention"]

log = structlog.get_logger("esd.retention")

#: how often the background pass runs; the first one runs this long after the start too, so
#: pruning never adds to the time to READY
PRUNE_EVERY_SECONDS: Final = 3600.0

_ITEM_FINISHED: Final = "('pushed', 'excluded', 'skipped')"
_BATCH_FINISHED: Final = "('done', 'failed')"

# Transitions of subjects that are finished, and whose order has nothing unfinished.
_PRUNE_TRANSITIONS: Final = f"""
DELETE FROM transitions WHERE id IN (
    SELECT t.id FROM transitions t
    WHERE t.at < ?
      AND (
        (t.chart = 'order_item' AND EXISTS (
            SELECT 1 FROM items i WHERE i.id = t.subject_id AND i.state IN {_ITEM_FINISHED}
              AND NOT EXISTS (
                SELECT 1 FROM items u
                WHERE u.site = i.site AND u.order_number = i.order_number
                  AND u.state NOT IN {_ITEM_FINISHED})))
        OR (t.chart = 'import_batch' AND EXISTS (
            SELECT 1 FROM import_batches b
            WHERE b.id = t.subject_id AND b.state IN {_BATCH_FINISHED})))
    ORDER BY t.id LIMIT ?)
"""

# Processed events nothing refers to; a per-order event ("site/order") only when that order
# has nothing unfinished.
_PRUNE_EVENTS: Final = f"""
DELETE FROM events WHERE id IN (
    SELECT e.id FROM events e
    WHERE e.status = 'done' AND e.received_at < ?
      AND NOT EXISTS (SELECT 1 FROM transitions t WHERE t.event_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.event_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM item_status_history h WHERE h.event_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.event_id = e.id)
      AND (e.subject IS NULL OR instr(e.subject, '/') = 0 OR NOT EXISTS (
            SELECT 1 FROM items i
            WHERE i.site = substr(e.subject, 1, instr(e.subject, '/') - 1)
              AND i.order_number = substr(e.subject, instr(e.subject, '/') + 1)
              AND i.state NOT IN {_ITEM_FINISHED}))
    ORDER BY e.id LIMIT ?)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Pruned:
    """What one pruning pass deleted."""

    transitions: int
    events: int
    batches: int


async def prune(db: Database, *, before: float, batch: int = 500) -> Pruned:
    """Delete history older than `before` (epoch seconds) in transactions of at most `batch`
    rows, yielding between them; transitions first, since events they name cannot go first."""
    counts = {"transitions": 0, "events": 0}
    batches = 0
    for name, sql in (("transitions", _PRUNE_TRANSITIONS), ("events", _PRUNE_EVENTS)):
        while True:
            async with db.transaction() as txn:
                deleted = await txn.off_loop().changes(sql, (before, batch))
            batches += 1
            counts[name] += deleted
            if deleted < batch:
                break
            await anyio.sleep(0)  # let the processor and the intake take the store
    return Pruned(transitions=counts["transitions"], events=counts["events"], batches=batches)


async def run_retention(
    db: Database, retention_days: float, clock: Clock, *, every: float = PRUNE_EVERY_SECONDS
) -> None:
    """Prune every `every` seconds, for ever; `retention_days` 0 keeps everything. A failed
    pass (a full disk, a locked store) is logged and tried again at the next interval."""
    if retention_days <= 0:
        return
    while True:
        await anyio.sleep(every)
        before = clock.now() - retention_days * 86400.0
        try:
            pruned = await prune(db, before=before)
        except (StoreError, sqlite3.Error) as exc:
            log.warning("retention.failed", error=str(exc))
            continue
        if pruned.transitions or pruned.events:
            log.info(
                "retention.pruned",
                transitions=pruned.transitions,
                events=pruned.events,
                batches=pruned.batches,
                before=before,
            )
