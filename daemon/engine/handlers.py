"""What each kind of event does to the stored machines: the handlers, by domain.

A handler runs inside the transaction that marks its event done, so its state changes, history
rows and timers commit together with it or not at all. Handlers do no network I/O: work for a
driver is requested through `Effects`, which the engine hands to the actors after the commit.

The handlers live in one module per domain: orders (snapshot, judging, cut-off, go-live),
push (claim, result, retry), item_retries (each item's retry timer), status (MIS status from
polls and webhooks), operator_events, imports, alerts, and storefront_handlers; each kind's
payload is a typed object in daemon.engine.events, and daemon.engine.registry maps each kind
to its handler. This module keeps the names other packages import from it.

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

from daemon.engine.alerts import raise_alert
from daemon.engine.context import Context, Handler, operator_of, order_subject
from daemon.engine.effects import Effects
from daemon.engine.item_retries import lost_retries, rearm_lost_retries, retry_subject
from daemon.engine.operator_events import REPLAYABLE_KINDS
from daemon.engine.orders import judge_order, on_order_snapshot_of, record_first_live
from daemon.engine.status import apply_status_reports

__all__ = [
    "REPLAYABLE_KINDS",
    "Context",
    "Effects",
    "Handler",
    "apply_status_reports",
    "judge_order",
    "lost_retries",
    "on_order_snapshot_of",
    "operator_of",
    "order_subject",
    "raise_alert",
    "rearm_lost_retries",
    "record_first_live",
    "retry_subject",
]
