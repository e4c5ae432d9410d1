"""Pace shipments, cartons and carton contents (seed 004 "Shipment Mapping Details", step 6 and
"Enable Carton Contents")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from daemon.orders.model import Address, KitChild, Order, OrderItem
from daemon.providers.pace.account_rules import parse_account_rules
from daemon.providers.pace.customer_resolution import location_key
from daemon.providers.pace.job_mapping import PartFields, job_parts
from daemon.providers.pace.settings import PaceSettings
from daemon.providers.pace.shipment_mapping import (
    THIRD_PARTY_CHARGES,
    CartonContentFields,
    CartonFields,
    ShipmentFields,
    shipments_for,
)
from daemon.providers.pace.site_rules import SiteMapping

D = Decimal
HOME = Address(
    first_name="Ann",
    last_name="Lee",
    title="Buyer",
    email="ann@acme.example",
    phone="555-0100",
    address1="1 Main St",
    address2="Suite 5",
    city="Springfield",
    state="IL",
    zip="62701",
)
# the same location written differently: one shipment
HOME_AGAIN = dataclasses.replace(
    HOME, first_name="ANN", email="Ann@Acme.example ", address1=" 1  main st", phone="(555) 0100"
)
DOCK = Address(
    business="Acme Warehouse",
    first_name="Bob",
    last_name="Ray",
    email="bob@acme.example",
    phone="",
    cell_phone="555-0199",
    address1="9 Dock Rd",
    city="Springfield",
    state="IL",
    zip="62702",
)


def item(
    seq: int, quantity: int, ship_to: Address, method: str = "UPS Ground", **kw: object
) -> OrderItem:
    return OrderItem(
        seq=seq,
        product_name=f"Product {seq}",
        quantity=quantity,
        price=D("10"),
        ship_to=ship_to,
        shipping_method=method,
        **kw,  # type: ignore[arg-type]
    )


def order_of(*items: OrderItem) -> Order:
    return Order(site="shop1", site_name="Acme Store", order_number="1001", items=items)


def plan(
    order: Order, settings: PaceSettings | None = None
) -> tuple[tuple[PartFields, ...], tuple[ShipmentFields, ...]]:
    settings = settings or PaceSettings(url="https://p")
    parts = job_parts(
        order, order.items, settings=settings, site=SiteMapping(), today=dt.date(2024, 5, 7)
    )
    return parts, shipments_for(order, parts, settings)


def test_one_shipment_per_unique_address_with_its_total_quantity() -> None:
    order = order_of(item(1, 100, HOME), item(2, 50, DOCK), item(3, 25, HOME_AGAIN))
    _, shipments = plan(order)
    assert [(s.item_seqs, s.part_indexes, s.planned_quantity) for s in shipments] == [
        ((1, 3), (0, 2), 125),
        ((2,), (1,), 50),
    ]
    assert shipments[0].location == location_key(HOME)
    # the first item's address text is what Pace gets
    assert shipments[0].ship_to == HOME
    assert [s.part_index for s in shipments] == [0, 1]


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (dataclasses.replace(HOME, first_name="Zed", title=""), True),  # names are not in the key
        (dataclasses.replace(HOME, phone="555-0101"), False),
        (dataclasses.replace(HOME, email="other@acme.example"), False),
        (dataclasses.replace(HOME, address2=""), False),
        (dataclasses.replace(HOME, zip="62701-1234"), False),
    ],
)
def test_what_makes_a_location_unique(other: Address, same: bool) -> None:
    _, shipments = plan(order_of(item(1, 1, HOME), item(2, 1, other)))
    assert (len(shipments) == 1) is same


def test_shipment_to_pace_follows_the_seed_table() -> None:
    _, shipments = plan(order_of(item(1, 100, HOME), item(2, 50, DOCK)))
    assert shipments[0].to_pace() == {
        "name": "Ann Lee",  # no business: the person's name
        "contactFirstName": "Ann",
        "contactLastName": "Lee",
        "email": "ann@acme.example",
        "phone": "555-0100",
        "address1": "1 Main St",
        "address2": "Suite 5",
        "address3": "",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "plannedQuantity": 100,
        "accountNumber": "",
        "charges": "",
    }
    dock = shipments[1].to_pace()
    assert (dock["name"], dock["phone"]) == ("Acme Warehouse", "555-0199")  # cell stands in


def test_without_carton_contents_one_carton_of_default_content() -> None:
    _, shipments = plan(order_of(item(1, 100, HOME), item(2, 25, HOME, ships_separately=True)))
    (shipment,) = shipments
    assert shipment.cartons == (CartonFields(quantity=125, add_default_content=True),)
    assert shipment.cartons[0].to_pace() == {
        "count": 1,
        "quantity": 125,
        "addDefaultContent": True,
    }


# The seed's Accounts example (the account " XXX123" is trimmed).
SEED_ACCOUNTS = parse_account_rules(
    """[
    {"rule_type":"ShipmentMethodMapping","priority":5,"source_method":"MatchByName"},
    {"rule_type":"ShipmentMethodMapping","priority":10,"source_method":"Customer Pickup",
     "ship_via":"1"},
    {"rule_type":"DefaultMapping","priority":50,"source_site":"Some Site","ship_via":"2",
     "account":"XXX123"},
    {"rule_type":"ShipmentAddressMapping","priority":100,
     "source_address":["9 Dock Rd","","Springfield","IL","62702"],"ship_via":"3",
     "account":" XXX123"}
    ]"""
)[0]


@pytest.mark.parametrize(
    ("site_name", "ship_to", "method", "ship_via", "ship_via_name", "account", "charges"),
    [
        # address rule (100): ship via 3, account XXX123, third party charges
        ("Acme Store", DOCK, "UPS Ground", 3, "", "XXX123", THIRD_PARTY_CHARGES),
        # the site's DefaultMapping (50)
        ("Some Site", HOME, "Customer Pickup", 2, "", "XXX123", THIRD_PARTY_CHARGES),
        # the method rule (10): no account, so no charges
        ("Acme Store", HOME, "Customer Pickup", 1, "", "", ""),
        # MatchByName (5): the driver resolves the name
        ("Acme Store", HOME, "UPS Ground", None, "UPS Ground", "", ""),
        # no method, no rule: Pace's defaults
        ("Acme Store", HOME, "", None, "", "", ""),
    ],
)
def test_ship_via_account_and_charges_from_the_accounts_rules(
    site_name: str,
    ship_to: Address,
    method: str,
    ship_via: int | None,
    ship_via_name: str,
    account: str,
    charges: str,
) -> None:
    order = dataclasses.replace(order_of(item(1, 10, ship_to, method)), site_name=site_name)
    _, (shipment,) = plan(order, PaceSettings(url="https://p", accounts=SEED_ACCOUNTS))
    assert (shipment.ship_via, shipment.ship_via_name) == (ship_via, ship_via_name)
    assert (shipment.account_number, shipment.charges) == (account, charges)
    fields = shipment.to_pace()
    assert (fields["accountNumber"], fields["charges"]) == (account, charges)
    assert fields.get("shipVia") == ship_via
    assert shipment.to_pace(ship_via=44)["shipVia"] == 44  # the id resolved by name


def test_without_carton_contents_the_first_items_method_picks_the_rule() -> None:
    order = order_of(item(1, 10, HOME, "Customer Pickup"), item(2, 10, HOME, "UPS Ground"))
    _, shipments = plan(order, PaceSettings(url="https://p", accounts=SEED_ACCOUNTS))
    assert [(s.shipping_method, s.ship_via) for s in shipments] == [("Customer Pickup", 1)]


CONTENTS = PaceSettings(url="https://p", enable_carton_contents=True, accounts=SEED_ACCOUNTS)


def test_with_carton_contents_a_shipment_per_address_and_method() -> None:
    order = order_of(
        item(1, 100, HOME, "UPS Ground"),
        item(2, 50, HOME, "Customer Pickup"),
        item(3, 20, HOME_AGAIN, "ups  ground"),
        item(4, 5, DOCK, "UPS Ground"),
    )
    _, shipments = plan(order, CONTENTS)
    assert [(s.item_seqs, s.shipping_method, s.ship_via, s.ship_via_name) for s in shipments] == [
        ((1, 3), "UPS Ground", None, "UPS Ground"),
        ((2,), "Customer Pickup", 1, ""),
        ((4,), "UPS Ground", 3, ""),
    ]
    first = shipments[0]
    assert first.planned_quantity == 120
    assert first.cartons == (
        CartonFields(
            quantity=120,
            add_default_content=False,
            contents=(
                CartonContentFields(0, 1, 100, "1001-1 Product 1"),
                CartonContentFields(2, 3, 20, "1001-3 Product 3"),
            ),
        ),
    )


def test_with_carton_contents_items_that_ship_separately_get_their_own_carton() -> None:
    order = order_of(
        item(1, 100, HOME),
        item(2, 30, HOME, ships_separately=True),
        item(3, 20, HOME),
        item(4, 5, HOME, ships_separately=True),
    )
    _, (shipment,) = plan(order, CONTENTS)
    assert [
        (
            c.quantity,
            c.add_default_content,
            [(x.part_index, x.item_seq, x.quantity) for x in c.contents],
        )
        for c in shipment.cartons
    ] == [
        (120, False, [(0, 1, 100), (2, 3, 20)]),
        (30, False, [(1, 2, 30)]),
        (5, False, [(3, 4, 5)]),
    ]
    assert shipment.planned_quantity == 155
    assert [c.count for c in shipment.cartons] == [1, 1, 1]
    assert shipment.cartons[1].to_pace() == {"count": 1, "quantity": 30, "addDefaultContent": False}


def test_only_separate_items_give_no_shared_carton() -> None:
    order = order_of(
        item(1, 3, HOME, ships_separately=True), item(2, 4, HOME, ships_separately=True)
    )
    _, (shipment,) = plan(order, CONTENTS)
    assert [c.quantity for c in shipment.cartons] == [3, 4]


def test_a_kit_ships_as_its_parts() -> None:
    kit = item(
        2,
        10,
        HOME,
        kit_children=(
            KitChild(name="Mug", quantity=10, cost=D("20")),
            KitChild(name="Sticker", quantity=0, cost=D("1")),
            KitChild(name="Pen", quantity=20, cost=D("9")),
        ),
    )
    order = order_of(item(1, 100, HOME), kit)
    parts, (shipment,) = plan(order, CONTENTS)
    assert [p.description for p in parts] == ["1001-1 Product 1", "1001-2.1 Mug", "1001-2.3 Pen"]
    assert shipment.part_indexes == (0, 1, 2)
    assert shipment.planned_quantity == 110  # order item quantities
    (carton,) = shipment.cartons
    assert [(c.part_index, c.item_seq, c.quantity) for c in carton.contents] == [
        (0, 1, 100),
        (1, 2, 10),
        (2, 2, 20),
    ]
    assert carton.quantity == 130  # the sum of its contents


def test_carton_content_to_pace() -> None:
    assert CartonContentFields(1, 2, 10, "1001-2.1 Mug").to_pace() == {
        "quantity": 10,
        "note": "1001-2.1 Mug",
    }
    assert CartonContentFields(1, 2, 10).to_pace() == {"quantity": 10}


def test_shipments_follow_their_first_item_whatever_the_part_order() -> None:
    order = order_of(item(1, 1, DOCK), item(2, 1, HOME))
    parts, _ = plan(order)
    shipments = shipments_for(order, tuple(reversed(parts)), PaceSettings(url="https://p"))
    assert [s.item_seqs for s in shipments] == [(1,), (2,)]
