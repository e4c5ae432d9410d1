"""Each retrying item's own durable retry timer: armed, disarmed, fired, and re-armed if lost."""

from __future__ import annotations

import structlog

from daemon.engine import retry_bookkeeping
from daemon.engine.context import Context, fire_item
from daemon.engine.effects import Wake
from daemon.events import RetryTimer, to_payload
from daemon.store.database import Txn
from daemon.store.items import ItemRow, items_in_state, items_of_order, update_item
from daemon.store.timers import timers_of_kind

__all__ = [
    "arm_item_retry",
    "disarm_item_retry",
    "lost_retries",
    "on_retry_timer",
    "rearm_lost_retries",
    "retry_subject",
    "retry_subject_of",
]

log = structlog.get_logger("esd.engine")


def retry_subject(site: str, order_number: str, account: str, seq: int) -> str:
    """The timer subject of one retrying item.

    One timer per item, not per (order, account): items of one order fail and retry at
    different times, and another item's success, failure or retry must never move or cancel
    this item's timer (issue 12: a shared timer was cancelled by a sibling's success and the
    item stayed in `retrying` for ever)."""
    return f"{site}/{order_number}/{account}/{seq}"


def retry_subject_of(item: ItemRow) -> str:
    return retry_subject(item.site, item.order_number, item.account, item.seq)


async def arm_item_retry(txn: Txn, item: ItemRow, due_at: float) -> None:
    """Set (or move) the item's own retry timer."""
    timer = RetryTimer(item.site, item.order_number, item.account, item.seq)
    await retry_bookkeeping.arm(txn, "retry", retry_subject_of(item), due_at, to_payload(timer))


async def disarm_item_retry(txn: Txn, item: ItemRow) -> None:
    """The item leaves `retrying` by another way than its timer: its timer goes."""
    await retry_bookkeeping.disarm(txn, "retry", retry_subject_of(item))


async def on_retry_timer(ctx: Context, timer: RetryTimer) -> list[int]:
    """An item's retry is due: it goes back to ready (if it is still retrying).

    A payload without "seq" is an (order, account) timer of esd before store version 3 (the
    migration replaces those; an old timer.fired event may still be replayed): it moves every
    retrying item of the (order, account), as it did then."""
    site, order_number, account, seq = timer.site, timer.order, timer.account, timer.seq
    moved = []
    for item in await items_of_order(ctx.txn, site, order_number, account):
        if item.state == "retrying" and (seq is None or item.seq == seq):
            await fire_item(ctx, item, "retry_due", "retry timer fired")
            await update_item(ctx.txn, item.id, ctx.now, {"next_retry_at": None})
            moved.append(item.seq)
    if moved:
        ctx.effects.add(Wake(account))
    return moved


async def lost_retries(txn: Txn) -> list[ItemRow]:
    """Retrying items that no retry timer covers: none has the item's subject and is due at
    or before the item's next_retry_at. Never expected; a safety net for a timer lost to a
    bug (or written by an older esd)."""
    due_by_subject = {t.subject: t.due_at for t in await timers_of_kind(txn, "retry")}
    lost = []
    for item in await items_in_state(txn, "retrying"):
        due_at = due_by_subject.get(retry_subject_of(item))
        if due_at is None or (item.next_retry_at is not None and due_at > item.next_retry_at):
            lost.append(item)
    return lost


async def rearm_lost_retries(txn: Txn, now: float) -> list[ItemRow]:
    """Give every retrying item without a covering timer its own timer again: due at its
    next_retry_at, or now if that has passed (or is unknown). Returns the items re-armed."""
    lost = await lost_retries(txn)
    for item in lost:
        due_at = now if item.next_retry_at is None else max(now, item.next_retry_at)
        await arm_item_retry(txn, item, due_at)
        if item.next_retry_at is None or item.next_retry_at < due_at:
            await update_item(txn, item.id, now, {"next_retry_at": due_at})
        log.warning(
            "retry.rearmed",
            item=item.id,
            site=item.site,
            order=item.order_number,
            account=item.account,
            seq=item.seq,
            next_retry_at=item.next_retry_at,
            due_at=due_at,
        )
    return lost
