"""Routing each item to a stock line or an estimate (issue 14: "Two paths, chosen per product";
seed 002: "map Infigo products/variants ... to Tharstern estimate structures"; seed 000: "Item #
is mapped to both the private and public product number fields in Pressero")."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.errors import BusinessRuleError
from daemon.orders.model import Approval, OrderItem
from daemon.providers.tharstern.product_routing import matching_rule, route_items
from daemon.providers.tharstern.settings import TharsternSettings, parse_settings
from tests.providers.tharstern.samples import FULL_SETTINGS, MINIMAL_SETTINGS, item, order

FULL = parse_settings(FULL_SETTINGS)


def routed(settings: TharsternSettings, *items: OrderItem) -> list[tuple[int, str, object]]:
    routes = route_items(order(*items), items, settings)
    return sorted(
        [(s.item.seq, "stock", s.stock_code) for s in routes.stock]
        + [(e.item.seq, "estimate", e.product_type) for e in routes.estimates]
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # a stock_item rule, matched by the SKU (the imported "item #")
        ({"product_name": "Business cards", "sku": "BC-STD"}, ("stock", "BC-STD-100")),
        # ... by the product integration id, or by the product name, case-insensitively
        ({"product_name": "x", "product_integration_id": "bc-std"}, ("stock", "BC-STD-100")),
        ({"product_name": " flyers "}, ("estimate", 12)),
        # a variant rule beats the plain one; the plain one takes the other variants
        ({"product_name": "Booklet", "attributes": {"Size": "A5"}}, ("estimate", 14)),
        ({"product_name": "Booklet", "attributes": {"size": "a5"}}, ("estimate", 14)),
        # no rule: the part number is the Tharstern product code (stock_from_sku)
        ({"product_name": "Poster", "sku": "PST-A2"}, ("stock", "PST-A2")),
        ({"product_name": "Poster", "product_integration_id": "PST-A1"}, ("stock", "PST-A1")),
        (
            {"product_name": "Poster", "sku": "PST-A2", "product_integration_id": "X"},
            ("stock", "PST-A2"),
        ),
    ],
)
def test_routes(changes: dict[str, Any], expected: tuple[str, object]) -> None:
    assert routed(FULL, item(1, **changes)) == [(1, *expected)]


def test_a_booklet_of_another_size_has_no_rule() -> None:
    booklet = item(1, product_name="Booklet", attributes={"Size": "A4"})
    assert matching_rule(booklet, FULL.products) is None
    with pytest.raises(BusinessRuleError, match="product 'Booklet' is not mapped to Tharstern"):
        routed(FULL, booklet)


def test_between_equal_rules_the_first_written_wins() -> None:
    settings = parse_settings(
        {
            **MINIMAL_SETTINGS,
            "products": [
                {"product": "Flyers", "variant": {"Size": "A5"}, "product_type": 1},
                {"product": "FLY-1", "variant": {"Paper": "Silk"}, "product_type": 2},
            ],
        }
    )
    flyer = item(1, product_name="Flyers", sku="FLY-1", attributes={"Size": "A5", "Paper": "Silk"})
    assert routed(settings, flyer) == [(1, "estimate", 1)]


def test_denied_and_cancelled_items_are_excluded_as_for_pace() -> None:
    # seeds 001/003: "Denied and cancelled items are excluded"
    items = (
        item(3, sku="BC-STD"),
        item(1, approval=Approval.DENIED, sku="BC-STD"),
        item(2, cancelled=True),
        item(4, product_name="Flyers"),
    )
    routes = route_items(order(*items), items, FULL)
    assert routes.seqs == (3, 4)
    with pytest.raises(BusinessRuleError, match="all denied or cancelled"):
        route_items(order(*items), items[1:3], FULL)


def test_without_stock_from_sku_an_unmapped_item_is_an_error_naming_it() -> None:
    settings = parse_settings({**MINIMAL_SETTINGS, "stock_from_sku": False})
    with pytest.raises(BusinessRuleError) as caught:
        routed(settings, item(2, product_name="Poster", sku="PST-A2"))
    assert caught.value.message == (
        "order 1001 item 2: product 'Poster' is not mapped to Tharstern: add a products rule "
        "(stock_item or product_type) or turn stock_from_sku on"
    )


def test_an_item_with_nothing_to_go_by() -> None:
    with pytest.raises(BusinessRuleError, match="item 1: product 'Poster' is not mapped"):
        routed(parse_settings(MINIMAL_SETTINGS), item(1, product_name="Poster"))
