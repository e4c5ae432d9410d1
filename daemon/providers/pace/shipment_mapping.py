"""Shipments, cartons and carton contents (seed 004, "Shipment Mapping Details", step 6, and the
"Enable Carton Contents" parameter). Pure.

`shipments_for` groups the pushed items' parts into shipments and returns frozen records whose
`to_pace()` gives the Pace properties (rest_swagger_selected_definitions.json: JobShipment,
Carton, CartonContent). The driver adds what only Pace knows: `job`, `jobPart`, `jobPartKey`
(the part at `ShipmentFields.part_index`), `contactNumber` (the location's Contact id from
`customer_resolution.decide_location_contact`; `guesses.SHIPMENT_CONTACT_FIELD`: seen in code,
while EFI's sample sets `jobContact`), `shipment` on each carton, and `carton`,
`jobPartJob`/`job`, `jobPart`, `jobPartKey` on each content (the part at `part_index`).

JobShipment:

    seed field               Pace property             source (the item's shipping address)
    Contact First/Last Name  contactFirstName/LastName First Name, Last Name
    Customer Email           email                     Email
    Phone                    phone                     Telephone, else Cell Phone
    Contact Title            (none on JobShipment)     goes to the location's Contact.title
    Address1-3, City,        address1..3, city,        Address1-3, City, State, Zip
    State, Zip               state, zip
    (ship-to name)           name                      Business, else First Last
    Planned quantity         plannedQuantity           sum of the shipment's item quantities
    Ship Via                 shipVia                   Accounts rule (`account_rules`)
    Account Number           accountNumber             Accounts rule
    Charges                  charges                   "Third Party/Ship Bill To" (seed; Pace
                                                       accepting it is guessed) when there
                                                       is an account number, else ""
    Number of cartons        Carton.count              1
    Carton Quantity          Carton.quantity           the shipment's quantity (below)

Grouping:

- "Enable Carton Contents" off (default): one shipment per unique shipping location (the
  contact key of `customer_resolution.location_key`: e-mail, address segments, phone), with
  one carton of the whole quantity and Pace's default content (`addDefaultContent = true`).
  The Accounts rules see the shipping method of the location's first item.
- On: one shipment per shipment group, i.e. per location and shipping method, as Pressero's
  Shipping page groups them. Its items share one carton, except items whose product "will
  ship separately", which get a carton each. Each carton lists its contents, one per part,
  with the part's quantity (a kit's children are its parts); `addDefaultContent = false`, and
  the carton's quantity is the sum of its contents.

Decisions where the seed is silent: the first item (by seq) of a group gives the address
text written to Pace (items of one group differ only in case and spacing); shipments come in
the order of their first item; a Ship Via that the rules give by name (`MatchByName`) is in
`ship_via_name` for the driver to resolve to a Pace ShipVia id (pass it to `to_pace`);
a product's "Carton Content Type" is not in the order model, so contents are per part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from daemon.orders.model import Address, Order, OrderItem
from daemon.providers.pace import guesses
from daemon.providers.pace.account_rules import AccountMatch, match_account_rule
from daemon.providers.pace.customer_resolution import LocationKey, location_key
from daemon.providers.pace.job_mapping import PartFields
from daemon.providers.pace.settings import PaceSettings

__all__ = [
    "THIRD_PARTY_CHARGES",
    "CartonContentFields",
    "CartonFields",
    "ShipmentFields",
    "shipments_for",
]

#: JobShipment.charges when the Accounts rule gives an account number: seed 004's text. That
#: Pace accepts it is guessed: the only values seen are "Prepaid/Shipper" and "Third Party"
#: (seen in code, pace.md §6.5); see `guesses.THIRD_PARTY_CHARGES`.
THIRD_PARTY_CHARGES: Final = guesses.THIRD_PARTY_CHARGES


@dataclasses.dataclass(frozen=True, slots=True)
class CartonContentFields:
    """One part's quantity in one carton."""

    part_index: int  # index into the parts `job_mapping.job_parts` returned
    item_seq: int
    quantity: int
    note: str = ""

    def to_pace(self) -> dict[str, object]:
        """CartonContent properties; the driver adds carton, job and part references."""
        fields: dict[str, object] = {"quantity": self.quantity}
        if self.note:
            fields["note"] = self.note
        return fields


@dataclasses.dataclass(frozen=True, slots=True)
class CartonFields:
    """One carton of a shipment: default content, or its listed contents."""

    quantity: int
    add_default_content: bool
    contents: tuple[CartonContentFields, ...] = ()
    count: int = 1  # seed: "Number of cartons: Constant 1"

    def to_pace(self) -> dict[str, object]:
        """Carton properties; the driver adds `shipment` (the JobShipment id)."""
        return {
            "count": self.count,
            "quantity": self.quantity,
            "addDefaultContent": self.add_default_content,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ShipmentFields:
    """One JobShipment: where it goes, what is in it, how it ships."""

    location: LocationKey
    ship_to: Address
    shipping_method: str
    item_seqs: tuple[int, ...]
    part_indexes: tuple[int, ...]
    planned_quantity: int
    ship_via: int | None  # a Pace ShipVia id from the Accounts rule
    ship_via_name: str  # MatchByName: the method name the driver resolves to a ShipVia id
    account_number: str
    cartons: tuple[CartonFields, ...]
    rule: AccountMatch | None = None  # the Accounts rule that matched, for the trace

    @property
    def part_index(self) -> int:
        """The part the shipment itself belongs to in Pace: that of its first item."""
        return self.part_indexes[0]

    @property
    def charges(self) -> str:
        """Who pays: third party when there is an account number (seed)."""
        return THIRD_PARTY_CHARGES if self.account_number else ""

    def to_pace(self, *, ship_via: int | None = None) -> dict[str, object]:
        """JobShipment properties; `ship_via` is the id the driver resolved `ship_via_name` to."""
        address = self.ship_to
        fields: dict[str, object] = {
            "name": address.business.strip() or _full_name(address),
            "contactFirstName": address.first_name.strip(),
            "contactLastName": address.last_name.strip(),
            "email": address.email.strip(),
            "phone": (address.phone.strip() or address.cell_phone.strip()),
            "address1": address.address1.strip(),
            "address2": address.address2.strip(),
            "address3": address.address3.strip(),
            "city": address.city.strip(),
            "state": address.state.strip(),
            "zip": address.zip.strip(),
            "plannedQuantity": self.planned_quantity,
            "accountNumber": self.account_number,
            "charges": self.charges,
        }
        resolved = ship_via if ship_via is not None else self.ship_via
        if resolved is not None:
            fields["shipVia"] = resolved
        return fields


def shipments_for(
    order: Order, parts: Sequence[PartFields], settings: PaceSettings
) -> tuple[ShipmentFields, ...]:
    """The shipments of the pushed items whose `parts` (from `job_parts`) are given."""
    groups: dict[tuple[LocationKey, str], list[OrderItem]] = {}
    for seq in dict.fromkeys(part.item_seq for part in sorted(parts, key=lambda p: p.item_seq)):
        item = order.item(seq)
        method = _norm(item.shipping_method) if settings.enable_carton_contents else ""
        groups.setdefault((location_key(item.ship_to), method), []).append(item)
    shipments = []
    for (location, _method), items in groups.items():
        shipments.append(_shipment(order, location, items, parts, settings))
    return tuple(shipments)


def _shipment(
    order: Order,
    location: LocationKey,
    items: list[OrderItem],
    parts: Sequence[PartFields],
    settings: PaceSettings,
) -> ShipmentFields:
    first = items[0]
    seqs = tuple(item.seq for item in items)
    part_indexes = tuple(i for i, part in enumerate(parts) if part.item_seq in seqs)
    quantity = sum(item.quantity for item in items)
    method = " ".join(first.shipping_method.split())
    match = match_account_rule(
        settings.accounts,
        site_name=order.site_name,
        site_key=order.site,
        ship_to=first.ship_to,
        shipping_method=method,
    )
    if settings.enable_carton_contents:
        cartons = _listed_cartons(items, parts)
    else:
        cartons = (CartonFields(quantity=quantity, add_default_content=True),)
    return ShipmentFields(
        location=location,
        ship_to=first.ship_to,
        shipping_method=method,
        item_seqs=seqs,
        part_indexes=part_indexes,
        planned_quantity=quantity,
        ship_via=match.ship_via_id if match is not None else None,
        ship_via_name=match.ship_via if match is not None and match.by_name else "",
        account_number=match.account if match is not None else "",
        cartons=cartons,
        rule=match,
    )


def _listed_cartons(
    items: list[OrderItem], parts: Sequence[PartFields]
) -> tuple[CartonFields, ...]:
    together = [item for item in items if not item.ships_separately]
    alone = [item for item in items if item.ships_separately]
    cartons = []
    for group in ([together] if together else []) + [[item] for item in alone]:
        contents = tuple(
            CartonContentFields(
                part_index=index,
                item_seq=part.item_seq,
                quantity=part.quantity,
                note=part.description,
            )
            for index, part in enumerate(parts)
            if part.item_seq in {item.seq for item in group}
        )
        cartons.append(
            CartonFields(
                quantity=sum(content.quantity for content in contents),
                add_default_content=False,
                contents=contents,
            )
        )
    return tuple(cartons)


def _full_name(address: Address) -> str:
    return " ".join(p.strip() for p in (address.first_name, address.last_name) if p.strip())


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()
