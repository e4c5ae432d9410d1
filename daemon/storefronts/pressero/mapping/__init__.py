"""Pressero's JSON to esd's records and back; pure functions, no I/O.

`parse_envelope` reads a webhook body; `order_from_api` turns the answers of
`v2/orders/{n}/Details` and `v2/orders/{n}/items` into a storefront-neutral `Order`; the rest
parse the small answers the client needs (token, pages, stages, item ids, shipments) and build
its request bodies. Anything of the wrong shape raises `BadEventPayload` with a path such as
`order.Items[2].Quantity`. Field names are matched case-insensitively, because clients seen in
code spell them differently (pressero.md §1.2, §1.4) and `BilltoStateProvince` shows the
server's own spelling wanders (§1.5).

The parts: `webhooks` (the envelope of a webhook body), `orders` (an order and its items,
with the table of where each field comes from), `answers` (the client's small answers and
request bodies) and `fields` (typed, case-insensitive field access shared by all three).
"""

from daemon.storefronts.pressero.mapping.answers import (
    Page,
    PresseroItemRef,
    SearchRow,
    Shipment,
    WorkflowStage,
    find_stage,
    format_search_date,
    parse_item_refs,
    parse_page,
    parse_search_row,
    parse_shipments,
    parse_stages,
    parse_token,
    search_body,
    shipment_body,
)
from daemon.storefronts.pressero.mapping.orders import order_from_api
from daemon.storefronts.pressero.mapping.webhooks import (
    ITEM_EVENT_TYPES,
    KNOWN_TYPES,
    WebhookEnvelope,
    parse_envelope,
)

__all__ = [
    "ITEM_EVENT_TYPES",
    "KNOWN_TYPES",
    "Page",
    "PresseroItemRef",
    "SearchRow",
    "Shipment",
    "WebhookEnvelope",
    "WorkflowStage",
    "find_stage",
    "format_search_date",
    "order_from_api",
    "parse_envelope",
    "parse_item_refs",
    "parse_page",
    "parse_search_row",
    "parse_shipments",
    "parse_stages",
    "parse_token",
    "search_body",
    "shipment_body",
]
