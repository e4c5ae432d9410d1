"""Delivery address, contact and artwork bodies (issue 14: "delivery addresses created
(`address/create`) and contacts as needed"; seed 000: "Artwork. Is artwork from an order sent to
Tharstern as well as the order data?")."""

from __future__ import annotations

import dataclasses

import pytest

from daemon.orders.model import Address, SiteUser
from daemon.providers.tharstern.delivery import (
    address_body,
    address_code,
    artwork_body,
    contact_body,
    has_contact,
    person_name,
)
from tests.providers.tharstern.samples import SHIP_TO

REFERENCE = "esd:tharstern:shop:1001"


def test_the_address_code_is_the_same_on_a_retry_and_per_place() -> None:
    code = address_code(REFERENCE, SHIP_TO)
    assert code == address_code(REFERENCE, SHIP_TO)
    assert code.startswith("E") and len(code) == 12
    # the same place written differently is the same address
    shouted = dataclasses.replace(SHIP_TO, city=" LEEDS ", address1="1 high st")
    assert address_code(REFERENCE, shouted) == code
    # another place, or another order, is another address
    assert address_code(REFERENCE, dataclasses.replace(SHIP_TO, zip="LS2 2BB")) != code
    assert address_code(REFERENCE + "2", SHIP_TO) != code


def test_the_address_body() -> None:
    address = dataclasses.replace(
        SHIP_TO, address2=" ", address3="Unit 4", email="sam@acme.example", cell_phone="0777"
    )
    assert address_body("WEB001", "E123", address) == {
        "CustomerCode": "WEB001",
        "Code": "E123",
        "Name": "Sam Rivera",
        "Address": {
            "AddressLines": ["1 High St", "Unit 4"],
            "City": "Leeds",
            "Region": "",
            "Country": "",
            "Postcode": "LS1 1AA",
            "Telephone": "0777",
            "Fax": "",
        },
        "Contact": "Sam Rivera",
        "ContactEmail": "sam@acme.example",
    }
    assert address_body("W", "E", dataclasses.replace(address, business="Acme"))["Name"] == "Acme"


@pytest.mark.parametrize(
    ("address", "name"),
    [
        (Address(first_name="Sam", middle_name="J.", last_name="Rivera"), "Sam J. Rivera"),
        (Address(business="Acme"), "Acme"),
        (Address(email="a@b.example"), "a@b.example"),
    ],
)
def test_person_name(address: Address, name: str) -> None:
    assert person_name(address) == name


def test_contacts() -> None:
    contacts = [{"Email": "Other@x.example"}, {"Email": " SAM@acme.example "}, {"Name": "n"}]
    assert has_contact(contacts, "sam@acme.example") is True
    assert has_contact(contacts, "new@acme.example") is False
    assert has_contact([], "") is True
    user = SiteUser(email="sam@acme.example", first_name="Sam", last_name="Rivera", phone="0113")
    assert contact_body("WEB001", user) == {
        "Items": [
            {
                "Name": "Sam Rivera",
                "CustomerCode": "WEB001",
                "Email": "sam@acme.example",
                "Telephone": "0113",
                "Mobile": "",
            }
        ]
    }


def test_artwork_is_attached_to_the_job_once_per_file() -> None:
    urls = [
        "https://files.example/o/1001/Flyer%20front.pdf?sig=x",
        "https://files.example/o/1001/Flyer%20front.pdf?sig=x",
        " ",
        "https://files.example/",
    ]
    body = artwork_body("J100", urls, "order 1001 item 1")
    assert body == {
        "Items": [
            {
                "Filename": "Flyer front.pdf",
                "ModuleType": {"Value": 2},
                "RecordNo": "J100",
                "Type": {"Value": 10},
                "Details": "order 1001 item 1",
                "Content_URL": "https://files.example/o/1001/Flyer%20front.pdf?sig=x",
            },
            {
                "Filename": "artwork-2",
                "ModuleType": {"Value": 2},
                "RecordNo": "J100",
                "Type": {"Value": 10},
                "Details": "order 1001 item 1",
                "Content_URL": "https://files.example/",
            },
        ]
    }
