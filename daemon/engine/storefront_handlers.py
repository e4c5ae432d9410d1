"""Storefront events: webhooks ask for a fetch, fetched orders are judged, polls catch losses,
and what the MIS did is written back.

Which storefront an event is for is the plug-in named by its `provider` (daemon.storefronts.
registry): its webhook types, its order mapping.

The handlers are in daemon.engine.storefront_reads (webhooks, fetches, polls) and
daemon.engine.storefront_writes (write-backs and notes); this module keeps their table and the
names other modules import. Each kind's payload is a typed object in daemon.engine.events.

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

from daemon.engine.context import Handler
from daemon.engine.events import WEBHOOK_KINDS
from daemon.engine.storefront_reads import (
    FETCH,
    fetch_subject,
    on_fetch_failed,
    on_fetch_timer,
    on_operator_poll,
    on_storefront_order,
    on_storefront_poll,
    on_storefront_poll_timer,
    on_storefront_webhook,
)
from daemon.engine.storefront_writes import (
    WRITE,
    after_push,
    after_status,
    failure_note,
    note_failures,
    note_reason,
    on_write_failed,
    on_write_timer,
    on_written,
    success_note,
    write_subject,
)

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
    "on_fetch_timer",
    "on_storefront_poll_timer",
    "on_write_timer",
    "success_note",
    "write_subject",
]

STOREFRONT_HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(WEBHOOK_KINDS, on_storefront_webhook),
    "storefront.order": on_storefront_order,
    "storefront.fetch_failed": on_fetch_failed,
    "storefront.poll": on_storefront_poll,
    "storefront.written": on_written,
    "storefront.write_failed": on_write_failed,
    "operator.poll": on_operator_poll,
}
