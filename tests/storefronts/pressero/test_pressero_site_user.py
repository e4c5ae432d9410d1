"""Seed 004's "Customer and Contact Mapping Details" table, row by row: the site user and their
address book (read by the client, mapped by `order_from_api`) fill `SiteUser`, and the Pace
Customer and Contact maps take Business, First + Middle + Last, Telephone or Cell Phone,
Title and Address1-3/City/State/Zip from them. An event stored before esd read the buyer (no
user, no address book) maps as before: the item rows' name and e-mail, no address."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from daemon.errors import BadEventPayload
from daemon.orders.model import Address, SiteUser
from daemon.providers.pace.customer_resolution import (
    customer_fields,
    location_contact_fields,
    orderer_contact_fields,
)
from daemon.providers.pace.settings import PaceSettings
from daemon.storefronts.pressero.mapping import order_from_api

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TODAY = dt.date(2025, 3, 4)
SETTINGS = PaceSettings(url="https://p", create_customer=True)

USER = {
    "UserId": "b7c6d5e4-f3a2-4b1c-9d8e-7f6a5b4c3d2e",
    "Email": "sam.rivera@acme.example",
    "FirstName": "Sam",
    "MiddleName": "J.",
    "LastName": "Rivera",
    "Title": "Buyer",
    "Telephone": "+1 555 0100",
    "CellPhone": "+1 555 0199",
}
OFFICE = {
    "AddressId": "a-office",
    "Business": "Acme Corp",
    "Address1": "400 Commerce Drive",
    "Address2": "Suite 210",
    "Address3": "Attn: Purchasing",
    "City": "Springfield",
    "StateProvince": "IL",
    "Postal": "62704",
    "Country": "US",
}
HOME = {"AddressId": "a-home", "Business": "", "Address1": "12 Elm Street", "City": "Chatham"}


def mapped(user: Any = None, book: Any = None) -> SiteUser:
    details = json.loads((FIXTURES / "order_1001_details.json").read_text())
    items = json.loads((FIXTURES / "order_1001_items.json").read_text())
    order = order_from_api(details, items, "acme", user_json=user, address_book_json=book)
    return order.user


def book(preferred: Any, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"PreferredAddress": preferred, "Addresses": list(entries)}


# (seed row, user JSON changes, address book, Pace Customer field, expected)
ROWS: list[tuple[str, dict[str, Any], Any, str, object]] = [
    (
        "Customer = Address Book > Business",
        {},
        book("a-office", HOME, OFFICE),
        "custName",
        "Acme Corp",
    ),
    (
        "Customer = First + Middle + Last when no Business",
        {},
        book("a-home", OFFICE, HOME),
        "custName",
        "Sam J. Rivera",
    ),
    (
        "Customer = First + Last when no Middle either",
        {"MiddleName": ""},
        book(None),
        "custName",
        "Sam Rivera",
    ),
    ("Contact First Name", {}, None, "contactFirstName", "Sam"),
    ("Contact Last Name", {}, None, "contactLastName", "Rivera"),
    ("Customer Email", {"Email": "buyer@acme.example"}, None, "email", "buyer@acme.example"),
    ("Phone = Telephone", {}, None, "phoneNumber", "+1 555 0100"),
    ("Phone = Cell Phone when no Telephone", {"Telephone": ""}, None, "phoneNumber", "+1 555 0199"),
    ("Contact Title", {}, None, "contactTitle", "Buyer"),
    ("Address1", {}, book("a-office", HOME, OFFICE), "address1", "400 Commerce Drive"),
    ("Address2", {}, book("a-office", HOME, OFFICE), "address2", "Suite 210"),
    ("Address3", {}, book("a-office", HOME, OFFICE), "address3", "Attn: Purchasing"),
    ("City", {}, book("a-office", HOME, OFFICE), "city", "Springfield"),
    ("State", {}, book("a-office", HOME, OFFICE), "state", "IL"),
    ("Zip", {}, book("a-office", HOME, OFFICE), "zip", "62704"),
    (
        "Preferred given as the address itself",
        {},
        book(OFFICE, HOME),
        "address1",
        "400 Commerce Drive",
    ),
    (
        "Preferred id unknown: the first address",
        {},
        book("nope", HOME, OFFICE),
        "address1",
        "12 Elm Street",
    ),
    ("Empty address book: no address", {}, book(None), "address1", ""),
]


@pytest.mark.parametrize(("row", "changes", "address_book", "field", "expected"), ROWS)
def test_customer_mapping_row(
    row: str, changes: dict[str, Any], address_book: Any, field: str, expected: object
) -> None:
    user = mapped({**USER, **changes}, address_book)
    assert customer_fields(user, SETTINGS, TODAY)[field] == expected, row


def test_the_orderer_contact_carries_title_phone_and_address_book() -> None:
    user = mapped({**USER, "Telephone": ""}, book("a-office", HOME, OFFICE))
    fields = orderer_contact_fields(user, "C100")
    assert (fields["firstName"], fields["lastName"], fields["title"]) == ("Sam", "Rivera", "Buyer")
    assert fields["businessPhoneNumber"] == "+1 555 0199"
    assert (fields["address1"], fields["city"], fields["zip"]) == (
        "400 Commerce Drive",
        "Springfield",
        "62704",
    )


def test_an_event_stored_before_the_buyer_was_read_maps_as_before() -> None:
    user = mapped()
    assert (user.first_name, user.last_name, user.email) == (
        "Sam",
        "Rivera",
        "sam.rivera@acme.example",
    )
    assert (user.middle_name, user.title, user.phone, user.address) == ("", "", "", Address())
    assert customer_fields(user, SETTINGS, TODAY)["custName"] == "Sam Rivera"


def test_empty_user_fields_keep_the_item_rows_names() -> None:
    user = mapped({"FirstName": "", "LastName": None, "Email": ""})
    assert (user.first_name, user.last_name, user.email) == (
        "Sam",
        "Rivera",
        "sam.rivera@acme.example",
    )


@pytest.mark.parametrize(
    ("user", "address_book", "where"),
    [
        ({"FirstName": 7.5}, None, "user.FirstName"),
        (["not", "an", "object"], None, "user"),
        (None, {"Addresses": "nope"}, "address_book.Addresses"),
        (None, book(None, {"Address1": ["x"]}), "address_book.Addresses[0].Address1"),
        (None, book({"City": 3.5}), "address_book.PreferredAddress.City"),
    ],
)
def test_a_malformed_user_or_address_book_is_named(
    user: Any, address_book: Any, where: str
) -> None:
    with pytest.raises(BadEventPayload, match="^" + re.escape(where) + ":"):
        mapped(user, address_book)


def test_shipment_phone_falls_back_to_the_ship_to_cell_phone() -> None:
    details = json.loads((FIXTURES / "order_1001_details.json").read_text())
    items = json.loads((FIXTURES / "order_1001_items.json").read_text())
    for row in items:
        row.update(ShipToPhone="", ShipToCellPhone="+1 555 0177", ShipToTitle="Receiving")
    ship_to = order_from_api(details, items, "acme").items[0].ship_to
    assert (ship_to.cell_phone, ship_to.title) == ("+1 555 0177", "Receiving")
    fields = location_contact_fields(ship_to, "C100")
    assert (fields["businessPhoneNumber"], fields["title"]) == ("+1 555 0177", "Receiving")
    assert (
        location_contact_fields(Address(phone="+1 555 0100", cell_phone="x"), "C")[
            "businessPhoneNumber"
        ]
        == "+1 555 0100"
    )


def test_the_buyer_s_department_and_user_groups() -> None:
    # Tharstern customer codes route by them (seed 002: "assigning Tharstern customer codes at
    # storefront and department level"); the item rows carry OrderedByDepartment, the user
    # object its Groups[{GroupName}]
    user = mapped(
        {
            "Groups": [
                {"GroupName": "Acme Buyers"},
                {"GroupName": " "},
                {"GroupName": "Acme Buyers"},
                {"GroupName": "Everyone"},
            ]
        }
    )
    assert user.department == "Marketing"
    assert user.groups == ("Acme Buyers", "Everyone")
    assert mapped().groups == ()


@pytest.mark.parametrize(
    ("groups", "where"),
    [
        ("Everyone", "user.Groups"),
        ([{"GroupName": 5.5}], "user.Groups[0].GroupName"),
        (["x"], "user.Groups[0]"),
    ],
)
def test_malformed_groups_are_named(groups: Any, where: str) -> None:
    with pytest.raises(BadEventPayload, match="^" + re.escape(where) + ":"):
        mapped({"Groups": groups})
