"""`PresseroSandbox`: the storefront served over HTTP on loopback from a background thread,
with its test hooks (placing orders, item changes, webhooks), and `main`, its command line.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack

import httpx

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox.app import SandboxApp
from daemon.storefronts.pressero.sandbox.data import (
    DEFAULT_PASSWORD,
    DEFAULT_SITES,
    DEFAULT_SUBSCRIBER_ID,
    DEFAULT_USERNAME,
    STANDARD_STAGES,
    STANDARD_WORKFLOW_ID,
    WEBHOOK_TIMEOUT,
    OrderOptions,
    SandboxSite,
)
from daemon.storefronts.pressero.sandbox.store import Store
from daemon.storefronts.pressero.sandbox.webhooks import Outgoing
from daemon.storefronts.pressero.signature import HashVariant
from daemon.testing.loopback_http import (
    LoopbackSandbox,
    ThreadedServer,
    sandbox_arguments,
    serve_until_signalled,
)

__all__ = ["PresseroSandbox", "main"]


class PresseroSandbox(LoopbackSandbox):
    """A Pressero subscriber served over HTTP on loopback from a background thread."""

    label = "Pressero sandbox"

    def __init__(
        self,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        *,
        subscriber_id: str = DEFAULT_SUBSCRIBER_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        sites: Sequence[SandboxSite] = DEFAULT_SITES,
        workflows: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        orders: Sequence[Mapping[str, Any]] = (),
        webhook_target: str | None = None,
        hash_variant: HashVariant = g.DEFAULT_HASH_VARIANT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`workflows`: id -> (stage name, stage id) pairs, the standard one by default;
        `orders`: details answers with their `Items` (e.g. test fixtures), kept across `reset`."""
        self.username = username
        self.subscriber_id = subscriber_id
        self._store = Store(
            username,
            password,
            subscriber_id,
            sites,
            {STANDARD_WORKFLOW_ID: STANDARD_STAGES} if workflows is None else workflows,
            orders,
            hash_variant,
            clock,
        )
        self._store.webhook_target = webhook_target
        self._app = SandboxApp(self._store)
        self._streams = self._app.streams
        self._http = ThreadedServer(
            self._app, self._app.transports, host=host, port=port, name="Pressero sandbox"
        )

    # -- life -----------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Bind, serve from a daemon thread, and return once connections are accepted."""
        super().start(timeout)
        self._store.deliverer.start()

    def stop(self) -> None:
        """Stop serving and delivering; cut open connections; wait for the threads."""
        self._store.deliverer.stop()
        super().stop()

    # -- inspection and faults ------------------------------------------------------------------

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change the given fault knobs (see `FAULT_KNOBS`); return all of them."""
        return self._store.set_faults(knobs)

    def state(self) -> dict[str, Any]:
        """A copy of everything: sites (without keys), workflows, orders with their item rows
        (statuses, MisIds), shipments, status history with notes, webhooks sent or lost,
        faults, tokens issued and calls per route."""
        return self._store.state()

    def reset(self) -> None:
        """Back to the seeded state: seeded orders only, no faults, tokens, webhooks or calls."""
        self._store.reset()
        self._streams.clear()

    def expire_tokens(self) -> None:
        """Make every issued token invalid now: the next call with one answers 401."""
        self._store.expire_tokens()

    def lose_next_webhook(self, count: int = 1) -> None:
        """Drop the webhooks of the next `count` storefront changes."""
        self._store.lose_next_webhooks(count)

    @property
    def webhook_target(self) -> str | None:
        """Where storefront changes send their webhooks (None: nowhere)."""
        return self._store.webhook_target

    @webhook_target.setter
    def webhook_target(self, url: str | None) -> None:
        self._store.webhook_target = url

    def wait_for_webhooks(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until every queued webhook was posted; return the webhook log."""
        if not self._store.deliverer.wait_idle(timeout):
            raise TimeoutError(f"webhooks still queued after {timeout:g}s")
        return list(self._store.state()["webhooks"])

    # -- webhooks by hand -----------------------------------------------------------------------

    def send_webhook(
        self,
        url: str,
        type_name: str,
        site: str,
        order_number: int,
        item_seq: int | None = None,
        *,
        security_key: str | None = None,
        timeout: float = WEBHOOK_TIMEOUT,
    ) -> int:
        """Post one signed envelope (fresh MessageID) to `url` now; return the HTTP status.

        `site` is the site id; `security_key` overrides its key (to send a bad signature).
        Blocks this thread: from an event loop that serves `url`, use `send_webhook_async`.
        Connection failures raise `httpx.HTTPError`.
        """
        outgoing = self._store.webhook(type_name, site, order_number, item_seq, security_key, url)
        try:
            with httpx.Client(timeout=timeout) as http:
                response = http.post(url, content=outgoing.body, headers=outgoing.headers)
        except httpx.HTTPError as exc:
            self._store.delivered(outgoing, None, f"{type(exc).__name__}: {exc}")
            raise
        self._store.delivered(outgoing, response.status_code, "")
        return response.status_code

    async def send_webhook_async(
        self,
        url: str,
        type_name: str,
        site: str,
        order_number: int,
        item_seq: int | None = None,
        *,
        security_key: str | None = None,
        timeout: float = WEBHOOK_TIMEOUT,
    ) -> int:
        """`send_webhook` for a caller on an event loop."""
        outgoing = self._store.webhook(type_name, site, order_number, item_seq, security_key, url)
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                response = await http.post(url, content=outgoing.body, headers=outgoing.headers)
        except httpx.HTTPError as exc:
            self._store.delivered(outgoing, None, f"{type(exc).__name__}: {exc}")
            raise
        self._store.delivered(outgoing, response.status_code, "")
        return response.status_code

    # -- the storefront changes orders ----------------------------------------------------------

    def place_order(
        self, items: Sequence[Mapping[str, Any]] = ({},), **options: Unpack[OrderOptions]
    ) -> int:
        """Place an order (sending OrderPlaced unless `emit` is False); return its number.

        Each of `items` holds item-row fields (pressero.md §1.5) over realistic defaults, e.g.
        `{"ProductName": "Flyers", "Quantity": 250, "Price": 49.0}`; `{"MisId": "J0500-01"}`
        places an item the hosted Embedded Services already pushed. The options and their
        defaults: `site` (the first site's id), `paid` (True; False leaves the order unpaid),
        `payment_method` ("Credit Card"), `approved` (True; False leaves the items awaiting
        approval), `order_date` (now), `requested_ship_date` (none), `user` and `header`
        (fields over the buyer's and the order header's defaults), `site_user` (fields over
        the buyer's `GET site/{site}/users/{id}` defaults: middle name, title, phones),
        `address_book` (the buyer's whole address book; by default an office address, Acme
        Corp, preferred, and a home address), `emit` (True).
        """
        number, outgoing = self._store.place_order(items, **options)
        self._send_later(outgoing)
        return number

    def approve_item(self, order_number: int, item_seq: int) -> str | None:
        """The approver approves one item (OrderItemApproved); return the MessageID or None."""
        return self._change("approve", order_number, item_seq)

    def deny_item(self, order_number: int, item_seq: int) -> str | None:
        """The approver denies one item (OrderItemDenied)."""
        return self._change("deny", order_number, item_seq)

    def mark_paid(self, order_number: int) -> str | None:
        """A payment arrives (PaymentReceived)."""
        return self._change("paid", order_number, None)

    def cancel_item(self, order_number: int, item_seq: int) -> str | None:
        """The item moves to "Order Cancelled" (OrderItemStatusChanged)."""
        return self._change("cancel", order_number, item_seq)

    def files_generated(self, order_number: int, item_seq: int) -> str | None:
        """eDocBuilder made the item's production file (OrderItemFilesGenerated): the row's
        g.ITEM_FILES_FIELD then lists it (`data.generated_files`)."""
        return self._change("files_generated", order_number, item_seq)

    def _change(self, action: str, order_number: int, item_seq: int | None) -> str | None:
        outgoing = self._store.change(action, order_number, item_seq)
        return self._send_later(outgoing)

    def _send_later(self, outgoing: Outgoing | None) -> str | None:
        if outgoing is None:
            return None
        self._store.deliverer.submit(outgoing)
        return str(outgoing.record["message_id"])


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a sandbox until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    parser = sandbox_arguments(
        "python -m daemon.storefronts.pressero.sandbox", "Run a Pressero sandbox on loopback."
    )
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--subscriber-id", default=DEFAULT_SUBSCRIBER_ID)
    parser.add_argument("--site-id", default=DEFAULT_SITES[0].site_id)
    parser.add_argument("--site-key", default=DEFAULT_SITES[0].security_key)
    parser.add_argument("--webhook-target", default=None, help="URL the webhooks go to")
    parser.add_argument(
        "--hash-variant",
        default=g.DEFAULT_HASH_VARIANT.value,
        choices=[v.value for v in HashVariant],
    )
    args = parser.parse_args(argv)
    site = dataclasses.replace(DEFAULT_SITES[0], site_id=args.site_id, security_key=args.site_key)
    sandbox = PresseroSandbox(
        args.username,
        args.password,
        subscriber_id=args.subscriber_id,
        host=args.host,
        port=args.port,
        sites=(site,),
        webhook_target=args.webhook_target,
        hash_variant=HashVariant(args.hash_variant),
    )
    serve_until_signalled(sandbox)
