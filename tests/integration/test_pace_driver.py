"""The EFI Pace driver against a real PaceSandbox over loopback SOAP.

Proves the seed-004 push (customer, contacts, job, part 01 updated and the others created,
materials, one shipment per address with its cartons), the customer branches, both Pace versions,
and the driver's promise: a push interrupted at any step, resumed with the same journal or with
none at all (lost answers), never makes a second object of any kind. Then status and tracking.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from daemon.errors import (
    BusinessRuleError,
    ConfigError,
    DriverError,
    PermanentError,
    TransientError,
)
from daemon.orders.model import Address, Approval, KitChild, Order, OrderItem, Payment, SiteUser
from daemon.providers import registry
from daemon.providers.contract import ItemRef, PushResult, push_reference
from daemon.providers.pace.driver import REFERENCE_FIELD, PaceDriver
from daemon.providers.pace.sandbox import JOB_TEMPLATE_DEFAULTS, PaceSandbox
from tests.pace_helpers import contact_fields, pace_sandbox_fixtures

pytestmark = pytest.mark.anyio

LOGIN = "esd"
PASSWORD = "pace-driver-pw-4b1d-never-shown"
TODAY = dt.date(2024, 5, 8)
EMAIL = "alice@acme.example"
ADDRESS_A = Address(
    first_name="Alice",
    last_name="Archer",
    business="Acme Corp",
    email=EMAIL,
    phone="555-0100",
    address1="1 Main St",
    city="Springfield",
    state="IL",
    zip="62701",
)
ADDRESS_B = Address(
    first_name="Bob",
    last_name="Baker",
    email="bob@acme.example",
    phone="555-0200",
    address1="9 Elm St",
    city="Shelbyville",
    state="IL",
    zip="62565",
)
USER = SiteUser(
    user_id="u1",
    email=EMAIL,
    first_name="Alice",
    last_name="Archer",
    phone="555-0100",
    address=ADDRESS_A,
)
ORDER = Order(
    site="shop",
    order_number="42017",
    site_name="Print Shop",
    order_date=dt.datetime(2024, 5, 3, 10, 0, tzinfo=dt.UTC),  # a Friday
    payment=Payment.PAID,
    user=USER,
    items=(
        OrderItem(
            seq=1,
            product_name="Flyers A5",
            product_integration_id="TPL-FLY",
            quantity=250,
            price=Decimal("49.00"),
            ship_to=ADDRESS_A,
            attributes={"materialID": "PAPER-80"},
            pricing_details="A5, 4/4, 135g",
            shipping_method="UPS Ground",
        ),
        OrderItem(
            seq=2,
            product_name="Welcome kit",
            quantity=1,
            price=Decimal("31.00"),
            ship_to=ADDRESS_B,
            kit_children=(
                KitChild("Mug", 2, Decimal("10.00")),
                KitChild("Pen", 0, Decimal("1.00")),  # quantity 0: never a part
                KitChild("Notebook", 5, Decimal("20.00")),
            ),
        ),
        OrderItem(
            seq=3,
            product_name="Poster A2",
            quantity=3,
            price=Decimal("30.00"),
            ship_to=ADDRESS_A,
            shipping_method="UPS Ground",
            ships_separately=True,
        ),
        OrderItem(
            seq=4,
            product_name="Banner",
            quantity=1,
            price=Decimal("99.00"),
            approval=Approval.DENIED,
            ship_to=ADDRESS_B,
        ),
    ),
    shipping=Decimal("12.00"),
    tax=Decimal("6.00"),
)
# The spine hands the driver only the ready items: the denied banner never reaches it.
READY = tuple(item for item in ORDER.items if item.approval is Approval.APPROVED)
REFERENCE = push_reference("acme", ORDER.site, ORDER.order_number)
BASE_SETTINGS: dict[str, Any] = {
    "timezone": "UTC",
    "site_mapping": [
        {"siteName": "DefaultSiteConfiguration", "adminStatus": "O", "addMaterialInformation": True}
    ],
}
# Every kind of object, created by the push itself (nothing seeded)
EVERYTHING: dict[str, Any] = {"create_customer": "Y", "enable_carton_contents": "Y"}


class MemoryJournal:
    """A `PushJournal` in memory; results go through JSON as the store's do."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, Any]] = {}
        self.recorded: list[str] = []

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.steps.get(step)

    async def record(self, step: str, result: Mapping[str, Any]) -> None:
        self.steps[step] = json.loads(json.dumps(dict(result)))
        self.recorded.append(step)


running_sandbox, running_legacy, sandbox, legacy = pace_sandbox_fixtures(LOGIN, PASSWORD)


@contextlib.asynccontextmanager
async def pace_driver(
    box: PaceSandbox,
    *,
    site_settings: Mapping[str, Mapping[str, Any]] | None = None,
    password: str = PASSWORD,
    **settings: Any,
) -> AsyncIterator[PaceDriver]:
    driver = PaceDriver(
        "acme",
        {**BASE_SETTINGS, **settings},
        {"url": box.url, "login": LOGIN, "password": password},
        today=lambda: TODAY,
    )
    driver.site_settings = site_settings or {}
    try:
        yield driver
    finally:
        await driver.aclose()


async def push(
    box: PaceSandbox,
    journal: MemoryJournal | None = None,
    order: Order = ORDER,
    items: tuple[OrderItem, ...] = READY,
    **settings: Any,
) -> PushResult:
    async with pace_driver(box, **settings) as driver:
        return await driver.push_order(order, items, journal or MemoryJournal(), REFERENCE)


def seed_acme(box: PaceSandbox, *, contact: bool = True) -> None:
    """The shop's customer Acme, with Alice as a contact at address A."""
    box.seed_customer("ACME", "Acme Corp", email=EMAIL)
    if contact:
        box.seed_contact("ACME", **contact_fields(ADDRESS_A))


def counts(box: PaceSandbox) -> dict[str, int]:
    return {kind: len(rows) for kind, rows in box.state()["objects"].items()}


def mutating_calls(box: PaceSandbox) -> list[str]:
    """The create and update operations the sandbox saw, e.g. "createJob"."""
    return sorted(
        name.partition(".")[2]
        for name in box.state()["calls"]
        if name.startswith(("CreateObject.", "UpdateObject."))
    )


# -- the full push ------------------------------------------------------------------------------


async def test_full_order_becomes_one_job_with_parts_and_a_shipment_per_address(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    journal = MemoryJournal()
    result = await push(sandbox, journal)

    (job,) = sandbox.objects("Job")
    assert result.order_external_id == job["job"] == "1001"
    assert job[REFERENCE_FIELD] == REFERENCE
    assert job["customer"] == "ACME"
    assert job["description"] == "42017-Print Shop"
    assert job["poNum"] == "42017"
    assert job["adminStatus"] == "O"
    assert job["itemTemplate"] == "TPL-FLY"
    # The pushed items' prices; the denied banner's is not in it.
    assert job["amountToInvoice"] == Decimal("110.00") == job["originalQuotedPrice"]
    # Friday + 3 calendar days is Monday; the shop's noon, in UTC here.
    assert job["promiseDateTime"] == dt.datetime(2024, 5, 6, 12, 0, tzinfo=dt.UTC)
    assert job["scheduledShipDateTime"] == job["promiseDateTime"]
    assert job["dateTimeSetup"] == dt.datetime(2024, 5, 8, 12, 0, tzinfo=dt.UTC)
    (job_contact,) = sandbox.objects("JobContact")
    assert job["jobContact"] == job_contact["id"]
    assert job_contact["contact"] == 5001  # Alice, found by her e-mail

    parts = {p["jobPart"]: p for p in sandbox.objects("JobPart")}
    assert {k: p["description"] for k, p in parts.items()} == {
        "01": "42017-1 Flyers A5",  # Pace's part 01, updated
        "02": "42017-2.1 Mug",
        "03": "42017-2.3 Notebook",  # the Pen (quantity 0) is no part
        "04": "42017-3 Poster A2",
    }
    assert [parts[k]["qtyOrdered"] for k in ("01", "02", "03", "04")] == [250, 2, 5, 3]
    assert parts["01"]["additionalDescription"] == "A5, 4/4, 135g"
    assert parts["01"]["jobContact"] == job_contact["id"]
    (material,) = sandbox.objects("JobMaterial")
    assert (material["jobPart"], material["inventoryItem"]) == ("01", "PAPER-80")
    assert material["plannedQuantity"] == 250

    contacts = sandbox.objects("Contact")
    assert [(c["id"], c["email"]) for c in contacts] == [
        (5001, EMAIL),
        (5002, "bob@acme.example"),  # created for address B
    ]
    assert contacts[1]["shipTo"] is True
    shipments = sandbox.objects("JobShipment")
    assert [(s["jobPart"], s["contactNumber"], s["plannedQuantity"]) for s in shipments] == [
        ("01", 5001, 253),
        ("02", 5002, 1),
    ]
    assert shipments[1]["address1"] == "9 Elm St"
    cartons = sandbox.objects("Carton")
    assert [(c["shipment"], c["quantity"], c["addDefaultContent"]) for c in cartons] == [
        (shipments[0]["id"], 253, True),
        (shipments[1]["id"], 1, True),
    ]
    assert sandbox.objects("CartonContent") == []

    assert result.items == (
        ItemRef(1, "1001:01"),
        ItemRef(2, "1001:02"),
        ItemRef(3, "1001:04"),
    )
    assert result.warnings == ()
    assert journal.recorded[0] == "start" and journal.recorded[-1] == "done"
    assert journal.steps["job"] == {"job": "1001"}
    assert journal.steps["part:42017-2.3"] == {"part": "03"}


async def test_carton_contents_put_each_part_in_its_carton(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    await push(sandbox, enable_carton_contents="Y")
    shipments = sandbox.objects("JobShipment")
    assert [s["jobPart"] for s in shipments] == ["01", "02"]
    cartons = sandbox.objects("Carton")
    # Address A: flyers in one carton, the poster (ships separately) in its own; B: the kit.
    assert [(c["shipment"], c["quantity"], c["addDefaultContent"]) for c in cartons] == [
        (shipments[0]["id"], 250, False),
        (shipments[0]["id"], 3, False),
        (shipments[1]["id"], 7, False),
    ]
    contents = sandbox.objects("CartonContent")
    assert [(c["carton"], c["jobPart"], c["quantity"]) for c in contents] == [
        (cartons[0]["id"], "01", 250),
        (cartons[1]["id"], "04", 3),
        (cartons[2]["id"], "02", 2),
        (cartons[2]["id"], "03", 5),
    ]
    assert all(c["jobPartJob"] == "1001" for c in contents)


async def test_ship_via_by_name_is_noted_and_warned_about(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    rules = [{"rule_type": "ShipmentMethodMapping", "source_method": "MatchByName"}]
    result = await push(sandbox, accounts=rules)
    first = sandbox.objects("JobShipment")[0]
    assert (first["shipViaNote"], first["shipVia"]) == ("UPS Ground", None)
    (warning,) = result.warnings
    assert "'UPS Ground'" in warning and "MatchByName" in warning


# -- Ship Via by name (Accounts rule MatchByName) -------------------------------------------------

BY_NAME = [{"rule_type": "ShipmentMethodMapping", "source_method": "MatchByName"}]


def shipped_by(method: str, *seqs: int) -> Order:
    """ORDER with the shipping method of items `seqs` (of both addresses if asked) set."""
    items = tuple(
        dataclasses.replace(item, shipping_method=method) if item.seq in seqs else item
        for item in ORDER.items
    )
    return dataclasses.replace(ORDER, items=items)


def ready(order: Order) -> tuple[OrderItem, ...]:
    return tuple(item for item in order.items if item.approval is Approval.APPROVED)


def ship_via_calls(box: PaceSandbox) -> dict[str, int]:
    """Reads of ShipVia objects and the scans of the active ones (the only sorted finds)."""
    calls = box.state()["calls"]
    return {
        "read": calls.get("ReadObject.readShipVia", 0),
        "scan": calls.get("FindObjects.findSortAndLimit", 0),
    }


async def test_match_by_name_finds_the_ship_via_and_prefers_an_active_one(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(2, "UPS Ground", active=False, provider=1)  # retired: lower id
    sandbox.seed_ship_via(3, "UPS Ground", provider=1)
    sandbox.seed_ship_via(4, "FedEx Ground", provider=2)
    journal = MemoryJournal()
    result = await push(sandbox, journal, accounts=BY_NAME)
    first, second = sandbox.objects("JobShipment")
    assert (first["shipVia"], first["shipViaNote"]) == (3, None)
    assert second["shipVia"] is None  # address B's item has no shipping method: no rule
    assert result.warnings == ()
    assert journal.steps["shipment:42017-1"] == {
        "shipment": first["id"],
        "ship_via_name": "UPS Ground",
        "ship_via": 3,
        "ship_via_known": [],
        "ship_via_more": False,
    }
    assert journal.steps["shipment:42017-2.1"] == {"shipment": second["id"]}
    # One exact find found both; an active one among them: no scan of the others.
    assert ship_via_calls(sandbox) == {"read": 2, "scan": 0}


async def test_match_by_name_ignores_case_and_spacing_and_asks_once_per_push(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(5, "ups  ground")  # as the shop typed it
    sandbox.seed_ship_via(6, "UPS Ground Old", active=False)
    order = shipped_by("UPS Ground", 1, 2, 3)  # both addresses ship by UPS Ground
    result = await push(sandbox, order=order, items=ready(order), accounts=BY_NAME)
    assert [s["shipVia"] for s in sandbox.objects("JobShipment")] == [5, 5]
    assert result.warnings == ()
    # The exact find missed (the sandbox's "=" heeds case, as XPath's does), one scan found it;
    # the second shipment used the answer.
    assert ship_via_calls(sandbox) == {"read": 1, "scan": 1}


async def test_an_inactive_ship_via_is_used_when_it_is_the_only_match(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(7, "UPS Ground", active=False)
    sandbox.seed_ship_via(8, "USPS")
    result = await push(sandbox, accounts=BY_NAME)
    assert sandbox.objects("JobShipment")[0]["shipVia"] == 7
    assert result.warnings == ()


async def test_an_unknown_name_keeps_the_note_and_warns_once_with_paces_names(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    for ship_via, description in enumerate(
        ["Will Call", "fedex ground", "USPS", "Courier", "DHL", "Freight", "Local Van"], start=10
    ):
        sandbox.seed_ship_via(ship_via, description)
    sandbox.seed_ship_via(20, "Air Mail", active=False)  # retired: not offered
    order = shipped_by("UPS Ground", 1, 2, 3)
    journal = MemoryJournal()
    async with pace_driver(sandbox, accounts=BY_NAME) as driver:
        result = await driver.push_order(order, ready(order), journal, REFERENCE)
        shipments = sandbox.objects("JobShipment")
        assert [(s["shipVia"], s["shipViaNote"]) for s in shipments] == [
            (None, "UPS Ground"),
            (None, "UPS Ground"),
        ]
        (warning,) = result.warnings  # one per name, not per shipment
        assert "'UPS Ground'" in warning and "MatchByName" in warning
        # The first five active descriptions, alphabetically, and a sign of more.
        assert "'Courier', 'DHL', 'fedex ground', 'Freight', 'Local Van', ..." in warning
        assert "Air Mail" not in warning
        assert ship_via_calls(sandbox)["scan"] == 1
        assert journal.steps["shipment:42017-2.1"]["ship_via"] is None
        # Reconciliation without the journal says the same.
        found = await driver.find_pushed(order, ready(order), MemoryJournal(), REFERENCE)
        assert found is not None and found.warnings == result.warnings


async def test_no_ship_via_at_all_says_so(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    result = await push(sandbox, accounts=BY_NAME)
    (warning,) = result.warnings
    assert "'UPS Ground'" in warning and "has no active Ship Via" in warning


@pytest.mark.parametrize(
    "name",
    [
        "Joe's Courier",  # a "..." literal
        'The "Fast" One',  # a '...' literal
        'Joe\'s "Fast" Courier',  # both quotes: concat()
    ],
)
async def test_a_name_with_quotes_is_found_exactly(sandbox: PaceSandbox, name: str) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(30, "Joe")
    sandbox.seed_ship_via(31, name)
    order = shipped_by(name, 1, 3)
    result = await push(sandbox, order=order, items=ready(order), accounts=BY_NAME)
    assert sandbox.objects("JobShipment")[0]["shipVia"] == 31
    assert result.warnings == ()
    assert ship_via_calls(sandbox) == {"read": 1, "scan": 0}  # the exact find found it


async def test_a_name_that_looks_like_a_query_widens_nothing(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(40, "UPS Ground")
    sandbox.seed_ship_via(41, "USPS")
    name = "x' or @description != '"
    order = shipped_by(name, 1, 3)
    result = await push(sandbox, order=order, items=ready(order), accounts=BY_NAME)
    first = sandbox.objects("JobShipment")[0]
    assert (first["shipVia"], first["shipViaNote"]) == (None, name)
    assert len(result.warnings) == 1
    # Only the scan read Ship Vias: the exact find matched none.
    assert ship_via_calls(sandbox) == {"read": 2, "scan": 1}


async def test_pace_refusing_concat_falls_back_to_comparing_in_esd(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    name = 'Joe\'s "Fast" Courier'
    sandbox.seed_ship_via(50, name)
    order = shipped_by(name, 1, 3)
    journal = MemoryJournal()
    # The first push stops at the shipment's create, after its Ship Via find: nothing of the
    # shipment is journaled, so the resumed push finds the Ship Via again, first of all its finds.
    sandbox.set_faults(fail_next=[{"operation": "createJobShipment", "kind": "fault"}])
    with pytest.raises(TransientError):
        await push(sandbox, journal, order=order, items=ready(order), accounts=BY_NAME)
    refusal = "unknown or unsupported function: concat"
    sandbox.set_faults(fail_next=[{"operation": "find", "kind": "fault", "message": refusal}])
    result = await push(sandbox, journal, order=order, items=ready(order), accounts=BY_NAME)
    assert sandbox.state()["faults"]["fail_next"] == []  # the refusal was met
    assert sandbox.objects("JobShipment")[0]["shipVia"] == 50
    assert result.warnings == ()


async def test_a_resumed_push_uses_the_journaled_ship_via(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(3, "UPS Ground")
    order = shipped_by("UPS Ground", 1, 2, 3)
    journal = MemoryJournal()
    sandbox.set_faults(fail_next=[{"operation": "createCarton", "kind": "fault"}])
    with pytest.raises(TransientError):
        await push(sandbox, journal, order=order, items=ready(order), accounts=BY_NAME)
    assert journal.steps["shipment:42017-1"]["ship_via"] == 3
    before = ship_via_calls(sandbox)
    # Meanwhile the shop adds another "UPS Ground": a new look-up would pick its lower id.
    sandbox.seed_ship_via(1, "UPS Ground")
    result = await push(sandbox, journal, order=order, items=ready(order), accounts=BY_NAME)
    # Address B's shipment, made by the resumed push, has the first run's answer.
    assert [s["shipVia"] for s in sandbox.objects("JobShipment")] == [3, 3]
    assert result.warnings == ()
    assert ship_via_calls(sandbox) == before  # Pace was not asked again
    assert journal.steps["shipment:42017-2.1"]["ship_via"] == 3


async def test_a_malformed_journaled_ship_via_is_refused(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    sandbox.seed_ship_via(3, "UPS Ground")
    journal = MemoryJournal()
    await push(sandbox, journal, accounts=BY_NAME)
    del journal.steps["done"]
    journal.steps["shipment:42017-1"]["ship_via"] = "3"
    with pytest.raises(PermanentError, match=r"step 'shipment:42017-1' has a malformed Ship Via"):
        await push(sandbox, journal, accounts=BY_NAME)


async def test_legacy_pace_gets_the_split_date_fields_its_wsdl_has(legacy: PaceSandbox) -> None:
    seed_acme(legacy)
    await push(legacy)
    (job,) = legacy.objects("Job")
    assert "promiseDateTime" not in job
    assert job["promiseDate"] == dt.datetime(2024, 5, 6, tzinfo=dt.UTC)  # midnight of the day
    assert job["dateSetup"] == dt.datetime(2024, 5, 8, tzinfo=dt.UTC)
    assert {p["dateSetup"] for p in legacy.objects("JobPart")} == {
        dt.datetime(2024, 5, 8, tzinfo=dt.UTC)
    }


async def test_a_requested_ship_date_is_the_promise(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    order = Order.from_json({**ORDER.to_json(), "requested_ship_date": "2024-06-01"})
    await push(sandbox, order=order, items=READY)
    assert sandbox.objects("Job")[0]["promiseDateTime"] == dt.datetime(
        2024, 6, 1, 12, 0, tzinfo=dt.UTC
    )


# -- which customer --------------------------------------------------------------------------------


async def test_customer_by_the_users_integration_id(sandbox: PaceSandbox) -> None:
    sandbox.seed_customer("ACME", "Acme Corp")
    sandbox.seed_customer("OTHER", "Someone Else", email=EMAIL)
    order = Order.from_json(
        {**ORDER.to_json(), "user": {**ORDER.to_json()["user"], "integration_id": "ACME"}}
    )
    result = await push(sandbox, order=order, items=READY)
    assert sandbox.objects("Job")[0]["customer"] == "ACME"
    assert result.warnings == ()
    # Both locations got a contact of ACME; the job's contact is the first location's.
    contacts = sandbox.objects("Contact")
    assert [(c["customer"], c["email"]) for c in contacts] == [
        ("ACME", EMAIL),
        ("ACME", "bob@acme.example"),
    ]
    assert sandbox.objects("JobContact")[0]["contact"] == contacts[0]["id"]


async def test_site_integration_id_and_site_overrides(sandbox: PaceSandbox) -> None:
    sandbox.seed_customer("SITE1", "Site Customer")
    site = {"shop": {"integration_id": "SITE1", "job_description": "Web {OrderNumber}"}}
    async with pace_driver(sandbox, site_settings=site) as driver:
        await driver.push_order(ORDER, READY, MemoryJournal(), REFERENCE)
    (job,) = sandbox.objects("Job")
    assert (job["customer"], job["description"]) == ("SITE1", "Web 42017")


async def test_invalid_integration_id_is_ignored_with_a_warning(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    sandbox.seed_customer("GONE", "Closed Customer", customerStatus="I")
    order = Order.from_json(
        {**ORDER.to_json(), "user": {**ORDER.to_json()["user"], "integration_id": "NOPE"}}
    )
    result = await push(sandbox, order=order, items=READY, default_mis_id="GONE")
    assert sandbox.objects("Job")[0]["customer"] == "ACME"  # found by the contact's e-mail
    assert len(result.warnings) == 2
    assert "'NOPE'" in result.warnings[0] and "ignored" in result.warnings[0]
    assert "'GONE'" in result.warnings[1] and "Default MisID" in result.warnings[1]


async def test_customer_by_email_and_business_name(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox, contact=False)
    sandbox.seed_customer("ACME2", "Another Name", email=EMAIL)
    await push(sandbox)
    assert sandbox.objects("Job")[0]["customer"] == "ACME"
    assert {c["customer"] for c in sandbox.objects("Contact")} == {"ACME"}


async def test_customer_and_contact_created_when_allowed(sandbox: PaceSandbox) -> None:
    await push(sandbox, create_customer="Y", sales_person=7)
    (customer,) = sandbox.objects("Customer")
    assert (customer["custName"], customer["email"], customer["salesPerson"]) == (
        "Acme Corp",
        EMAIL,
        7,
    )
    contacts = sandbox.objects("Contact")
    # Alice's contact (address A is her own address) and Bob's for address B.
    assert [(c["customer"], c["email"]) for c in contacts] == [
        (customer["id"], EMAIL),
        (customer["id"], "bob@acme.example"),
    ]
    (job,) = sandbox.objects("Job")
    assert job["customer"] == customer["id"]
    assert sandbox.objects("JobContact")[0]["contact"] == contacts[0]["id"]


async def test_no_customer_and_create_customer_n_is_a_business_error(
    sandbox: PaceSandbox,
) -> None:
    with pytest.raises(BusinessRuleError, match=r"could not be identified.*Create Customer is N"):
        await push(sandbox)
    assert counts(sandbox)["Job"] == 0 and counts(sandbox)["Customer"] == 0


async def test_contacts_of_different_customers_are_a_business_error(sandbox: PaceSandbox) -> None:
    for customer in ("ACME", "ACME-EU"):
        sandbox.seed_customer(customer, customer)
        sandbox.seed_contact(customer, email=EMAIL)
    with pytest.raises(BusinessRuleError, match=r"different EFI Pace customers.*ACME, ACME-EU"):
        await push(sandbox, create_customer="Y")
    assert counts(sandbox)["Job"] == 0 and counts(sandbox)["Contact"] == 2


async def test_a_missing_location_contact_fails_when_contacts_may_not_be_created(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    with pytest.raises(BusinessRuleError, match="no contact of EFI Pace customer 'ACME'"):
        await push(sandbox, create_contacts_always=False)
    assert counts(sandbox)["Job"] == 0


# -- exactly once ---------------------------------------------------------------------------------


@pytest.fixture
async def reference_run(sandbox: PaceSandbox) -> tuple[dict[str, int], list[str], list[str]]:
    """Object counts, mutating operations and journal steps of an uninterrupted push."""
    journal = MemoryJournal()
    await push(sandbox, journal, **EVERYTHING)
    expected = counts(sandbox), sorted(set(mutating_calls(sandbox))), journal.recorded
    sandbox.reset()
    return expected


OPERATIONS = (
    "createCustomer",
    "createContact",
    "createJob",
    "createJobContact",
    "updateJob",
    "updateJobPart",
    "createJobPart",
    "createJobMaterial",
    "createJobShipment",
    "createCarton",
    "createCartonContent",
)


async def test_the_push_touches_every_kind_of_object(
    reference_run: tuple[dict[str, int], list[str], list[str]],
) -> None:
    objects, operations, steps = reference_run
    assert operations == sorted(OPERATIONS)
    assert objects == {
        "Customer": 1,
        "Contact": 2,
        "Job": 1,
        "JobPart": 4,
        "JobShipment": 2,
        "Carton": 3,
        "CartonContent": 4,
        "JobMaterial": 1,
        "JobContact": 1,
        "JobNote": 0,
        "ShipVia": 0,  # the shop's setup data: only read, never made by a push
    }
    assert len(steps) == len(set(steps))
    assert steps[:4] == ["start", "customer.create", "customer", steps[3]]
    assert steps[3].startswith("contact:")


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_failed_step_resumes_from_the_same_journal_without_duplicates(
    sandbox: PaceSandbox,
    reference_run: tuple[dict[str, int], list[str], list[str]],
    operation: str,
) -> None:
    objects, _, steps = reference_run
    sandbox.set_faults(fail_next=[{"operation": operation, "kind": "fault"}])
    journal = MemoryJournal()
    with pytest.raises(TransientError, match="Pace server fault"):
        await push(sandbox, journal, **EVERYTHING)
    assert "done" not in journal.steps
    before = list(journal.recorded)
    assert before == steps[: len(before)]  # the steps that completed, in order
    result = await push(sandbox, journal, **EVERYTHING)
    assert counts(sandbox) == objects
    # Each step was recorded once, across both runs: the second started at the failed one.
    assert journal.recorded == steps
    assert result.order_external_id == "1001"


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_lost_answer_then_an_empty_journal_still_makes_one_of_each(
    sandbox: PaceSandbox,
    reference_run: tuple[dict[str, int], list[str], list[str]],
    operation: str,
) -> None:
    objects, _, _ = reference_run
    sandbox.set_faults(fail_next=[{"operation": operation, "kind": "drop_after_commit"}])
    with pytest.raises(TransientError):
        await push(sandbox, MemoryJournal(), **EVERYTHING)
    # The journal is gone (a re-push from zero): every object is found by its reference.
    result = await push(sandbox, MemoryJournal(), **EVERYTHING)
    assert counts(sandbox) == objects
    (job,) = sandbox.objects("Job")
    assert result.order_external_id == job["job"]
    parts = {p["jobPart"]: p["description"] for p in sandbox.objects("JobPart")}
    assert sorted(parts.values()) == [
        "42017-1 Flyers A5",
        "42017-2.1 Mug",
        "42017-2.3 Notebook",
        "42017-3 Poster A2",
    ]


def job_contact_email(box: PaceSandbox) -> str:
    (job,) = box.objects("Job")
    (job_contact,) = [jc for jc in box.objects("JobContact") if jc["id"] == job["jobContact"]]
    (contact,) = [c for c in box.objects("Contact") if c["id"] == job_contact["contact"]]
    return str(contact["email"])


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_lost_answer_resumed_from_the_same_journal_makes_one_of_each(
    sandbox: PaceSandbox,
    reference_run: tuple[dict[str, int], list[str], list[str]],
    operation: str,
) -> None:
    objects, _, steps = reference_run
    sandbox.set_faults(fail_next=[{"operation": operation, "kind": "drop_after_commit"}])
    journal = MemoryJournal()
    with pytest.raises(TransientError):
        await push(sandbox, journal, **EVERYTHING)
    await push(sandbox, journal, **EVERYTHING)
    assert counts(sandbox) == objects
    assert journal.recorded == steps
    assert job_contact_email(sandbox) == EMAIL  # the orderer's contact, found or created once


async def test_a_lost_customer_create_without_an_email_is_found_by_name(
    sandbox: PaceSandbox,
) -> None:
    user = dataclasses.replace(USER, email="", address=dataclasses.replace(ADDRESS_A, email=""))
    order = dataclasses.replace(ORDER, user=user)
    sandbox.seed_customer("OLD", "Acme Corp")  # same name, there before: not ours
    sandbox.set_faults(fail_next=[{"operation": "createCustomer", "kind": "drop_after_commit"}])
    journal = MemoryJournal()
    with pytest.raises(TransientError):
        await push(sandbox, journal, order=order, create_customer="Y")
    assert journal.steps["customer.create"]["existing"] == ["OLD"]
    await push(sandbox, journal, order=order, create_customer="Y")
    customers = sandbox.objects("Customer")
    assert [c["id"] for c in customers] == ["C00001", "OLD"]
    assert journal.steps["customer"]["customer"] == "C00001"
    assert sandbox.objects("Job")[0]["customer"] == "C00001"


async def test_lost_answers_everywhere_with_the_journal_kept(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    expected_journal = MemoryJournal()
    await push(sandbox, expected_journal, enable_carton_contents="Y")
    expected = counts(sandbox)
    sandbox.reset()
    seed_acme(sandbox)
    sandbox.set_faults(drop_after_commit_rate=0.3, seed=11)
    journal = MemoryJournal()
    for _attempt in range(100):
        try:
            await push(sandbox, journal, enable_carton_contents="Y")
            break
        except TransientError:
            continue
    else:
        pytest.fail("the push never completed")
    assert counts(sandbox) == expected
    assert journal.recorded == expected_journal.recorded


async def test_a_second_push_into_the_job_does_not_take_part_01(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    journal = MemoryJournal()
    first = await push(sandbox, journal, items=READY[:1])
    assert first.items == (ItemRef(1, "1001:01"),)
    # Item 3 was approved later: same job, a part of its own, part 01 left alone.
    later = await push(sandbox, journal, items=READY[2:])
    assert later.items == (ItemRef(3, "1001:02"),)
    parts = {p["jobPart"]: p["description"] for p in sandbox.objects("JobPart")}
    assert parts == {"01": "42017-1 Flyers A5", "02": "42017-3 Poster A2"}
    assert counts(sandbox)["Job"] == 1
    # Both go to 1 Main St. Decided (README, "The MIS side"): the later part gets a shipment of
    # its own, never added to the earlier one (which may be shipped by now), and the push
    # says so, so the shop can merge them in Pace.
    shipments = [(s["jobPart"], s["address1"]) for s in sandbox.objects("JobShipment")]
    assert shipments == [("01", "1 Main St"), ("02", "1 Main St")]
    assert not any("earlier push" in w for w in first.warnings)
    (warning,) = [w for w in later.warnings if "earlier push" in w]
    assert warning == (
        "order 42017 item 3: a shipment of its own to 1 Main St, Springfield; job 1001 already"
        " ships there from an earlier push (merge them in Pace if they travel together)"
    )


async def test_the_date_of_a_resumed_push_is_the_first_runs(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    journal = MemoryJournal()
    sandbox.set_faults(fail_next=[{"operation": "createJob", "kind": "503"}])
    with pytest.raises(TransientError):
        await push(sandbox, journal)
    async with pace_driver(sandbox) as driver:
        driver._today = lambda: TODAY + dt.timedelta(days=2)
        await driver.push_order(ORDER, READY, journal, REFERENCE)
    assert sandbox.objects("Job")[0]["dateTimeSetup"].date() == TODAY


# -- reconciliation ------------------------------------------------------------------------------


async def test_find_pushed_sees_only_a_complete_push(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    async with pace_driver(sandbox) as driver:
        assert await driver.find_pushed(ORDER, READY, MemoryJournal(), REFERENCE) is None
        sandbox.set_faults(fail_next=[{"operation": "createCarton", "kind": "fault"}])
        with pytest.raises(DriverError):
            await driver.push_order(ORDER, READY, MemoryJournal(), REFERENCE)
        # Job and parts are there, a carton is not: not pushed yet (a re-push resumes).
        assert await driver.find_pushed(ORDER, READY, MemoryJournal(), REFERENCE) is None
        journal = MemoryJournal()
        pushed = await driver.push_order(ORDER, READY, journal, REFERENCE)
        calls = sum(sandbox.state()["calls"].values())
        assert await driver.find_pushed(ORDER, READY, journal, REFERENCE) == pushed
        assert sum(sandbox.state()["calls"].values()) == calls  # answered from the journal
        found = await driver.find_pushed(ORDER, READY, MemoryJournal(), REFERENCE)
        assert found == PushResult(pushed.order_external_id, pushed.items)


async def test_without_a_site_rule_the_job_and_parts_open_with_the_letter_o(
    sandbox: PaceSandbox,
) -> None:
    # Seed 004: 'Default is “0” (New)', yet its example writes "adminStatus":"O" and EFI's
    # samples open a job with the letter (pace.md §6, §7). The sandbox knows only documented
    # JobStatus ids, so a default of the digit would be refused here.
    seed_acme(sandbox)
    await push(sandbox, site_mapping=[])
    (job,) = sandbox.objects("Job")
    assert job["adminStatus"] == "O"
    assert {part["productionStatus"] for part in sandbox.objects("JobPart")} == {"O"}


async def test_the_seeds_digit_zero_is_sent_when_configured(sandbox: PaceSandbox) -> None:
    seed_acme(sandbox)
    sandbox.seed_job_status("0")  # the shop's Pace has a status "0"
    await push(sandbox, site_mapping=[{"siteName": "DefaultSiteConfiguration", "adminStatus": "0"}])
    (job,) = sandbox.objects("Job")
    assert job["adminStatus"] == "0"


# -- status -------------------------------------------------------------------------------------


async def test_status_and_tracking_come_from_the_job_and_its_shipments(
    sandbox: PaceSandbox,
) -> None:
    seed_acme(sandbox)
    async with pace_driver(sandbox) as driver:
        pushed = await driver.push_order(ORDER, READY, MemoryJournal(), REFERENCE)
        job = pushed.order_external_id
        reports = await driver.fetch_status(ORDER, pushed.items, job)
        assert [(r.item_seq, r.status, r.tracking) for r in reports] == [
            (1, "O", ()),
            (2, "O", ()),
            (3, "O", ()),
        ]
        sandbox.set_job_status(job, "C")
        sandbox.add_shipment_tracking(job, "1Z999AA10123456784", job_part="01")
        reports = await driver.fetch_status(ORDER, pushed.items, job)
        # Address A's shipment carries items 1 and 3.
        assert [(r.item_seq, r.status, r.tracking) for r in reports] == [
            (1, "C", ("1Z999AA10123456784",)),
            (2, "C", ()),
            (3, "C", ("1Z999AA10123456784",)),
        ]
        assert reports[0].shipped_at is not None and reports[1].shipped_at is None
        sandbox.add_shipment_tracking(job, "1Z888", job_part="02")
        reports = await driver.fetch_status(ORDER, pushed.items, job)
        assert reports[1].tracking == ("1Z888",)
        with pytest.raises(DriverError, match="has no part 1001:09"):
            await driver.fetch_status(ORDER, [ItemRef(1, "1001:09")], job)


async def test_on_an_older_pace_shipped_at_joins_the_shipments_date_and_time(
    legacy: PaceSandbox,
) -> None:
    # pace.md §6 "Version drift": older servers split JobShipment `date` and `time`.
    seed_acme(legacy)
    async with pace_driver(legacy) as driver:
        pushed = await driver.push_order(ORDER, READY, MemoryJournal(), REFERENCE)
        job = pushed.order_external_id
        shipment = legacy.add_shipment_tracking(job, "1Z999", job_part="01")
        reports = await driver.fetch_status(ORDER, pushed.items, job)
    assert shipment["date"].time() == dt.time(0, 0)
    expected = dt.datetime.combine(shipment["date"].date(), shipment["time"].time(), dt.UTC)
    assert reports[0].shipped_at == expected


# -- connection and configuration -------------------------------------------------------------


async def test_connection(sandbox: PaceSandbox, legacy: PaceSandbox) -> None:
    async with pace_driver(sandbox) as driver:
        report = await driver.test_connection()
        assert report.ok and "combined date fields" in report.detail
    async with pace_driver(legacy) as driver:
        assert "split date fields" in (await driver.test_connection()).detail
    async with pace_driver(sandbox, password="wrong-password") as driver:
        report = await driver.test_connection()
        assert not report.ok and "wrong-password" not in report.detail


def test_url_belongs_in_credentials() -> None:
    problems = registry.settings_problems("pace", {"url": "https://pace.example.com"})
    assert problems == [
        (
            "url",
            "put url in credentials ([accounts.NAME.credentials] "
            'url = "https://pace.example.com"), not in settings',
        )
    ]
    unknown = registry.settings_problems("pace", {"bogus": 1})
    assert unknown[0][0] == "bogus" and "known: alert_emails," in unknown[0][1]
    assert registry.site_settings_problems("pace", {"promise_days": "x"}) == [
        ("promise_days", "must be a whole number, got 'x'")
    ]
    assert registry.driver_class("pace") is PaceDriver


def test_bad_credentials_name_the_key_never_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        PaceDriver("acme", {}, {"url": "https://pace.example.com", "login": "hunter2-login"})
    assert [p.key for p in caught.value.problems] == ["credentials.password"]
    with pytest.raises(ConfigError) as caught:
        PaceDriver(
            "acme",
            {"promise_days": -1},
            {"url": "https://esd:hunter2-pw@pace.example.com", "login": "l", "password": "p"},
        )
    assert [p.key for p in caught.value.problems] == ["settings.promise_days", "credentials.url"]
    assert "hunter2" not in str(caught.value)


# -- read-modify-write updates (seed 004 step 4: keep the template's defaults) -------------------


def job_defaults(box: PaceSandbox) -> dict[str, Any]:
    (job,) = box.objects("Job")
    return {field: job[field] for field in JOB_TEMPLATE_DEFAULTS}


async def test_a_push_keeps_the_job_template_defaults(sandbox: PaceSandbox) -> None:
    """Pace's update takes the whole object (`sandbox.UPDATE_SEMANTICS`): a partial updateJob
    would clear the template's sales person, terms, ship via and Csr, which seed 004's Job
    mapping does not set, and the push reference with them."""
    seed_acme(sandbox)
    await push(sandbox, **EVERYTHING)
    assert job_defaults(sandbox) == dict(JOB_TEMPLATE_DEFAULTS)
    (job,) = sandbox.objects("Job")
    assert job["importID"] == REFERENCE
    assert job["customer"] == "ACME" and job["description"], "the mapped fields are set too"
    part = next(p for p in sandbox.objects("JobPart") if p["jobPart"] == "01")
    assert part["job"] == job["job"] and part["qtyOrdered"], "part 01 got the item's fields"
    assert part["dateTimeSetup"] is not None, "part 01's own defaults are kept"


async def test_a_later_push_into_the_job_reads_it_and_keeps_the_defaults(
    sandbox: PaceSandbox,
) -> None:
    """A job found again (no answer at hand in this push) is read once, then updated whole."""
    seed_acme(sandbox)
    journal = MemoryJournal()
    await push(sandbox, journal)
    before = sandbox.state()["calls"].get("ReadObject.readJob", 0)
    await push(sandbox)  # a new journal: the job is found by its reference, not created
    assert sandbox.state()["calls"].get("ReadObject.readJob", 0) == before + 1
    assert job_defaults(sandbox) == dict(JOB_TEMPLATE_DEFAULTS)
    assert sandbox.objects("Job")[0]["importID"] == REFERENCE


async def test_updates_reuse_the_answers_of_the_same_push(sandbox: PaceSandbox) -> None:
    """The created job's answer is the object updateJob starts from: no readJob. Part 01 is
    read once (Pace makes it with the job; no answer carried it)."""
    seed_acme(sandbox)
    await push(sandbox)
    calls = sandbox.state()["calls"]
    assert calls.get("ReadObject.readJob", 0) == 0
    assert calls.get("ReadObject.readJobPart", 0) == 1
    assert calls.get("UpdateObject.updateJob", 0) == 1
