"""Storefront events: webhooks ask for a fetch, fetched orders are judged, polls catch losses.

A webhook only says "order N changed"; the truth is read from the storefront API. That read
is I/O, so a handler never does it: it sets a durable `storefront_fetch` timer for the order
(due now). When the timer fires, the fetch is handed to the storefront actor AND the timer is
re-armed one lease later, so a crash mid-fetch is retried, not lost. The fetched answer comes
back as an event carrying the raw API JSON; its handler maps it (pure) and clears the lease.
A malformed answer poisons that event: it is kept with the raw JSON and replayable after a
fix. The generation (the id of the event that asked) keeps an older fetch from clearing the
lease of a newer request.

The reconciliation poll (Pressero documents no webhook retries) lists the orders of a rolling
window; only orders never seen, or still holding items back, are fetched again: pushed,
excluded and failed orders are finished work and are not touched.

Event kinds:
    pressero.webhook        {site, type, known, order, item_seq, message_id, timestamp, body}
    storefront.order        {storefront, provider, site, order, generation, details, items}
    storefront.fetch_failed {storefront, site, order, generation, permanent, error, retry_after}
    storefront.poll         {storefront, site, orders, window_start, window_end}
"""

from __future__ import annotations

from typing import Any

import structlog

from daemon.engine import retry
from daemon.engine.handlers import Context, Handler, on_order_snapshot_of, raise_alert
from daemon.errors import BadEventPayload
from daemon.store.timers import set_timer
from daemon.storefronts.pressero.mapping import KNOWN_TYPES, order_from_api

__all__ = ["FETCH_LEASE_SECONDS", "STOREFRONT_HANDLERS", "fetch_subject"]

log = structlog.get_logger("esd.storefront")

#: a fetch handed to the actor is asked again after this long unless its answer arrived
FETCH_LEASE_SECONDS = 120.0

#: webhook types whose order is read again (unknown types are stored and logged only)
FETCHING_TYPES = frozenset(KNOWN_TYPES)


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
    await set_timer(
        ctx.txn,
        "storefront_fetch",
        fetch_subject(site_key, order_number),
        ctx.now,
        {
            "storefront": site.storefront,
            "site": site_key,
            "order": order_number,
            "generation": ctx.event.id,
            "attempts": 0,
            "first_failure_at": None,
            "why": why,
        },
    )


async def on_pressero_webhook(ctx: Context) -> str:
    """A Pressero webhook: read the order again if the type is one we act on."""
    payload = ctx.event.payload
    kind = str(payload.get("type"))
    order_number = payload.get("order")
    if kind not in FETCHING_TYPES:
        log.info("webhook.unknown_type", type=kind, site=payload.get("site"), event=ctx.event.id)
        return "ignored: unknown type"
    if not isinstance(order_number, str):
        raise BadEventPayload(f"event {ctx.event.id}: {kind} without an order number")
    await request_fetch(ctx, str(payload["site"]), order_number, kind)
    return "fetch requested"


async def on_fetch_timer(ctx: Context, data: dict[str, Any]) -> None:
    """The fetch timer fired: hand the fetch to the actor and re-arm the lease."""
    await set_timer(
        ctx.txn,
        "storefront_fetch",
        fetch_subject(data["site"], data["order"]),
        ctx.now + FETCH_LEASE_SECONDS,
        data,
    )
    ctx.effects.fetch.add(
        (data["storefront"], data["site"], data["order"], int(data["generation"]))
    )


async def _clear_lease(ctx: Context, site: str, order_number: str, generation: int) -> bool:
    """Cancel the fetch timer if it still belongs to `generation` (no newer request came)."""
    changed = await ctx.txn.changes(
        "DELETE FROM timers WHERE kind = 'storefront_fetch' AND subject = ?"
        " AND json_extract(payload, '$.generation') = ?",
        (fetch_subject(site, order_number), generation),
    )
    return changed > 0


async def _files_generated(ctx: Context, site: str, order_number: str) -> list[int]:
    """Seqs whose OrderItemFilesGenerated webhook was seen (the eDoc file is ready)."""
    rows = await ctx.txn.fetchall(
        "SELECT DISTINCT json_extract(payload, '$.item_seq') FROM events"
        " WHERE kind = 'pressero.webhook' AND subject = ?"
        " AND json_extract(payload, '$.type') = 'OrderItemFilesGenerated'",
        (f"{site}/{order_number}",),
    )
    return [int(r[0]) for r in rows if r[0] is not None]


async def on_storefront_order(ctx: Context) -> dict[str, Any]:
    """A fetched order: map the raw answer (pure), judge it, clear the fetch lease."""
    payload = ctx.event.payload
    site_key, order_number = str(payload["site"]), str(payload["order"])
    site = _site(ctx, site_key)
    provider = payload.get("provider")
    if provider != "pressero":
        raise BadEventPayload(f"event {ctx.event.id}: unknown storefront provider {provider!r}")
    order = order_from_api(
        payload.get("details"),
        payload.get("items"),
        site_key,
        site.name,
        files_generated=await _files_generated(ctx, site_key, order_number),
    )
    result = await on_order_snapshot_of(ctx, order, order.to_json())
    await _clear_lease(ctx, site_key, order_number, int(payload["generation"]))
    return result


async def on_fetch_failed(ctx: Context) -> str:
    """Reading the order failed: retry on the lease timer with backoff, or give up with an alert."""
    payload = ctx.event.payload
    site_key, order_number = str(payload["site"]), str(payload["order"])
    generation = int(payload["generation"])
    subject = fetch_subject(site_key, order_number)
    row = await ctx.txn.fetchone(
        "SELECT payload FROM timers WHERE kind = 'storefront_fetch' AND subject = ?", (subject,)
    )
    if row is None:
        return "no fetch pending"
    import json

    data = json.loads(row[0])
    if int(data["generation"]) != generation:
        return "a newer request owns the fetch"
    error = str(payload.get("error") or "")
    what = f"read order {order_number} of site {site_key}"
    if payload.get("permanent"):
        await _clear_lease(ctx, site_key, order_number, generation)
        await raise_alert(ctx, str(data["storefront"]), subject, f"{what}: {error}")
        return "gave up: permanent"
    attempts = int(data.get("attempts") or 0) + 1
    first = data.get("first_failure_at") or ctx.now
    retry_after = payload.get("retry_after")
    decision = retry.decide(
        ctx.config.retry,
        attempts=attempts,
        first_failure_at=float(first),
        now=ctx.now,
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        rng=ctx.rng,
    )
    if decision.give_up:
        await _clear_lease(ctx, site_key, order_number, generation)
        await raise_alert(
            ctx, str(data["storefront"]), subject, f"{what}: {decision.reason}: {error}"
        )
        return "gave up"
    assert decision.due_at is not None
    data.update(attempts=attempts, first_failure_at=first, last_error=error)
    await set_timer(ctx.txn, "storefront_fetch", subject, decision.due_at, data)
    return decision.reason


async def on_storefront_poll(ctx: Context) -> dict[str, int]:
    """A reconciliation poll's list: fetch what was never seen or still waits on the rules."""
    payload = ctx.event.payload
    site_key = str(payload["site"])
    orders = payload.get("orders")
    if not isinstance(orders, list):
        raise BadEventPayload(f"event {ctx.event.id}: 'orders' must be a list")
    fetched = unchanged = 0
    for order_number in (str(o) for o in orders):
        known = await ctx.txn.scalar(
            "SELECT 1 FROM orders WHERE site = ? AND order_number = ?", (site_key, order_number)
        )
        open_items = await ctx.txn.scalar(
            "SELECT COUNT(*) FROM items WHERE site = ? AND order_number = ?"
            " AND state IN ('pending', 'ready')",
            (site_key, order_number),
        )
        if known and not open_items:
            unchanged += 1  # finished (or in the MIS's hands): a poll never re-triggers it
            continue
        await request_fetch(ctx, site_key, order_number, "reconciliation poll")
        fetched += 1
    return {"fetch": fetched, "finished": unchanged}


async def on_storefront_poll_timer(ctx: Context, data: dict[str, Any]) -> None:
    """Time for a storefront's reconciliation poll: ask the actor and set the next one."""
    name = str(data["storefront"])
    storefront = ctx.config.storefronts.get(name)
    if storefront is None:
        return  # removed from the config: the timer dies with it
    await set_timer(ctx.txn, "storefront_poll", name, ctx.now + storefront.poll_seconds, data)
    ctx.effects.storefront_poll.add(name)


async def on_operator_poll(ctx: Context) -> list[str]:
    """The operator's Synchronize: run the reconciliation poll of a storefront (or all) now."""
    name = ctx.event.payload.get("storefront")
    names = [name] if isinstance(name, str) else sorted(ctx.config.storefronts)
    unknown = [n for n in names if n not in ctx.config.storefronts]
    if unknown:
        known = ", ".join(sorted(ctx.config.storefronts)) or "none configured"
        raise BadEventPayload(f"unknown storefront {unknown[0]!r} (known: {known})")
    ctx.effects.storefront_poll.update(names)
    return names


STOREFRONT_HANDLERS: dict[str, Handler] = {
    "pressero.webhook": on_pressero_webhook,
    "storefront.order": on_storefront_order,
    "storefront.fetch_failed": on_fetch_failed,
    "storefront.poll": on_storefront_poll,
    "operator.poll": on_operator_poll,
}
