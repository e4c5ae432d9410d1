"""The answers of `v2/orders/{n}/Details` and `v2/orders/{n}/items` (and, when read, the site
user and address book) as a storefront-neutral `Order`.

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
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import structlog

from daemon.errors import BadEventPayload
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
from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.mapping.fields import Row, lookup, show

log = structlog.get_logger(__name__)


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
    header = Row(order_json, "order")
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
        row = Row(user_json, "user")
        read: dict[str, Any] = {attr: row.text(name) for attr, name in g.USER_FIELDS}
        user = dataclasses.replace(user, **{a: v for a, v in read.items() if v.strip()})
        groups = _group_names(row)
        if groups:
            user = dataclasses.replace(user, groups=groups)
    if book_json is not None:
        entry = _preferred_address(Row(book_json, "address_book"))
        if entry is not None:
            address = Address(
                **{attr: entry.text(name) for attr, name in g.ADDRESS_BOOK_ENTRY_FIELDS}
            )
            user = dataclasses.replace(user, address=address)
    return user


def _group_names(user: Row) -> tuple[str, ...]:
    """The user's group names (`Groups[{GroupName}]`, g.USER_GROUPS_FIELD), each once."""
    groups = user.get(g.USER_GROUPS_FIELD)
    if groups is None:
        return ()
    where = f"{user.where}.{g.USER_GROUPS_FIELD}"
    if not isinstance(groups, list):
        raise BadEventPayload(f"{where}: expected a list of groups")
    names = [
        Row(group, f"{where}[{i}]").text(g.USER_GROUP_NAME_FIELD).strip()
        for i, group in enumerate(groups)
    ]
    return tuple(dict.fromkeys(name for name in names if name))


def _preferred_address(book: Row) -> Row | None:
    """The address book's preferred entry (see g.ADDRESS_BOOK_ENTRY_ID_FIELD), or None."""
    preferred = book.get(g.ADDRESS_BOOK_PREFERRED_FIELD)
    where = f"{book.where}.{g.ADDRESS_BOOK_PREFERRED_FIELD}"
    if isinstance(preferred, Mapping):
        return Row(preferred, where)
    entries = book.get(g.ADDRESS_BOOK_ADDRESSES_FIELD)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadEventPayload(f"{book.where}.{g.ADDRESS_BOOK_ADDRESSES_FIELD}: expected a list")
    rows = [
        Row(entry, f"{book.where}.{g.ADDRESS_BOOK_ADDRESSES_FIELD}[{i}]")
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


def _item_rows(header: Row, items_json: object) -> Iterator[Row]:
    if items_json is None:
        rows = header.get("Items")
        if not isinstance(rows, list):
            raise BadEventPayload("order.Items: expected a list of items")
    elif isinstance(items_json, list):
        rows = items_json
    elif isinstance(items_json, Mapping) and isinstance(
        lookup(items_json, g.PAGE_ITEMS_FIELD), list
    ):
        rows = lookup(items_json, g.PAGE_ITEMS_FIELD)
    else:
        raise BadEventPayload(
            f"order.Items: expected a list of items or a page with {g.PAGE_ITEMS_FIELD}, "
            f"got {type(items_json).__name__}"
        )
    for i, row in enumerate(rows):
        yield Row(row, f"order.Items[{i}]")


def _split_kit_rows(rows: list[Row]) -> tuple[list[Row], dict[str, list[Row]]]:
    """(items, kit child rows by their parent's OrderItemId) for the flat kit shape."""
    parents = [row for row in rows if not row.text(g.KIT_PARENT_FIELD)]
    ids = {row.text("OrderItemId") for row in parents} - {""}
    children: dict[str, list[Row]] = {}
    for row in rows:
        parent = row.text(g.KIT_PARENT_FIELD)
        if not parent:
            continue
        if parent not in ids:
            raise BadEventPayload(
                f"{row.where}.{g.KIT_PARENT_FIELD}: no item of this order has "
                f"OrderItemId {show(parent)}"
            )
        children.setdefault(parent, []).append(row)
    return parents, children


def _item(
    row: Row, kit_rows: Iterable[Row], files_generated: frozenset[int], order_number: int
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
        _kit_child(Row(child, f"{row.where}.{g.KIT_CHILDREN_FIELD}[{i}]"))
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


def _files(row: Row, order_number: int, seq: int) -> tuple[ItemFile, ...]:
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
        url = lookup(entry, g.ITEM_FILE_URL_FIELD)
        name = lookup(entry, g.ITEM_FILE_NAME_FIELD)
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
        scheme = show(parts.scheme) if parts.scheme else "none"
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


def _kit_child(row: Row) -> KitChild:
    quantity = row.integer(g.KIT_CHILD_QUANTITY_FIELD, required=True, minimum=0)
    assert quantity is not None
    return KitChild(
        name=row.text(g.KIT_CHILD_NAME_FIELD),
        quantity=quantity,
        cost=row.decimal(g.KIT_CHILD_COST_FIELD),
        sku=row.text(g.KIT_CHILD_SKU_FIELD),
        integration_id=row.text(g.KIT_CHILD_INTEGRATION_ID_FIELD),
    )


def _attributes(row: Row) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for slot in range(1, g.PRODUCT_ATTRIBUTE_SLOTS + 1):
        name = row.text(f"ProductAttributeName{slot}").strip()
        if name and name not in attributes:
            attributes[name] = row.text(f"ProductAttributeValue{slot}")
    return attributes


def _address(row: Row, prefix: str) -> Address:
    return Address(**{attr: row.text(prefix + suffix) for attr, suffix in g.ADDRESS_FIELDS})


def _payment(header: Row, rows: list[Row], open_terms: Collection[str]) -> Payment:
    if header.boolean("IsPaid") or any(row.boolean("IsPaid") for row in rows):
        return Payment.PAID
    method = header.text(g.PAYMENT_METHOD_FIELD) or next(
        (row.text(g.PAYMENT_METHOD_FIELD) for row in rows if row.text(g.PAYMENT_METHOD_FIELD)), ""
    )
    if method.strip().lower() in open_terms:
        return Payment.OPEN_TERMS
    return Payment.UNPAID


def _order_amount(header: Row, first: Row | None, name: str) -> Decimal:
    if header.get(name) is not None or first is None:
        return header.decimal(name)
    return first.decimal(name)
