"""A real HTTP Pressero on loopback that also sends signed webhooks, for tests and the demo.

`PresseroSandbox` runs a raw ASGI app under uvicorn in a daemon thread. It serves the routes
`PresseroClient` uses (all named in `guesses`, matched case-insensitively as Pressero's routing
seems to be, pressero.md §1.4) over in-memory data: sites with security keys, workflows with
stages, orders with item rows shaped like pressero.md §1.5, shipments. Everything sits behind
one lock, so a test thread may read and change it while requests are served.

Like a storefront, it changes orders (`place_order`, `approve_item`, `deny_item`, `mark_paid`,
`cancel_item`, `files_generated`) and sends the matching webhook, signed with the site's key
(`MessageHash`, pressero.md §2), to `webhook_target`, from a delivery thread so an in-process
daemon is never blocked. `lost_webhook_rate` and `lose_next_webhook()` drop some, as an
at-most-once sender would: the reconciliation poll must find those orders. `send_webhook` posts
one envelope by hand and returns the HTTP status.

Faults (`set_faults`, POST /_admin/faults; see `FAULT_KNOBS`): latency, 5xx, dropped
connections (really cut: the app aborts the TCP transport, the client sees the server hang up),
token expiry (`token_ttl_seconds`; `expire_tokens()` for a deterministic test), lost webhooks,
a seed for the dice, and a one-shot `fail_next` queue.

Run `python -m daemon.storefronts.pressero.sandbox --port 0`: it prints
`{"url": "http://127.0.0.1:PORT"}` once it accepts connections and runs until SIGTERM/SIGINT.

API (under /api/, `Authorization: token <T>` except for the login):

    POST V2/Authentication                   {UserName, Password, SubscriberId} -> {Token}
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

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hmac
import json
import queue
import random
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

import httpx

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.signature import HashVariant, expected_hash
from daemon.testing.asgi import Receive, Scope, Send, request_header
from daemon.testing.faults import FaultPlan
from daemon.testing.json_sandbox import (
    JsonAnswer,
    JsonApp,
    JsonStore,
    Rejected,
    Route,
    match_route,
    route,
)
from daemon.testing.loopback_http import (
    LoopbackSandbox,
    ThreadedServer,
    sandbox_arguments,
    serve_until_signalled,
)

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

DEFAULT_USERNAME = "esd@printshop.example"
DEFAULT_PASSWORD = "sandbox-password"
DEFAULT_SUBSCRIBER_ID = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxSite:
    """One storefront site: its id (what webhooks carry), name, domain and webhook key."""

    site_id: str
    name: str
    domain: str
    security_key: str


DEFAULT_SITES = (
    SandboxSite(
        site_id="0d5e7c2a-9b1f-4e3d-8c6a-2f4b1e9d7a30",
        name="Print Shop",
        domain="printshop.chi.v6.pressero.com",
        security_key="sandbox-site-key",
    ),
)

#: the standard workflow's stages with the GUIDs seen in code (pressero.md §1.6)
STANDARD_WORKFLOW_ID = "1b0e6a8e-2f5c-4d7b-9a3e-5c8d7f6e4b21"  # invented: not public
STANDARD_STAGES: tuple[tuple[str, str], ...] = (
    ("Estimate Request", "fc5110e1-1c47-4b1c-a977-4dfec763f779"),
    ("Estimate Clarification", "13fd81b1-1b67-4e46-96b6-64207c33716e"),
    ("Quote", "e0261bc1-8276-4ac4-a456-169bf4be428b"),
    ("Quote Acceptance", "aece99d2-902f-4a49-873a-10f70cdec1c0"),
    ("Order Received", "39167ccd-c859-4d30-b496-bee8f8382f42"),
    ("Prepress", "4d03ab0c-5297-454d-ad9a-056ff6f7611d"),
    ("Press", "7769967f-dc67-492f-8fd1-2cbe0a41f270"),
    ("Bindery", "ba835391-5a41-4e74-a0ec-f2f87e7962c8"),
    ("Special", "9391a3aa-3082-4125-be88-33c76bcfdc5d"),
    ("Shipping", "bd7816e9-a22a-4c82-bc2d-d1a3c3711821"),
    ("Order Completed", "2cf71159-8770-4a66-8f43-cc58600cdddd"),
    ("Order Cancelled", "a61679f8-5518-431f-aab0-ba5e10c67203"),
)
_FIRST_STAGE = "Order Received"
_CANCELLED_STAGE = "Order Cancelled"

#: what one `fail_next` entry can do to the next matching /api request
FAULT_KINDS = ("drop", "drop_after_commit", "500", "503", "429", "401", "400", "drip", "huge")

#: fault knob -> default; `set_faults` / POST /_admin/faults change only the knobs given
FAULT_KNOBS: Mapping[str, object] = {
    "latency_ms": 0,
    "error_rate": 0.0,  # answered 503 before acting
    "drop_rate": 0.0,  # connection cut before acting
    "token_ttl_seconds": 0,  # 0: tokens never expire
    "lost_webhook_rate": 0.0,  # storefront changes whose webhook is never sent
    "retry_after": 1,  # seconds, on 429
    "drip_interval_ms": 500,  # "drip": the answer's bytes this far apart (the act is done)
    "huge_bytes": 200_000_000,  # "huge": an answer this large, chunked, instead of acting
    "seed": 0,
    "fail_next": [],
}

_DENIED = "Authorization has been denied for this request."  # ASP.NET Web API's words (guessed)
_MAX_PAGE_SIZE = 100_000
_WEBHOOK_TIMEOUT = 10.0
#: item fields a client may change with `PUT v2/Orders/{n}/Item/{item}` (pressero.md §1.4)
_UPDATABLE_ITEM_FIELDS = (g.MIS_ID_FIELD, "OrderItemMISID", "JobNumber", "ItemNotes")
#: POST /_admin/orders: `place_order`'s arguments as JSON, and the type each must have
_PLACE_ORDER_ARGUMENTS: Mapping[str, type] = {
    "items": list,
    "site": str,
    "paid": bool,
    "payment_method": str,
    "approved": bool,
    "order_date": str,
    "requested_ship_date": str,
    "user": dict,
    "site_user": dict,
    "address_book": dict,
    "header": dict,
    "emit": bool,
}
_SEARCH_COLUMNS = ("OrderNumber", "WorkflowStagePrinter", "SiteId")
_SEARCH_OPERATORS = ("equals", "isequalto", "contains")


def _route(method: str, template: str, handler: str) -> Route:
    """Pressero's routing: case-insensitive, a trailing slash allowed (pressero.md §1.4)."""
    return route(method, template, handler, fold_case=True)


def _api(template: str) -> str:
    return f"/{g.API_PREFIX}/{template}"


_API_ROUTES = (
    _route("POST", _api(g.AUTH_ROUTE), "authenticate"),
    _route("POST", _api(g.ORDER_SEARCH_ROUTE), "search_orders"),
    _route("POST", _api(g.SHIPMENTS_ROUTE), "add_shipment"),
    _route("GET", _api(g.ORDER_DETAILS_ROUTE), "order_details"),
    _route("GET", _api(g.ORDER_ITEMS_ROUTE), "order_items"),
    _route("PUT", _api(g.ITEM_STATUS_ROUTE), "set_item_status"),
    _route("GET", _api(g.ITEM_STATUS_HISTORY_ROUTE), "item_status_history"),
    _route("PUT", _api(g.ITEM_UPDATE_ROUTE), "update_item"),
    _route("GET", _api(g.ITEM_SHIPMENTS_ROUTE), "item_shipments"),
    _route("GET", _api(g.WORKFLOW_STAGES_ROUTE), "workflow_stages"),
    _route("GET", _api(g.USER_ROUTE), "site_user"),
    _route("GET", _api(g.ADDRESS_BOOK_ROUTE), "address_book"),
)
_ADMIN_ROUTES = (
    _route("POST", "/_admin/faults", "admin_faults"),
    _route("GET", "/_admin/state", "admin_state"),
    _route("POST", "/_admin/reset", "admin_reset"),
    _route("POST", "/_admin/orders", "admin_place_order"),
    _route("POST", "/_admin/orders/{order_number}/{action}", "admin_order_action"),
    _route("POST", "/_admin/webhook_target", "admin_webhook_target"),
)


def _match(routes: Sequence[Route], method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    """(route, path parameters); a path that other methods have is refused with 405."""
    found, params, allowed = match_route(routes, method, path)
    if found is None and allowed:
        raise Rejected(405, f"method not allowed: {method} {path} (allowed: {', '.join(allowed)})")
    return found, params


class _OrderOptions(TypedDict, total=False):
    """`PresseroSandbox.place_order`'s options; their defaults are `_Store._place_order`'s."""

    site: str | None
    paid: bool
    payment_method: str
    approved: bool
    order_date: dt.datetime | str | None
    requested_ship_date: dt.date | str | None
    user: Mapping[str, Any] | None
    site_user: Mapping[str, Any] | None
    address_book: Mapping[str, Any] | None
    header: Mapping[str, Any] | None
    emit: bool


def _user_key(site_id: str, user_id: str) -> str:
    return f"{site_id.casefold()}/{user_id.casefold()}"


def _default_site_user(user_id: str, ordered_by: Mapping[str, Any]) -> dict[str, Any]:
    """The buyer as `GET site/{site}/users/{id}` shows them (g.USER_FIELDS, guessed names)."""
    return {
        g.USER_ID_FIELD: user_id,
        "Email": ordered_by["OrderedByEmail"],
        "FirstName": ordered_by["OrderedByFirstName"],
        "MiddleName": "Quinn",
        "LastName": ordered_by["OrderedByLastName"],
        "Title": "Purchasing Manager",
        "Telephone": "+1 217 555 0142",
        "CellPhone": "+1 217 555 0199",
        "IsActive": True,
        "Groups": [{"GroupName": "Everyone"}],
    }


def _default_address_book(user: Mapping[str, Any]) -> dict[str, Any]:
    """The buyer's address book: the office (preferred) and a home address."""
    office, home = str(uuid.uuid4()), str(uuid.uuid4())
    person = {
        "FirstName": user.get("FirstName", ""),
        "LastName": user.get("LastName", ""),
        "Email": user.get("Email", ""),
    }
    return {
        g.ADDRESS_BOOK_PREFERRED_FIELD: office,
        g.ADDRESS_BOOK_ADDRESSES_FIELD: [
            {
                g.ADDRESS_BOOK_ENTRY_ID_FIELD: office,
                **person,
                "Business": "Acme Corp",
                "Title": user.get("Title", ""),
                "Phone": user.get("Telephone", ""),
                "CellPhone": user.get("CellPhone", ""),
                "Address1": "400 Commerce Drive",
                "Address2": "Suite 210",
                "Address3": "Attn: Purchasing",
                "City": "Springfield",
                "StateProvince": "IL",
                "Postal": "62704",
                "Country": "US",
            },
            {
                g.ADDRESS_BOOK_ENTRY_ID_FIELD: home,
                **person,
                "Business": "",
                "Title": "",
                "Phone": "",
                "CellPhone": user.get("CellPhone", ""),
                "Address1": "12 Elm Street",
                "Address2": "",
                "Address3": "",
                "City": "Chatham",
                "StateProvince": "IL",
                "Postal": "62629",
                "Country": "US",
            },
        ],
    }


# -- wire helpers -------------------------------------------------------------------------------


def _wire_datetime(when: dt.datetime) -> str:
    """A date-time as the sandbox writes it: UTC, no zone (pressero.md §1.5: treated as UTC)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _read_datetime(value: object, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise Rejected(400, f"{where}: expected a date-time string")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(400, f"{where}: {value!r} is not a date-time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _field(data: Mapping[str, Any], name: str) -> Any:
    """`data[name]`, matching the name case-insensitively (pressero.md §1.2)."""
    if name in data:
        return data[name]
    folded = name.casefold()
    return next((v for k, v in data.items() if k.casefold() == folded), None)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise Rejected(400, "the body is not valid JSON") from None


def _json_object(body: bytes) -> dict[str, Any]:
    data = _json_body(body)
    if not isinstance(data, dict):
        raise Rejected(400, "the body must be a JSON object")
    return data


def _query_int(query: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise Rejected(400, f"query parameter {name} must be an integer from {low} to {high}")
    return number


# -- webhook delivery ---------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Outgoing:
    url: str
    body: bytes
    headers: dict[str, str]
    record: dict[str, Any]  # the entry in the webhook log; filled in under the store's lock


class _Deliverer:
    """Posts queued webhooks in order from one thread, so no caller's event loop is blocked."""

    def __init__(self, done: Callable[[_Outgoing, int | None, str], None]) -> None:
        self._done = done
        self._queue: queue.Queue[_Outgoing | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pressero-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(_WEBHOOK_TIMEOUT + 5)

    def submit(self, outgoing: _Outgoing) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(outgoing)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=_WEBHOOK_TIMEOUT) as http:
            while (outgoing := self._queue.get()) is not None:
                status, error = _post(http, outgoing)
                self._done(outgoing, status, error)
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


def _post(http: httpx.Client, outgoing: _Outgoing) -> tuple[int | None, str]:
    try:
        response = http.post(outgoing.url, content=outgoing.body, headers=outgoing.headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, ""


# -- the storefront's data ----------------------------------------------------------------------


class _Store(JsonStore):
    """Sites, workflows, orders, shipments, tokens, faults, webhooks and call counts.

    Public methods take the lock; `_`-methods expect it held.
    """

    error_key = "Message"
    fault_knobs = FAULT_KNOBS
    fault_kinds = FAULT_KINDS
    fold_case = True

    def __init__(
        self,
        username: str,
        password: str,
        subscriber_id: str,
        sites: Sequence[SandboxSite],
        workflows: Mapping[str, Sequence[tuple[str, str]]],
        orders: Sequence[Mapping[str, Any]],
        hash_variant: HashVariant,
        clock: Callable[[], float],
    ) -> None:
        if not sites:
            raise ValueError("the sandbox needs at least one site")
        super().__init__()
        self._username = username
        self._password = password
        self.subscriber_id = subscriber_id
        self.sites = {site.site_id: site for site in sites}
        self._seed_workflows = {wid: tuple(stages) for wid, stages in workflows.items()}
        self._seed_orders = [copy.deepcopy(dict(order)) for order in orders]
        self.hash_variant = hash_variant
        self._clock = clock
        self.webhook_target: str | None = None
        self.deliverer = _Deliverer(self.delivered)
        self._reset()

    def _reset(self) -> None:
        self.workflows = {
            wid: [
                {
                    g.STAGE_ID_FIELD: stage_id,
                    "Seq": str(seq),
                    g.STAGE_NAME_FIELD: name,
                    g.STAGE_CUSTOMER_NAME_FIELD: name,
                    "Description": name,
                }
                for seq, (name, stage_id) in enumerate(stages, start=1)
            ]
            for wid, stages in self._seed_workflows.items()
        }
        self.headers: dict[int, dict[str, Any]] = {}
        self.rows: dict[int, list[dict[str, Any]]] = {}
        # keyed by `_user_key(site, user id)`: the buyers of the orders placed here
        self.users: dict[str, dict[str, Any]] = {}
        self.address_books: dict[str, dict[str, Any]] = {}
        self.next_order = 1001
        self.next_item_number = 20001
        for i, order in enumerate(self._seed_orders):
            self._seed_order(copy.deepcopy(order), f"orders[{i}]")
        self.shipments: list[dict[str, Any]] = []
        self.status_history: list[dict[str, Any]] = []
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.faults: dict[str, Any] = copy.deepcopy(dict(FAULT_KNOBS))
        self.rng = random.Random(0)
        self.webhook_rng = random.Random(0)
        self.lose_next = 0
        self.webhooks: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()

    def _seed_order(self, order: dict[str, Any], where: str) -> None:
        rows = order.pop("Items", None)
        number = _field(order, "OrderNumber")
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"{where}.OrderNumber: must be a positive integer")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ValueError(f"{where}.Items: must be a list of objects")
        if _field(order, "OrderDate") is None:
            raise ValueError(f"{where}.OrderDate: required (searches go by it)")
        self.headers[number] = order
        self.rows[number] = rows
        self.next_order = max(self.next_order, number + 1)
        for row in rows:
            item_number = _field(row, g.ITEM_ROUTE_ID_FIELD)
            if isinstance(item_number, int) and not isinstance(item_number, bool):
                self.next_item_number = max(self.next_item_number, item_number + 1)

    # -- public, thread-safe --------------------------------------------------------------------

    def token_valid(self, authorization: str | None) -> bool:
        if authorization is None:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.casefold() != g.AUTH_SCHEME.casefold() or not token:
            return False
        with self._lock:
            issued = self.tokens.get(token.strip())
            ttl = self.faults["token_ttl_seconds"]
            return issued is not None and (not ttl or self._clock() - issued < ttl)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def lose_next_webhooks(self, count: int) -> None:
        with self._lock:
            self.lose_next += count

    def place_order(
        self, items: Sequence[Mapping[str, Any]], **options: Unpack[_OrderOptions]
    ) -> tuple[int, _Outgoing | None]:
        with self._lock:
            number = self._place_order(items, **options)
            emit = options.get("emit", True)
            outgoing = self._emit("OrderPlaced", number, None) if emit else None
        return number, outgoing

    def change(self, action: str, order_number: int, item_seq: int | None) -> _Outgoing | None:
        """Apply a storefront change and make its webhook (None when lost or no target)."""
        with self._lock:
            type_name = self._change(action, order_number, item_seq)
            return self._emit(type_name, order_number, item_seq)

    def webhook(
        self,
        type_name: str,
        site_id: str,
        order_number: int,
        item_seq: int | None,
        security_key: str | None,
        url: str,
    ) -> _Outgoing:
        with self._lock:
            return self._outgoing(type_name, site_id, order_number, item_seq, security_key, url)

    def delivered(self, outgoing: _Outgoing, status: int | None, error: str) -> None:
        """Record how a webhook's delivery went."""
        with self._lock:
            outgoing.record["status"] = status
            outgoing.record["error"] = error

    # -- storefront changes (lock held) ---------------------------------------------------------

    def _place_order(
        self,
        items: Sequence[Mapping[str, Any]] = ({},),
        *,
        site: str | None = None,
        paid: bool = True,
        payment_method: str = "Credit Card",
        approved: bool = True,
        order_date: dt.datetime | str | None = None,
        requested_ship_date: dt.date | str | None = None,
        user: Mapping[str, Any] | None = None,
        site_user: Mapping[str, Any] | None = None,
        address_book: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        emit: bool = True,
    ) -> int:
        site_id = site if site is not None else next(iter(self.sites))
        if site_id not in self.sites:
            raise LookupError(f"unknown site {site_id!r} (known: {', '.join(self.sites)})")
        if not self.workflows:
            raise LookupError("the sandbox has no workflow to put items in")
        the_site = self.sites[site_id]
        workflow_id = next(iter(self.workflows))
        first_stage = self._stage_named(workflow_id, _FIRST_STAGE) or self.workflows[workflow_id][0]
        number = self.next_order
        self.next_order += 1
        when = order_date or dt.datetime.now(dt.UTC)
        placed = when if isinstance(when, str) else _wire_datetime(when)
        due = requested_ship_date
        due_text = due if isinstance(due, str) or due is None else f"{due.isoformat()}T00:00:00"
        order_id = str(uuid.uuid4())
        ordered_by = {
            "OrderedByFirstName": "Pat",
            "OrderedByLastName": "Buyer",
            "OrderedByEmail": "pat.buyer@example.com",
            "OrderedByDepartment": "",
            g.USER_INTEGRATION_ID_FIELD: "",
            **(user or {}),
        }
        bill_to = {
            "BillTo": "Pat Buyer",
            "BillToFirstName": "Pat",
            "BillToLastName": "Buyer",
            "BillToBusiness": "Acme Corp",
            "BillToAddress1": "1 Main Street",
            "BillToAddress2": "",
            "BillToAddress3": "",
            "BillToCity": "Springfield",
            "BilltoStateProvince": "IL",
            "BillToPostal": "62701",
            "BillToCountry": "US",
            "BillToPhone": "+1 217 555 0100",
            "BillToEmail": "ap@acme.example",
        }
        rows = []
        for index, spec in enumerate(items):
            seq = index + 1
            item_number = self.next_item_number
            self.next_item_number += 1
            row: dict[str, Any] = {
                "OrderId": order_id,
                "OrderNumber": number,
                "OrderItemId": str(uuid.uuid4()),
                "OrderItemNumber": item_number,
                "OrderItemSeq": seq,
                "OrderDate": placed,
                "SiteId": site_id,
                "SiteName": the_site.name,
                "Domain": the_site.domain,
                "ProductName": f"Product {seq}",
                "ItemName": f"Product {seq}",
                "OrderItemOptionsText": "",
                "PrinterPartNumber": f"SKU-{seq:03d}",
                "ClientPartNumber": "",
                g.PRODUCT_OBJECT_FIELD: {
                    "ProductId": str(uuid.uuid4()),
                    g.PRODUCT_INTEGRATION_ID_FIELD: "",
                },
                "Quantity": 100,
                "Price": 25.0,
                "ItemTax": 0.0,
                "Shipping": 0.0,
                "PONumber": "",
                "ItemNotes": "",
                "ShippingMethod": "UPS Ground",
                "ShipTo": "Pat Buyer",
                "ShipToFirstName": "Pat",
                "ShipToLastName": "Buyer",
                "ShipToBusiness": "Acme Corp",
                "ShipToAddress1": "1 Main Street",
                "ShipToAddress2": "",
                "ShipToAddress3": "",
                "ShipToCity": "Springfield",
                "ShiptoStateProvince": "IL",
                "ShipToPostal": "62701",
                "ShipToCountry": "US",
                "ShipToPhone": "+1 217 555 0100",
                "ShipToEmail": "pat.buyer@example.com",
                "RequestedShipDate": due_text,
                "ApprovedDate": placed if approved else None,
                "WorkflowId": workflow_id,
                "WorkflowStageId": first_stage[g.STAGE_ID_FIELD],
                "WorkflowStageNumber": int(first_stage["Seq"]),
                "WorkflowStageDate": placed,
                "WorkflowStagePrinter": first_stage[g.STAGE_NAME_FIELD],
                "WorkflowStageCustomer": first_stage[g.STAGE_CUSTOMER_NAME_FIELD],
                "IsPaid": paid,
                "IsApproved": approved,
                "IsDenied": False,
                "IsApprovedWithModifications": False,
                "MisId": "",
                "OrderItemMISID": "",
                "JobNumber": "",
                g.EDOC_SESSION_FIELD: "",
                g.EDOC_FILES_READY_FIELD: False,
                g.SHIPS_SEPARATELY_FIELD: False,
                g.PAYMENT_METHOD_FIELD: payment_method,
                **ordered_by,
                **bill_to,
            }
            row.update(spec)
            rows.append(row)
        totals = {
            "OrderSubtotal": sum(float(_field(r, "Price") or 0) for r in rows),
            "OrderShipping": sum(float(_field(r, "Shipping") or 0) for r in rows),
            "OrderTax": sum(float(_field(r, "ItemTax") or 0) for r in rows),
            "OrderDiscount": 0.0,
        }
        totals["OrderTotal"] = (
            totals["OrderSubtotal"] + totals["OrderShipping"] + totals["OrderTax"]
        )
        for row in rows:
            for name, value in totals.items():
                row.setdefault(name, value)
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, ordered_by["OrderedByEmail"]))
        key = _user_key(site_id, user_id)
        if site_user is not None or key not in self.users:
            self.users[key] = {**_default_site_user(user_id, ordered_by), **(site_user or {})}
        if address_book is not None or key not in self.address_books:
            self.address_books[key] = copy.deepcopy(
                dict(address_book)
                if address_book is not None
                else _default_address_book(self.users[key])
            )
        self.headers[number] = {
            "ID": order_id,
            "OrderId": order_id,
            "OrderNumber": number,
            "PrinterOrderId": "",
            "OrderDate": placed,
            "ReqShipDate": due_text or "0001-01-01T00:00:00",
            "SiteId": site_id,
            g.USER_ID_FIELD: user_id,
            g.PAYMENT_METHOD_FIELD: payment_method,
            g.ORDER_NOTES_FIELD: "",
            "IsPaid": paid,
            **totals,
            **(header or {}),
        }
        self.rows[number] = rows
        return number

    def _change(self, action: str, order_number: int, item_seq: int | None) -> str:
        """Apply one storefront change; return the webhook type it fires."""
        if action == "paid":
            header = self._header(order_number)
            header["IsPaid"] = True
            for row in self.rows[order_number]:
                row["IsPaid"] = True
            return "PaymentReceived"
        if item_seq is None:
            raise LookupError(f"{action} needs an item seq")
        row = self._row_by_seq(order_number, item_seq)
        if action == "approve":
            row.update(IsApproved=True, IsDenied=False, ApprovedDate=_wire_datetime(_utcnow()))
            return "OrderItemApproved"
        if action == "deny":
            row.update(IsApproved=False, IsDenied=True)
            return "OrderItemDenied"
        if action == "cancel":
            stage = self._stage_named(str(row.get("WorkflowId", "")), _CANCELLED_STAGE)
            if stage is None:
                raise LookupError(f"the item's workflow has no stage {_CANCELLED_STAGE!r}")
            self._set_stage(row, stage, "cancelled by the storefront")
            return "OrderItemStatusChanged"
        if action == "files_generated":
            row[g.EDOC_FILES_READY_FIELD] = True
            return "OrderItemFilesGenerated"
        raise LookupError(
            f"unknown action {action!r} (known: approve, deny, paid, cancel, files_generated)"
        )

    def _emit(self, type_name: str, order_number: int, item_seq: int | None) -> _Outgoing | None:
        """The webhook a change fires; None if it is lost or nobody listens (logged either way)."""
        site_id = str(_field(self._header(order_number), "SiteId"))
        lost = False
        if self.lose_next > 0:
            self.lose_next -= 1
            lost = True
        elif self.faults["lost_webhook_rate"]:
            lost = self.webhook_rng.random() < self.faults["lost_webhook_rate"]
        target = self.webhook_target
        outgoing = self._outgoing(type_name, site_id, order_number, item_seq, None, target or "")
        outgoing.record["lost"] = lost
        if lost or target is None:
            outgoing.record["error"] = "lost" if lost else "no webhook target"
            return None
        return outgoing

    def _outgoing(
        self,
        type_name: str,
        site_id: str,
        order_number: int,
        item_seq: int | None,
        security_key: str | None,
        url: str,
    ) -> _Outgoing:
        site = self.sites.get(site_id)
        if site is None:
            raise LookupError(f"unknown site {site_id!r} (known: {', '.join(self.sites)})")
        header = self.headers.get(order_number, {})
        data: dict[str, Any] = {
            g.EVENT_ORDER_NUMBER: order_number,
            "OrderId": _field(header, "OrderId") or "",
            "SiteId": site_id,
        }
        if item_seq is not None:
            data[g.EVENT_ORDER_SEQ] = item_seq
        message_id = str(uuid.uuid4())
        envelope = {
            g.ENVELOPE_TYPE: g.TYPE_CODES.get(type_name, 0),
            g.ENVELOPE_TYPE_NAME: type_name,
            g.ENVELOPE_TIMESTAMP: _utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            g.ENVELOPE_SUBSCRIBER_ID: self.subscriber_id,
            g.ENVELOPE_SITE_ID: site_id,
            g.ENVELOPE_MESSAGE_ID: message_id,
            g.ENVELOPE_DATA: data,
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        key = site.security_key if security_key is None else security_key
        headers = {
            "Content-Type": "application/json",
            g.MESSAGE_HASH_HEADER: expected_hash(key, body, self.hash_variant),
        }
        record: dict[str, Any] = {
            "message_id": message_id,
            "type_name": type_name,
            "site_id": site_id,
            "order_number": order_number,
            "item_seq": item_seq,
            "target": url,
            "lost": False,
            "status": None,
            "error": "",
        }
        self.webhooks.append(record)
        return _Outgoing(url, body, headers, record)

    # -- API handlers (lock held) ---------------------------------------------------------------

    def _authenticate(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body)
        username = _field(data, g.AUTH_USERNAME_FIELD)
        password = _field(data, g.AUTH_PASSWORD_FIELD)
        subscriber = _field(data, g.AUTH_SUBSCRIBER_ID_FIELD) or ""
        if not (
            isinstance(username, str)
            and isinstance(password, str)
            and isinstance(subscriber, str)
            and hmac.compare_digest(username.encode(), self._username.encode())
            and hmac.compare_digest(password.encode(), self._password.encode())
            and subscriber.casefold() == self.subscriber_id.casefold()
        ):
            raise Rejected(401, "Invalid credentials")
        token = secrets.token_hex(20)
        self.tokens[token] = self._clock()
        self.tokens_issued += 1
        return JsonAnswer(200, {g.TOKEN_FIELD: token})

    def _search_orders(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        page_number = _query_int(query, g.PAGE_NUMBER_PARAM, 0, 0, 1_000_000)
        page_size = _query_int(query, g.PAGE_SIZE_PARAM, 50, 1, _MAX_PAGE_SIZE)
        data = _json_object(body)
        start = _read_datetime(_field(data, g.SEARCH_START_FIELD), g.SEARCH_START_FIELD)
        end = _read_datetime(_field(data, g.SEARCH_END_FIELD), g.SEARCH_END_FIELD)
        filters = _field(data, g.SEARCH_FILTERS_FIELD) or []
        if not isinstance(filters, list):
            raise Rejected(400, f"{g.SEARCH_FILTERS_FIELD}: expected a list")
        checks = [
            _search_filter(f, f"{g.SEARCH_FILTERS_FIELD}[{i}]") for i, f in enumerate(filters)
        ]
        rows = []
        for number in sorted(self.headers):
            placed = _read_datetime(_field(self.headers[number], "OrderDate"), "OrderDate")
            if not start <= placed <= end:
                continue
            for row in sorted(self.rows[number], key=lambda r: _field(r, "OrderItemSeq") or 0):
                if all(check(row) for check in checks):
                    rows.append(row)
        first = page_number * page_size
        return JsonAnswer(
            200,
            {
                g.PAGE_ITEMS_FIELD: copy.deepcopy(rows[first : first + page_size]),
                "PageNumber": page_number,
                "PageSize": page_size,
                g.PAGE_TOTAL_FIELD: len(rows),
            },
        )

    def _order_details(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        details = {**self.headers[number], "Items": self.rows[number]}
        return JsonAnswer(200, copy.deepcopy(details))

    def _order_items(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        return JsonAnswer(200, copy.deepcopy(self.rows[number]))

    def _set_item_status(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        row = self._row_by_route_id(number, params["item_number"])
        workflow_id = str(_field(row, "WorkflowId") or "")
        wanted = params["stage_id"].casefold()
        stage = next(
            (
                s
                for s in self.workflows.get(workflow_id, [])
                if s[g.STAGE_ID_FIELD].casefold() == wanted
            ),
            None,
        )
        if stage is None:
            raise Rejected(400, f"Invalid workflow stage {params['stage_id']}")
        notes = query.get(g.STATUS_NOTES_PARAM, [""])[0]
        self._set_stage(row, stage, notes)
        return JsonAnswer(200, True)

    def _item_status_history(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        row = self._row_by_route_id(number, params["item_number"])
        seq = _field(row, "OrderItemSeq")
        return JsonAnswer(
            200,
            [
                copy.deepcopy(h)
                for h in self.status_history
                if h["OrderNumber"] == number and h["OrderItemSeq"] == seq
            ],
        )

    def _update_item(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        row = self._row_by_route_id(number, params["item_number"])
        data = _json_object(body)
        updates = {}
        for name, value in data.items():
            canonical = next(
                (f for f in _UPDATABLE_ITEM_FIELDS if f.casefold() == name.casefold()), None
            )
            if canonical is None:
                allowed = ", ".join(_UPDATABLE_ITEM_FIELDS)
                raise Rejected(400, f"field {name!r} cannot be updated (updatable: {allowed})")
            if not isinstance(value, str):
                raise Rejected(400, f"field {name!r} must be a string")
            updates[canonical] = value
        row.update(updates)
        return JsonAnswer(200, copy.deepcopy(row))

    def _add_shipment(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body)
        order_id = _field(data, "OrderId")
        number = next(
            (n for n, h in self.headers.items() if str(_field(h, "OrderId")) == order_id), None
        )
        if number is None:
            raise Rejected(404, f"order not found: {order_id}")
        info = _field(data, "ShipmentInfo")
        if not isinstance(info, dict):
            raise Rejected(400, "ShipmentInfo: expected an object")
        tracking = _field(info, "Tracking")
        if not isinstance(tracking, str) or not tracking:
            raise Rejected(400, "ShipmentInfo.Tracking: required")
        ship_date = _field(info, "ShipDate")
        try:
            dt.date.fromisoformat(str(ship_date)[:10])
        except ValueError:
            raise Rejected(400, "ShipmentInfo.ShipDate: expected a date") from None
        cost = _field(info, "Cost") or 0
        if isinstance(cost, bool) or not isinstance(cost, int | float):
            raise Rejected(400, "ShipmentInfo.Cost: expected a number")
        items = _field(info, "Items")
        if not isinstance(items, list) or not items:
            raise Rejected(400, "ShipmentInfo.Items: expected a non-empty list")
        by_id = {str(_field(row, "OrderItemId")): row for row in self.rows[number]}
        targets = []
        for i, entry in enumerate(items):
            item_id = _field(entry, "OrderItemId") if isinstance(entry, dict) else None
            if not isinstance(item_id, str) or item_id not in by_id:
                raise Rejected(400, f"ShipmentInfo.Items[{i}]: no such item in order {number}")
            targets.append(by_id[item_id])
        method = _field(data, "SiteShippingMethodName") or ""
        shipment_id = str(uuid.uuid4())
        for row in targets:
            self.shipments.append(
                {
                    "ShipmentId": shipment_id,
                    "OrderId": order_id,
                    "OrderItemId": row["OrderItemId"],
                    "OrderNumber": number,
                    "OrderItemSeq": _field(row, "OrderItemSeq"),
                    "ShipDate": str(ship_date)[:10],
                    "ShipMethod": method,
                    "ShipTracking": tracking,
                    "ShipCost": float(cost),
                    "IntegrationID": "",
                }
            )
            row.update(
                ShipmentDate=str(ship_date)[:10], ShipmentTracking=tracking, ShipmentCost=cost
            )
        return JsonAnswer(200, {"ShipmentId": shipment_id})

    def _item_shipments(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        order_id = params["order_id"].casefold()
        item_id = params["order_item_id"].casefold()
        found = [
            {k: v for k, v in s.items() if k not in ("OrderNumber", "OrderItemSeq")}
            for s in self.shipments
            if s["OrderId"].casefold() == order_id and s["OrderItemId"].casefold() == item_id
        ]
        return JsonAnswer(200, found)

    def _workflow_stages(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        wanted = params["workflow_id"].casefold()
        for workflow_id, stages in self.workflows.items():
            if workflow_id.casefold() == wanted:
                return JsonAnswer(200, copy.deepcopy(stages))
        raise Rejected(404, f"workflow not found: {params['workflow_id']}")

    def _site_user(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        user = self.users.get(_user_key(params["site"], params["user_id"]))
        if user is None:
            raise Rejected(404, f"user not found: {params['user_id']} in site {params['site']}")
        return JsonAnswer(200, copy.deepcopy(user))

    def _address_book(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        book = self.address_books.get(_user_key(params["site"], params["user_id"]))
        if book is None:
            raise Rejected(404, f"user not found: {params['user_id']} in site {params['site']}")
        return JsonAnswer(200, copy.deepcopy(book))

    # -- admin handlers (lock held) -------------------------------------------------------------

    def _admin_faults(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        try:
            checked = self.check_faults(_json_object(body))
        except ValueError as exc:
            raise Rejected(422, str(exc)) from None
        return JsonAnswer(200, self._apply_faults(checked))

    def _admin_place_order(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body)
        for name, value in data.items():
            kind = _PLACE_ORDER_ARGUMENTS.get(name)
            if kind is None:
                known = ", ".join(_PLACE_ORDER_ARGUMENTS)
                raise Rejected(422, f"unknown argument {name!r} (known: {known})")
            if not isinstance(value, kind):
                raise Rejected(422, f"{name}: must be a JSON {kind.__name__}")
        if not all(isinstance(item, dict) for item in data.get("items", [])):
            raise Rejected(422, "items: must be a list of objects")
        if "order_date" in data:
            try:
                _read_datetime(data["order_date"], "order_date")
            except Rejected as exc:
                raise Rejected(422, exc.message) from None
        if "requested_ship_date" in data:
            try:
                dt.date.fromisoformat(data["requested_ship_date"][:10])
            except ValueError:
                raise Rejected(422, "requested_ship_date: must be an ISO date") from None
        try:
            number = self._place_order(**data)
            outgoing = self._emit("OrderPlaced", number, None) if data.get("emit", True) else None
        except (LookupError, TypeError) as exc:
            raise Rejected(422, str(exc)) from None
        if outgoing is not None:
            self.deliverer.submit(outgoing)
        return JsonAnswer(200, {"OrderNumber": number})

    def _admin_order_action(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body) if body else {}
        seq = data.get("item_seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
            raise Rejected(422, "item_seq: must be an integer")
        try:
            number = self._order_number(params["order_number"])
            type_name = self._change(params["action"], number, seq)
            outgoing = self._emit(type_name, number, seq)
        except LookupError as exc:
            raise Rejected(422, str(exc.args[0])) from None
        if outgoing is not None:
            self.deliverer.submit(outgoing)
        return JsonAnswer(200, {"TypeName": type_name, "sent": outgoing is not None})

    def _admin_webhook_target(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        url = _json_object(body).get("url")
        if url is not None and not isinstance(url, str):
            raise Rejected(422, "url: must be a string or null")
        self.webhook_target = url
        return JsonAnswer(200, {"url": url})

    # -- shared parts (lock held) ---------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {
            "subscriber_id": self.subscriber_id,
            "sites": [
                {"site_id": s.site_id, "name": s.name, "domain": s.domain}
                for s in self.sites.values()
            ],
            "workflows": copy.deepcopy(self.workflows),
            "orders": [
                copy.deepcopy({**self.headers[n], "Items": self.rows[n]})
                for n in sorted(self.headers)
            ],
            "shipments": copy.deepcopy(self.shipments),
            "status_history": copy.deepcopy(self.status_history),
            "tokens_issued": self.tokens_issued,
            "webhook_target": self.webhook_target,
            "webhooks": copy.deepcopy(self.webhooks),
            "faults": copy.deepcopy(self.faults),
            "calls": dict(self.calls),
        }

    def _apply_faults(self, checked: Mapping[str, Any]) -> dict[str, Any]:
        faults = super()._apply_faults(checked)
        if "seed" in checked:
            self.webhook_rng = random.Random(checked["seed"])
        return faults

    def _order_number(self, text: str) -> int:
        number = int(text) if text.isdigit() else None
        if number is None or number not in self.headers:
            raise Rejected(404, f"order not found: {text}")
        return number

    def _header(self, order_number: int) -> dict[str, Any]:
        header = self.headers.get(order_number)
        if header is None:
            raise LookupError(f"order not found: {order_number}")
        return header

    def _row_by_seq(self, order_number: int, seq: int) -> dict[str, Any]:
        self._header(order_number)
        for row in self.rows[order_number]:
            if _field(row, "OrderItemSeq") == seq:
                return row
        raise LookupError(f"order {order_number} has no item {seq}")

    def _row_by_route_id(self, order_number: int, text: str) -> dict[str, Any]:
        for row in self.rows[order_number]:
            if str(_field(row, g.ITEM_ROUTE_ID_FIELD)) == text:
                return row
        raise Rejected(404, f"item not found: {text} in order {order_number}")

    def _stage_named(self, workflow_id: str, name: str) -> dict[str, Any] | None:
        return next(
            (s for s in self.workflows.get(workflow_id, []) if s[g.STAGE_NAME_FIELD] == name),
            None,
        )

    def _set_stage(self, row: dict[str, Any], stage: Mapping[str, Any], notes: str) -> None:
        row.update(
            WorkflowStageId=stage[g.STAGE_ID_FIELD],
            WorkflowStageNumber=int(stage["Seq"]),
            WorkflowStagePrinter=stage[g.STAGE_NAME_FIELD],
            WorkflowStageCustomer=stage[g.STAGE_CUSTOMER_NAME_FIELD],
            WorkflowStageDate=_wire_datetime(_utcnow()),
        )
        self.status_history.append(
            {
                "OrderNumber": _field(row, "OrderNumber"),
                "OrderItemSeq": _field(row, "OrderItemSeq"),
                "Stage": stage[g.STAGE_NAME_FIELD],
                "Notes": notes,
            }
        )


def _search_filter(raw: object, where: str) -> Callable[[Mapping[str, Any]], bool]:
    if not isinstance(raw, dict):
        raise Rejected(400, f"{where}: expected an object")
    column = _field(raw, "Column")
    value = _field(raw, "Value")
    operator = str(_field(raw, "Operator") or "").casefold()
    if column not in _SEARCH_COLUMNS:
        raise Rejected(
            400, f"{where}.Column: unsupported (supported: {', '.join(_SEARCH_COLUMNS)})"
        )
    if operator not in _SEARCH_OPERATORS:
        raise Rejected(400, f"{where}.Operator: unsupported ({', '.join(_SEARCH_OPERATORS)})")
    wanted = str(value).casefold()

    def check(row: Mapping[str, Any]) -> bool:
        have = str(_field(row, column)).casefold()
        return wanted in have if operator == "contains" else have == wanted

    return check


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- HTTP ---------------------------------------------------------------------------------------


class _SandboxApp(JsonApp):
    """The raw ASGI app: routing, faults and token checks around `_Store`."""

    content_type = b"application/json; charset=utf-8"
    error_key = "Message"

    def __init__(self, store: _Store) -> None:
        super().__init__()
        self._store = store

    async def serve(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        try:
            if path.lower().startswith(f"/{g.API_PREFIX}/"):
                route, params = _match(_API_ROUTES, method, path)
                plan = self._store.plan(method, path, route.name if route else f"{method} {path}")
                act = functools.partial(self._api, scope, route, params, path, query, body)
                await self.carry_out(scope, receive, send, plan, act)
                return
            route, params = _match(_ADMIN_ROUTES, method, path)
        except Rejected as exc:
            await self.respond(send, self.error(exc.status, exc.message))
            return
        if route is None:
            await self.respond(send, self.error(404, f"no such endpoint: {path}"))
            return
        await self.respond(send, self._store.handle(route, params, query, body))

    def injected(self, plan: FaultPlan) -> JsonAnswer:
        if plan.before in ("500", "503"):
            return self.error(int(plan.before), "injected server error")
        if plan.before == "429":
            retry = [(b"retry-after", f"{plan.retry_after:g}".encode("ascii"))]
            return self.error(429, "Too many requests", retry)
        if plan.before == "401":  # as if the token had expired
            return self.error(401, _DENIED)
        if plan.before == "400":
            return self.error(400, plan.message)
        raise AssertionError(f"no answer for the fault {plan.before!r}")  # pragma: no cover

    def _api(
        self,
        scope: Scope,
        route: Route | None,
        params: dict[str, str],
        path: str,
        query: str,
        body: bytes,
    ) -> JsonAnswer:
        if route is None:
            return self.error(404, f"no such endpoint: {path}")
        if route.handler != "authenticate" and not self._store.token_valid(_authorization(scope)):
            return self.error(401, _DENIED)
        return self._store.handle(route, params, query, body)


def _authorization(scope: Scope) -> str | None:
    value = request_header(scope, b"authorization")
    return None if value is None else value.decode("latin-1")


# -- the sandbox --------------------------------------------------------------------------------


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
        self._store = _Store(
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
        self._app = _SandboxApp(self._store)
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
        timeout: float = _WEBHOOK_TIMEOUT,
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
        timeout: float = _WEBHOOK_TIMEOUT,
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
        self, items: Sequence[Mapping[str, Any]] = ({},), **options: Unpack[_OrderOptions]
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
        """eDocBuilder made the item's production file (OrderItemFilesGenerated)."""
        return self._change("files_generated", order_number, item_seq)

    def _change(self, action: str, order_number: int, item_seq: int | None) -> str | None:
        outgoing = self._store.change(action, order_number, item_seq)
        return self._send_later(outgoing)

    def _send_later(self, outgoing: _Outgoing | None) -> str | None:
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


if __name__ == "__main__":
    main()
