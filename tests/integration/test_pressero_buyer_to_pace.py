"""Seed 004's Customer and Contact rows over real sockets: the real daemon reads an order from
the Pressero sandbox, with its buyer's site user and address book, and pushes it into the Pace
sandbox with Create Customer = Y. The created Pace Customer is named after the address book's
Business and carries its address; the Contact has the user's title and telephone."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from daemon.providers.pace.sandbox import PaceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import daemon_tables_toml
from tests.pace_helpers import pace_account_toml
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PACE_PASSWORD = "pace-Buyer-Pw-61"
PRESSERO_PASSWORD = "pressero-Buyer-Pw-62"
BUYER = {
    "OrderedByFirstName": "Dana",
    "OrderedByLastName": "Okafor",
    "OrderedByEmail": "dana.okafor@brightline.example",
}
SITE_USER = {
    "MiddleName": "Ife",
    "Title": "Marketing Director",
    "Telephone": "",
    "CellPhone": "+1 312 555 0177",
}
ADDRESS_BOOK = {
    "PreferredAddress": "addr-2",
    "Addresses": [
        {"AddressId": "addr-1", "Business": "", "Address1": "9 Home Lane", "City": "Evanston"},
        {
            "AddressId": "addr-2",
            "Business": "Brightline Studio LLC",
            "Address1": "220 W Kinzie St",
            "Address2": "Floor 5",
            "Address3": "Suite 510",
            "City": "Chicago",
            "StateProvince": "IL",
            "Postal": "60654",
            "Country": "US",
        },
    ],
}


def write_config(tmp_path: Path, pace: PaceSandbox, pressero: PresseroSandbox) -> Path:
    account = pace_account_toml(
        pace.url,
        PACE_PASSWORD,
        concurrency=2,
        rate_per_second=1000.0,
        create_customer=True,
        site_extra=pressero_site_keys(SITE),
    )
    text = (
        daemon_tables_toml(tmp_path, drain_seconds=2)
        + pressero_storefront_toml(pressero, PRESSERO_PASSWORD, poll_seconds=300)
        + account
    )
    path = tmp_path / "esd.toml"
    path.write_text(text)
    return path


def pushed(db: Path, order: int) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT state FROM items WHERE order_number = ?", (str(order),)
        ).fetchall()
    return bool(rows) and all(r[0] == "pushed" for r in rows)


def test_created_customer_and_contact_carry_the_address_book(tmp_path: Path) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    pressero.start()
    pace = PaceSandbox("esd", PACE_PASSWORD)
    pace.start()
    daemon = DaemonProcess(write_config(tmp_path, pace, pressero), tmp_path)
    sock = tmp_path / "esd.sock"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        order = pressero.place_order(
            items=({"ShipToPhone": "", "ShipToCellPhone": "+1 312 555 0188"},),
            user=BUYER,
            site_user=SITE_USER,
            address_book=ADDRESS_BOOK,
        )
        wait_until(lambda: pushed(tmp_path / "esd.sqlite3", order), 60, "order pushed")

        customers = [
            c for c in pace.objects("Customer") if c.get("email") == BUYER["OrderedByEmail"]
        ]
        assert len(customers) == 1, pace.objects("Customer")
        customer: dict[str, Any] = customers[0]
        assert customer["custName"] == "Brightline Studio LLC"
        assert (customer["address1"], customer["address2"], customer["address3"]) == (
            "220 W Kinzie St",
            "Floor 5",
            "Suite 510",
        )
        assert (customer["city"], customer["state"], customer["zip"]) == ("Chicago", "IL", "60654")
        assert customer["phoneNumber"] == "+1 312 555 0177", "no telephone: the cell phone"
        assert customer["contactTitle"] == "Marketing Director"

        contacts = [c for c in pace.objects("Contact") if c.get("customer") == customer["id"]]
        orderer = next(c for c in contacts if c.get("address1") == "220 W Kinzie St")
        assert (orderer["firstName"], orderer["lastName"]) == ("Dana", "Okafor")
        assert orderer["title"] == "Marketing Director"
        assert orderer["businessPhoneNumber"] == "+1 312 555 0177"
        assert (orderer["city"], orderer["zip"]) == ("Chicago", "60654")
        # The shipment's phone: the ship-to telephone is empty, so its cell phone.
        shipments = pace.objects("JobShipment")
        assert [s.get("phone") for s in shipments] == ["+1 312 555 0188"]
        calls = pressero.state()["calls"]
        assert calls.get("GET /api/site/{site}/users/{user_id}", 0) >= 1, calls
        assert calls.get("GET /api/site/{site}/Addressbook/{user_id}", 0) >= 1, calls
    finally:
        daemon.close()
        pace.stop()
        pressero.stop()
