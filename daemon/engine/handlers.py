"""What each kind of event does to the stored machines.

A handler runs inside the transaction that marks its event done, so its state changes, history
rows and timers commit together with it or not at all. Handlers do no network I/O: work for a
driver is requested through `Effects`, which the engine hands to the actors after the commit.

Event kinds (payload keys):
    order.snapshot   {order}                                   storefront webhook / poll / operator
    push.claim       {site, order, account}                    an actor took a push slot
    push.result      {site, order, account, outcome, seqs, via, order_external_id, items, error,
                      retry_after}                             a driver finished (or reconciled)
    status.report    {site, order, account, reports}           MIS status / tracking (poll)
    mis.webhook      {account, dedupe_key, reports}            MIS status pushed by webhook;
                                                               reports name MIS external_ids
    timer.fired      {timer_id, kind, subject, payload}        a durable timer came due
    operator.push    {site, order, account, by}                the seeds' "Push Order" button
    operator.replay  {event_id, by}                            put an event back in the queue
    operator.sync    {account}                                 poll MIS status now
    import.request   {account, kind}                           start an import batch
    import.claim     {batch_id}                                an actor started the batch
    import.page      {batch_id, kind, records}                 one page of MIS records
    import.result    {batch_id, outcome, error, retry_after}   the batch ended
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog

from daemon.config import Config
from daemon.engine import retry_bookkeeping
from daemon.engine.effects import Effects, Import, Poll, Reprocess, SendMail, Wake
from daemon.engine.events import (
    ImportClaim,
    ImportPage,
    ImportRequest,
    ImportResult,
    ImportRetryTimer,
    LineStatus,
    MisWebhook,
    OperatorPush,
    OperatorReplay,
    OperatorSync,
    OrderSnapshot,
    PushClaim,
    PushResult,
    RetryTimer,
    StatusPollTimer,
    StatusReport,
    parse_as,
    to_payload,
)
from daemon.engine.machines import fire, record_created
from daemon.engine.retry_bookkeeping import Bookkeeping
from daemon.errors import BadEventPayload
from daemon.orders.go_live import CutOff, cut_off, is_foreign_mis_id, skip_reason
from daemon.orders.model import Order
from daemon.orders.push_rules import evaluate
from daemon.statecharts import Statecharts
from daemon.store import (
    activation_live,
    batches,
    inbox,
    item_status,
    order_snapshots,
    raised_alerts,
)
from daemon.store.database import Txn
from daemon.store.items import ItemRow, create_item, items_in_state, items_of_order, update_item
from daemon.store.timers import set_timer, timers_of_kind
from daemon.storefronts.contract import WEBHOOK_KIND, legacy_webhook_kind
from daemon.storefronts.registry import STOREFRONTS

__all__ = [
    "REPLAYABLE_KINDS",
    "Context",
    "Effects",
    "Handler",
    "lost_retries",
    "order_subject",
    "rearm_lost_retries",
    "retry_subject",
]

#: Event kinds whose processed events may be replayed: inputs from outside that their handler
#: re-judges against what is stored (a re-run changes only what differs). The other kinds
#: record what the daemon itself did (a push claimed, a page imported, a timer fired):
#: applying one twice would do it twice.
REPLAYABLE_KINDS = frozenset(
    {"order.snapshot", "storefront.order", "storefront.poll", "status.report", "mis.webhook"}
    | {WEBHOOK_KIND, *(legacy_webhook_kind(name) for name in STOREFRONTS)}
)

log = structlog.get_logger("esd.engine")

_P = TypeVar("_P")


@dataclasses.dataclass
class Context:
    """Everything a handler may use."""

    txn: Txn
    event: inbox.EventRecord
    now: float
    config: Config
    charts: Statecharts
    rng: random.Random
    effects: Effects

    def payload(self, cls: type[_P]) -> _P:
        """The event's payload as its kind's typed object (BadEventPayload if it is not)."""
        return parse_as(cls, self.event.kind, self.event.payload, event_id=self.event.id)


Handler = Callable[[Context], Awaitable[Any]]


def order_subject(site: str, order_number: str) -> str:
    """The event subject of one order (the operator's trace key)."""
    return f"{site}/{order_number}"


def retry_subject(site: str, order_number: str, account: str, seq: int) -> str:
    """The timer subject of one retrying item.

    One timer per item, not per (order, account): items of one order fail and retry at
    different times, and another item's success, failure or retry must never move or cancel
    this item's timer (issue 12: a shared timer was cancelled by a sibling's success and the
    item stayed in `retrying` for ever)."""
    return f"{site}/{order_number}/{account}/{seq}"


def _retry_subject_of(item: ItemRow) -> str:
    return retry_subject(item.site, item.order_number, item.account, item.seq)


async def _arm_retry(txn: Txn, item: ItemRow, due_at: float) -> None:
    """Set (or move) the item's own retry timer."""
    timer = RetryTimer(item.site, item.order_number, item.account, item.seq)
    await retry_bookkeeping.arm(txn, "retry", _retry_subject_of(item), due_at, to_payload(timer))


async def _disarm_retry(txn: Txn, item: ItemRow) -> None:
    """The item leaves `retrying` by another way than its timer: its timer goes."""
    await retry_bookkeeping.disarm(txn, "retry", _retry_subject_of(item))


def operator_of(payload: Mapping[str, Any]) -> str | None:
    """Who gave the operator command an event records ("uid 1000 (ann)"), if one did."""
    by = payload.get("by", payload.get("submitted_by"))
    return by if isinstance(by, str) and by else None


def _with_operator(ctx: Context, reason: str | None) -> str | None:
    by = operator_of(ctx.event.payload)
    return reason if by is None else f"{reason or ''} (by {by})".lstrip()


async def _fire_item(ctx: Context, item: ItemRow, trigger: str, reason: str | None) -> str:
    reason = _with_operator(ctx, reason)
    return await fire(
        ctx.txn,
        ctx.charts.order_item,
        item.id,
        item.state,
        trigger,
        event_id=ctx.event.id,
        reason=reason,
        now=ctx.now,
    )


# --- storefront -------------------------------------------------------------------------


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
    await order_snapshots.save_snapshot(
        ctx.txn, order.site, order.order_number, raw_order, ctx.event.id, ctx.now
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


async def _esd_ids(ctx: Context, site: str, order_number: str) -> dict[int, set[str | None]]:
    """The external ids esd recorded for each item, under every account: MisIds esd wrote."""
    found: dict[int, set[str | None]] = {}
    for item in await items_of_order(ctx.txn, site, order_number):
        if not item.adopted:
            found.setdefault(item.seq, set()).add(item.external_id)
    return found


async def judge_order(ctx: Context, order: Order, account: str) -> int:
    """Apply the push rules to every item of `order` for `account`; return transitions made.

    Before the rules: an item whose storefront MisId esd did not write is adopted as pushed;
    an item placed before the go-live cut-off, or of a status-only activation, is skipped.
    """
    decision = evaluate(order)
    existing = {
        i.seq: i for i in await items_of_order(ctx.txn, order.site, order.order_number, account)
    }
    moved = 0
    chart = ctx.charts.order_item
    site_cfg = ctx.config.sites.get(order.site)
    activation = site_cfg.activation(account) if site_cfg is not None else None
    adopt = activation is not None and activation.adopt_mis_id
    limit = await _cut_off(ctx, order, account)
    esd_ids = await _esd_ids(ctx, order.site, order.order_number)
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
                reason=_with_operator(ctx, "order received") or "order received",
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
            await _fire_item(ctx, item, "adopt", why)
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
                await _fire_item(ctx, item, "skip", skip)
                moved += 1
            if item.reasons != (skip,):
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": (skip,)})
            continue
        if state == "skipped":
            state = await _fire_item(ctx, item, "unskip", "no longer before the cut-off")
            item = dataclasses.replace(item, state=state)
            moved += 1
        if order_item.seq in decision.excluded:
            why = decision.excluded[order_item.seq]
            if chart.allowed(state, "exclude"):
                await _fire_item(ctx, item, "exclude", why)
                if state == "retrying":
                    await _disarm_retry(ctx.txn, item)
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": (why,)})
                moved += 1
            continue
        if state == "excluded":
            state = await _fire_item(ctx, item, "include", "no longer denied or cancelled")
            item = dataclasses.replace(item, state=state)
            moved += 1
        if order_item.seq in decision.ready:
            if state == "pending":
                await _fire_item(ctx, item, "rules_met", "all push rules met")
                moved += 1
            if item.reasons and state in ("pending", "ready"):  # an adopted item keeps its why
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": ()})
            ctx.effects.add(Wake(account))
        else:
            reasons = decision.held.get(order_item.seq, ())
            if state == "ready":
                await _fire_item(ctx, item, "rules_unmet", "; ".join(reasons))
                moved += 1
            if state in ("pending", "ready") and tuple(reasons) != item.reasons:
                await update_item(ctx.txn, item.id, ctx.now, {"reasons": tuple(reasons)})
    return moved


# --- pushes ------------------------------------------------------------------------------


async def on_push_claim(ctx: Context) -> list[int]:
    """An actor took a slot for this (order, account): its ready items go to pushing."""
    claim = ctx.payload(PushClaim)
    site, order_number, account = claim.site, claim.order, claim.account
    claimed = []
    for item in await items_of_order(ctx.txn, site, order_number, account):
        if item.state == "ready":
            await _fire_item(ctx, item, "start_push", "driver slot taken")
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
                await _fire_item(ctx, item, "reconciled_pushed", why)
            else:
                await _fire_item(ctx, item, "push_succeeded", why)
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
            await _fire_item(ctx, item, "reconciled_absent", "the MIS has nothing yet")
        ctx.effects.add(Wake(account))
    elif outcome == "transient":
        await _schedule_retry(ctx, items, account, error, result.retry_after)
    else:  # permanent
        for item in items:
            await _fire_item(ctx, item, "push_failed_permanent", error)
            await update_item(
                ctx.txn, item.id, ctx.now, {"last_error": error, "next_retry_at": None}
            )
        if items:
            await raise_alert(ctx, account, order_subject(site, order_number), error)
    return {
        "outcome": outcome,
        "site": site,
        "order": order_number,
        "account": account,
        "items": [i.seq for i in items],
        "external": {
            seq: external_id
            for seq, external_id in external.items()
            if outcome == "pushed" and seq in {i.seq for i in items}
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
            await _fire_item(ctx, item, "give_up", message)
            await update_item(
                ctx.txn,
                item.id,
                ctx.now,
                {"last_error": message, "attempts": attempts, "next_retry_at": None},
            )
        await raise_alert(ctx, account, order_subject(site, order_number), message)
        return
    for item in items:
        await _fire_item(ctx, item, "push_failed_transient", f"{error} ({decision.reason})")
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
        await _arm_retry(ctx.txn, item, failure.due_at)


async def raise_alert(ctx: Context, account: str, subject: str, message: str) -> None:
    """One alert per failure episode (give-up or permanent failure), never one per retry.

    The alert is also an e-mail outbox row: to the [alerts] recipients and the account's
    alert_emails, sent by daemon.alerts.mailer when SMTP is configured.
    """
    configured = ctx.config.accounts.get(account)
    recipients = list(
        dict.fromkeys(
            [*ctx.config.alerts.recipients, *(configured.alert_emails if configured else ())]
        )
    )
    mail = bool(recipients) and ctx.config.alerts.smtp_host is not None
    await raised_alerts.record_alert(
        ctx.txn,
        account=account,
        subject=subject,
        message=message,
        event_id=ctx.event.id,
        now=ctx.now,
        recipients=recipients,
        mail=mail,
    )
    if mail:
        ctx.effects.add(SendMail())
    log.warning("alert.raised", account=account, subject=subject, message=message, mail=mail)


# --- status back -------------------------------------------------------------------------


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


# --- timers ------------------------------------------------------------------------------


async def on_retry_timer(ctx: Context, timer: RetryTimer) -> list[int]:
    """An item's retry is due: it goes back to ready (if it is still retrying).

    A payload without "seq" is an (order, account) timer of esd before store version 3 (the
    migration replaces those; an old timer.fired event may still be replayed): it moves every
    retrying item of the (order, account), as it did then."""
    site, order_number, account, seq = timer.site, timer.order, timer.account, timer.seq
    moved = []
    for item in await items_of_order(ctx.txn, site, order_number, account):
        if item.state == "retrying" and (seq is None or item.seq == seq):
            await _fire_item(ctx, item, "retry_due", "retry timer fired")
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
        due_at = due_by_subject.get(_retry_subject_of(item))
        if due_at is None or (item.next_retry_at is not None and due_at > item.next_retry_at):
            lost.append(item)
    return lost


async def rearm_lost_retries(txn: Txn, now: float) -> list[ItemRow]:
    """Give every retrying item without a covering timer its own timer again: due at its
    next_retry_at, or now if that has passed (or is unknown). Returns the items re-armed."""
    lost = await lost_retries(txn)
    for item in lost:
        due_at = now if item.next_retry_at is None else max(now, item.next_retry_at)
        await _arm_retry(txn, item, due_at)
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


async def on_status_poll_timer(ctx: Context, timer: StatusPollTimer) -> str:
    """An account's status poll is due: ask its actor and set the next one."""
    account = timer.account
    if account in ctx.config.accounts:
        interval = ctx.config.accounts[account].status_poll_seconds
        await set_timer(ctx.txn, "status_poll", account, ctx.now + interval, to_payload(timer))
        ctx.effects.add(Poll(account))
    return account


async def on_import_retry_timer(ctx: Context, timer: ImportRetryTimer) -> int:
    """A failed import batch may run again."""
    batch_id = timer.batch_id
    batch = await _batch(ctx, batch_id)
    if batch["state"] == "retrying":
        await _fire_batch(ctx, batch, "retry_due", "retry timer fired")
        ctx.effects.add(Import(batch["account"], batch_id))
    return batch_id


# --- operator ----------------------------------------------------------------------------


async def on_operator_push(ctx: Context) -> list[dict[str, Any]]:
    """The "Push Order" button: failed or retrying items of the order go back to ready."""
    push = ctx.payload(OperatorPush)
    site, order_number, account = push.site, push.order, push.account
    moved: list[dict[str, Any]] = []
    snapshot = await order_snapshots.snapshot_of(ctx.txn, site, order_number)
    site_cfg = ctx.config.sites.get(site)
    for item in await items_of_order(ctx.txn, site, order_number, account):
        if item.state == "skipped":
            activation = site_cfg.activation(item.account) if site_cfg else None
            if activation is None or activation.orders == "status_only":
                continue  # status only creates nothing, even when asked: its reason says so
            # The operator asked: the go-live cut-off no longer holds this item back.
            dest = await _fire_item(
                ctx, item, "operator_push", "operator pushed it past the cut-off"
            )
            await update_item(ctx.txn, item.id, ctx.now, {"operator_asked": True, "reasons": ()})
            moved.append({"seq": item.seq, "account": item.account, "from": item.state, "to": dest})
            ctx.effects.add(Wake(item.account))
        elif item.state in ("failed", "retrying"):
            dest = await _fire_item(ctx, item, "operator_push", "operator pressed Push Order")
            await update_item(
                ctx.txn,
                item.id,
                ctx.now,
                {"attempts": 0, "first_failure_at": None, "next_retry_at": None},
            )
            if item.state == "retrying":
                await _disarm_retry(ctx.txn, item)
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


# --- imports -----------------------------------------------------------------------------


async def _batch(ctx: Context, batch_id: int) -> dict[str, Any]:
    row = await batches.batch_by_id(ctx.txn, batch_id)
    if row is None:
        raise BadEventPayload(f"event {ctx.event.id}: no import batch {batch_id}")
    return row


async def _fire_batch(
    ctx: Context, batch: Mapping[str, Any], trigger: str, reason: str | None
) -> str:
    return await fire(
        ctx.txn,
        ctx.charts.import_batch,
        int(batch["id"]),
        str(batch["state"]),
        trigger,
        event_id=ctx.event.id,
        reason=reason,
        now=ctx.now,
    )


async def on_import_request(ctx: Context) -> int:
    """Start an import for an account: resume an unfinished batch or rerun a failed one first."""
    request = ctx.payload(ImportRequest)
    account, kind = request.account, request.kind
    if account not in ctx.config.accounts:
        raise BadEventPayload(f"event {ctx.event.id}: unknown account {account!r}")
    latest = await batches.latest_batch(ctx.txn, account, kind)
    if latest is not None and latest["state"] in ("pending", "running", "retrying"):
        return int(latest["id"])  # one batch of a kind at a time
    if latest is not None and latest["state"] == "failed":
        await _fire_batch(ctx, latest, "rerun", "import requested again")
        await batches.reset_failures(ctx.txn, int(latest["id"]))
        ctx.effects.add(Import(account, int(latest["id"])))
        return int(latest["id"])
    batch_id = await batches.create_batch(
        ctx.txn, account, kind, ctx.charts.import_batch.initial, ctx.now
    )
    await record_created(
        ctx.txn,
        ctx.charts.import_batch,
        batch_id,
        event_id=ctx.event.id,
        reason=f"{kind} import requested",
        now=ctx.now,
    )
    ctx.effects.add(Import(account, batch_id))
    return batch_id


async def on_import_claim(ctx: Context) -> bool:
    batch = await _batch(ctx, ctx.payload(ImportClaim).batch_id)
    if batch["state"] != "pending":
        return False
    await _fire_batch(ctx, batch, "start", "driver slot taken")
    return True


async def on_import_page(ctx: Context) -> int:
    page = ctx.payload(ImportPage)
    batch = await _batch(ctx, page.batch_id)
    records = page.records
    await batches.add_page(ctx.txn, batch, records, ctx.now)
    return len(records)


async def on_import_result(ctx: Context) -> str:
    result = ctx.payload(ImportResult)
    batch = await _batch(ctx, result.batch_id)
    outcome, error = result.outcome, result.error
    if batch["state"] != "running":
        return str(batch["state"])
    if outcome == "done":
        await batches.reset_failures(ctx.txn, int(batch["id"]), clear_error=True)
        return await _fire_batch(ctx, batch, "succeed", f"{batch['records']} records")
    if outcome == "permanent":
        await batches.set_last_error(ctx.txn, int(batch["id"]), error)
        await raise_alert(ctx, batch["account"], f"import {batch['id']}", error)
        return await _fire_batch(ctx, batch, "fail_permanent", error)
    if outcome == "interrupted":
        return await _fire_batch(ctx, batch, "interrupted", "daemon stopped during the import")
    failure = retry_bookkeeping.after_failure(
        ctx.config.retry,
        Bookkeeping(int(batch["attempts"]), batch["first_failure_at"]),
        now=ctx.now,
        retry_after=result.retry_after,
        rng=ctx.rng,
    )
    decision, attempts, first = failure.decision, failure.attempts, failure.first_failure_at
    await batches.record_failure(
        ctx.txn,
        int(batch["id"]),
        attempts=attempts,
        first_failure_at=first,
        next_retry_at=decision.due_at,
        error=error,
    )
    if decision.give_up:
        await raise_alert(
            ctx, batch["account"], f"import {batch['id']}", f"{decision.reason}: {error}"
        )
        return await _fire_batch(ctx, batch, "give_up", f"{decision.reason}: {error}")
    timer = ImportRetryTimer(int(batch["id"]))
    await retry_bookkeeping.arm(
        ctx.txn, "import_retry", str(batch["id"]), failure.due_at, to_payload(timer)
    )
    return await _fire_batch(ctx, batch, "fail_transient", f"{error} ({decision.reason})")
