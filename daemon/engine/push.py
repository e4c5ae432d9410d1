"""Pushes: an actor claims the ready items of an order, the driver's result moves them on
(pushed, back to ready, retrying with backoff, failed with one alert)."""

from __future__ import annotations

from typing import Any

import structlog

from daemon.engine import retry_bookkeeping
from daemon.engine.alerts import raise_alert
from daemon.engine.context import Context, fire_item, order_subject
from daemon.engine.effects import Wake
from daemon.engine.item_retries import arm_item_retry
from daemon.engine.retry_bookkeeping import Bookkeeping
from daemon.events import PushClaim, PushResult
from daemon.store.items import ItemRow, items_of_order, update_item

__all__ = ["on_push_claim", "on_push_result"]

log = structlog.get_logger("esd.engine")


async def on_push_claim(ctx: Context) -> list[int]:
    """An actor took a slot for this (order, account): its ready items go to pushing."""
    claim = ctx.payload(PushClaim)
    site, order_number, account = claim.site, claim.order, claim.account
    claimed = []
    for item in await items_of_order(ctx.txn, site, order_number, account):
        if item.state == "ready":
            await fire_item(ctx, item, "start_push", "driver slot taken")
            claimed.append(item.seq)
    return claimed


async def on_push_result(ctx: Context) -> dict[str, Any]:
    """A driver finished pushing (or reconciling) the items it claimed."""
    result = ctx.payload(PushResult)
    site, order_number, account = result.site, result.order, result.account
    outcome, via, seqs = result.outcome, result.via, set(result.seqs)
    items = [
        i
        for i in await items_of_order(ctx.txn, site, order_number, account)
        if i.state == "pushing" and (not seqs or i.seq in seqs)
    ]
    error = result.error
    external = {e.seq: e.external_id for e in result.items}
    if outcome == "pushed":
        why = f"MIS order {result.order_external_id}"
        for item in items:
            if via == "reconcile":
                await fire_item(ctx, item, "reconciled_pushed", why)
            else:
                await fire_item(ctx, item, "push_succeeded", why)
            await update_item(
                ctx.txn,
                item.id,
                ctx.now,
                {
                    "external_id": external.get(item.seq),
                    "order_external_id": result.order_external_id,
                    "pushed_at": ctx.now,
                    "last_error": None,
                    "attempts": 0,
                    "first_failure_at": None,
                    "next_retry_at": None,
                    "reasons": (),
                },
            )
        for warning in result.warnings:
            await raise_alert(ctx, account, order_subject(site, order_number), warning)
        log.info(
            "order.pushed",
            site=site,
            order=order_number,
            account=account,
            mis_order=result.order_external_id,
            items=len(items),
            via=via,
        )
    elif outcome == "absent":
        for item in items:
            await fire_item(ctx, item, "reconciled_absent", "the MIS has nothing yet")
        ctx.effects.add(Wake(account))
    elif outcome == "transient":
        await _schedule_retry(ctx, items, account, error, result.retry_after)
    else:  # permanent
        for item in items:
            await fire_item(ctx, item, "push_failed_permanent", error)
            await update_item(
                ctx.txn, item.id, ctx.now, {"last_error": error, "next_retry_at": None}
            )
        if items:
            await raise_alert(ctx, account, order_subject(site, order_number), error)
    moved = [i.seq for i in items]
    return {
        "outcome": outcome,
        "site": site,
        "order": order_number,
        "account": account,
        "items": moved,
        "external": {
            seq: external_id
            for seq, external_id in external.items()
            if outcome == "pushed" and seq in moved
        },
    }


async def _schedule_retry(
    ctx: Context,
    items: list[ItemRow],
    account: str,
    error: str,
    retry_after: float | None,
) -> None:
    if not items:
        return
    failure = retry_bookkeeping.after_failure(
        ctx.config.retry,
        Bookkeeping.of_many(Bookkeeping(i.attempts, i.first_failure_at) for i in items),
        now=ctx.now,
        retry_after=retry_after,
        rng=ctx.rng,
    )
    decision, attempts, first = failure.decision, failure.attempts, failure.first_failure_at
    site, order_number = items[0].site, items[0].order_number
    if decision.give_up:
        message = f"{decision.reason}: {error}"
        for item in items:
            await fire_item(ctx, item, "give_up", message)
            await update_item(
                ctx.txn,
                item.id,
                ctx.now,
                {"last_error": message, "attempts": attempts, "next_retry_at": None},
            )
        await raise_alert(ctx, account, order_subject(site, order_number), message)
        return
    for item in items:
        await fire_item(ctx, item, "push_failed_transient", f"{error} ({decision.reason})")
        await update_item(
            ctx.txn,
            item.id,
            ctx.now,
            {
                "last_error": error,
                "attempts": attempts,
                "first_failure_at": first,
                "next_retry_at": decision.due_at,
            },
        )
        await arm_item_retry(ctx.txn, item, failure.due_at)
