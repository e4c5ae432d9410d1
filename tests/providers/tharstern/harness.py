"""The Tharstern provider's harness for the conformance suite (tests/providers/contract/).

The order takes both paths: two stock items to one address (one sales order, two lines) and an
estimate item to another (an estimate, its job and one artwork file), so a push makes the
buyer's contact, two addresses, a sales order, an estimate, a job and an attachment.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from daemon.orders.model import Address, ItemFile, Order, OrderItem, Payment, SiteUser
from daemon.providers.contract import Driver, PushResult
from daemon.providers.tharstern.driver import TharsternDriver
from daemon.providers.tharstern.sandbox import TharsternSandbox
from tests.providers.contract.harness import Harness, Sandbox

API = "/TharsternAPI/api/"
ARTWORK = "https://files.example/5001-3-print.pdf"

_ALICE = Address(
    first_name="Alice",
    last_name="Archer",
    business="Acme Corp",
    email="alice@acme.example",
    phone="0113 496 0000",
    address1="1 Main Street",
    city="Leeds",
    zip="LS1 1AA",
    country="GB",
)
_BOB = Address(
    first_name="Bob",
    last_name="Baker",
    email="bob@acme.example",
    address1="9 Elm Road",
    city="York",
    zip="YO1 7HH",
    country="GB",
)

ORDER = Order(
    site="shop",
    order_number="5001",
    site_name="Print Shop",
    payment=Payment.PAID,
    user=SiteUser(email=_ALICE.email, first_name="Alice", last_name="Archer", address=_ALICE),
    items=(
        OrderItem(
            seq=1,
            product_name="Business cards",
            sku="BC-STOCK",
            quantity=2,
            price=Decimal("20"),
            ship_to=_ALICE,
        ),
        OrderItem(
            seq=2,
            product_name="Letterheads",
            sku="LH-STOCK",
            quantity=1,
            price=Decimal("35"),
            ship_to=_ALICE,
        ),
        OrderItem(
            seq=3,
            product_name="Flyers",
            quantity=500,
            price=Decimal("60"),
            ship_to=_BOB,
            files=(ItemFile(url=ARTWORK, name="5001-3-print.pdf"),),
        ),
    ),
)

#: the account settings: products under ESP001; the flyers are estimate-driven (type 12)
SETTINGS: Mapping[str, Any] = {
    "products_customer_code": "ESP001",
    "products": [{"product": "Flyers", "product_type": 12}],
}


def make_driver(url: str, password: str, **credentials: str) -> TharsternDriver:
    """A driver of the account "tharstern" on the sandbox at `url` (login "esd")."""
    return TharsternDriver(
        "tharstern",
        dict(SETTINGS),
        {"url": url, "login": "esd", "password": password, **credentials},
    )


def _driver(url: str, password: str) -> Driver:
    return make_driver(url, password)


def _account_toml(url: str, password: str) -> str:
    return textwrap.dedent(
        f"""
        [accounts.tharstern]
        provider = "tharstern"
        concurrency = 2
        rate_per_second = 1000.0
        status_poll_seconds = 300
        [accounts.tharstern.credentials]
        url = "{url}"
        login = "esd"
        password = "{password}"
        [accounts.tharstern.settings]
        products_customer_code = "ESP001"
        [[accounts.tharstern.settings.products]]
        product = "Flyers"
        product_type = 12
        [sites.shop]
        name = "Print Shop"
        [[sites.shop.activations]]
        account = "tharstern"
        enable = true
        is_live = true
        """
    )


def created(state: Mapping[str, Any]) -> dict[str, int]:
    """What the sandbox holds, per kind of object."""
    made = {
        "contact": len(state["contacts"]),
        "address": len(state["addresses"]),
        "sales_order": len(state["orders"]),
        "estimate": len(state["estimates"]),
        "job": len(state["jobs"]),
        "attachment": len(state["attachments"]),
    }
    return {kind: count for kind, count in made.items() if count}


def _advance(sandbox: Sandbox, result: PushResult) -> dict[int, tuple[str, tuple[str, ...]]]:
    assert isinstance(sandbox, TharsternSandbox)
    orders = {o["OrderNo"]: o["ID"] for o in sandbox.state()["orders"]}
    expected: dict[int, tuple[str, tuple[str, ...]]] = {}
    done: dict[str, tuple[str, ...]] = {}
    for ref in result.items:
        if ref.external_id not in done:
            tracking = f"CN{ref.item_seq:04d}"
            if ref.external_id in orders:
                sandbox.add_order_delivery(orders[ref.external_id], tracking)
            else:
                sandbox.add_delivery(ref.external_id, tracking)
            done[ref.external_id] = (tracking,)
        expected[ref.item_seq] = ("Despatched", done[ref.external_id])
    return expected


HARNESS = Harness(
    provider="tharstern",
    sandbox=lambda login, password: TharsternSandbox(login, password),
    driver=_driver,
    order=ORDER,
    account_toml=_account_toml,
    account="tharstern",
    created=created,
    lost_create_answers=tuple(
        {"path_prefix": API + path, "method": "POST", "kind": "drop_after_commit"}
        for path in (
            "contacts",
            "address/create",
            "orders/submit",
            "estrequest",
            "job/createfromestimate",
            "attachments",
        )
    ),
    transient_fault={"path_prefix": API, "kind": "503"},
    advance_status=_advance,
)
