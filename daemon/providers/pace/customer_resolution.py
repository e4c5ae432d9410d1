"""Which Pace customer and contacts an order belongs to (seed 004, step 3), and the Customer and
Contact field maps. Pure: the driver does the look-ups this module asks for.

Customer identification is a small state machine over facts. The driver starts from
`CustomerFacts.for_order(...)` and loops:

    step = next_customer_step(facts)
    while step is a look-up:            CheckCustomer / FindContactsByEmail / FindCustomersByEmail
        facts = facts.with_...(answer)  (the driver asks Pace: FindObjects / ReadObject)
        step = next_customer_step(facts)
    step is UseCustomer | CreateCustomer | CustomerNotIdentified   (each with its alerts)

The seed's branches, in the order esd tries them:

1. A Customer ID candidate: the site user's Integration ID, else the site's Integration ID
   (site-level setting), else the Default MisID (site, else account). Each is checked in Pace
   (`CheckCustomer`: found and active). A valid one is used. An invalid one is ignored and
   raises an alert ("invalid Customer ID in settings"); the next candidate is tried.
   [The seed names only "Integration ID" then "Default MisID"; trying every candidate before
   falling back to contacts is esd's reading of "specified value will be ignored".]
2. No valid Customer ID: contacts with the user's e-mail (`FindContactsByEmail`). One contact,
   or several all of the same customer: that customer, and the contact (the lowest id) is the
   job's contact. Contacts of different customers: error + alert "customer could not be
   identified".
3. No contact: customers with that e-mail whose name matches the user's business name (or, with
   no business name, the name a new customer would get) (`FindCustomersByEmail`; the seed's
   "searches all customers by Email and matches them with the customer's Business name").
   Exactly one: that customer. Several: error + alert.
4. Nothing found: Create Customer = Y creates customer and contact (`customer_fields`,
   `orderer_contact_fields`); Create Customer = N is an error + alert.
   A user without an e-mail skips 2 and 3.

Contacts per shipping location (`decide_location_contact`): a location is keyed by e-mail, every
mapped address segment (Address1-3, City, State, Zip) and phone (`location_key`), compared
trimmed, case-insensitively, phone by its digits. The driver finds the customer's contacts with
the location's e-mail; a contact whose key matches is used (the lowest id if several). None:
created when `create_contacts_always` (default; the seed's "new contacts will be created
anyway") or Create Customer = Y; otherwise the seed's error "customer could not be identified".

The job's contact ("Contact: value from step 3", `job_contact_id`): the contact step 2 found or
the contact created with a new customer; otherwise the contact of the first shipping location.

Field maps (Pace names from rest_swagger_selected_definitions.json, Customer and Contact):

    seed field               Customer            Contact (orderer / location)   source
    Customer Type            customerType = 1    -                              constant
    Customer                 custName            -                              Business, else
                                                                                First Middle Last,
                                                                                else the e-mail
    Contact First Name       contactFirstName    firstName                      First Name
    Contact Last Name        contactLastName     lastName                       Last Name
    Customer Email           email               email                          Email
    Phone                    phoneNumber         businessPhoneNumber            Telephone, else Cell
    Date Setup               dateSetup           -                              `today`
    Contact Title            contactTitle        title                          Title
    Address1-3, City,        address1..3, city,  address1..3, city, state, zip  Address Book
    State, Zip               state, zip
    Sales Person, Csr,       salesPerson, csr,   -                              parameters (omitted
    Sales Tax, Taxable Code, salesTax,                                          when not set)
    Sales Category           taxableCode, salesCategory
    (link)                   -                   customer, active = true;       decided
                                                 shipTo = true (locations)

The Contact object has no `phoneNumber` (pace.md §6.2): the phone goes to businessPhoneNumber.
Country is not mapped: Pace wants a Country id (int) that only a look-up could give.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from daemon.orders.model import Address, Order, SiteUser
from daemon.providers.pace.settings import PaceSettings

__all__ = [
    "CUSTOMER_TYPE",
    "CheckCustomer",
    "CreateContact",
    "CreateCustomer",
    "CustomerDecision",
    "CustomerFacts",
    "CustomerLookup",
    "CustomerNotIdentified",
    "CustomerSource",
    "FindContactsByEmail",
    "FindCustomersByEmail",
    "FoundContact",
    "FoundCustomer",
    "LocationKey",
    "PaceContact",
    "UseContact",
    "UseCustomer",
    "contact_matches",
    "customer_fields",
    "customer_name",
    "decide_location_contact",
    "job_contact_id",
    "location_contact_fields",
    "location_key",
    "next_customer_step",
    "orderer_contact_fields",
]

#: Pace CustomerType id the seed fixes: 1 (Customer)
CUSTOMER_TYPE = 1


class CustomerSource(StrEnum):
    """Where the customer id came from (shown in alerts and in the push trace)."""

    USER_INTEGRATION_ID = "the site user's Integration ID"
    SITE_INTEGRATION_ID = "the site's Integration ID"
    DEFAULT_MIS_ID = "the Default MisID"
    CONTACT_EMAIL = "a contact with the user's e-mail"
    CUSTOMER_EMAIL = "a customer with the user's e-mail and name"


# -- look-ups the driver performs -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CheckCustomer:
    """Is Customer `customer_id` in Pace and active? Answer with `CustomerFacts.with_check`."""

    customer_id: str
    source: CustomerSource


@dataclasses.dataclass(frozen=True, slots=True)
class FindContactsByEmail:
    """Which contacts have this e-mail? Answer with `CustomerFacts.with_contacts`."""

    email: str


@dataclasses.dataclass(frozen=True, slots=True)
class FindCustomersByEmail:
    """Which customers have this e-mail? Answer with `CustomerFacts.with_customers`."""

    email: str


@dataclasses.dataclass(frozen=True, slots=True)
class FoundContact:
    """A Pace contact found by e-mail: its id and its customer's id."""

    contact_id: int
    customer_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class FoundCustomer:
    """A Pace customer found by e-mail: its id and `custName`."""

    customer_id: str
    name: str


# -- decisions ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class UseCustomer:
    """Book the order to this customer; `contact_id` is the job's contact when step 2 found it."""

    customer_id: str
    source: CustomerSource
    contact_id: int | None = None
    alerts: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class CreateCustomer:
    """Create the customer (`customer_fields`) and its contact (`orderer_contact_fields`)."""

    alerts: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerNotIdentified:
    """Stop with this reason (a business error) and send the alerts to the alert e-mails."""

    reason: str
    alerts: tuple[str, ...] = ()


CustomerLookup = CheckCustomer | FindContactsByEmail | FindCustomersByEmail
CustomerDecision = UseCustomer | CreateCustomer | CustomerNotIdentified


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What is known so far about the order's customer; look-up answers are added as they come."""

    email: str = ""
    customer_name: str = ""
    user_integration_id: str = ""
    site_integration_id: str = ""
    default_mis_id: str = ""
    create_customer: bool = False
    checked: Mapping[str, bool] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    contacts_by_email: tuple[FoundContact, ...] | None = None
    customers_by_email: tuple[FoundCustomer, ...] | None = None

    @classmethod
    def for_order(cls, order: Order, settings: PaceSettings) -> CustomerFacts:
        """The starting facts: `settings` already carries the site's overrides (`with_site`)."""
        return cls(
            email=_user_email(order.user),
            customer_name=customer_name(order.user),
            user_integration_id=order.user.integration_id.strip(),
            site_integration_id=settings.site_integration_id.strip(),
            default_mis_id=settings.default_mis_id.strip(),
            create_customer=settings.create_customer,
        )

    def with_check(self, customer_id: str, valid: bool) -> CustomerFacts:
        """Add the answer to `CheckCustomer(customer_id)`."""
        checked = dict(self.checked)
        checked[customer_id] = valid
        return dataclasses.replace(self, checked=MappingProxyType(checked))

    def with_contacts(self, found: Sequence[FoundContact]) -> CustomerFacts:
        """Add the answer to `FindContactsByEmail`."""
        return dataclasses.replace(self, contacts_by_email=tuple(found))

    def with_customers(self, found: Sequence[FoundCustomer]) -> CustomerFacts:
        """Add the answer to `FindCustomersByEmail`."""
        return dataclasses.replace(self, customers_by_email=tuple(found))


def next_customer_step(facts: CustomerFacts) -> CustomerLookup | CustomerDecision:
    """The next look-up to make, or the decision once the facts suffice (see module docstring)."""
    alerts: list[str] = []
    seen: set[str] = set()
    for customer_id, source in (
        (facts.user_integration_id, CustomerSource.USER_INTEGRATION_ID),
        (facts.site_integration_id, CustomerSource.SITE_INTEGRATION_ID),
        (facts.default_mis_id, CustomerSource.DEFAULT_MIS_ID),
    ):
        if not customer_id or customer_id in seen:
            continue
        seen.add(customer_id)
        valid = facts.checked.get(customer_id)
        if valid is None:
            return CheckCustomer(customer_id, source)
        if valid:
            return UseCustomer(customer_id, source, alerts=tuple(alerts))
        alerts.append(
            f"Customer ID {customer_id!r} from {source} is not valid in EFI Pace "
            "(not found or inactive); it was ignored"
        )

    email = facts.email
    if email:
        if facts.contacts_by_email is None:
            return FindContactsByEmail(email)
        contacts = [c for c in facts.contacts_by_email if c.customer_id]
        customers = sorted({c.customer_id for c in contacts})
        if len(customers) == 1:
            contact = min(contacts, key=lambda c: c.contact_id)
            return UseCustomer(
                customers[0], CustomerSource.CONTACT_EMAIL, contact.contact_id, tuple(alerts)
            )
        if len(customers) > 1:
            return _not_identified(
                f"contacts with e-mail {email!r} belong to different EFI Pace customers "
                f"({', '.join(customers)})",
                alerts,
            )
        if facts.customers_by_email is None:
            return FindCustomersByEmail(email)
        wanted = _norm(facts.customer_name)
        matches = sorted(
            {
                c.customer_id
                for c in facts.customers_by_email
                if c.customer_id and _norm(c.name) == wanted
            }
        )
        if len(matches) == 1:
            return UseCustomer(matches[0], CustomerSource.CUSTOMER_EMAIL, alerts=tuple(alerts))
        if len(matches) > 1:
            return _not_identified(
                f"several EFI Pace customers have e-mail {email!r} and name "
                f"{facts.customer_name!r} ({', '.join(matches)})",
                alerts,
            )
    if facts.create_customer:
        return CreateCustomer(alerts=tuple(alerts))
    found = f"for e-mail {email!r}" if email else "(the site user has no e-mail)"
    return _not_identified(
        f"no valid Customer ID, contact or customer was found in EFI Pace {found} "
        "and Create Customer is N",
        alerts,
    )


def _not_identified(why: str, alerts: list[str]) -> CustomerNotIdentified:
    reason = f"the customer could not be identified: {why}"
    return CustomerNotIdentified(reason=reason, alerts=(*alerts, reason))


# -- contacts per shipping location -------------------------------------------------------------


class LocationKey(NamedTuple):
    """What makes two shipping locations the same contact: e-mail, address segments, phone."""

    email: str
    address1: str
    address2: str
    address3: str
    city: str
    state: str
    zip: str
    phone: str


@dataclasses.dataclass(frozen=True, slots=True)
class PaceContact:
    """The parts of a Pace Contact that identify a shipping location."""

    contact_id: int
    customer_id: str = ""
    email: str = ""
    address1: str = ""
    address2: str = ""
    address3: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    business_phone: str = ""
    mobile_phone: str = ""

    @classmethod
    def from_pace(cls, contact: Mapping[str, Any]) -> PaceContact:
        """From a Contact object as Pace returns it (swagger names; None for nil fields)."""

        def text(key: str) -> str:
            value = contact.get(key)
            return "" if value is None else str(value)

        return cls(
            contact_id=int(str(contact["id"])),
            customer_id=text("customer"),
            email=text("email"),
            address1=text("address1"),
            address2=text("address2"),
            address3=text("address3"),
            city=text("city"),
            state=text("state"),
            zip=text("zip"),
            business_phone=text("businessPhoneNumber"),
            mobile_phone=text("mobilePhoneNumber"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class UseContact:
    """This existing contact is the location's contact."""

    contact_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class CreateContact:
    """Create this contact (Pace Contact fields) for the location."""

    fields: Mapping[str, object]


def location_key(address: Address) -> LocationKey:
    """The identity of a shipping location (see `LocationKey`), normalised for comparison."""
    return LocationKey(
        email=_norm(address.email),
        address1=_norm(address.address1),
        address2=_norm(address.address2),
        address3=_norm(address.address3),
        city=_norm(address.city),
        state=_norm(address.state),
        zip=_norm(address.zip),
        phone=_digits(_phone(address.phone, address.cell_phone)),
    )


def contact_matches(location: Address, contact: PaceContact) -> bool:
    """True when `contact` has the location's e-mail, address segments and phone."""
    key = location_key(location)
    same_address = key[:7] == (
        _norm(contact.email),
        _norm(contact.address1),
        _norm(contact.address2),
        _norm(contact.address3),
        _norm(contact.city),
        _norm(contact.state),
        _norm(contact.zip),
    )
    if not same_address:
        return False
    business = _digits(contact.business_phone)
    if not key.phone:
        return not business
    return key.phone in {business, _digits(contact.mobile_phone)}


def decide_location_contact(
    location: Address,
    candidates: Sequence[PaceContact],
    *,
    customer_id: str,
    settings: PaceSettings,
) -> UseContact | CreateContact | CustomerNotIdentified:
    """The contact of one shipping location among the customer's contacts with its e-mail."""
    matching = [
        c for c in candidates if c.customer_id == customer_id and contact_matches(location, c)
    ]
    if matching:
        return UseContact(min(c.contact_id for c in matching))
    if settings.create_contacts_always or settings.create_customer:
        return CreateContact(location_contact_fields(location, customer_id))
    where = ", ".join(
        part for part in (location.address1, location.city, location.zip) if part.strip()
    )
    return _not_identified(
        f"no contact of EFI Pace customer {customer_id!r} matches the shipping location "
        f"({location.email or 'no e-mail'}; {where or 'no address'}) and Create Customer is N",
        [],
    )


def job_contact_id(customer_contact: int | None, location_contacts: Sequence[int]) -> int | None:
    """The job's contact: the one found or created with the customer, else the first location's."""
    if customer_contact is not None:
        return customer_contact
    return location_contacts[0] if location_contacts else None


# -- field maps ---------------------------------------------------------------------------------


def customer_name(user: SiteUser) -> str:
    """The Pace customer name: Address Book business, else First Middle Last, else the e-mail."""
    business = user.address.business.strip()
    if business:
        return business
    person = " ".join(
        part.strip() for part in (user.first_name, user.middle_name, user.last_name) if part.strip()
    )
    return person or _user_email(user)


def customer_fields(user: SiteUser, settings: PaceSettings, today: dt.date) -> dict[str, object]:
    """A new Pace Customer from the site user (the seed's Customer mapping)."""
    book = user.address
    fields: dict[str, object] = {
        "customerType": CUSTOMER_TYPE,
        "custName": customer_name(user),
        "contactFirstName": user.first_name.strip(),
        "contactLastName": user.last_name.strip(),
        "email": _user_email(user),
        "phoneNumber": _user_phone(user),
        "dateSetup": today,
        "contactTitle": user.title.strip(),
        "address1": book.address1.strip(),
        "address2": book.address2.strip(),
        "address3": book.address3.strip(),
        "city": book.city.strip(),
        "state": book.state.strip(),
        "zip": book.zip.strip(),
    }
    if settings.sales_person is not None:
        fields["salesPerson"] = settings.sales_person
    if settings.csr is not None:
        fields["csr"] = settings.csr
    if settings.sales_tax:
        fields["salesTax"] = settings.sales_tax
    if settings.taxable_code is not None:
        fields["taxableCode"] = settings.taxable_code
    if settings.sales_category is not None:
        fields["salesCategory"] = settings.sales_category
    return fields


def orderer_contact_fields(user: SiteUser, customer_id: str) -> dict[str, object]:
    """The contact created with a new customer: the site user and their Address Book."""
    book = user.address
    return {
        "customer": customer_id,
        "firstName": user.first_name.strip(),
        "lastName": user.last_name.strip(),
        "email": _user_email(user),
        "businessPhoneNumber": _user_phone(user),
        "title": user.title.strip(),
        "address1": book.address1.strip(),
        "address2": book.address2.strip(),
        "address3": book.address3.strip(),
        "city": book.city.strip(),
        "state": book.state.strip(),
        "zip": book.zip.strip(),
        "active": True,
    }


def location_contact_fields(location: Address, customer_id: str) -> dict[str, object]:
    """The contact of one shipping location (the seed's Shipment contact fields)."""
    return {
        "customer": customer_id,
        "firstName": location.first_name.strip(),
        "lastName": location.last_name.strip(),
        "email": location.email.strip(),
        "businessPhoneNumber": _phone(location.phone, location.cell_phone),
        "title": location.title.strip(),
        "address1": location.address1.strip(),
        "address2": location.address2.strip(),
        "address3": location.address3.strip(),
        "city": location.city.strip(),
        "state": location.state.strip(),
        "zip": location.zip.strip(),
        "active": True,
        "shipTo": True,
    }


def _user_email(user: SiteUser) -> str:
    return (user.email or user.address.email).strip()


def _user_phone(user: SiteUser) -> str:
    return _phone(user.phone, user.cell_phone, user.address.phone, user.address.cell_phone)


def _phone(*candidates: str) -> str:
    return next((p.strip() for p in candidates if p.strip()), "")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()
