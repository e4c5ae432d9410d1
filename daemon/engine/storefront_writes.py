"""Writing back to storefronts what the MIS did.

A pushed item's MIS id, and a changed MIS status (mapped to a storefront stage by the account's
`storefront_stages`) and new tracking numbers, are written to the storefront by a durable lease
(daemon.engine.leases), so a write is never lost; the actor adds a shipment only if its
tracking number is not there yet, so a retried write never doubles it. A failed push is noted
on the storefront item once per failure episode, and its later success too (`note_failures`):
the staff look at the storefront, not at esd.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import structlog

from daemon.engine.context import Context
from daemon.engine.effects import Write
from daemon.engine.leases import clear_lease, lease_failed, rearm_lease, request_lease
from daemon.engine.orders import esd_ids_of
from daemon.events import WriteFailed, WriteLease, Written, to_payload
from daemon.logs import REDACTOR
from daemon.orders.go_live import is_foreign_mis_id
from daemon.store.items import items_of_order
from daemon.store.orders import stored_order
from daemon.store.transitions import ever_reached

__all__ = [
    "NOTE_REASON_CHARS",
    "WRITE",
    "after_push",
    "after_status",
    "failure_note",
    "note_failures",
    "note_reason",
    "on_write_failed",
    "on_write_timer",
    "on_written",
    "request_write",
    "success_note",
    "write_subject",
]

log = structlog.get_logger("esd.storefront")


WRITE = "storefront_write"


def write_subject(
    site: str, order_number: str, seq: int, op: str, account: str | None = None
) -> str:
    """The timer subject of one write-back to the storefront (a note's names its account)."""
    base = f"{site}/{order_number}/{seq}/{op}"
    return f"{base}/{account}" if account else base


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
    # `fields`: the op's own (mis_id, stage, tracking, text...), stored beside the lease's.
    lease = WriteLease(
        site.storefront, site_key, order_number, seq, op, ctx.event.id, account or None, fields
    )
    subject = write_subject(site_key, order_number, seq, op, account)
    await request_lease(ctx, WRITE, subject, to_payload(lease))
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
    order = await stored_order(ctx.txn, site, order_number)
    if order is None:
        return {}
    rows = await items_of_order(ctx.txn, site, order_number)
    esd_ids = esd_ids_of(rows)
    adopted = {item.seq for item in rows if item.adopted}
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
