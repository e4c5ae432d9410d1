"""A real Tharstern REST API on loopback, built from `guesses`, for tests and the demo.

`TharsternSandbox` serves `{url}/TharsternAPI/api/...` (paths case-insensitive, as IIS routes
them) with the `{Status, Details}` envelope and the behaviours esd must cope with:

- token auth: `GET authentication/GenerateAPIToken?email&password&applicationId` gives a GUID,
  or the all-zero token (Success true) for wrong credentials; every other call needs
  `Authorization: Basic base64(token)` or `base64(token + ":")`, else 401. `expire_tokens()`
  forgets every token handed out (a token that expired: the next call answers 401);
- a fixed set of customers (the API cannot create one), products (stock items, and products
  with a product type), product types with their example estimate requests;
- estimates (`estrequest`), jobs from estimates, sales orders (`orders/submit`), delivery
  addresses, contacts, attachments and job updates; none of the creates is idempotent;
- ASP.NET 400 answers with `ModelState` for malformed requests, `Details.Result.Problems` for an
  estimate Tharstern refuses, `Orders[0].ID == 0` with `StatusDetails` for a refused order;
- the quirk: `estrequest` answering Success false although it made the estimate (the knob
  `success_false_rate`, or a `fail_next` entry of kind "success_false");
- webhooks: after `set_webhook(url, secret)`, `set_job_status` and `add_delivery` (and their
  order twins) POST the change to `url` with the secret in `guesses.WEBHOOK_SECRET_HEADER`;
  `lose_webhook=True` loses a delivery (never sent) until `redeliver()`;
- the fault knobs every sandbox has (`FAULT_KNOBS`): latency, 503s, 429s, dropped connections,
  lost answers after the act, drip and huge answers, one-shot `fail_next` faults matched by path
  prefix (e.g. "/TharsternAPI/api/orders/submit") and method.

Run `python -m daemon.providers.tharstern.sandbox --port 0 --login esd@example.com --password X`:
it prints `{"url": ...}` once it accepts connections and runs until SIGTERM or SIGINT.

Admin (no auth): POST /_admin/faults, GET /_admin/state, POST /_admin/reset.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.sandbox.app import SandboxApp
from daemon.providers.tharstern.sandbox.catalogue import (
    DEFAULT_CUSTOMERS,
    DEFAULT_PRODUCTS,
    PRODUCT_TYPES,
    example_request,
)
from daemon.providers.tharstern.sandbox.store import FAULT_KINDS, FAULT_KNOBS, Store, now
from daemon.testing.loopback_http import (
    LoopbackSandbox,
    ThreadedServer,
    sandbox_arguments,
    serve_until_signalled,
)

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_PRODUCTS",
    "FAULT_KINDS",
    "FAULT_KNOBS",
    "PRODUCT_TYPES",
    "TharsternSandbox",
    "example_request",
    "main",
    "webhook_body",
]


@dataclasses.dataclass
class _Webhook:
    url: str
    secret: str


Sender = Callable[[str, bytes, Mapping[str, str]], int]


def _delivery(tracking: str) -> dict[str, Any]:
    """A delivery note of today, carrying the consignment (tracking) number."""
    return {"DelNoteNumber": f"DN{tracking}", g.DELIVERY_TRACKING: tracking, g.DELIVERY_DATE: now()}


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    return httpx.post(url, content=body, headers=dict(headers), timeout=10.0).status_code


class TharsternSandbox(LoopbackSandbox):
    """A Tharstern API served over HTTP on loopback from a background thread."""

    label = "Tharstern sandbox"

    def __init__(
        self,
        login: str = "esd@example.com",
        password: str = "secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.login = login
        self._store = Store(login, password)
        self._app = SandboxApp(self._store)
        self._streams = self._app.streams
        self._http = ThreadedServer(
            self._app, self._app.transports, host=host, port=port, name="Tharstern sandbox"
        )
        self._webhook: _Webhook | None = None
        self._last: bytes | None = None
        self._next_delivery = 1
        self._send: Sender = _post
        #: (delivery id, HTTP status answered, or 0: lost before it was sent), in send order
        self.webhook_deliveries: list[tuple[str, int]] = []

    @property
    def api_url(self) -> str:
        """The API root clients talk to (`url` + guesses.API_ROOT)."""
        return self.url + g.API_ROOT

    def set_webhook(self, url: str | None, secret: str = "") -> None:
        """POST job and order changes to `url` with `secret` (None: stop posting)."""
        self._webhook = None if url is None else _Webhook(url, secret)

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change the given fault knobs (see `FAULT_KNOBS`); return all of them."""
        return self._store.set_faults(knobs)

    def state(self) -> dict[str, Any]:
        """A copy of everything: estimates, jobs, orders, addresses, attachments, faults, calls."""
        return self._store.state()

    def reset(self) -> None:
        """Back to the seeded state: nothing created, no tokens, no faults, no calls."""
        self._store.reset()
        self._streams.clear()

    def expire_tokens(self) -> None:
        """Forget every token handed out: the next call with one answers 401."""
        self._store.expire_tokens()

    # -- the print shop's side ------------------------------------------------------------------

    def set_job_status(
        self, job_no: str, status: str, *, lose_webhook: bool = False
    ) -> dict[str, Any]:
        """Move a job on (as the shop would); a webhook, if set, tells esd."""
        job = self._store.change_job(str(job_no), status, None)
        self._notify("job", job, lose_webhook)
        return job

    def add_delivery(
        self,
        job_no: str,
        tracking: str,
        *,
        status: str | None = "Despatched",
        lose_webhook: bool = False,
    ) -> dict[str, Any]:
        """Dispatch a job with a carrier consignment (tracking) number."""
        job = self._store.change_job(str(job_no), status, _delivery(tracking))
        self._notify("job", job, lose_webhook)
        return job

    def set_order_status(
        self, order_id: int, status: str, *, lose_webhook: bool = False
    ) -> dict[str, Any]:
        """Move a sales order on."""
        order = self._store.change_order(order_id, status, None)
        self._notify("order", order, lose_webhook)
        return order

    def add_order_delivery(
        self,
        order_id: int,
        tracking: str,
        *,
        status: str | None = "Despatched",
        lose_webhook: bool = False,
    ) -> dict[str, Any]:
        """Dispatch a sales order with a tracking number."""
        order = self._store.change_order(order_id, status, _delivery(tracking))
        self._notify("order", order, lose_webhook)
        return order

    def redeliver(self, *, secret: str | None = None) -> int:
        """(Re)send the last webhook delivery, byte for byte; `secret` replaces the right one."""
        if self._webhook is None or self._last is None:
            raise LookupError("no webhook delivery to send")
        headers = {
            "content-type": "application/json",
            g.WEBHOOK_SECRET_HEADER: secret if secret is not None else self._webhook.secret,
        }
        status = self._send(self._webhook.url, self._last, headers)
        delivery = str(json.loads(self._last).get("EventId", ""))
        self.webhook_deliveries.append((delivery, status))
        return status

    def _notify(self, kind: str, record: Mapping[str, Any], lose: bool) -> None:
        if self._webhook is None:
            return
        delivery = f"WH{self._next_delivery}"
        self._next_delivery += 1
        self._last = json.dumps(webhook_body(delivery, kind, record)).encode()
        if lose:
            self.webhook_deliveries.append((delivery, 0))
        else:
            self.redeliver()


def webhook_body(delivery: str, kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON a subscription POSTs on a job or sales-order change. GUESS (ref 1.12: the
    payload is NOT FOUND): the names the parser's default field map reads (the webhook section
    of `guesses`: EventId, EventType, JobNo, OrderNo, Status, TrackingNumbers, DespatchDate)."""
    deliveries = record.get(g.DELIVERIES, [])
    latest = deliveries[-1] if deliveries else {}
    body: dict[str, Any] = {
        "EventId": delivery,
        "EventType": "JobStatusChanged" if kind == "job" else "OrderStatusChanged",
        "Status": record.get("StatusDescription"),
        "TrackingNumbers": [d[g.DELIVERY_TRACKING] for d in deliveries],
        "DespatchDate": latest.get(g.DELIVERY_DATE),
    }
    if kind == "job":
        body["JobNo"] = str(record.get(g.CREATED_JOB_NO))
    else:
        body["OrderNo"] = str(record.get("OrderNo"))
    return body


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a sandbox until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    parser = sandbox_arguments(
        "python -m daemon.providers.tharstern.sandbox", "Run a Tharstern API sandbox on loopback."
    )
    parser.add_argument("--login", default="esd@example.com")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args(argv)
    serve_until_signalled(
        TharsternSandbox(args.login, args.password, host=args.host, port=args.port)
    )
