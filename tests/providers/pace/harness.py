"""The EFI Pace provider's harness for the conformance suite (tests/providers/contract/)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from daemon.orders.model import Address, Order, OrderItem, Payment, SiteUser
from daemon.providers.contract import Driver, PushResult, push_reference
from daemon.providers.pace.driver import PaceDriver
from daemon.providers.pace.sandbox import PaceSandbox
from tests.pace_helpers import pace_account_toml
from tests.providers.contract.harness import Harness, Sandbox

_ALICE = Address(
    first_name="Alice",
    last_name="Archer",
    business="Acme Corp",
    email="alice@acme.example",
    phone="555-0100",
    address1="1 Main St",
    city="Springfield",
    state="IL",
    zip="62701",
)
_BOB = Address(
    first_name="Bob",
    email="bob@acme.example",
    address1="9 Elm St",
    city="Shelbyville",
    state="IL",
    zip="62565",
)
#: a new customer (created), two addresses (two contacts, two shipments with their cartons)
ORDER = Order(
    site="shop",
    order_number="5001",
    site_name="Print Shop",
    payment=Payment.PAID,
    user=SiteUser(
        email=_ALICE.email,
        first_name="Alice",
        last_name="Archer",
        phone=_ALICE.phone,
        address=_ALICE,
    ),
    items=(
        OrderItem(seq=1, product_name="Flyers", quantity=250, price=Decimal("49"), ship_to=_ALICE),
        OrderItem(seq=2, product_name="Poster", quantity=3, price=Decimal("30"), ship_to=_BOB),
    ),
)


def _driver(url: str, password: str) -> Driver:
    return PaceDriver(
        "pace",
        {"create_customer": "Y", "timezone": "UTC"},
        {"url": url, "login": "esd", "password": password},
        today=lambda: dt.date(2026, 3, 2),
    )


def _account_toml(url: str, password: str) -> str:
    return pace_account_toml(
        url, password, concurrency=2, rate_per_second=1000.0, create_customer=True
    )


def _created(state: Mapping[str, Any]) -> dict[str, int]:
    return {kind: len(objects) for kind, objects in state["objects"].items() if objects}


def _advance(sandbox: Sandbox, result: PushResult) -> dict[int, tuple[str, tuple[str, ...]]]:
    assert isinstance(sandbox, PaceSandbox)
    job = result.order_external_id
    sandbox.set_job_status(job, "C")
    expected: dict[int, tuple[str, tuple[str, ...]]] = {}
    for ref in result.items:
        part = ref.external_id.rpartition(":")[2]
        number = f"TRK{ref.item_seq}"
        sandbox.add_shipment_tracking(job, number, job_part=part)
        expected[ref.item_seq] = ("C", (number,))
    return expected


def _after_crash(state: Mapping[str, Any], db: sqlite3.Connection) -> None:
    """After the crash proof, Pace's objects one by one (the suite compares only counts): the
    job carries the push reference in importID, each contact, part and shipment is the order's,
    and each item's external id is its own part of that job."""
    objects = state["objects"]
    assert len(objects["Job"]) == 1, objects["Job"]
    job = objects["Job"][0]
    assert job["importID"] == push_reference("pace", ORDER.site, ORDER.order_number)
    assert len(objects["Customer"]) == 1
    assert sorted(c["email"] for c in objects["Contact"]) == [_ALICE.email, _BOB.email]
    assert sorted(p["description"] for p in objects["JobPart"]) == [
        "5001-1 Flyers",
        "5001-2 Poster",
    ]
    assert sorted(s["address1"] for s in objects["JobShipment"]) == ["1 Main St", "9 Elm St"]
    assert len(objects["Carton"]) == 2 and len(objects["JobContact"]) == 1
    external = db.execute("SELECT seq, external_id FROM items ORDER BY seq").fetchall()
    assert external == [(1, f"{job['job']}:01"), (2, f"{job['job']}:02")]


_CREATES = (
    "createCustomer",
    "createContact",
    "createJob",
    "createJobContact",
    "createJobPart",
    "createJobShipment",
    "createCarton",
)

HARNESS = Harness(
    provider="pace",
    sandbox=lambda login, password: PaceSandbox(login, password),
    driver=_driver,
    order=ORDER,
    account_toml=_account_toml,
    account="pace",
    created=_created,
    lost_create_answers=tuple(
        {"operation": operation, "kind": "drop_after_commit"} for operation in _CREATES
    ),
    transient_fault={"operation": None, "kind": "503"},
    advance_status=_advance,
    extra_checks_after_crash=_after_crash,
)
