"""Operator commands as events: Push Order, replay an event, synchronise status now."""

from __future__ import annotations

from typing import Any

from daemon.engine.context import Context, fire_item
from daemon.engine.effects import Poll, Reprocess, Wake
from daemon.engine.item_retries import disarm_item_retry
from daemon.engine.orders import judge_order
from daemon.errors import BadEventPayload
from daemon.events import OperatorPush, OperatorReplay, OperatorSync
from daemon.orders.model import Order
from daemon.store import inbox
from daemon.store.items import items_of_order, update_item
from daemon.store.orders import snapshot_of
from daemon.storefronts.contract import WEBHOOK_KIND, legacy_webhook_kind
from daemon.storefronts.registry import STOREFRONTS

__all__ = ["REPLAYABLE_KINDS", "on_operator_push", "on_operator_replay", "on_operator_sync"]


#: Event kinds whose processed events may be replayed: inputs from outside that their handler
#: re-judges against what is stored (a re-run changes only what differs). The other kinds
#: record what the daemon itself did (a push claimed, a page imported, a timer fired):
#: applying one twice would do it twice.
REPLAYABLE_KINDS = frozenset(
    {"order.snapshot", "storefront.order", "storefront.poll", "status.report", "mis.webhook"}
    | {WEBHOOK_KIND, *(legacy_webhook_kind(name) for name in STOREFRONTS)}
)


async def on_operator_push(ctx: Context) -> list[dict[str, Any]]:
    """The "Push Order" button: failed or retrying items of the order go back to ready."""
    push = ctx.payload(OperatorPush)
    site, order_number, account = push.site, push.order, push.account
    moved: list[dict[str, Any]] = []
    snapshot = await snapshot_of(ctx.txn, site, order_number)
    site_cfg = ctx.config.sites.get(site)
    for item in await items_of_order(ctx.txn, site, order_number, account):
        if item.state == "skipped":
            activation = site_cfg.activation(item.account) if site_cfg else None
            if activation is None or activation.orders == "status_only":
                continue  # status only creates nothing, even when asked: its reason says so
            # The operator asked: the go-live cut-off no longer holds this item back.
            dest = await fire_item(
                ctx, item, "operator_push", "operator pushed it past the cut-off"
            )
            await update_item(ctx.txn, item.id, ctx.now, {"operator_asked": True, "reasons": ()})
            moved.append({"seq": item.seq, "account": item.account, "from": item.state, "to": dest})
            ctx.effects.add(Wake(item.account))
        elif item.state in ("failed", "retrying"):
            dest = await fire_item(ctx, item, "operator_push", "operator pressed Push Order")
            await update_item(
                ctx.txn,
                item.id,
                ctx.now,
                {"attempts": 0, "first_failure_at": None, "next_retry_at": None},
            )
            if item.state == "retrying":
                await disarm_item_retry(ctx.txn, item)
            moved.append({"seq": item.seq, "account": item.account, "from": item.state, "to": dest})
            ctx.effects.add(Wake(item.account))
    if snapshot is not None:
        # Held items are judged again: the push rules, not the button, decide they may go.
        order = Order.from_json(snapshot)
        accounts = (
            {account}
            if account
            else {i.account for i in await items_of_order(ctx.txn, site, order_number)}
        )
        for acct in accounts:
            before = {
                i.seq: i.state for i in await items_of_order(ctx.txn, site, order_number, acct)
            }
            await judge_order(ctx, order, acct)
            for item in await items_of_order(ctx.txn, site, order_number, acct):
                if before.get(item.seq) != item.state:
                    moved.append(
                        {
                            "seq": item.seq,
                            "account": acct,
                            "from": before.get(item.seq),
                            "to": item.state,
                        }
                    )
    return moved


async def on_operator_replay(ctx: Context) -> dict[str, Any]:
    """Put an event back in the queue, after the operator fixed its cause: a poisoned one, or
    a processed one of REPLAYABLE_KINDS (re-drive a webhook once the storefront data is right)."""
    event_id = ctx.payload(OperatorReplay).event_id
    target = await inbox.get_event(ctx.txn, event_id)
    done_too = target is not None and target.kind in REPLAYABLE_KINDS
    requeued = await inbox.requeue(ctx.txn, event_id, done_too=done_too)
    if not requeued:
        status = "missing" if target is None else target.status
        raise BadEventPayload(f"event {event_id} is {status}: nothing to replay")
    ctx.effects.add(Reprocess())
    return {"id": event_id, "status": "pending"}


async def on_operator_sync(ctx: Context) -> list[str]:
    """Status synchronisation on demand (seed 003: PressWise has no status feed)."""
    account = ctx.payload(OperatorSync).account
    accounts = [account] if account is not None else sorted(ctx.config.accounts)
    unknown = [a for a in accounts if a not in ctx.config.accounts]
    if unknown:
        raise BadEventPayload(f"event {ctx.event.id}: unknown account {unknown[0]!r}")
    for name in accounts:
        ctx.effects.add(Poll(name))
    return accounts
