"""An order's stock lines as one Tharstern sales order (`POST orders/submit`, reference §1.9).

Seed 000: "Send orders to Tharstern from Pressero"; the products are "Tharstern products" with
an item #. The body ([CODE] ROIOrders `CreateSalesOrderAsync`; names in `guesses`):

    {"Orders": [{"UniqueSubmitOrderID": <GUID from the push reference>,
                 "InvoiceCustomer": {"Code": <customer code>},
                 "OrderDate": <ISO UTC>, "RequiredDate": <ISO UTC>,
                 "Ref1": <order number>, "Ref2": <push reference>,
                 ["DeliveryCustomer": {"Code": <delivery address code>}],
                 ["Status": <initial status>],
                 "Items": [{"StockItemID": <product id>, "Quantity": n,
                            "Ref1": <item seq>, "Ref2": <storefront item id>,
                            ["EstimateID": <estimate id>], ["TotalPrice": <price>]}]}]}

Decisions:
- `UniqueSubmitOrderID` is a UUID derived from the push reference (uuid5), so a retry after a
  lost answer sends the same id ([GUESS] that Tharstern dedupes by it; the driver still looks
  the order up by number first).
- The order date is the storefront's (else `today`), the required date `dispatch_date`'s, both
  as midnight UTC of the day when only a day is known.
- Lines are in item sequence order; a price goes on a line only as `pricing` says.
- The initial status (seed 000: "Initial Order Status. Can a specific status be set when an
  order is sent to Tharstern? Yes") is written only when `initial_status` is set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from daemon.errors import BusinessRuleError
from daemon.orders.model import Address, Order, OrderItem
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern import json_paths
from daemon.providers.tharstern.dispatch_date import order_date_text
from daemon.providers.tharstern.pricing import money
from daemon.providers.tharstern.product_routing import StockLine
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = ["OrderLine", "sales_order", "submit_order_id"]

#: the namespace of `UniqueSubmitOrderID`s (any fixed UUID; changing it re-submits nothing
#: already found by number, but would change the ids of retried orders)
_NAMESPACE: Final = uuid.UUID("5d3f0a52-8c1e-4b7e-9a43-7f2b1c9e6d10")


@dataclasses.dataclass(frozen=True, slots=True)
class OrderLine:
    """One line: the item, the Tharstern product id the I/O half looked up for its code, and
    the estimate it carries (estimate-driven lines, when the order bundles them) and price."""

    item: OrderItem
    stock_item_id: int
    estimate_id: int | None = None
    price: Decimal | None = None


def submit_order_id(reference: str) -> str:
    """The `UniqueSubmitOrderID` of the order pushed under `reference` (the same every time)."""
    return str(uuid.uuid5(_NAMESPACE, reference))


def sales_order(
    order: Order,
    lines: Sequence[OrderLine],
    settings: TharsternSettings,
    *,
    customer_code: str,
    reference: str,
    required_date: dt.date,
    today: dt.date,
    delivery_code: str = "",
) -> dict[str, Any]:
    """The `orders/submit` body for `lines` (see the module docstring)."""
    if not lines:
        raise BusinessRuleError(f"order {order.order_number}: no stock line to send to Tharstern")
    head: dict[str, Any] = {}
    fields: list[tuple[str, object]] = [
        (g.ORDER_UNIQUE_ID, submit_order_id(reference)),
        (g.ORDER_CUSTOMER_CODE, customer_code),
        (g.ORDER_DATE, order_date_text(order.order_date or today)),
        (g.ORDER_REQUIRED_DATE, order_date_text(required_date)),
        (g.ORDER_REF_NUMBER, order.order_number),
        (g.ORDER_REF_PUSH, reference),
    ]
    if delivery_code:
        fields.append((g.ORDER_DELIVERY_CODE, delivery_code))
    if settings.initial_status:
        fields.append((g.ORDER_INITIAL_STATUS, settings.initial_status))
    for path, value in fields:
        head = json_paths.write(head, json_paths.parse_path(path), value)
    head[g.ORDER_ITEMS] = [_line(line) for line in sorted(lines, key=lambda x: x.item.seq)]
    return {g.ORDER_LIST: [head]}


def _line(line: OrderLine) -> Mapping[str, Any]:
    body: dict[str, Any] = {
        g.LINE_STOCK_ITEM_ID: line.stock_item_id,
        g.LINE_QUANTITY: line.item.quantity,
        g.LINE_REF_SEQ: str(line.item.seq),
        g.LINE_REF_ITEM: line.item.item_id,
    }
    if line.estimate_id is not None:
        body[g.LINE_ESTIMATE_ID] = line.estimate_id
    if line.price is not None:
        body[g.LINE_TOTAL_PRICE] = money(line.price)
    return body


def sales_order_reference(reference: str, seqs: Sequence[int]) -> str:
    """The push reference of the sales order of the stock lines `seqs` (one per delivery
    address, and per batch when an order's items are released at different times): the
    order's, with the first line's seq, so each sales order has its own UniqueSubmitOrderID
    and Ref2 whatever was pushed before it."""
    return f"{reference}/order{min(seqs)}"


def stock_lines_by_address(lines: Sequence[StockLine]) -> list[tuple[Address, list[StockLine]]]:
    """Stock lines grouped by their ship-to, in the order each address first appears."""
    groups: dict[Address, list[StockLine]] = {}
    for line in lines:
        groups.setdefault(line.item.ship_to, []).append(line)
    return list(groups.items())
