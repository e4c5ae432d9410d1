"""Storefront events: webhooks ask for a fetch, fetched orders are judged, polls catch losses,
and what the MIS did is written back.

A webhook only says "order N changed"; the truth is read from the storefront API. That read
is I/O, so a handler never does it: it asks for it through a durable lease (daemon.engine.
leases): a timer due now, re-armed a lease later when handed to the storefront actor, cleared
by the answer. The fetched answer comes back as an event carrying the raw API JSON; its handler
maps it (pure). A malformed answer poisons that event: it is kept with the raw JSON and is
replayable after a fix.

Which storefront an event is for is the plug-in named by its `provider` (daemon.storefronts.
registry): its webhook types, its order mapping. The reconciliation poll (storefronts may not
retry webhooks) lists the orders of a rolling
window; only orders never seen, or still holding items back, are fetched again: pushed,
excluded and failed orders are finished work and are not touched.

Write-back: a pushed item's MIS id, and a changed MIS status (mapped to a storefront stage by
the account's `storefront_stages`) and new tracking numbers, are written to the storefront by
the same lease mechanism, so a write is never lost; the actor adds a shipment only if its
tracking number is not there yet, so a retried write never doubles it. A failed push is
noted on the storefront item once per failure episode, and its later success too
(`note_failures`): the staff look at the storefront, not at esd.

Event kinds:
    storefront.webhook      {provider, site, type, known, order, item_seq, message_id, timestamp,
                             body}  (and `<provider>.webhook`, the kind stored before, without
                             `provider`: stores in the field hold them)
    storefront.order        {storefront, provider, site, order, generation, details, items}
    storefront.fetch_failed {storefront, site, order, generation, permanent, error, retry_after}
    storefront.poll         {storefront, site, orders, window_start, window_end}
    storefront.written      {storefront, site, order, seq, op, generation, account?}
    storefront.write_failed {storefront, site, order, seq, op, generation, account?, permanent,
                             error}
    operator.poll           {storefront}
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import structlog

from daemon.engine.context import Context, Handler
from daemon.engine.effects import Fetch, PollStorefront, Write
from daemon.engine.events import (
    WEBHOOK_KINDS,
    FetchFailed,
    FetchLease,
    OperatorPoll,
    StorefrontOrder,
    StorefrontPoll,
    StorefrontPollTimer,
    StorefrontWebhook,
    WriteFailed,
    WriteLease,
    Written,
    to_payload,
)
from daemon.engine.leases import clear_lease, lease_failed, rearm_lease, request_lease
from daemon.engine.orders import on_order_snapshot_of
from daemon.errors import BadEventPayload
from daemon.logs import REDACTOR
from daemon.orders.go_live import is_foreign_mis_id
from daemon.orders.model import Order
from daemon.store import order_snapshots
from daemon.store.chart_transitions import ever_reached
from daemon.store.items import items_of_order
from daemon.store.timers import set_timer
from daemon.store.webhook_history import seqs_of_webhook_type
from daemon.storefronts import registry as storefronts
from daemon.storefronts.contract import WEBHOOK_KIND, legacy_webhook_kind

__all__ = [
    "FETCH",
    "STOREFRONT_HANDLERS",
    "WRITE",
    "after_push",
    "after_status",
    "failure_note",
    "fetch_subject",
    "note_failures",
    "note_reason",
    "success_note",
    "write_subject",
]

log = structlog.get_logger("esd.storefront")

#: the timer kinds of storefront work
FETCH = "storefront_fetch"
WRITE = "storefront_write"


def fetch_subject(site: str, order_number: str) -> str:
    """The timer subject of one order's storefront fetch."""
    return f"{site}/{order_number}"


def write_subject(
    site: str, order_number: str, seq: int, op: str, account: str | None = None
) -> str:
    """The timer subject of one write-back to the storefront (a note's names its account)."""
    base = f"{site}/{order_number}/{seq}/{op}"
    return f"{base}/{account}" if account else base


def _site(ctx: Context, key: str) -> Any:
    site = ctx.config.sites.get(key)
    if site is None:
        known = ", ".join(sorted(ctx.config.sites)) or "none"
        raise BadEventPayload(f"event {ctx.event.id}: site {key!r} is not configured ({known})")
    return site


# --- reading orders --------------------------------------------------------------------------


async def request_fetch(ctx: Context, site_key: str, order_number: str, why: str) -> None:
    """Durably ask for the order to be read from its storefront, now."""
    site = _site(ctx, site_key)
    if site.storefront is None:
        raise BadEventPayload(
            f"event {ctx.event.id}: site {site_key!r} has no storefront to read order "
            f"{order_number} from (set sites.{site_key}.storefront)"
        )
    data = {"storefront": site.storefront, "site": site_key, "order": order_number, "why": why}
    await request_lease(ctx, FETCH, fetch_subject(site_key, order_number), data)


async def on_storefront_webhook(ctx: Context) -> str:
    """A storefront webhook: read the order again if the type is one its plug-in acts on."""
    hook = ctx.payload(StorefrontWebhook)
    spec = storefronts.spec(hook.provider)
    kind, order_number = hook.type, hook.order
    if kind not in spec.fetching_types:
        log.info("webhook.unknown_type", type=kind, site=hook.site, event_id=ctx.event.id)
        return "ignored: unknown type"
    if order_number is None:
        raise BadEventPayload(f"event {ctx.event.id}: {kind} without an order number")
    await request_fetch(ctx, hook.site, order_number, kind)
    return "fetch requested"


async def on_fetch_timer(ctx: Context, lease: FetchLease) -> None:
    """The fetch timer fired: hand the fetch to the actor and re-arm the lease."""
    await rearm_lease(ctx, FETCH, fetch_subject(lease.site, lease.order), lease.data)
    ctx.effects.add(Fetch(lease.storefront, lease.site, lease.order, lease.generation))


async def _files_generated(ctx: Context, provider: str, site: str, order_number: str) -> list[int]:
    """Seqs whose "files ready" webhook (the plug-in's `files_ready_type`) was seen."""
    files_ready = storefronts.spec(provider).files_ready_type
    if files_ready is None:
        return []
    kinds = (WEBHOOK_KIND, legacy_webhook_kind(provider))
    return await seqs_of_webhook_type(ctx.txn, kinds, f"{site}/{order_number}", files_ready)


async def on_storefront_order(ctx: Context) -> dict[str, Any]:
    """A fetched order: map the raw answer (pure), judge it, clear the fetch lease."""
    fetched = ctx.payload(StorefrontOrder)
    site_key, order_number, provider = fetched.site, fetched.order, fetched.provider
    site = _site(ctx, site_key)
    order = storefronts.spec(provider).order_from_answer(
        fetched.answer,
        site_key,
        site.name,
        await _files_generated(ctx, provider, site_key, order_number),
    )
    result = await on_order_snapshot_of(ctx, order, order.to_json())
    await clear_lease(ctx, FETCH, fetch_subject(site_key, order_number), fetched.generation)
    return result


async def on_fetch_failed(ctx: Context) -> str:
    """Reading the order failed: retry with backoff on the lease, or give up with an alert."""
    failed = ctx.payload(FetchFailed)
    site_key, order_number = failed.site, failed.order
    return await lease_failed(
        ctx,
        FETCH,
        fetch_subject(site_key, order_number),
        failed.generation,
        permanent=failed.permanent,
        error=failed.error,
        retry_after=failed.retry_after,
        alert_account=failed.storefront,
        what=f"read order {order_number} of site {site_key}",
    )


# --- the reconciliation poll -----------------------------------------------------------------


async def on_storefront_poll(ctx: Context) -> dict[str, int]:
    """A reconciliation poll's list: fetch what was never seen or still waits on the rules."""
    poll = ctx.payload(StorefrontPoll)
    site_key = poll.site
    fetched = unchanged = 0
    for order_number in poll.orders:
        known = await order_snapshots.is_known(ctx.txn, site_key, order_number)
        if known and not await order_snapshots.has_open_items(ctx.txn, site_key, order_number):
            unchanged += 1  # finished (or in the MIS's hands): a poll never re-triggers it
            continue
        await request_fetch(ctx, site_key, order_number, "reconciliation poll")
        fetched += 1
    return {"fetch": fetched, "finished": unchanged}


async def on_storefront_poll_timer(ctx: Context, timer: StorefrontPollTimer) -> None:
    """Time for a storefront's reconciliation poll: ask the actor and set the next one."""
    name = timer.storefront
    storefront = ctx.config.storefronts.get(name)
    if storefront is None:
        return  # removed from the config: the timer dies with it
    due_at = ctx.now + storefront.poll_seconds
    await set_timer(ctx.txn, "storefront_poll", name, due_at, to_payload(timer))
    ctx.effects.add(PollStorefront(name))


async def on_operator_poll(ctx: Context) -> list[str]:
    """The operator's Synchronize: run the reconciliation poll of a storefront (or all) now."""
    name = ctx.payload(OperatorPoll).storefront
    names = [name] if name is not None else sorted(ctx.config.storefronts)
    unknown = [n for n in names if n not in ctx.config.storefronts]
    if unknown:
        known = ", ".join(sorted(ctx.config.storefronts)) or "none configured"
        raise BadEventPayload(f"unknown storefront {unknown[0]!r} (known: {known})")
    for each in names:
        ctx.effects.add(PollStorefront(each))
    return names


# --- writing back to the storefront ----------------------------------------------------------


async def request_write(
    ctx: Context,
    site_key: str,
    order_number: str,
    seq: int,
    op: str,
    fields: dict[str, Any],
    *,
    account: str | None = None,
) -> bool:
    """Durably ask for a write to the storefront (MIS id, status, shipment, note) of one item.

    `account`: the write is that account's own (a note), so another account's does not
    replace it; a newer request of the same subject does.
    """
    site = ctx.config.sites.get(site_key)
    if site is None or site.storefront is None:
        return False  # orders that came by `esd submit` have no storefront to write to
    data = {
        "storefront": site.storefront,
        "site": site_key,
        "order": order_number,
        "seq": seq,
        "op": op,
        **({"account": account} if account else {}),
        **fields,
    }
    await request_lease(ctx, WRITE, write_subject(site_key, order_number, seq, op, account), data)
    return True


async def on_write_timer(ctx: Context, lease: WriteLease) -> None:
    """A write-back is due: hand it to the storefront actor and re-arm the lease."""
    await rearm_lease(ctx, WRITE, _write_key(lease), lease.data)
    ctx.effects.add(Write(lease.storefront, json.dumps(dict(lease.data), sort_keys=True)))


def _write_key(write: WriteLease | Written | WriteFailed) -> str:
    return write_subject(write.site, write.order, write.seq, write.op, write.account)


async def on_written(ctx: Context) -> bool:
    """The storefront took the write."""
    written = ctx.payload(Written)
    return await clear_lease(ctx, WRITE, _write_key(written), written.generation)


async def on_write_failed(ctx: Context) -> str:
    """The storefront refused or could not be reached: back off, or give up with an alert."""
    failed = ctx.payload(WriteFailed)
    return await lease_failed(
        ctx,
        WRITE,
        _write_key(failed),
        failed.generation,
        permanent=failed.permanent,
        error=failed.error,
        retry_after=failed.retry_after,
        alert_account=failed.storefront,
        what=f"write {failed.op} of order {failed.order} item {failed.seq}",
    )


async def _foreign_mis_ids(ctx: Context, site: str, order_number: str) -> dict[int, str]:
    """Storefront MisIds of the order that esd did not write (the hosted integration's)."""
    snapshot = await order_snapshots.snapshot_of(ctx.txn, site, order_number)
    if snapshot is None:
        return {}
    order = Order.from_json(snapshot)
    esd_ids: dict[int, set[str | None]] = {}
    adopted: set[int] = set()
    for item in await items_of_order(ctx.txn, site, order_number):
        if item.adopted:
            adopted.add(item.seq)
        else:
            esd_ids.setdefault(item.seq, set()).add(item.external_id)
    return {
        i.seq: i.mis_id
        for i in order.items
        if i.seq in adopted or is_foreign_mis_id(i.mis_id, esd_ids.get(i.seq, ()))
    }


#: longest failure reason quoted in a storefront note (the whole note has a length limit)
NOTE_REASON_CHARS = 240
_MARKUP = re.compile(r"<[^>]*>")


def note_reason(error: str) -> str:
    """A push error fit for the storefront's staff: no secret, no markup, one line, short."""
    text = html.unescape(_MARKUP.sub(" ", REDACTOR.redact(error)))
    text = " ".join(REDACTOR.redact(text).replace("<", " ").replace(">", " ").split())
    if len(text) > NOTE_REASON_CHARS:
        text = text[: NOTE_REASON_CHARS - 1].rstrip() + "\u2026"
    return text or "no detail given"


def failure_note(account: str, order_number: str, error: str) -> str:
    """The note a failed item gets, once per failure episode."""
    return (
        f"esd could not push this item to {account}: {note_reason(error)}."
        f" Once the cause is fixed, esd push {order_number} retries it."
    )


def success_note(account: str, order_external_id: str | None, external_id: str | None) -> str:
    """The note an item gets when it is pushed after an earlier failure."""
    what = f"MIS order {order_external_id}" if order_external_id else "a new MIS order"
    if external_id and external_id != order_external_id:
        what += f", item {external_id}"
    return f"esd pushed this item to {account} as {what} after an earlier failure."


async def _failed_before(ctx: Context, item_id: int) -> bool:
    return await ever_reached(ctx.txn, "order_item", item_id, "failed")


async def note_failures(ctx: Context, result: dict[str, Any]) -> int:
    """What the hosted integration's red bar shows (seed 001), as a note on the storefront item.

    One failure episode is one note: an item noted here moved to `failed` by this push result
    (a business error, or the retries gave up); the retries before a give-up note nothing. An
    operator push starts a new episode, so failing again notes again (what failed may differ).
    A failed item later pushed gets one note saying so. Off with `write_failures = false`.
    A note's lease is per (item, account): a newer note replaces one not written yet.
    """
    outcome = result.get("outcome")
    if outcome not in ("pushed", "permanent", "transient") or not result.get("items"):
        return 0
    site_key, order_number, account = result["site"], result["order"], result["account"]
    site = ctx.config.sites.get(site_key)
    storefront = ctx.config.storefronts.get(site.storefront or "") if site else None
    if storefront is None or not storefront.write_failures:
        return 0
    seqs = {int(s) for s in result["items"]}
    noted = 0
    for item in await items_of_order(ctx.txn, site_key, order_number, account):
        if item.seq not in seqs:
            continue
        if outcome != "pushed" and item.state == "failed":
            fields = {
                "kind": "failed",
                "text": failure_note(account, order_number, item.last_error or ""),
            }
        elif outcome == "pushed" and item.state == "pushed" and await _failed_before(ctx, item.id):
            text = success_note(account, item.order_external_id, item.external_id)
            fields = {"kind": "pushed", "text": text}
        else:
            continue
        if await request_write(
            ctx, site_key, order_number, item.seq, "note", fields, account=account
        ):
            noted += 1
            log.info(
                "storefront.note_requested",
                site=site_key,
                order=order_number,
                seq=item.seq,
                account=account,
                kind=fields["kind"],
            )
    return noted


async def after_push(ctx: Context, result: dict[str, Any]) -> None:
    """Pushed items get their MIS id written back to the storefront item; failed ones a note.

    Never over a MisId esd did not write: an adopted item's id, or one another account's
    activation declined to adopt (`adopt_mis_id = false`), stays as the storefront has it.
    """
    await note_failures(ctx, result)
    if result.get("outcome") != "pushed":
        return
    foreign = await _foreign_mis_ids(ctx, result["site"], result["order"])
    for seq, external in result.get("external", {}).items():
        if int(seq) in foreign:
            log.info(
                "storefront.mis_id_kept",
                site=result["site"],
                order=result["order"],
                seq=int(seq),
                mis_id=foreign[int(seq)],
                pushed_as=external,
            )
            continue
        if external:
            fields = {"mis_id": external}
            await request_write(ctx, result["site"], result["order"], int(seq), "mis_id", fields)


async def after_status(ctx: Context, changes: list[dict[str, Any]]) -> None:
    """A changed MIS status moves the storefront item's stage (if mapped) and adds shipments."""
    for change in changes:
        account = ctx.config.accounts.get(change["account"])
        stages = account.storefront_stages if account is not None else {}
        status = str(change["status"])
        stage = stages.get(status) or stages.get(status.lower())
        site, order, seq = change["site"], change["order"], int(change["seq"])
        if stage:
            status_fields: dict[str, Any] = {"stage": stage, "mis_status": status}
            await request_write(ctx, site, order, seq, "status", status_fields)
        if change.get("new_tracking"):
            shipment_fields: dict[str, Any] = {"tracking": list(change["tracking"])}
            await request_write(ctx, site, order, seq, "shipment", shipment_fields)


STOREFRONT_HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(WEBHOOK_KINDS, on_storefront_webhook),
    "storefront.order": on_storefront_order,
    "storefront.fetch_failed": on_fetch_failed,
    "storefront.poll": on_storefront_poll,
    "storefront.written": on_written,
    "storefront.write_failed": on_write_failed,
    "operator.poll": on_operator_poll,
}
