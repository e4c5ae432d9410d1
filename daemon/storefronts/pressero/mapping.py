"""Pressero's JSON to esd's records and back; pure functions, no I/O.

`parse_envelope` reads a webhook body; `order_from_api` turns the answers of
`v2/orders/{n}/Details` and `v2/orders/{n}/items` into a storefront-neutral `Order`; the rest
parse the small answers the client needs (token, pages, stages, item ids, shipments) and build
its request bodies. Anything of the wrong shape raises `BadEventPayload` with a path such as
`order.Items[2].Quantity`. Field names are matched case-insensitively, because clients seen in
code spell them differently (pressero.md §1.2, §1.4) and `BilltoStateProvince` shows the
server's own spelling wanders (§1.5).

Where each `Order` field comes from ("§" = a section of pressero.md; "g." = a constant in
`guesses`, where the evidence for each guessed name is written down):

    Order field              Pressero source                                        evidence
    site                     the configured site key (the webhook's SiteId)         config
    site_name                configured name, else first item row `SiteName`        §1.5 code
    order_number, order_id   header `OrderNumber`, `OrderId`                        §1.4 code
    order_date               header `OrderDate` (UTC when no zone)                  §1.5 code
    requested_ship_date      first item `RequestedShipDate`, else header            §1.5 doc:
                             `ReqShipDate` (year 1 = unset)                         "first item"
    payment                  `IsPaid` on header or any row -> paid; else            §1.5 code,
                             g.PAYMENT_METHOD_FIELD in g.OPEN_TERMS_PAYMENT_METHODS  kb/a1935;
                             -> open terms; else unpaid                             method guessed
    user                     header g.USER_ID_FIELD; first row `OrderedByEmail`,    §1.5 code,
                             `OrderedByFirstName`, `OrderedByLastName`,             ids guessed
                             g.USER_INTEGRATION_ID_FIELD; then, when read, the      §1.7 code
                             site user's g.USER_FIELDS (middle name, title,         (routes),
                             telephone, cell phone) and the address book's          fields
                             preferred entry (g.ADDRESS_BOOK_*) as `user.address`   guessed
    bill_to                  first row `BillTo*` (g.ADDRESS_FIELDS)                 §1.5 code
    notes                    header g.ORDER_NOTES_FIELD                             guessed
    subtotal, shipping,      `OrderSubtotal`, `OrderShipping`, `OrderTax`,          §1.5 code
    tax, total               `OrderTotal` (header, else first row)

    OrderItem field          Pressero source (one item row)                         evidence
    seq, item_id             `OrderItemSeq`, `OrderItemId`                          §1.4 code
    product_name             `ProductName`, else `ItemName`                         §1.5 code
    sku                      `PrinterPartNumber`                                    §1.5 code
    product_integration_id   `Product.MisId` (g.PRODUCT_*)                          §1.7, guessed
    quantity, price          `Quantity`, `Price`                                    §1.5 code
    tax, shipping_cost       `ItemTax`, `Shipping`                                  §1.5 code
    approval                 `IsDenied` -> denied; `IsApproved` or                  §1.5 code,
                             `IsApprovedWithModifications` -> approved; else        doc a276
                             pending
    cancelled                `WorkflowStagePrinter` in g.CANCELLED_STAGE_NAMES or   §1.6 code
                             `WorkflowStageId` in g.CANCELLED_STAGE_IDS
    edoc_pending             g.EDOC_SESSION_FIELD set and neither                   §1.5 doc
                             g.EDOC_FILES_READY_FIELD nor an                        a411, fields
                             `OrderItemFilesGenerated` webhook seen for the item    guessed
    ship_to                  `ShipTo*` (g.ADDRESS_FIELDS)                           §1.5 code
    shipping_method          `ShippingMethod`                                       §1.5 code
    ships_separately         g.SHIPS_SEPARATELY_FIELD                               guessed
    po_number                `PONumber` (the PO is per item)                        §1.5 doc a841
    attributes               `ProductAttributeName1..10` / `ProductAttributeValue`  §1.5 code
                             (e.g. JobType, materialID: seed 004)
    kit_children             g.KIT_CHILDREN_FIELD nested in the parent, or rows     §1.5 doc
                             whose g.KIT_PARENT_FIELD names the parent's            a567, shape
                             `OrderItemId` (each: name, quantity, cost, sku)        guessed
    notes                    `ItemNotes`                                            §1.5 code
    pricing_details          `OrderItemOptionsText`                                 §1.5 code
    mis_id                   g.ITEM_MIS_ID_FIELDS: `MisId`, else `OrderItemMISID`   §1.5 code,
                             (who wrote it decides adoption: daemon.orders.go_live) order guessed
    files                    g.ITEM_FILES_FIELD: a list of objects, each            §1.5 doc
                             g.ITEM_FILE_URL_FIELD (http or https) and              a411, fields
                             g.ITEM_FILE_NAME_FIELD; a bad list or entry is         guessed
                             skipped with a warning naming the item; a URL once
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import structlog

from daemon.errors import BadEventPayload, quoted
from daemon.orders.model import (
    Address,
    Approval,
    ItemFile,
    KitChild,
    Order,
    OrderItem,
    Payment,
    SiteUser,
)
from daemon.remote import json_text
from daemon.remote.json_text import JsonTooDeep
from daemon.storefronts.pressero import guesses as g

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

#: the webhook types esd acts on (pressero.md §2 lists them among the documented event names)
KNOWN_TYPES: Final = frozenset(
    {
        "OrderPlaced",
        "OrderItemApproved",
        "OrderItemDenied",
        "OrderItemStatusChanged",
        "OrderItemFilesGenerated",
        "PaymentReceived",
        "OrderUpdated",
        "OrderItemUpdated",
    }
)
#: the known types about one item: their `Data.OrderItemSeq` is required
ITEM_EVENT_TYPES: Final = frozenset(name for name in KNOWN_TYPES if name.startswith("OrderItem"))

log = structlog.get_logger(__name__)

_MAX_SHOWN = 60  # how much of a bad value an error quotes
# guessed: .NET's round-trip DateTime format writes 7 fraction digits (100 ns ticks); no
# Pressero timestamp in pressero.md shows a fraction at all. Cut to 6 anyway, so a longer one
# can never make a date unreadable: the 7th digit means nothing to an order.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


# -- records ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookEnvelope:
    """One Pressero webhook delivery (pressero.md §2, `Models/EventData.cs`)."""

    type_name: str
    message_id: str
    site_id: str
    subscriber_id: str
    timestamp: dt.datetime
    type_code: int | None = None
    order_number: int | None = None
    item_seq: int | None = None

    @property
    def known(self) -> bool:
        """Is this a type esd acts on? Unknown types are logged and acknowledged."""
        return self.type_name in KNOWN_TYPES


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """One page of a paged answer: its rows and the total across all pages."""

    items: tuple[Mapping[str, Any], ...]
    total: int


@dataclasses.dataclass(frozen=True, slots=True)
class WorkflowStage:
    """One stage of a workflow (pressero.md §1.6)."""

    stage_id: str
    name: str  # the printer's (internal) label
    customer_name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class PresseroItemRef:
    """What the write routes need to address one item."""

    seq: int
    route_id: int  # the number the `Item/{...}` routes take (g.ITEM_ROUTE_ID_FIELD)
    item_id: str  # the item GUID (shipments)
    order_id: str  # the order GUID (shipments)
    workflow_id: str
    shipping_method: str
    stage_id: str = ""  # the item's current workflow stage (`WorkflowStageId`, seen in code)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchRow:
    """One row of `v2/Orders/Search`: an order item, with its order and site."""

    order_number: int
    item_seq: int | None
    order_id: str
    site_id: str
    site_name: str
    domain: str
    order_date: dt.datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class Shipment:
    """One shipment of an item (pressero.md §1.4 read model, `Models/ShipmentData.cs`)."""

    shipment_id: str
    order_item_id: str
    ship_date: dt.date | None
    method: str
    tracking: str
    cost: Decimal


# -- webhooks -----------------------------------------------------------------------------------


def parse_envelope(body: bytes | str) -> WebhookEnvelope:
    """Read a webhook body; raise `BadEventPayload` naming the field that is wrong.

    Unknown `TypeName`s parse (with `known` False): Pressero documents more events than esd uses
    and their `Data` is not ours to judge. Known types must carry `Data.OrderNumber`, and the
    item types `Data.OrderItemSeq` as well.
    """
    try:
        data = json_text.loads(body)
    except JsonTooDeep as exc:
        raise BadEventPayload(f"webhook: body is {exc.msg} at char {exc.pos}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEventPayload(f"webhook: body is not JSON: {exc}") from None
    return _envelope_as_sent(data) or _read_envelope(data)


def _read_envelope(data: object) -> WebhookEnvelope:
    """`parse_envelope` after the JSON parse: any spelling, numbers as strings, named errors."""
    envelope = _Row(data, "webhook")
    type_name = envelope.text(g.ENVELOPE_TYPE_NAME, required=True, numbers=False)
    message_id = envelope.text(g.ENVELOPE_MESSAGE_ID, required=True)
    site_id = envelope.text(g.ENVELOPE_SITE_ID, required=True)
    timestamp = envelope.datetime(g.ENVELOPE_TIMESTAMP, required=True)
    assert timestamp is not None
    order_number: int | None = None
    item_seq: int | None = None
    if type_name in KNOWN_TYPES:  # the Data of other types is not ours to judge
        event = envelope.child(g.ENVELOPE_DATA)
        order_number = event.integer(g.EVENT_ORDER_NUMBER, required=True, minimum=1)
        is_item_event = type_name in ITEM_EVENT_TYPES
        seq = event.integer(g.EVENT_ORDER_SEQ, required=is_item_event, minimum=0)
        item_seq = seq or None  # 0: an order-level event (the C# model's default)
        if is_item_event and item_seq is None:
            raise BadEventPayload(
                f"webhook.{g.ENVELOPE_DATA}.{g.EVENT_ORDER_SEQ}: "
                f"{type_name} needs the item's sequence (1 or more)"
            )
    return WebhookEnvelope(
        type_name=type_name,
        message_id=message_id,
        site_id=site_id,
        subscriber_id=envelope.text(g.ENVELOPE_SUBSCRIBER_ID),
        timestamp=timestamp,
        type_code=envelope.integer(g.ENVELOPE_TYPE),
        order_number=order_number,
        item_seq=item_seq,
    )


def _envelope_as_sent(data: object) -> WebhookEnvelope | None:
    """`parse_envelope`'s reading of an envelope in the shape Pressero sends (every field
    present, spelled as documented, of its JSON type, the timestamp unpadded), or None for any
    other body, which the general reader then reads or refuses with the field's name.

    Webhook intake reads every delivery on the event loop, and the general reader's getters
    (any-case names, numbers as strings, error paths) cost more than the JSON parse itself
    (`make bench`, intake). Equal results for every body it reads: tests/unit (hypothesis).
    """
    if type(data) is not dict:
        return None
    type_name = data.get(g.ENVELOPE_TYPE_NAME)
    message_id = data.get(g.ENVELOPE_MESSAGE_ID)
    site_id = data.get(g.ENVELOPE_SITE_ID)
    subscriber_id = data.get(g.ENVELOPE_SUBSCRIBER_ID)
    stamp = data.get(g.ENVELOPE_TIMESTAMP)
    type_code = data.get(g.ENVELOPE_TYPE)
    if not (
        type(type_name) is str
        and type(message_id) is str
        and type(site_id) is str
        and type(subscriber_id) is str
        and type(stamp) is str
        and type(type_code) is int
        # no lone surrogate (`_Row.text` refuses them): other text takes the general reader
        and type_name.isascii()
        and message_id.isascii()
        and site_id.isascii()
        and subscriber_id.isascii()
        and type_name
        and message_id
        and site_id
        and stamp
        and not stamp[0].isspace()
        and not stamp[-1].isspace()
    ):
        return None
    try:
        timestamp = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if timestamp.year == g.ORDER_DATE_ZERO_YEAR:
        return None
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=dt.UTC)
    order_number: int | None = None
    item_seq: int | None = None
    if type_name in KNOWN_TYPES:
        event = data.get(g.ENVELOPE_DATA)
        if type(event) is not dict:
            return None
        order_number = event.get(g.EVENT_ORDER_NUMBER)
        seq = event.get(g.EVENT_ORDER_SEQ)
        if type(order_number) is not int or order_number < 1 or type(seq) is not int:
            return None
        if type_name in ITEM_EVENT_TYPES:
            if seq < 1:
                return None
            item_seq = seq
        elif seq < 0:
            return None
        else:
            item_seq = seq or None
    return WebhookEnvelope(
        type_name=type_name,
        message_id=message_id,
        site_id=site_id,
        subscriber_id=subscriber_id,
        timestamp=timestamp,
        type_code=type_code,
        order_number=order_number,
        item_seq=item_seq,
    )


# -- orders -------------------------------------------------------------------------------------


def order_from_api(
    order_json: object,
    items_json: object,
    site_key: str,
    site_name: str = "",
    *,
    files_generated: Collection[int] = (),
    open_terms_methods: Collection[str] = g.OPEN_TERMS_PAYMENT_METHODS,
    user_json: object = None,
    address_book_json: object = None,
) -> Order:
    """The `Order` for one order's details answer and its items answer.

    `items_json` is the items answer (a list, or a page with `Items`); None takes the `Items`
    of the details answer. `user_json` and `address_book_json` are the answers of
    g.USER_ROUTE and g.ADDRESS_BOOK_ROUTE for the buyer; None (not read: an event stored
    before esd read them, or no user id) leaves the user as the item rows name them.
    `files_generated` holds the seqs whose `OrderItemFilesGenerated`
    webhook was seen. `open_terms_methods` are payment method names (any case) that mean
    "on open terms".
    """
    header = _Row(order_json, "order")
    order_number = header.integer("OrderNumber", required=True, minimum=1)
    assert order_number is not None
    rows = list(_item_rows(header, items_json))
    for row in rows:
        row_number = row.integer("OrderNumber", minimum=1)
        if row_number is not None and row_number != order_number:
            raise BadEventPayload(
                f"{row.where}.OrderNumber: {row_number} is not this order's number {order_number}"
            )
    parents, kit_rows = _split_kit_rows(rows)
    generated = frozenset(files_generated)
    items: list[OrderItem] = []
    seen: dict[int, str] = {}
    for row in parents:
        item = _item(row, kit_rows.get(row.text("OrderItemId"), ()), generated, order_number)
        if item.seq in seen:
            raise BadEventPayload(
                f"{row.where}.OrderItemSeq: {item.seq} is also the seq of {seen[item.seq]}"
            )
        seen[item.seq] = row.where
        items.append(item)
    items.sort(key=lambda item: item.seq)
    first = min(parents, key=lambda row: row.integer("OrderItemSeq") or 0, default=None)
    return Order(
        site=site_key,
        order_number=str(order_number),
        order_id=header.text("OrderId") or (first.text("OrderId") if first else ""),
        site_name=site_name or (first.text("SiteName") if first else ""),
        order_date=header.datetime("OrderDate") or (first.datetime("OrderDate") if first else None),
        requested_ship_date=(first.date("RequestedShipDate") if first else None)
        or header.date("ReqShipDate"),
        payment=_payment(header, rows, {m.strip().lower() for m in open_terms_methods}),
        user=_site_user(
            SiteUser(
                user_id=header.text(g.USER_ID_FIELD),
                email=first.text("OrderedByEmail") if first else "",
                first_name=first.text("OrderedByFirstName") if first else "",
                last_name=first.text("OrderedByLastName") if first else "",
                integration_id=first.text(g.USER_INTEGRATION_ID_FIELD) if first else "",
                department=first.text(g.USER_DEPARTMENT_FIELD) if first else "",
            ),
            user_json,
            address_book_json,
        ),
        bill_to=_address(first, g.BILL_TO_PREFIX) if first else Address(),
        items=tuple(items),
        notes=header.text(g.ORDER_NOTES_FIELD),
        subtotal=_order_amount(header, first, "OrderSubtotal"),
        shipping=_order_amount(header, first, "OrderShipping"),
        tax=_order_amount(header, first, "OrderTax"),
        total=_order_amount(header, first, "OrderTotal"),
    )


def _site_user(ordered_by: SiteUser, user_json: object, book_json: object) -> SiteUser:
    """The orderer from the item rows, completed by the site user and their address book.

    A field the user object leaves empty keeps the item rows' value.
    """
    user = ordered_by
    if user_json is not None:
        row = _Row(user_json, "user")
        read: dict[str, Any] = {attr: row.text(name) for attr, name in g.USER_FIELDS}
        user = dataclasses.replace(user, **{a: v for a, v in read.items() if v.strip()})
        groups = _group_names(row)
        if groups:
            user = dataclasses.replace(user, groups=groups)
    if book_json is not None:
        entry = _preferred_address(_Row(book_json, "address_book"))
        if entry is not None:
            address = Address(
                **{attr: entry.text(name) for attr, name in g.ADDRESS_BOOK_ENTRY_FIELDS}
            )
            user = dataclasses.replace(user, address=address)
    return user


def _group_names(user: _Row) -> tuple[str, ...]:
    """The user's group names (`Groups[{GroupName}]`, g.USER_GROUPS_FIELD), each once."""
    groups = user.get(g.USER_GROUPS_FIELD)
    if groups is None:
        return ()
    where = f"{user.where}.{g.USER_GROUPS_FIELD}"
    if not isinstance(groups, list):
        raise BadEventPayload(f"{where}: expected a list of groups")
    names = [
        _Row(group, f"{where}[{i}]").text(g.USER_GROUP_NAME_FIELD).strip()
        for i, group in enumerate(groups)
    ]
    return tuple(dict.fromkeys(name for name in names if name))


def _preferred_address(book: _Row) -> _Row | None:
    """The address book's preferred entry (see g.ADDRESS_BOOK_ENTRY_ID_FIELD), or None."""
    preferred = book.get(g.ADDRESS_BOOK_PREFERRED_FIELD)
    where = f"{book.where}.{g.ADDRESS_BOOK_PREFERRED_FIELD}"
    if isinstance(preferred, Mapping):
        return _Row(preferred, where)
    entries = book.get(g.ADDRESS_BOOK_ADDRESSES_FIELD)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadEventPayload(f"{book.where}.{g.ADDRESS_BOOK_ADDRESSES_FIELD}: expected a list")
    rows = [
        _Row(entry, f"{book.where}.{g.ADDRESS_BOOK_ADDRESSES_FIELD}[{i}]")
        for i, entry in enumerate(entries)
    ]
    if preferred not in (None, "") and not isinstance(preferred, bool | float):
        if not isinstance(preferred, str | int):
            raise BadEventPayload(f"{where}: expected an address or an address id")
        wanted = str(preferred).strip().lower()
        for row in rows:
            if row.text(g.ADDRESS_BOOK_ENTRY_ID_FIELD).strip().lower() == wanted:
                return row
    return rows[0] if rows else None


def _item_rows(header: _Row, items_json: object) -> Iterator[_Row]:
    if items_json is None:
        rows = header.get("Items")
        if not isinstance(rows, list):
            raise BadEventPayload("order.Items: expected a list of items")
    elif isinstance(items_json, list):
        rows = items_json
    elif isinstance(items_json, Mapping) and isinstance(
        _lookup(items_json, g.PAGE_ITEMS_FIELD), list
    ):
        rows = _lookup(items_json, g.PAGE_ITEMS_FIELD)
    else:
        raise BadEventPayload(
            f"order.Items: expected a list of items or a page with {g.PAGE_ITEMS_FIELD}, "
            f"got {type(items_json).__name__}"
        )
    for i, row in enumerate(rows):
        yield _Row(row, f"order.Items[{i}]")


def _split_kit_rows(rows: list[_Row]) -> tuple[list[_Row], dict[str, list[_Row]]]:
    """(items, kit child rows by their parent's OrderItemId) for the flat kit shape."""
    parents = [row for row in rows if not row.text(g.KIT_PARENT_FIELD)]
    ids = {row.text("OrderItemId") for row in parents} - {""}
    children: dict[str, list[_Row]] = {}
    for row in rows:
        parent = row.text(g.KIT_PARENT_FIELD)
        if not parent:
            continue
        if parent not in ids:
            raise BadEventPayload(
                f"{row.where}.{g.KIT_PARENT_FIELD}: no item of this order has "
                f"OrderItemId {_show(parent)}"
            )
        children.setdefault(parent, []).append(row)
    return parents, children


def _item(
    row: _Row, kit_rows: Iterable[_Row], files_generated: frozenset[int], order_number: int
) -> OrderItem:
    seq = row.integer("OrderItemSeq", required=True, minimum=1)
    assert seq is not None
    quantity = row.integer("Quantity", required=True, minimum=0)
    assert quantity is not None
    if row.boolean("IsDenied"):
        approval = Approval.DENIED
    elif row.boolean("IsApproved") or row.boolean("IsApprovedWithModifications"):
        approval = Approval.APPROVED
    else:
        approval = Approval.PENDING
    stage_name = row.text("WorkflowStagePrinter").strip().lower()
    stage_id = row.text("WorkflowStageId").strip().lower()
    edoc_session = row.text(g.EDOC_SESSION_FIELD)
    files_ready = row.boolean(g.EDOC_FILES_READY_FIELD) or seq in files_generated
    nested = row.get(g.KIT_CHILDREN_FIELD)
    if nested is not None and not isinstance(nested, list):
        raise BadEventPayload(f"{row.where}.{g.KIT_CHILDREN_FIELD}: expected a list")
    children = [
        _kit_child(_Row(child, f"{row.where}.{g.KIT_CHILDREN_FIELD}[{i}]"))
        for i, child in enumerate(nested or ())
    ]
    children += [_kit_child(child) for child in kit_rows]
    product = row.get(g.PRODUCT_OBJECT_FIELD)
    product_integration_id = (
        row.child(g.PRODUCT_OBJECT_FIELD).text(g.PRODUCT_INTEGRATION_ID_FIELD)
        if product is not None
        else ""
    )
    return OrderItem(
        seq=seq,
        item_id=row.text("OrderItemId"),
        product_name=row.text("ProductName") or row.text("ItemName"),
        product_integration_id=product_integration_id,
        quantity=quantity,
        price=row.decimal("Price"),
        tax=row.decimal("ItemTax"),
        shipping_cost=row.decimal("Shipping"),
        approval=approval,
        cancelled=stage_name in g.CANCELLED_STAGE_NAMES or stage_id in g.CANCELLED_STAGE_IDS,
        edoc_pending=bool(edoc_session) and not files_ready,
        ship_to=_address(row, g.SHIP_TO_PREFIX),
        shipping_method=row.text("ShippingMethod"),
        ships_separately=row.boolean(g.SHIPS_SEPARATELY_FIELD),
        po_number=row.text("PONumber"),
        attributes=_attributes(row),
        kit_children=tuple(children),
        notes=row.text("ItemNotes"),
        pricing_details=row.text("OrderItemOptionsText"),
        sku=row.text("PrinterPartNumber"),
        mis_id=next((v for v in (row.text(f).strip() for f in g.ITEM_MIS_ID_FIELDS) if v), ""),
        files=_files(row, order_number, seq),
    )


def _files(row: _Row, order_number: int, seq: int) -> tuple[ItemFile, ...]:
    """The item's print-ready files (g.ITEM_FILES_FIELD). The field is a guess, so a value of
    another shape costs the file, not the order: it is skipped with a warning naming the item.
    Warnings name the type of a bad value, never the value: a link may carry a token."""
    value = row.get(g.ITEM_FILES_FIELD)
    where = f"{row.where}.{g.ITEM_FILES_FIELD}"
    if value is None:
        return ()
    if not isinstance(value, list):
        _skip_file(where, order_number, seq, f"expected a list, got {type(value).__name__}")
        return ()
    files: list[ItemFile] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            _skip_file(
                f"{where}[{i}]",
                order_number,
                seq,
                f"expected an object, got {type(entry).__name__}",
            )
            continue
        url = _lookup(entry, g.ITEM_FILE_URL_FIELD)
        name = _lookup(entry, g.ITEM_FILE_NAME_FIELD)
        problem = _file_url_problem(url)
        if problem is None and name is not None and not isinstance(name, str):
            problem = f"{g.ITEM_FILE_NAME_FIELD}: expected a string, got {type(name).__name__}"
        elif problem is None and name is not None and not _is_clean_text(name):
            problem = f"{g.ITEM_FILE_NAME_FIELD}: the name has control characters"
        if problem is not None:
            _skip_file(f"{where}[{i}]", order_number, seq, problem)
            continue
        assert isinstance(url, str)
        url = url.strip()
        if any(f.url == url for f in files):
            continue  # the same file twice is attached once
        files.append(ItemFile(url=url, name=str(name or "").strip()))
    return tuple(files)


def _file_url_problem(url: object) -> str | None:
    """Why `url` is no file URL a MIS can fetch, or None when it is one. The URL itself is not
    quoted: a download link may carry an access token in its query."""
    shown = f"{g.ITEM_FILE_URL_FIELD}: "
    if not isinstance(url, str):
        return shown + f"expected an http(s) URL, got {type(url).__name__}"
    text = url.strip()
    if not text:
        return shown + "expected an http(s) URL, got an empty string"
    if not _is_clean_text(text) or any(c.isspace() for c in text):
        return shown + "the URL has spaces or control characters or is not UTF-8"
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return shown + "not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        scheme = _show(parts.scheme) if parts.scheme else "none"
        return shown + f"not an http(s) URL (scheme {scheme})"
    if not parts.hostname:
        return shown + "the URL names no host"
    return None


def _is_clean_text(value: object) -> bool:
    """A string with no control character and no lone surrogate."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


def _skip_file(where: str, order_number: int, seq: int, problem: str) -> None:
    log.warning(
        "pressero.item_file.skipped",
        order=order_number,
        item_seq=seq,
        where=where,
        problem=problem,
    )


def _kit_child(row: _Row) -> KitChild:
    quantity = row.integer(g.KIT_CHILD_QUANTITY_FIELD, required=True, minimum=0)
    assert quantity is not None
    return KitChild(
        name=row.text(g.KIT_CHILD_NAME_FIELD),
        quantity=quantity,
        cost=row.decimal(g.KIT_CHILD_COST_FIELD),
        sku=row.text(g.KIT_CHILD_SKU_FIELD),
        integration_id=row.text(g.KIT_CHILD_INTEGRATION_ID_FIELD),
    )


def _attributes(row: _Row) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for slot in range(1, g.PRODUCT_ATTRIBUTE_SLOTS + 1):
        name = row.text(f"ProductAttributeName{slot}").strip()
        if name and name not in attributes:
            attributes[name] = row.text(f"ProductAttributeValue{slot}")
    return attributes


def _address(row: _Row, prefix: str) -> Address:
    return Address(**{attr: row.text(prefix + suffix) for attr, suffix in g.ADDRESS_FIELDS})


def _payment(header: _Row, rows: list[_Row], open_terms: Collection[str]) -> Payment:
    if header.boolean("IsPaid") or any(row.boolean("IsPaid") for row in rows):
        return Payment.PAID
    method = header.text(g.PAYMENT_METHOD_FIELD) or next(
        (row.text(g.PAYMENT_METHOD_FIELD) for row in rows if row.text(g.PAYMENT_METHOD_FIELD)), ""
    )
    if method.strip().lower() in open_terms:
        return Payment.OPEN_TERMS
    return Payment.UNPAID


def _order_amount(header: _Row, first: _Row | None, name: str) -> Decimal:
    if header.get(name) is not None or first is None:
        return header.decimal(name)
    return first.decimal(name)


# -- client answers and request bodies ----------------------------------------------------------


def parse_token(data: object) -> str:
    """The token of a `V2/Authentication` answer (pressero.md §1.2)."""
    return _Row(data, "authentication").text(g.TOKEN_FIELD, required=True)


def parse_page(data: object, where: str) -> Page:
    """One page: `{"Items": [...], "TotalItems": n}` (pressero.md §1.3)."""
    page = _Row(data, where)
    rows = page.get(g.PAGE_ITEMS_FIELD)
    if not isinstance(rows, list):
        raise BadEventPayload(f"{where}.{g.PAGE_ITEMS_FIELD}: expected a list")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise BadEventPayload(f"{where}.{g.PAGE_ITEMS_FIELD}[{i}]: expected an object")
    total = page.integer(g.PAGE_TOTAL_FIELD, required=True, minimum=0)
    assert total is not None
    return Page(items=tuple(rows), total=total)


def parse_stages(data: object, where: str) -> tuple[WorkflowStage, ...]:
    """A workflow's stages, from a bare list or a page (pressero.md §1.6)."""
    rows = _list_or_page(data, where)
    stages = []
    for i, raw in enumerate(rows):
        row = _Row(raw, f"{where}[{i}]")
        stages.append(
            WorkflowStage(
                stage_id=row.text(g.STAGE_ID_FIELD, required=True),
                name=row.text(g.STAGE_NAME_FIELD, required=True),
                customer_name=row.text(g.STAGE_CUSTOMER_NAME_FIELD),
            )
        )
    return tuple(stages)


def find_stage(stages: Iterable[WorkflowStage], name: str) -> WorkflowStage | None:
    """The stage called `name` (any case, surrounding spaces ignored), or None."""
    wanted = name.strip().casefold()
    return next((stage for stage in stages if stage.name.strip().casefold() == wanted), None)


def parse_item_refs(data: object, where: str) -> dict[int, PresseroItemRef]:
    """seq -> what the write routes need, from an items answer (kit child rows left out)."""
    refs: dict[int, PresseroItemRef] = {}
    for i, raw in enumerate(_list_or_page(data, where)):
        row = _Row(raw, f"{where}[{i}]")
        if row.text(g.KIT_PARENT_FIELD):
            continue
        seq = row.integer("OrderItemSeq", required=True, minimum=1)
        route_id = row.integer(g.ITEM_ROUTE_ID_FIELD, required=True, minimum=0)
        assert seq is not None and route_id is not None
        refs[seq] = PresseroItemRef(
            seq=seq,
            route_id=route_id,
            item_id=row.text("OrderItemId"),
            order_id=row.text("OrderId"),
            workflow_id=row.text("WorkflowId"),
            shipping_method=row.text("ShippingMethod"),
            stage_id=row.text("WorkflowStageId"),
        )
    return refs


def parse_search_row(data: object, where: str) -> SearchRow:
    """One row of `v2/Orders/Search` (pressero.md §1.5)."""
    row = _Row(data, where)
    order_number = row.integer("OrderNumber", required=True, minimum=1)
    assert order_number is not None
    return SearchRow(
        order_number=order_number,
        item_seq=row.integer("OrderItemSeq", minimum=0) or None,
        order_id=row.text("OrderId"),
        site_id=row.text("SiteId"),
        site_name=row.text("SiteName"),
        domain=row.text("Domain"),
        order_date=row.datetime("OrderDate"),
    )


def parse_shipments(data: object, where: str) -> tuple[Shipment, ...]:
    """An item's shipments (pressero.md §1.4, `Models/ShipmentData.cs`)."""
    shipments = []
    for i, raw in enumerate(_list_or_page(data, where)):
        row = _Row(raw, f"{where}[{i}]")
        shipments.append(
            Shipment(
                shipment_id=row.text("ShipmentId"),
                order_item_id=row.text("OrderItemId"),
                ship_date=row.date("ShipDate"),
                method=row.text("ShipMethod"),
                tracking=row.text("ShipTracking"),
                cost=row.decimal("ShipCost"),
            )
        )
    return tuple(shipments)


def format_search_date(when: dt.datetime) -> str:
    """A search bound as Pressero takes it, in UTC (naive means UTC already)."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime(g.SEARCH_DATE_FORMAT)


def search_body(
    start: dt.datetime, end: dt.datetime, filters: Iterable[tuple[str, str, str]] = ()
) -> dict[str, Any]:
    """The body of `v2/Orders/Search`: a date window, (column, value, operator) filters, sorted
    by order number (pressero.md §1.3, §1.4)."""
    return {
        g.SEARCH_START_FIELD: format_search_date(start),
        g.SEARCH_END_FIELD: format_search_date(end),
        g.SEARCH_SORT_FIELD: {"Member": "OrderNumber", "Direction": "Ascending"},
        g.SEARCH_FILTERS_FIELD: [
            {"Column": column, "Value": value, "Operator": operator}
            for column, value, operator in filters
        ],
    }


def shipment_body(
    order_id: str,
    item_ids: Iterable[str],
    *,
    shipping_method: str,
    tracking: str,
    ship_date: dt.date,
    cost: Decimal = Decimal("0"),
    address: Address | None = None,
) -> dict[str, Any]:
    """The body of `V2/Orders/Shipments` (pressero.md §1.4, `Data/ShipmentDAL.cs`)."""
    to = address or Address()
    return {
        "OrderId": order_id,
        "SiteShippingMethodName": shipping_method,
        "ShipmentInfo": {
            "ShipDate": ship_date.isoformat(),
            "Tracking": tracking,
            "Cost": float(cost),
            "Address": {
                "FirstName": to.first_name,
                "LastName": to.last_name,
                "Address1": to.address1,
                "StateProvince": to.state,
                "Postal": to.zip,
                "Country": to.country,
            },
            "Items": [{"OrderItemId": item_id} for item_id in item_ids],
        },
    }


# -- typed, case-insensitive field access -------------------------------------------------------


def _lookup(data: Mapping[str, Any], name: str) -> Any:
    if name in data:
        return data[name]
    folded = name.casefold()
    for key, value in data.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _unicode_only(text: str, where: str) -> None:
    """Refuse a lone surrogate (JSON's `\\ud800` escapes carry them): no UTF-8 text has one, so
    neither the store nor the APIs esd writes to could take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadEventPayload(
            f"{where}: not Unicode text (a lone surrogate at position {exc.start})"
        ) from None


def _list_or_page(data: object, where: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        rows = _lookup(data, g.PAGE_ITEMS_FIELD)
        if isinstance(rows, list):
            return rows
    raise BadEventPayload(f"{where}: expected a list or a page with {g.PAGE_ITEMS_FIELD}")


def _show(value: object) -> str:
    return quoted(value, _MAX_SHOWN)


class _Row:
    """A JSON object and where it sits, with getters that name `where.Field` when it is wrong.

    Optional fields that are absent or null read as empty: "", 0, False, None.
    """

    __slots__ = ("_data", "where")

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise BadEventPayload(f"{where}: expected an object, got {type(data).__name__}")
        self._data: Mapping[str, Any] = data
        self.where = where

    def get(self, name: str) -> Any:
        return _lookup(self._data, name)

    def child(self, name: str) -> _Row:
        return _Row(self.get(name), f"{self.where}.{name}")

    def _missing(self, name: str, what: str) -> BadEventPayload:
        return BadEventPayload(f"{self.where}.{name}: required, expected {what}")

    def text(self, name: str, *, required: bool = False, numbers: bool = True) -> str:
        """A string; with `numbers`, an integer is read as its digits (ids may be numbers)."""
        value = self.get(name)
        if value is None or value == "":
            if required:
                raise self._missing(name, "a non-empty string")
            return ""
        allowed = str | int if numbers else str
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise BadEventPayload(f"{self.where}.{name}: expected a string, got {_show(value)}")
        text = str(value)
        if not text.isascii():
            _unicode_only(text, f"{self.where}.{name}")
        return text

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.get(name)
        if value is None:
            if required:
                raise self._missing(name, "an integer")
            return None
        if isinstance(value, str) and value.strip().isdecimal():
            value = int(value)  # order numbers sometimes come as strings
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadEventPayload(f"{self.where}.{name}: expected an integer, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise BadEventPayload(f"{self.where}.{name}: {value} is less than {minimum}")
        return value

    def decimal(self, name: str) -> Decimal:
        value = self.get(name)
        if value is None or value == "":
            return Decimal("0")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadEventPayload(f"{self.where}.{name}: expected a number, got {_show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadEventPayload(f"{self.where}.{name}: {_show(value)} is not a finite number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise BadEventPayload(f"{self.where}.{name}: {_show(value)} is not a number") from None
        if not number.is_finite():
            raise BadEventPayload(f"{self.where}.{name}: {_show(value)} is not a finite number")
        return number

    def boolean(self, name: str) -> bool:
        value = self.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise BadEventPayload(
                f"{self.where}.{name}: expected true or false, got {_show(value)}"
            )
        return value

    def datetime(self, name: str, *, required: bool = False) -> dt.datetime | None:
        """A date-time; no zone means UTC (pressero.md §1.5); year 1 means unset (guessed:
        `guesses.ORDER_DATE_ZERO_YEAR`)."""
        value = self.get(name)
        if value is None or value == "":
            if required:
                raise self._missing(name, "an ISO date-time")
            return None
        if not isinstance(value, str):
            raise BadEventPayload(f"{self.where}.{name}: expected an ISO date-time string")
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
        except ValueError:
            raise BadEventPayload(
                f"{self.where}.{name}: {_show(value)} is not an ISO date-time"
            ) from None
        if parsed.year == g.ORDER_DATE_ZERO_YEAR:
            if required:
                raise self._missing(name, "a date-time, not year 1")
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)

    def date(self, name: str) -> dt.date | None:
        """The calendar date as written, without zone conversion: a requested date is a day."""
        value = self.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise BadEventPayload(f"{self.where}.{name}: expected an ISO date string")
        text = value.strip()
        try:
            day = dt.date.fromisoformat(text[:10])
        except ValueError:
            raise BadEventPayload(f"{self.where}.{name}: {_show(value)} is not a date") from None
        if len(text) > 10:
            self.datetime(name)  # the time part must be valid too
        return None if day.year == g.ORDER_DATE_ZERO_YEAR else day
