"""A real HTTP Pressero on loopback that also sends signed webhooks, for tests and the demo.

`PresseroSandbox` runs a raw ASGI app under uvicorn in a daemon thread. It serves the routes
`PresseroClient` uses (all named in `guesses`, matched case-insensitively as Pressero's routing
seems to be, pressero.md §1.4) over in-memory data: sites with security keys, workflows with
stages, orders with item rows shaped like pressero.md §1.5, shipments. Everything sits behind
one lock, so a test thread may read and change it while requests are served.

Like a storefront, it changes orders (`place_order`, `approve_item`, `deny_item`, `mark_paid`,
`cancel_item`, `files_generated`: the item row then carries its production PDF under
g.ITEM_FILES_FIELD, a guessed shape) and sends the matching webhook, signed with the site's key
(`MessageHash`, pressero.md §2), to `webhook_target`, from a delivery thread so an in-process
daemon is never blocked. `lost_webhook_rate` and `lose_next_webhook()` drop some, as an
at-most-once sender would: the reconciliation poll must find those orders. `send_webhook` posts
one envelope by hand and returns the HTTP status.

Faults (`set_faults`, POST /_admin/faults; see `FAULT_KNOBS`): latency, 5xx, dropped
connections (really cut: the app aborts the TCP transport, the client sees the server hang up),
token expiry (`token_ttl_seconds`; `expire_tokens()` for a deterministic test), lost webhooks,
a seed for the dice, and a one-shot `fail_next` queue.

The package, by seam: `data` (seed data, knobs), `routes`, `wire` (wire helpers), `webhooks`
(delivery), `state` / `changes` / `handlers` / `store` (the data, the storefront's changes, the
route handlers, the locked entry points), `app` (the ASGI app), `server` (`PresseroSandbox`).

Run `python -m daemon.storefronts.pressero.sandbox --port 0`: it prints
`{"url": "http://127.0.0.1:PORT"}` once it accepts connections and runs until SIGTERM/SIGINT.

API (under /api/, `Authorization: token <T>` except for the login):

    POST V2/Authentication                   {UserName, Password, SubscriberId, ConsumerID}
                                             -> {Token}
    POST v2/Orders/Search?pageNumber&pageSize {StartDate, EndDate, Filters} -> page of item rows
    GET  v2/orders/{n}/Details               header with Items
    GET  v2/orders/{n}/items                 [item row, ...]
    PUT  V2/Orders/{n}/Item/{item}/Status/{stage_id}?notes=   (the current stage: a note)
    GET  v2/orders/{n}/item/{item}/Status    [{Stage, Notes, ...}, ...] oldest first
    PUT  v2/Orders/{n}/Item/{item}           {MisId, ...}
    POST V2/Orders/Shipments                 shipment body (pressero.md §1.4)
    GET  v2/orders/{order_id}/Item/{order_item_id}/Shipments
    GET  workflows/{workflow_id}/Stages
    GET  site/{site}/users/{user_id}         the buyer of each order placed here (guessed fields)
    GET  site/{site}/Addressbook/{user_id}   {PreferredAddress, Addresses[]} of that buyer

Admin (no auth): POST /_admin/faults, GET /_admin/state, POST /_admin/reset,
POST /_admin/orders (place_order's arguments), POST /_admin/orders/{n}/{action} with
{"item_seq": s} (action: approve, deny, paid, cancel, files_generated),
POST /_admin/webhook_target {"url": ...}.
"""

from daemon.storefronts.pressero.sandbox.data import (
    DEFAULT_PASSWORD,
    DEFAULT_SITES,
    DEFAULT_SUBSCRIBER_ID,
    DEFAULT_USERNAME,
    FAULT_KINDS,
    FAULT_KNOBS,
    STANDARD_STAGES,
    STANDARD_WORKFLOW_ID,
    SandboxSite,
)
from daemon.storefronts.pressero.sandbox.server import PresseroSandbox, main

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_SITES",
    "DEFAULT_SUBSCRIBER_ID",
    "DEFAULT_USERNAME",
    "FAULT_KINDS",
    "FAULT_KNOBS",
    "STANDARD_STAGES",
    "STANDARD_WORKFLOW_ID",
    "PresseroSandbox",
    "SandboxSite",
    "main",
]
