"""The customer and its contacts (seed step 3) of one push: the customer state machine of
`customer_resolution` driven with the look-ups it asks for, the customer created once however
often the push is interrupted, and one Contact per unique shipping location.

Its journal steps are `customer.create`, `customer` and `contact:<location digest>`;
`push_steps` lists every step of a push and what each records.

The location key match of `customer_resolution.decide_location_contact` finds what a lost
Contact create made. A customer is inactive when its `customerStatus` is "I" or "C" [GUESS: EFI
documents only "O" (open) for customers; "I"nactive and "C"losed are the codes other Pace lists
use; `guesses.INACTIVE_CUSTOMER_STATUSES`].
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from daemon.errors import BusinessRuleError, NotFound, PermanentError
from daemon.orders.model import Address, Order
from daemon.providers.contract import PushJournal
from daemon.providers.kit import (
    ensure_step,
    journal_int,
    journal_optional_int,
    journal_text,
    journal_warnings,
)
from daemon.providers.pace.customer_resolution import (
    CheckCustomer,
    CreateContact,
    CreateCustomer,
    CustomerFacts,
    CustomerNotIdentified,
    FindContactsByEmail,
    FindCustomersByEmail,
    FoundContact,
    FoundCustomer,
    LocationKey,
    PaceContact,
    UseContact,
    UseCustomer,
    customer_fields,
    decide_location_contact,
    next_customer_step,
    orderer_contact_fields,
)
from daemon.providers.pace.find_expressions import Value
from daemon.providers.pace.guesses import INACTIVE_CUSTOMER_STATUSES
from daemon.providers.pace.lookups import natural as _natural
from daemon.providers.pace.lookups import where as _where
from daemon.providers.pace.push_plan import PushPlan, location_digest
from daemon.providers.pace.shipment_mapping import ShipmentFields
from daemon.providers.pace.soap_client import PaceClient

__all__ = ["INACTIVE_CUSTOMER_STATUSES", "CustomerOutcome", "CustomerSteps"]


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerOutcome:
    """The outcome of the customer step."""

    customer_id: str
    contact_id: int | None
    source: str
    warnings: tuple[str, ...]

    def to_journal(self) -> dict[str, Any]:
        return {
            "customer": self.customer_id,
            "contact": self.contact_id,
            "source": self.source,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_journal(cls, done: Mapping[str, Any]) -> CustomerOutcome:
        return cls(
            customer_id=journal_text(done, "customer", "customer"),
            contact_id=journal_optional_int(done, "contact", "customer"),
            source=str(done.get("source", "")),
            warnings=journal_warnings(done, "customer"),
        )


class CustomerSteps:
    """The customer steps of one push, resumed from the journal."""

    def __init__(
        self,
        client: PaceClient,
        order: Order,
        plan: PushPlan,
        journal: PushJournal,
        today: dt.date,
        log: Any,
    ) -> None:
        self.client = client
        self.order = order
        self.plan = plan
        self.journal = journal
        self.today = today
        self.log = log
        # Within one push the same Contact is found twice (the orderer by e-mail, then as a
        # shipping location's contact): read it once. Contacts this push changes are not cached.
        self._contacts: dict[str, Mapping[str, Any]] = {}

    async def customer(self) -> CustomerOutcome:
        done = self.journal.get("customer")
        if done is not None:
            return CustomerOutcome.from_journal(done)
        settings = self.plan.settings
        fields = customer_fields(self.order.user, settings, self.today)
        pending = self.journal.get("customer.create")
        if pending is None:
            step = await self._decide_customer()
            if isinstance(step, CustomerNotIdentified):
                others = [alert for alert in step.alerts if alert != step.reason]
                also = f" (also: {'; '.join(others)})" if others else ""
                raise BusinessRuleError(f"{step.reason}{also}")
            if isinstance(step, UseCustomer):
                customer = CustomerOutcome(
                    step.customer_id, step.contact_id, str(step.source), step.alerts
                )
                self.log.info(
                    "pace.customer.found", customer=step.customer_id, source=str(step.source)
                )
                await self.journal.record("customer", customer.to_journal())
                return customer
            if not str(fields["custName"]):
                raise BusinessRuleError(
                    "cannot create the EFI Pace customer: the site user has no business name, "
                    "name or e-mail"
                )
            pending = {
                "existing": await self._customers_like(fields),
                "warnings": list(step.alerts),
            }
            await self.journal.record("customer.create", pending)
        customer = await self._create_customer(fields, pending)
        await self.journal.record("customer", customer.to_journal())
        return customer

    async def _decide_customer(self) -> UseCustomer | CreateCustomer | CustomerNotIdentified:
        facts = CustomerFacts.for_order(self.order, self.plan.settings)
        while True:
            step = next_customer_step(facts)
            if isinstance(step, CheckCustomer):
                facts = facts.with_check(step.customer_id, await self._customer_valid(step))
            elif isinstance(step, FindContactsByEmail):
                facts = facts.with_contacts(await self._contacts_by_email(step.email))
            elif isinstance(step, FindCustomersByEmail):
                facts = facts.with_customers(await self._customers_by_email(step.email))
            else:
                return step

    async def _customer_valid(self, step: CheckCustomer) -> bool:
        try:
            record = await self.client.read("Customer", step.customer_id)
        except NotFound:
            return False
        return _active(record)

    async def _contacts_by_email(self, email: str) -> list[FoundContact]:
        keys = await self.client.find(
            "Contact", _where("find contacts by e-mail", email=email, active=True)
        )
        found = []
        for key in sorted(keys, key=_natural):
            contact = await self._read_contact(key)
            found.append(FoundContact(int(contact["id"]), str(contact.get("customer") or "")))
        return found

    async def _read_contact(self, key: str) -> Mapping[str, Any]:
        """A Contact, read at most once per push (see `_contacts`)."""
        if key not in self._contacts:
            self._contacts[key] = await self.client.read("Contact", key)
        return self._contacts[key]

    async def _customers_by_email(self, email: str) -> list[FoundCustomer]:
        keys = await self.client.find("Customer", _where("find customers by e-mail", email=email))
        found = []
        for key in sorted(keys, key=_natural):
            customer = await self.client.read("Customer", key)
            if _active(customer):
                found.append(
                    FoundCustomer(str(customer["id"]), str(customer.get("custName") or ""))
                )
        return found

    async def _customers_like(self, fields: Mapping[str, object]) -> list[str]:
        """Ids of the customers a create of `fields` would be indistinguishable from."""
        conditions: dict[str, Value] = {"custName": str(fields["custName"])}
        if fields.get("email"):
            conditions["email"] = str(fields["email"])
        return sorted(await self.client.find("Customer", _where("find customer", **conditions)))

    async def _create_customer(
        self, fields: Mapping[str, object], pending: Mapping[str, Any]
    ) -> CustomerOutcome:
        existing = pending.get("existing")
        if not isinstance(existing, list):
            raise PermanentError("push journal step 'customer.create' has no 'existing' list")
        ours = [key for key in await self._customers_like(fields) if key not in existing]
        if ours:
            # An earlier attempt created it but never heard back.
            customer_id = min(ours, key=_natural)
            self.log.info("pace.customer.found_created", customer=customer_id)
        else:
            created = await self.client.create("Customer", fields)
            customer_id = str(created["id"])
            self.log.info("pace.customer.created", customer=customer_id)
        contact_id = await self._orderer_contact(customer_id)
        return CustomerOutcome(
            customer_id, contact_id, "created", journal_warnings(pending, "customer.create")
        )

    async def _orderer_contact(self, customer_id: str) -> int:
        """The new customer's contact: one already there (ours, or Pace's), else created."""
        fields = orderer_contact_fields(self.order.user, customer_id)
        conditions: dict[str, Value] = {"customer": customer_id}
        if fields["email"]:
            conditions["email"] = str(fields["email"])
        keys = await self.client.find("Contact", _where("find contact", **conditions))
        if keys:
            return min(int(key) for key in keys)
        created = await self.client.create("Contact", fields)
        self.log.info("pace.contact.created", customer=customer_id, contact=created["id"])
        return int(created["id"])

    async def location_contacts(self, customer_id: str) -> dict[LocationKey, int]:
        contacts: dict[LocationKey, int] = {}
        for shipment in self.plan.shipments:
            if shipment.location not in contacts:
                contacts[shipment.location] = await self._location_contact(shipment, customer_id)
        return contacts

    async def _location_contact(self, shipment: ShipmentFields, customer_id: str) -> int:
        """The Contact of one unique shipping location: found, or created as decided."""
        decided: list[CreateContact] = []  # what `find` decided to create, if anything

        async def find() -> int | None:
            location = shipment.ship_to
            candidates = await self._contacts_at(location, customer_id)
            decision = decide_location_contact(
                location, candidates, customer_id=customer_id, settings=self.plan.settings
            )
            if isinstance(decision, CustomerNotIdentified):
                raise BusinessRuleError(decision.reason)
            if isinstance(decision, UseContact):
                return decision.contact_id
            decided.append(decision)
            return None

        async def create() -> int:
            return await self._create_contact(decided[0])

        return await ensure_step(
            self.journal,
            f"contact:{location_digest(shipment.location)}",
            "contact",
            read=journal_int,
            find=find,
            create=create,
        )

    async def _contacts_at(self, location: Address, customer_id: str) -> list[PaceContact]:
        """The customer's contacts that may be this location's (narrowed by one field)."""
        conditions: dict[str, Value] = {"customer": customer_id}
        for field, value in (
            ("email", location.email),
            ("address1", location.address1),
            ("zip", location.zip),
            ("city", location.city),
        ):
            if value.strip():
                conditions[field] = value.strip()
                break
        keys = await self.client.find("Contact", _where("find contacts", **conditions))
        return [
            PaceContact.from_pace(await self._read_contact(key))
            for key in sorted(keys, key=_natural)
        ]

    async def _create_contact(self, decision: CreateContact) -> int:
        created = await self.client.create("Contact", decision.fields)
        self.log.info("pace.contact.created", contact=created["id"])
        return int(created["id"])


def _active(customer: Mapping[str, Any]) -> bool:
    status = str(customer.get("customerStatus") or "").strip().upper()
    return status not in INACTIVE_CUSTOMER_STATUSES
