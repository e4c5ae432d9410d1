"""Pace customer identification (seed 004 step 3 and "Customer Mapping Details"): every branch of
the decision, contacts per shipping location, and the Customer / Contact field maps."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from daemon.orders.model import Address, Order, SiteUser
from daemon.providers.pace.customer_resolution import (
    CheckCustomer,
    CreateContact,
    CreateCustomer,
    CustomerFacts,
    CustomerNotIdentified,
    CustomerSource,
    FindContactsByEmail,
    FindCustomersByEmail,
    FoundContact,
    FoundCustomer,
    LocationKey,
    PaceContact,
    UseContact,
    UseCustomer,
    contact_matches,
    customer_fields,
    customer_name,
    decide_location_contact,
    job_contact_id,
    location_contact_fields,
    location_key,
    next_customer_step,
    orderer_contact_fields,
)
from daemon.providers.pace.settings import PaceSettings, SiteOverrides

EMAIL = "ann@acme.example"
TODAY = dt.date(2024, 5, 6)


@dataclasses.dataclass
class FakePace:
    """What a Pace holds, for answering the look-ups; records the look-ups asked."""

    valid: frozenset[str] = frozenset()
    contacts: tuple[FoundContact, ...] = ()
    customers: tuple[FoundCustomer, ...] = ()
    asked: list[object] = dataclasses.field(default_factory=list)

    def resolve(self, facts: CustomerFacts) -> object:
        for _ in range(10):
            step = next_customer_step(facts)
            self.asked.append(step)
            if isinstance(step, CheckCustomer):
                facts = facts.with_check(step.customer_id, step.customer_id in self.valid)
            elif isinstance(step, FindContactsByEmail):
                facts = facts.with_contacts(self.contacts)
            elif isinstance(step, FindCustomersByEmail):
                facts = facts.with_customers(self.customers)
            else:
                return step
        raise AssertionError("the decision never came")


def facts(**changes: Any) -> CustomerFacts:
    return dataclasses.replace(CustomerFacts(email=EMAIL, customer_name="Acme Inc"), **changes)


INVALID = "from {} is not valid in EFI Pace (not found or inactive); it was ignored"


@pytest.mark.parametrize(
    ("case", "start", "pace", "decision", "lookups"),
    [
        (
            "user Integration ID valid",
            facts(user_integration_id="C1", default_mis_id="D1"),
            FakePace(valid=frozenset({"C1", "D1"})),
            UseCustomer("C1", CustomerSource.USER_INTEGRATION_ID),
            [CheckCustomer("C1", CustomerSource.USER_INTEGRATION_ID)],
        ),
        (
            "no Integration ID, Default MisID valid",
            facts(default_mis_id="D1"),
            FakePace(valid=frozenset({"D1"})),
            UseCustomer("D1", CustomerSource.DEFAULT_MIS_ID),
            [CheckCustomer("D1", CustomerSource.DEFAULT_MIS_ID)],
        ),
        (
            "site Integration ID valid",
            facts(site_integration_id="S1", default_mis_id="D1"),
            FakePace(valid=frozenset({"S1", "D1"})),
            UseCustomer("S1", CustomerSource.SITE_INTEGRATION_ID),
            [CheckCustomer("S1", CustomerSource.SITE_INTEGRATION_ID)],
        ),
        (
            "Integration ID invalid: ignored with an alert, Default MisID used",
            facts(user_integration_id="BAD", default_mis_id="D1"),
            FakePace(valid=frozenset({"D1"})),
            UseCustomer(
                "D1",
                CustomerSource.DEFAULT_MIS_ID,
                alerts=("Customer ID 'BAD' " + INVALID.format("the site user's Integration ID"),),
            ),
            [
                CheckCustomer("BAD", CustomerSource.USER_INTEGRATION_ID),
                CheckCustomer("D1", CustomerSource.DEFAULT_MIS_ID),
            ],
        ),
        (
            "every ID invalid, one contact by e-mail: its customer and contact",
            facts(user_integration_id="BAD", default_mis_id="OLD"),
            FakePace(contacts=(FoundContact(77, "ACME"),)),
            UseCustomer(
                "ACME",
                CustomerSource.CONTACT_EMAIL,
                77,
                alerts=(
                    "Customer ID 'BAD' " + INVALID.format("the site user's Integration ID"),
                    "Customer ID 'OLD' " + INVALID.format("the Default MisID"),
                ),
            ),
            [
                CheckCustomer("BAD", CustomerSource.USER_INTEGRATION_ID),
                CheckCustomer("OLD", CustomerSource.DEFAULT_MIS_ID),
                FindContactsByEmail(EMAIL),
            ],
        ),
        (
            "several contacts of the same customer: that customer, the lowest contact",
            facts(),
            FakePace(contacts=(FoundContact(90, "ACME"), FoundContact(12, "ACME"))),
            UseCustomer("ACME", CustomerSource.CONTACT_EMAIL, 12),
            [FindContactsByEmail(EMAIL)],
        ),
        (
            "contacts of different customers: error and alert",
            facts(),
            FakePace(contacts=(FoundContact(1, "ZED"), FoundContact(2, "ACME"))),
            CustomerNotIdentified(
                "the customer could not be identified: contacts with e-mail "
                "'ann@acme.example' belong to different EFI Pace customers (ACME, ZED)",
                (
                    "the customer could not be identified: contacts with e-mail "
                    "'ann@acme.example' belong to different EFI Pace customers (ACME, ZED)",
                ),
            ),
            [FindContactsByEmail(EMAIL)],
        ),
        (
            "a contact without a customer does not count",
            facts(create_customer=True),
            FakePace(contacts=(FoundContact(5, ""),)),
            CreateCustomer(),
            [FindContactsByEmail(EMAIL), FindCustomersByEmail(EMAIL)],
        ),
        (
            "no contact; a customer with the e-mail and the business name",
            facts(),
            FakePace(
                customers=(FoundCustomer("OTHER", "Other Co"), FoundCustomer("ACME", " acme  INC "))
            ),
            UseCustomer("ACME", CustomerSource.CUSTOMER_EMAIL),
            [FindContactsByEmail(EMAIL), FindCustomersByEmail(EMAIL)],
        ),
        (
            "no contact; two customers with the e-mail and the name: error",
            facts(),
            FakePace(customers=(FoundCustomer("A1", "Acme Inc"), FoundCustomer("A2", "Acme Inc"))),
            CustomerNotIdentified(
                "the customer could not be identified: several EFI Pace customers have e-mail "
                "'ann@acme.example' and name 'Acme Inc' (A1, A2)",
                (
                    "the customer could not be identified: several EFI Pace customers have "
                    "e-mail 'ann@acme.example' and name 'Acme Inc' (A1, A2)",
                ),
            ),
            [FindContactsByEmail(EMAIL), FindCustomersByEmail(EMAIL)],
        ),
        (
            "nothing found, Create Customer = Y: create customer and contact",
            facts(create_customer=True),
            FakePace(customers=(FoundCustomer("OTHER", "Other Co"),)),
            CreateCustomer(),
            [FindContactsByEmail(EMAIL), FindCustomersByEmail(EMAIL)],
        ),
        (
            "nothing found, Create Customer = N: error and alert",
            facts(),
            FakePace(),
            CustomerNotIdentified(
                "the customer could not be identified: no valid Customer ID, contact or customer "
                "was found in EFI Pace for e-mail 'ann@acme.example' and Create Customer is N",
                (
                    "the customer could not be identified: no valid Customer ID, contact or "
                    "customer was found in EFI Pace for e-mail 'ann@acme.example' and Create "
                    "Customer is N",
                ),
            ),
            [FindContactsByEmail(EMAIL), FindCustomersByEmail(EMAIL)],
        ),
        (
            "invalid Default MisID, then created: the alert travels with the decision",
            facts(default_mis_id="GONE", create_customer=True),
            FakePace(),
            CreateCustomer(alerts=("Customer ID 'GONE' " + INVALID.format("the Default MisID"),)),
            [
                CheckCustomer("GONE", CustomerSource.DEFAULT_MIS_ID),
                FindContactsByEmail(EMAIL),
                FindCustomersByEmail(EMAIL),
            ],
        ),
        (
            "no e-mail, Create Customer = Y: no look-up by e-mail",
            facts(email="", create_customer=True),
            FakePace(),
            CreateCustomer(),
            [],
        ),
        (
            "no e-mail, Create Customer = N",
            facts(email=""),
            FakePace(),
            CustomerNotIdentified(
                "the customer could not be identified: no valid Customer ID, contact or customer "
                "was found in EFI Pace (the site user has no e-mail) and Create Customer is N",
                (
                    "the customer could not be identified: no valid Customer ID, contact or "
                    "customer was found in EFI Pace (the site user has no e-mail) and Create "
                    "Customer is N",
                ),
            ),
            [],
        ),
        (
            "the same id as Integration ID and Default MisID is checked once",
            facts(user_integration_id="X", default_mis_id="X", create_customer=True),
            FakePace(),
            CreateCustomer(
                alerts=("Customer ID 'X' " + INVALID.format("the site user's Integration ID"),)
            ),
            [
                CheckCustomer("X", CustomerSource.USER_INTEGRATION_ID),
                FindContactsByEmail(EMAIL),
                FindCustomersByEmail(EMAIL),
            ],
        ),
    ],
)
def test_customer_identification(
    case: str, start: CustomerFacts, pace: FakePace, decision: object, lookups: list[object]
) -> None:
    assert pace.resolve(start) == decision, case
    assert pace.asked[:-1] == lookups, case


def test_a_pure_step_asks_again_until_answered() -> None:
    start = facts(user_integration_id="C1")
    assert (
        next_customer_step(start)
        == next_customer_step(start)
        == CheckCustomer("C1", CustomerSource.USER_INTEGRATION_ID)
    )


def test_facts_for_an_order_take_the_site_overrides() -> None:
    order = Order(
        site="shop",
        order_number="1001",
        user=SiteUser(
            email=" ann@acme.example ",
            integration_id=" C1 ",
            first_name="Ann",
            last_name="Lee",
            address=Address(business="Acme Inc"),
        ),
    )
    settings = PaceSettings(url="https://p", default_mis_id="ACCT", create_customer=True)
    site = SiteOverrides(integration_id="SITE1", default_mis_id="SITEMIS")
    assert CustomerFacts.for_order(order, settings.with_site(site)) == CustomerFacts(
        email="ann@acme.example",
        customer_name="Acme Inc",
        user_integration_id="C1",
        site_integration_id="SITE1",
        default_mis_id="SITEMIS",
        create_customer=True,
    )
    assert CustomerFacts.for_order(order, settings).default_mis_id == "ACCT"


# -- customer and contact field maps -------------------------------------------------------------

USER = SiteUser(
    email="ann@acme.example",
    first_name="Ann",
    middle_name="B.",
    last_name="Lee",
    title="Buyer",
    phone="555-0100",
    cell_phone="555-0199",
    integration_id="",
    address=Address(
        business="Acme Inc",
        address1="1 Main St",
        address2="Suite 5",
        address3="Dock 2",
        city="Springfield",
        state="IL",
        zip="62701",
    ),
)


@pytest.mark.parametrize(
    ("user", "name"),
    [
        (USER, "Acme Inc"),
        (dataclasses.replace(USER, address=Address()), "Ann B. Lee"),
        (dataclasses.replace(USER, middle_name="", address=Address(business="  ")), "Ann Lee"),
        (SiteUser(email="x@y.example"), "x@y.example"),
    ],
)
def test_customer_name_is_business_else_first_middle_last(user: SiteUser, name: str) -> None:
    assert customer_name(user) == name


def test_customer_fields_follow_the_seed_table() -> None:
    settings = PaceSettings(
        url="https://p", csr=4, sales_person=12, sales_category=3, sales_tax="NY", taxable_code=1
    )
    assert customer_fields(USER, settings, TODAY) == {
        "customerType": 1,
        "custName": "Acme Inc",
        "contactFirstName": "Ann",
        "contactLastName": "Lee",
        "email": "ann@acme.example",
        "phoneNumber": "555-0100",
        "dateSetup": TODAY,
        "contactTitle": "Buyer",
        "address1": "1 Main St",
        "address2": "Suite 5",
        "address3": "Dock 2",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "salesPerson": 12,
        "csr": 4,
        "salesTax": "NY",
        "taxableCode": 1,
        "salesCategory": 3,
    }


def test_unset_parameters_are_left_to_pace_and_the_cell_phone_stands_in() -> None:
    user = dataclasses.replace(USER, phone="", address=Address())
    fields = customer_fields(user, PaceSettings(url="https://p"), TODAY)
    assert fields["phoneNumber"] == "555-0199"
    assert fields["custName"] == "Ann B. Lee"
    assert not {"salesPerson", "csr", "salesTax", "taxableCode", "salesCategory"} & set(fields)


def test_the_orderer_contact() -> None:
    assert orderer_contact_fields(USER, "ACME") == {
        "customer": "ACME",
        "firstName": "Ann",
        "lastName": "Lee",
        "email": "ann@acme.example",
        "businessPhoneNumber": "555-0100",
        "title": "Buyer",
        "address1": "1 Main St",
        "address2": "Suite 5",
        "address3": "Dock 2",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "active": True,
    }


SHIP_TO = Address(
    first_name="Bob",
    last_name="Ray",
    title="Receiving",
    email="Bob@Acme.example",
    phone="(555) 010-0200",
    address1="9 Dock Rd",
    address2="",
    address3="",
    city="Springfield",
    state="IL",
    zip="62702",
)


def test_the_location_contact() -> None:
    assert location_contact_fields(SHIP_TO, "ACME") == {
        "customer": "ACME",
        "firstName": "Bob",
        "lastName": "Ray",
        "email": "Bob@Acme.example",
        "businessPhoneNumber": "(555) 010-0200",
        "title": "Receiving",
        "address1": "9 Dock Rd",
        "address2": "",
        "address3": "",
        "city": "Springfield",
        "state": "IL",
        "zip": "62702",
        "active": True,
        "shipTo": True,
    }
    cell_only = dataclasses.replace(SHIP_TO, phone="", cell_phone="555 777")
    assert location_contact_fields(cell_only, "ACME")["businessPhoneNumber"] == "555 777"


# -- contacts per shipping location --------------------------------------------------------------


def test_location_key_is_email_address_segments_and_phone_digits() -> None:
    assert location_key(SHIP_TO) == LocationKey(
        "bob@acme.example", "9 dock rd", "", "", "springfield", "il", "62702", "5550100200"
    )
    # names and title are not part of the key
    assert location_key(dataclasses.replace(SHIP_TO, first_name="Robert", title="")) == (
        location_key(SHIP_TO)
    )


CONTACT = PaceContact(
    contact_id=40,
    customer_id="ACME",
    email="bob@acme.example",
    address1="9 DOCK RD",
    city="Springfield ",
    state="il",
    zip="62702",
    business_phone="555.010.0200",
)


@pytest.mark.parametrize(
    ("contact", "location", "matches"),
    [
        (CONTACT, SHIP_TO, True),
        (dataclasses.replace(CONTACT, business_phone="", mobile_phone="5550100200"), SHIP_TO, True),
        (dataclasses.replace(CONTACT, business_phone="555-0999"), SHIP_TO, False),
        (dataclasses.replace(CONTACT, email="other@acme.example"), SHIP_TO, False),
        (dataclasses.replace(CONTACT, address2="Suite 1"), SHIP_TO, False),
        (dataclasses.replace(CONTACT, zip="62701"), SHIP_TO, False),
        (dataclasses.replace(CONTACT, address3="x"), SHIP_TO, False),
        # a location without a phone matches a contact without a business phone only
        (
            dataclasses.replace(CONTACT, business_phone=""),
            dataclasses.replace(SHIP_TO, phone=""),
            True,
        ),
        (CONTACT, dataclasses.replace(SHIP_TO, phone=""), False),
        # the location's cell phone stands in for its phone
        (CONTACT, dataclasses.replace(SHIP_TO, phone="", cell_phone="555 010 0200"), True),
    ],
)
def test_contact_matches(contact: PaceContact, location: Address, matches: bool) -> None:
    assert contact_matches(location, contact) is matches


STRICT_N = PaceSettings(url="https://p", create_customer=False, create_contacts_always=False)
STRICT_Y = PaceSettings(url="https://p", create_customer=True, create_contacts_always=False)
ALWAYS_N = PaceSettings(url="https://p", create_customer=False, create_contacts_always=True)


@pytest.mark.parametrize(
    ("candidates", "settings", "expected"),
    [
        ([CONTACT], STRICT_N, UseContact(40)),
        ([dataclasses.replace(CONTACT, contact_id=55), CONTACT], STRICT_N, UseContact(40)),
        # a contact of another customer is never used
        ([dataclasses.replace(CONTACT, customer_id="ZED")], STRICT_Y, "create"),
        ([], ALWAYS_N, "create"),  # "new contacts will be created anyway"
        ([], STRICT_Y, "create"),
        ([dataclasses.replace(CONTACT, zip="1")], STRICT_N, "error"),
    ],
)
def test_decide_location_contact(
    candidates: Sequence[PaceContact], settings: PaceSettings, expected: object
) -> None:
    got = decide_location_contact(SHIP_TO, candidates, customer_id="ACME", settings=settings)
    if expected == "create":
        assert got == CreateContact(location_contact_fields(SHIP_TO, "ACME"))
    elif expected == "error":
        assert got == CustomerNotIdentified(
            "the customer could not be identified: no contact of EFI Pace customer 'ACME' "
            "matches the shipping location (Bob@Acme.example; 9 Dock Rd, Springfield, 62702) "
            "and Create Customer is N",
            (
                "the customer could not be identified: no contact of EFI Pace customer 'ACME' "
                "matches the shipping location (Bob@Acme.example; 9 Dock Rd, Springfield, "
                "62702) and Create Customer is N",
            ),
        )
    else:
        assert got == expected


def test_pace_contact_from_a_read_contact() -> None:
    read = {
        "id": 40,
        "customer": "ACME",
        "email": "bob@acme.example",
        "address1": "9 Dock Rd",
        "address2": None,
        "city": "Springfield",
        "state": "IL",
        "zip": "62702",
        "businessPhoneNumber": "555-010-0200",
        "mobilePhoneNumber": None,
        "firstName": "Bob",
    }
    contact = PaceContact.from_pace(read)
    assert contact == PaceContact(
        contact_id=40,
        customer_id="ACME",
        email="bob@acme.example",
        address1="9 Dock Rd",
        city="Springfield",
        state="IL",
        zip="62702",
        business_phone="555-010-0200",
    )
    assert contact_matches(SHIP_TO, contact)
    assert PaceContact.from_pace({"id": "41"}).contact_id == 41


@pytest.mark.parametrize(
    ("customer_contact", "locations", "expected"),
    [(12, [40, 41], 12), (None, [40, 41], 40), (None, [], None)],
)
def test_job_contact_id(
    customer_contact: int | None, locations: list[int], expected: int | None
) -> None:
    assert job_contact_id(customer_contact, locations) == expected
