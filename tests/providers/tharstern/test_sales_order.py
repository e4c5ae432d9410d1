"""The sales order (`orders/submit`) for stock lines, and the price sent (seed 000 "Send orders to
Tharstern from Pressero", "Initial Order Status"; seed 002 "how/when price is sent,
shipping/tax inclusion")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from daemon.errors import BusinessRuleError
from daemon.orders.charges import ItemCharges, item_charges
from daemon.providers.tharstern.pricing import item_price
from daemon.providers.tharstern.sales_order import OrderLine, sales_order, submit_order_id
from daemon.providers.tharstern.settings import parse_settings
from tests.providers.tharstern.samples import MINIMAL_SETTINGS, item, order

REFERENCE = "esd:tharstern:shop:1001"
TODAY = dt.date(2024, 6, 10)


def test_the_body() -> None:
    settings = parse_settings({**MINIMAL_SETTINGS, "initial_status": "Web Order"})
    cards, flyers = item(2, quantity=250), item(1, item_id="it-1")
    body = sales_order(
        order(cards, flyers),
        [OrderLine(cards, 501, price=Decimal("12.5")), OrderLine(flyers, 502)],
        settings,
        customer_code="WEB001",
        reference=REFERENCE,
        required_date=dt.date(2024, 6, 6),
        today=TODAY,
        delivery_code="DEL-1",
    )
    assert body == {
        "Orders": [
            {
                "UniqueSubmitOrderID": submit_order_id(REFERENCE),
                "InvoiceCustomer": {"Code": "WEB001"},
                "OrderDate": "2024-06-03T09:30:00Z",
                "RequiredDate": "2024-06-06T00:00:00Z",
                "Ref1": "1001",
                "Ref2": REFERENCE,
                "DeliveryCustomer": {"Code": "DEL-1"},
                "Status": "Web Order",
                "Items": [  # in item sequence order
                    {"StockItemID": 502, "Quantity": 500, "Ref1": "1", "Ref2": "it-1"},
                    {
                        "StockItemID": 501,
                        "Quantity": 250,
                        "Ref1": "2",
                        "Ref2": "it-2",
                        "TotalPrice": 12.5,
                    },
                ],
            }
        ]
    }


def test_without_initial_status_delivery_or_order_date() -> None:
    cards = item(1)
    body = sales_order(
        order(cards, order_date=None),
        [OrderLine(cards, 501, estimate_id=77)],
        parse_settings(MINIMAL_SETTINGS),
        customer_code="WEB001",
        reference=REFERENCE,
        required_date=dt.date(2024, 6, 13),
        today=TODAY,
    )
    (head,) = body["Orders"]
    assert "Status" not in head and "DeliveryCustomer" not in head
    assert head["OrderDate"] == "2024-06-10T00:00:00Z"
    assert head["Items"][0]["EstimateID"] == 77


def test_the_unique_submit_id_is_the_same_on_every_retry() -> None:
    assert submit_order_id(REFERENCE) == submit_order_id(REFERENCE)
    assert submit_order_id(REFERENCE) != submit_order_id(REFERENCE + "x")
    assert len(submit_order_id(REFERENCE)) == 36


def test_no_lines_is_an_error() -> None:
    with pytest.raises(BusinessRuleError, match="no stock line"):
        sales_order(
            order(item(1)),
            [],
            parse_settings(MINIMAL_SETTINGS),
            customer_code="W",
            reference=REFERENCE,
            required_date=TODAY,
            today=TODAY,
        )


CHARGES = ItemCharges(freight=Decimal("5.00"), tax=Decimal("12.00"))


@pytest.mark.parametrize(
    ("settings", "stock", "expected"),
    [
        # the default: Tharstern prices it (seed 000 "Use Tharstern pricing")
        ({}, False, None),
        ({"price_mode": "item_price"}, False, Decimal("120.00")),
        ({"price_mode": "item_price"}, True, Decimal("120.00")),
        ({"price_mode": "price_with_tax_and_shipping"}, False, Decimal("137.00")),
        (
            {"price_mode": "price_with_tax_and_shipping", "price_includes_tax": False},
            False,
            Decimal("125.00"),
        ),
        (
            {"price_mode": "price_with_tax_and_shipping", "price_includes_shipping": False},
            False,
            Decimal("132.00"),
        ),
        # Infigo "Send price with logic": no price on a static-price-list (stock) line
        ({"price_mode": "item_price", "price_stock_items": False}, True, None),
        ({"price_mode": "item_price", "price_stock_items": False}, False, Decimal("120.00")),
    ],
)
def test_the_price_sent(settings: dict[str, Any], stock: bool, expected: Decimal | None) -> None:
    parsed = parse_settings({**MINIMAL_SETTINGS, **settings})
    assert item_price(item(1), CHARGES, parsed, stock=stock) == expected


def test_order_shipping_and_tax_are_split_over_the_pushed_items() -> None:
    # as for Pace: the order's 10.00 shipping and 24.00 tax over two lines, by line
    first, second = item(1), item(2)
    charges = item_charges(order(first, second), (first, second))
    assert charges == {
        1: ItemCharges(Decimal("5.00"), Decimal("12.00")),
        2: ItemCharges(Decimal("5.00"), Decimal("12.00")),
    }
