"""MIS status and tracking of pushed items, from a poll or a webhook: data with history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from daemon.engine.context import Context
from daemon.engine.effects import Poll
from daemon.errors import BadEventPayload
from daemon.events import LineStatus, MisWebhook, StatusPollTimer, StatusReport, to_payload
from daemon.store import item_status
from daemon.store.items import items_of_order, update_item
from daemon.store.timers import set_timer

__all__ = ["apply_status_reports", "on_mis_webhook", "on_status_poll_timer", "on_status_report"]

log = structlog.get_logger("esd.engine")


async def on_status_report(ctx: Context) -> list[dict[str, Any]]:
    """Record MIS status and tracking of pushed items: data with history, not states."""
    report = ctx.payload(StatusReport)
    return await apply_status_reports(
        ctx, report.site, report.order, report.account, report.reports
    )


async def on_mis_webhook(ctx: Context) -> list[dict[str, Any]]:
    """A status webhook of an MIS account: its line statuses, named by the MIS's own ids, are
    sorted to the orders whose pushed items carry those ids, then recorded as a poll's are."""
    hook = ctx.payload(MisWebhook)
    if hook.problem:
        # Kept, not lost: poisoned with the judge's reason, its body in the payload.
        raise BadEventPayload(
            f"event {ctx.event.id} (mis.webhook): account {hook.account!r} sent a webhook "
            f"its provider could not read: {hook.problem} (the body is kept in this event; "
            "the account's status poll still runs)"
        )
    account, reports = hook.account, hook.reports
    ids = [r.external_id for r in reports]
    if not ids:
        return []
    rows = await item_status.pushed_lines(ctx.txn, account, ids)
    by_order: dict[tuple[str, str], list[LineStatus]] = {}
    known: set[str] = set()
    for site, order_number, seq, external_id in rows:
        known.add(external_id)
        for report in reports:
            if report.external_id == external_id:
                by_order.setdefault((site, order_number), []).append(report.for_seq(seq))
    unknown = sorted(set(ids) - known)
    if unknown:
        # Not an error: the MIS reports lines esd did not push (or pushed and forgot).
        log.info("mis_webhook.unknown_lines", account=account, event_id=ctx.event.id, ids=unknown)
    changes: list[dict[str, Any]] = []
    for (site, order_number), order_reports in sorted(by_order.items()):
        changes += await apply_status_reports(ctx, site, order_number, account, order_reports)
    return changes


async def apply_status_reports(
    ctx: Context,
    site: str,
    order_number: str,
    account: str,
    reports: Sequence[LineStatus],
) -> list[dict[str, Any]]:
    """Record the `reports` ({seq, status, tracking}) of one order's pushed items, whether a
    poll or a webhook brought them; return what changed, for the storefront write-back."""
    by_seq = {i.seq: i for i in await items_of_order(ctx.txn, site, order_number, account)}
    changes: list[dict[str, Any]] = []
    for report in reports:
        seq, status, tracking = report.seq, report.status, report.tracking
        item = by_seq.get(seq)
        if item is None or item.state != "pushed":
            continue
        if item.mis_status == status and item.tracking == tracking:
            continue
        await update_item(ctx.txn, item.id, ctx.now, {"mis_status": status, "tracking": tracking})
        await item_status.record_status(ctx.txn, item.id, status, tracking, ctx.event.id, ctx.now)
        changes.append(
            {
                "site": site,
                "order": order_number,
                "account": account,
                "seq": seq,
                "status": status,
                "tracking": list(tracking),
                "new_tracking": bool(set(tracking) - set(item.tracking)),
            }
        )
    return changes


async def on_status_poll_timer(ctx: Context, timer: StatusPollTimer) -> str:
    """An account's status poll is due: ask its actor and set the next one."""
    account = timer.account
    if account in ctx.config.accounts:
        interval = ctx.config.accounts[account].status_poll_seconds
        await set_timer(ctx.txn, "status_poll", account, ctx.now + interval, to_payload(timer))
        ctx.effects.add(Poll(account))
    return account
