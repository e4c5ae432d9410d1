"""Reading orders from storefronts: webhooks ask for a fetch, fetched orders are judged, polls
catch losses.

A webhook only says "order N changed"; the truth is read from the storefront API. That read
is I/O, so a handler never does it: it asks for it through a durable lease (daemon.engine.
leases): a timer due now, re-armed a lease later when handed to the storefront actor, cleared
by the answer. The fetched answer comes back as an event carrying the raw API JSON; its handler
maps it (pure). A malformed answer poisons that event: it is kept with the raw JSON and is
replayable after a fix.

The reconciliation poll (storefronts may not retry webhooks) lists the orders of a rolling
window; only orders never seen, or still holding items back, are fetched again: pushed,
excluded and failed orders are finished work and are not touched.
"""

from __future__ import annotations

from typing import Any

import structlog

from daemon.engine.context import Context
from daemon.engine.effects import Fetch, PollStorefront
from daemon.engine.leases import clear_lease, lease_failed, rearm_lease, request_lease
from daemon.engine.orders import on_order_snapshot_of
from daemon.errors import BadEventPayload
from daemon.events import (
    FetchFailed,
    FetchLease,
    OperatorPoll,
    StorefrontOrder,
    StorefrontPoll,
    StorefrontPollTimer,
    StorefrontWebhook,
    to_payload,
)
from daemon.store.inbox import seqs_of_webhook_type
from daemon.store.items import has_open_items
from daemon.store.orders import order_stored
from daemon.store.timers import set_timer
from daemon.storefronts import registry as storefronts
from daemon.storefronts.contract import WEBHOOK_KIND, legacy_webhook_kind

__all__ = [
    "FETCH",
    "fetch_subject",
    "on_fetch_failed",
    "on_fetch_timer",
    "on_operator_poll",
    "on_storefront_order",
    "on_storefront_poll",
    "on_storefront_poll_timer",
    "on_storefront_webhook",
    "request_fetch",
]

log = structlog.get_logger("esd.storefront")


#: the timer kinds of storefront work
FETCH = "storefront_fetch"


def fetch_subject(site: str, order_number: str) -> str:
    """The timer subject of one order's storefront fetch."""
    return f"{site}/{order_number}"


def _site(ctx: Context, key: str) -> Any:
    site = ctx.config.sites.get(key)
    if site is None:
        known = ", ".join(sorted(ctx.config.sites)) or "none"
        raise BadEventPayload(f"event {ctx.event.id}: site {key!r} is not configured ({known})")
    return site


async def request_fetch(ctx: Context, site_key: str, order_number: str, why: str) -> None:
    """Durably ask for the order to be read from its storefront, now."""
    site = _site(ctx, site_key)
    if site.storefront is None:
        raise BadEventPayload(
            f"event {ctx.event.id}: site {site_key!r} has no storefront to read order "
            f"{order_number} from (set sites.{site_key}.storefront)"
        )
    lease = FetchLease(site.storefront, site_key, order_number, ctx.event.id, why, {})
    await request_lease(ctx, FETCH, fetch_subject(site_key, order_number), to_payload(lease))


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


async def on_storefront_poll(ctx: Context) -> dict[str, int]:
    """A reconciliation poll's list: fetch what was never seen or still waits on the rules."""
    poll = ctx.payload(StorefrontPoll)
    site_key = poll.site
    fetched = unchanged = 0
    for order_number in poll.orders:
        known = await order_stored(ctx.txn, site_key, order_number)
        if known and not await has_open_items(ctx.txn, site_key, order_number):
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
