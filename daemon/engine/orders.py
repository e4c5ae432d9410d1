"""Orders: a snapshot is stored and each item judged against the push rules, the go-live
cut-off and adoption of a MisId esd did not write, per live account."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import structlog

from daemon.config import Config
from daemon.engine.context import Context, fire_item, with_operator
from daemon.engine.effects import Wake
from daemon.engine.item_retries import disarm_item_retry
from daemon.engine.machines import record_created
from daemon.errors import BadEventPayload
from daemon.events import OrderSnapshot
from daemon.orders.go_live import CutOff, cut_off, is_foreign_mis_id, skip_reason
from daemon.orders.model import Order
from daemon.orders.push_rules import evaluate
from daemon.store import activation_live
from daemon.store.database import Txn
from daemon.store.items import ItemRow, create_item, items_of_order, update_item
from daemon.store.orders import save_snapshot

__all__ = [
    "esd_ids_of",
    "first_live",
    "judge_order",
    "on_order_snapshot",
    "on_order_snapshot_of",
    "record_first_live",
]

log = structlog.get_logger("esd.engine")


async def on_order_snapshot(ctx: Context) -> dict[str, Any]:
    """An order snapshot in esd's own model (operator submit, tests)."""
    raw_order = ctx.payload(OrderSnapshot).order
    order = Order.from_json(raw_order, where=f"event {ctx.event.id}.order")
    return await on_order_snapshot_of(ctx, order, raw_order)


async def on_order_snapshot_of(ctx: Context, order: Order, raw_order: Any) -> dict[str, Any]:
    """Store the order and judge each item against the push rules, per live account."""
    site = ctx.config.sites.get(order.site)
    if site is None:
        known = ", ".join(sorted(ctx.config.sites)) or "none"
        raise BadEventPayload(
            f"order {order.order_number}: site {order.site!r} is not configured (sites: {known})"
        )
    await save_snapshot(
        ctx.txn, order.site, order.order_number, raw_order, ctx.event.id, ctx.now, decoded=order
    )
    accounts = site.live_accounts()
    if not accounts:
        log.info("order.no_live_account", site=order.site, order=order.order_number)
    moved = 0
    for account in accounts:
        moved += await judge_order(ctx, order, account)
    return {"accounts": list(accounts), "transitions": moved}


async def first_live(ctx: Context, site: str, account: str) -> float:
    """When the (site, account) activation first went live in this store (recorded now if never).

    The daemon records every live activation at start (`record_first_live`); this covers an
    activation made live by a config the daemon has not started with yet.
    """
    at = await activation_live.first_live_at(ctx.txn, site, account)
    if at is None:
        await activation_live.record_first_live_at(ctx.txn, site, account, ctx.now)
        return ctx.now
    return at


async def record_first_live(txn: Txn, config: Config, now: float) -> None:
    """Remember when each live activation first went live (kept if already known)."""
    await activation_live.record_live_activations(
        txn,
        [(site.key, account) for site in config.sites.values() for account in site.live_accounts()],
        now,
    )


async def _cut_off(ctx: Context, order: Order, account: str) -> CutOff | None:
    site = ctx.config.sites.get(order.site)
    if site is None:
        return None
    activation = site.activation(account)
    placed_after = activation.push_orders_placed_after if activation else None
    if site.storefront is None:
        # Orders of a site without a storefront come only by `esd submit`: the operator asked.
        return cut_off(placed_after, None)
    live = await first_live(ctx, order.site, account)
    return cut_off(placed_after, dt.datetime.fromtimestamp(live, dt.UTC))


def esd_ids_of(items: Iterable[ItemRow]) -> dict[int, set[str | None]]:
    """The external ids esd recorded for each item of an order's rows (every account's):
    the MisIds esd wrote (an adopted item's id is the storefront's, not esd's)."""
    found: dict[int, set[str | None]] = {}
    for item in items:
        if not item.adopted:
            found.setdefault(item.seq, set()).add(item.external_id)
    return found


async def judge_order(ctx: Context, order: Order, account: str) -> int:
    """Apply the push rules to every item of `order` for `account`; return transitions made.

    Before the rules: an item whose storefront MisId esd did not write is adopted as pushed;
    an item placed before the go-live cut-off, or of a status-only activation, is skipped.
    """
    decision = evaluate(order)
    # one read of the order's rows: this account's are its items, every account's say which
    # MisIds esd wrote
    rows = await items_of_order(ctx.txn, order.site, order.order_number)
    existing = {i.seq: i for i in rows if i.account == account}
    moved = 0
    chart = ctx.charts.order_item
    site_cfg = ctx.config.sites.get(order.site)
    activation = site_cfg.activation(account) if site_cfg is not None else None
    adopt = activation is not None and activation.adopt_mis_id
    limit = await _cut_off(ctx, order, account)
    esd_ids = esd_ids_of(rows)
    for order_item in order.items:
        item = existing.get(order_item.seq)
        if item is None:
            item = await create_item(
                ctx.txn,
                order.site,
                order.order_number,
                order_item.seq,
                account,
                chart.initial,
                ctx.now,
            )
            await record_created(
                ctx.txn,
                chart,
                item.id,
                event_id=ctx.event.id,
                reason=with_operator(ctx, "order received") or "order received",
                now=ctx.now,
            )
        state = item.state
        if (
            adopt
            and state in ("pending", "ready", "skipped")
            and is_foreign_mis_id(order_item.mis_id, esd_ids.get(order_item.seq, ()))
        ):
            mis_id = order_item.mis_id.strip()
            why = f"adopted: the storefront item carries MisId {mis_id}, which esd did not write"
            await fire_item(ctx, item, "adopt", why)
            await update_item(
                ctx.txn,
                item.id,
                ctx.now,
                {"external_id": mis_id, "adopted": True, "pushed_at": ctx.now, "reasons": (why,)},
            )
            log.info(
                "item.adopted",
                site=order.site,
                order=order.order_number,
                seq=order_item.seq,
                account=account,
                mis_id=mis_id,
            )
            moved += 1
            continue
        skip = (
            skip_reason(activation, order.order_date, limit, operator_asked=item.operator_asked)
            if activation is not None
            else None
        )
        if skip is not None and state in ("pending", "ready", "excluded", "skipped"):
            if state != "skipped":
                await fire_item(ctx, item, "skip", skip)
                moved += 1
            if item.reasons != (skip,):
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": (skip,)})
            continue
        if state == "skipped":
            state = await fire_item(ctx, item, "unskip", "no longer before the cut-off")
            item = dataclasses.replace(item, state=state)
            moved += 1
        if order_item.seq in decision.excluded:
            why = decision.excluded[order_item.seq]
            if chart.allowed(state, "exclude"):
                await fire_item(ctx, item, "exclude", why)
                if state == "retrying":
                    await disarm_item_retry(ctx.txn, item)
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": (why,)})
                moved += 1
            continue
        if state == "excluded":
            state = await fire_item(ctx, item, "include", "no longer denied or cancelled")
            item = dataclasses.replace(item, state=state)
            moved += 1
        if order_item.seq in decision.ready:
            if state == "pending":
                await fire_item(ctx, item, "rules_met", "all push rules met")
                moved += 1
            if item.reasons and state in ("pending", "ready"):  # an adopted item keeps its why
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": ()})
            ctx.effects.add(Wake(account))
        else:
            reasons = decision.held.get(order_item.seq, ())
            if state == "ready":
                await fire_item(ctx, item, "rules_unmet", "; ".join(reasons))
                moved += 1
            if state in ("pending", "ready") and tuple(reasons) != item.reasons:
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": tuple(reasons)})
    return moved
