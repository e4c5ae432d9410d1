"""Which handler applies each event kind, and which each timer kind (one table, one place).

A handler runs inside the transaction that marks its event done, so its state changes, history
rows and timers commit together with it or not at all. Handlers do no network I/O: work for a
driver or a storefront is asked for through addressed messages (`daemon.engine.effects`), which
the engine hands to the actors after the commit. The handlers live in one module per domain:
orders (snapshot, judging, cut-off, go-live), push (claim, result, retry), item_retries (each
item's retry timer), status (MIS status from polls and webhooks), operator_events, imports,
alerts, storefront_reads (webhooks, fetches, polls) and storefront_writes (write-backs, notes).
Each kind's payload is a typed object in daemon.events.

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

Storefront event kinds (which storefront: the plug-in its `provider` names):
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

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from daemon.engine import imports, item_retries, operator_events, orders, push, status
from daemon.engine import storefront_reads as reads
from daemon.engine import storefront_writes as writes
from daemon.engine.context import Context, Handler
from daemon.errors import BadEventPayload
from daemon.events import WEBHOOK_KINDS, TimerFired, parse_timer

__all__ = ["HANDLERS", "TIMER_HANDLERS"]

#: a timer handler takes its kind's typed payload (daemon.events.TIMER_PAYLOADS)
TimerHandler = Callable[[Context, Any], Awaitable[Any]]

#: timer kind -> what its firing does
TIMER_HANDLERS: Mapping[str, TimerHandler] = {
    "retry": item_retries.on_retry_timer,
    "status_poll": status.on_status_poll_timer,
    "import_retry": imports.on_import_retry_timer,
    "storefront_fetch": reads.on_fetch_timer,
    "storefront_poll": reads.on_storefront_poll_timer,
    "storefront_write": writes.on_write_timer,
}


async def on_timer_fired(ctx: Context) -> Any:
    """A durable timer came due."""
    fired = ctx.payload(TimerFired)
    handler = TIMER_HANDLERS.get(fired.kind)
    if handler is None:
        raise BadEventPayload(f"event {ctx.event.id}: unknown timer kind {fired.kind!r}")
    return await handler(ctx, parse_timer(fired.kind, fired.payload, event_id=ctx.event.id))


async def on_push_result(ctx: Context) -> Any:
    """A driver's result, then the MIS ids written back to the storefront."""
    result = await push.on_push_result(ctx)
    await writes.after_push(ctx, result)
    return result


async def on_status_report(ctx: Context) -> Any:
    """MIS status and tracking, then the storefront stage and shipments written back."""
    changes = await status.on_status_report(ctx)
    await writes.after_status(ctx, changes)
    return changes


async def on_mis_webhook(ctx: Context) -> Any:
    """MIS status pushed by webhook: handled as a poll's status report is."""
    changes = await status.on_mis_webhook(ctx)
    await writes.after_status(ctx, changes)
    return changes


#: event kind -> its handler (every kind's payload: daemon.events)
HANDLERS: Mapping[str, Handler] = {
    "order.snapshot": orders.on_order_snapshot,
    "push.claim": push.on_push_claim,
    "push.result": on_push_result,
    "status.report": on_status_report,
    "mis.webhook": on_mis_webhook,
    "timer.fired": on_timer_fired,
    "operator.push": operator_events.on_operator_push,
    "operator.replay": operator_events.on_operator_replay,
    "operator.sync": operator_events.on_operator_sync,
    "import.request": imports.on_import_request,
    "import.claim": imports.on_import_claim,
    "import.page": imports.on_import_page,
    "import.result": imports.on_import_result,
    **dict.fromkeys(WEBHOOK_KINDS, reads.on_storefront_webhook),
    "storefront.order": reads.on_storefront_order,
    "storefront.fetch_failed": reads.on_fetch_failed,
    "storefront.poll": reads.on_storefront_poll,
    "storefront.written": writes.on_written,
    "storefront.write_failed": writes.on_write_failed,
    "operator.poll": reads.on_operator_poll,
}
