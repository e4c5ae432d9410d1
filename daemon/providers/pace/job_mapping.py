"""The Job and Job Part field maps (seed 004, "Job Mapping Details", "Job Part Mapping Details").

Pure: `job_fields` and `job_parts` turn an order into frozen records whose `to_pace(names)`
gives the dict the driver sends (CreateObject / UpdateObject), keyed by real Pace property names
(rest_swagger_selected_definitions.json: Job, JobPart, JobMaterial, JobContact). The driver adds
the keys only Pace knows: `job` (and `jobPart`) of the objects it updates, and `jobContact`
(pass `job_contact=` to `to_pace`).

Job (swagger `Job`):

    seed field               Pace property                         source
    Customer                 customer                              step 3 (`customer_id`)
    Description              description                           Job Description template
    Job Type                 jobType                               settings (site, account; 1)
    Contact First/Last Name  contactFirstName, contactLastName     site user
    PO Number                poNum                                 first item PO #, else the
                                                                   order number
    Date Setup               dateTimeSetup | dateSetup             `today`
    Contact                  jobContact (a JobContact id)          step 3, via `job_contact_fields`
    Status                   adminStatus                           site mapping adminStatus
    Scheduled Ship and       promiseDateTime | promiseDate,        `promise_date` (requested ship
    Promise                  scheduledShipDateTime (+Forced)       date, else order date + N days)
    Original Quoted Price    originalQuotedPrice (+Forced = true)  job total (below)
    Amount To Invoice        amountToInvoice (+Forced = true)      job total (below)
    Template code            itemTemplate                          first item's product
                                                                   Integration ID (omitted if empty)
    Additional Description   description2                          see below

Job Part (swagger `JobPart`), one per item; kits give one part per child (below):

    seed field               Pace property                         source
    Customer, Contact        (none on JobPart) / jobContact        the job's
    Description              description                           "{order}-{seq} {product}"
    Job Type                 jobType                               product attribute JobType,
                                                                   else the job's job type
    Date Setup               dateTimeSetup | dateSetup             `today`
    Status                   productionStatus                      site mapping adminStatus
    Freight Amount           freightAmt                            the item's freight (below)
    Original Quoted Price    originalQuotedPrice (+Forced = true)  item total (below)
    Quantity Ordered         qtyOrdered                            item quantity
    Template code            itemTemplate                          product Integration ID
    Additional Description   additionalDescription                 the item's pricing details
    Materials                JobMaterial.inventoryItem             product attribute materialID
    Materials Planned qty    JobMaterial.plannedQuantity           item quantity

Date field names depend on the Pace version (pace.md §6 "Version drift"): `COMBINED_DATE_FIELDS`
(newer: dateTimeSetup, promiseDateTime, scheduledShipDateTime) or `SPLIT_DATE_FIELDS` (older:
dateSetup, promiseDate; no scheduled ship date field is known there, so none is sent), chosen by
the `date_fields` setting or, when it is "auto", by `date_field_names_for` from the server's
WSDL. Dates are written as the SOAP client reads them: a `date` (split style: that calendar
day) or a naive `datetime` (combined style: the shop's wall time, noon of the day).

Decisions where the seed is silent (each is tested):

- Items denied or cancelled are never mapped (again here, whatever the caller passes); parts are
  in item sequence order. No item left is a `BusinessRuleError`.
- Pace creates part 01 with every job (pace.md §6): the first part is marked `update_part_01`
  and must be applied with UpdateObject to part "01"; the rest are created.
- Item prices are line totals. Item total = price, plus the item's tax and freight when the
  site's includeTaxAndShipping is true; job total = the sum of item totals of the pushed items
  (not the storefront's order total, which still counts denied items).
- Freight per item ("calculated, based on total items in order"): the item's own shipping cost
  when the storefront gives any item one; otherwise the order's shipping split evenly over the
  pushed items (by line, not by quantity), in cents, the leftover cents going one each to the
  first items, so the parts add up to the order's shipping exactly. Tax the same way.
- Kits: each child with a quantity above 0 is a part with the child's quantity and its cost as
  the price; the kit's own tax and freight go to its first part. A kit whose children all have
  quantity 0 becomes one part of its own, so the item still reaches Pace. Kit children carry no
  product attributes: job type is the job's, no material; template code = the child's
  Integration ID; additional description = the kit's pricing details.
- The part description "Order Item Identifier + product name" is "{order number}-{item seq}
  {product name}" ("{order}-{seq}.{n}" for the n-th kit child): readable, and unique in the job
  so the driver can recognise parts it already made.
- The job's "Additional Description" is `Job.description2` (Job has no additionalDescription).
  setUserToDescription: the user's first and last name, nothing else; else, when the job has a
  template code, the order notes; else one line per item: "{product}, Price: p, Shipping: s,
  Tax: t, Quantity: q".
- Product attribute names (`JobType`, `materialID`) are matched case-insensitively. A JobType
  that is not a whole number is a `BusinessRuleError` naming the item. With
  addMaterialInformation and no materialID on the product, the part has no material.
- The seed's Materials row says "fill description with materialID": the material is referenced
  by `inventoryItem` (the Pace inventory item id), and Pace fills the description itself.
- Forced flags (`originalQuotedPriceForced`, `amountToInvoiceForced`,
  `scheduledShipDateForced`) are set so Pace keeps the storefront's values instead of
  recalculating them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from daemon.errors import BusinessRuleError
from daemon.orders.charges import ItemCharges, item_charges
from daemon.orders.model import KitChild, Order, OrderItem
from daemon.orders.promise_date import promise_date
from daemon.orders.push_rules import pushable_items
from daemon.providers.pace.settings import DateStyle, PaceSettings, render_description
from daemon.providers.pace.site_rules import SiteMapping

__all__ = [
    "COMBINED_DATE_FIELDS",
    "JOB_CREATE_FIELDS",
    "JOB_TYPE_ATTRIBUTE",
    "MATERIAL_ATTRIBUTE",
    "PART_CREATE_FIELDS",
    "SPLIT_DATE_FIELDS",
    "DateFieldNames",
    "ItemCharges",
    "JobFields",
    "MaterialFields",
    "PartFields",
    "date_field_names",
    "date_field_names_for",
    "item_charges",
    "job_contact_fields",
    "job_fields",
    "job_parts",
    "part_label",
    "pushable_items",
]

#: product attribute that sets a part's job type (seed: "Product attribute with name JobType")
JOB_TYPE_ATTRIBUTE: Final = "JobType"
#: product attribute that names a part's material (seed: "Product attribute materialID")
MATERIAL_ATTRIBUTE: Final = "materialID"
#: the keys a driver needs on CreateObject.createJob; the rest are applied by UpdateObject,
#: overriding what Pace's template put there (seed step 4)
JOB_CREATE_FIELDS: Final = ("customer", "description", "jobType", "itemTemplate")
#: the keys a driver needs on CreateObject.createJobPart (with `job`); the rest by UpdateObject
PART_CREATE_FIELDS: Final = ("description", "jobType", "qtyOrdered", "itemTemplate")

_CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True, slots=True)
class DateFieldNames:
    """Which Pace properties hold dates, for one Pace version, and how a day is written there."""

    style: DateStyle
    job_date_setup: str
    job_promise: str
    job_scheduled_ship: str | None  # None: this version has no field esd knows for it
    part_date_setup: str
    # combined fields are date-times: a calendar day is written at this shop-local wall time,
    # noon, so that a conversion to or from UTC anywhere within +/-11 h keeps the same day
    time_of_day: dt.time = dt.time(12, 0)

    def value(self, day: dt.date) -> dt.date | dt.datetime:
        """`day` as this style writes it: a date (split) or a naive local date-time (combined)."""
        if self.style == "split":
            return day
        return dt.datetime.combine(day, self.time_of_day)


COMBINED_DATE_FIELDS: Final = DateFieldNames(
    style="combined",
    job_date_setup="dateTimeSetup",
    job_promise="promiseDateTime",
    job_scheduled_ship="scheduledShipDateTime",
    part_date_setup="dateTimeSetup",
)
SPLIT_DATE_FIELDS: Final = DateFieldNames(
    style="split",
    job_date_setup="dateSetup",
    job_promise="promiseDate",
    job_scheduled_ship=None,
    part_date_setup="dateSetup",
)


def date_field_names(style: DateStyle) -> DateFieldNames:
    """The date field names for a `date_fields` setting of "combined" or "split"."""
    return SPLIT_DATE_FIELDS if style == "split" else COMBINED_DATE_FIELDS


def date_field_names_for(job_promise_fields: Sequence[str]) -> DateFieldNames:
    """The date field names for `date_fields = "auto"`, from the Job promise fields the server's
    WSDL has (`PaceClient.job_promise_fields()`): promiseDateTime means the newer object model."""
    return COMBINED_DATE_FIELDS if "promiseDateTime" in job_promise_fields else SPLIT_DATE_FIELDS


@dataclasses.dataclass(frozen=True, slots=True)
class JobFields:
    """The Job, storefront side (see the module docstring for each field's source)."""

    customer: str
    description: str
    job_type: int
    contact_first_name: str
    contact_last_name: str
    po_number: str
    date_setup: dt.date
    admin_status: str
    promise_date: dt.date
    original_quoted_price: Decimal
    amount_to_invoice: Decimal
    template_code: str
    additional_description: str

    def to_pace(
        self, names: DateFieldNames = COMBINED_DATE_FIELDS, *, job_contact: int | None = None
    ) -> dict[str, object]:
        """The Job's Pace properties; `job_contact` is the JobContact id, when known."""
        fields: dict[str, object] = {
            "customer": self.customer,
            "description": self.description,
            "description2": self.additional_description,
            "jobType": self.job_type,
            "contactFirstName": self.contact_first_name,
            "contactLastName": self.contact_last_name,
            "poNum": self.po_number,
            names.job_date_setup: names.value(self.date_setup),
            "adminStatus": self.admin_status,
            names.job_promise: names.value(self.promise_date),
        }
        if names.job_scheduled_ship is not None:
            fields[names.job_scheduled_ship] = names.value(self.promise_date)
            fields["scheduledShipDateForced"] = True
        fields["originalQuotedPrice"] = self.original_quoted_price
        fields["originalQuotedPriceForced"] = True
        fields["amountToInvoice"] = self.amount_to_invoice
        fields["amountToInvoiceForced"] = True
        if self.template_code:
            fields["itemTemplate"] = self.template_code
        if job_contact is not None:
            fields["jobContact"] = job_contact
        return fields


@dataclasses.dataclass(frozen=True, slots=True)
class MaterialFields:
    """A Job Material of one part (site mapping addMaterialInformation)."""

    inventory_item: str
    planned_quantity: int

    def to_pace(self) -> dict[str, object]:
        """JobMaterial properties; the driver adds `job`, `jobPart` and `jobPartKey`."""
        return {"inventoryItem": self.inventory_item, "plannedQuantity": self.planned_quantity}


@dataclasses.dataclass(frozen=True, slots=True)
class PartFields:
    """One Job Part, storefront side; `update_part_01` marks the first (Pace made it already)."""

    item_seq: int
    kit_child: int | None  # index into the item's kit_children, None for a plain item
    update_part_01: bool
    description: str
    additional_description: str
    job_type: int
    date_setup: dt.date
    production_status: str
    freight: Decimal
    original_quoted_price: Decimal
    quantity: int
    template_code: str
    material: MaterialFields | None = None

    def to_pace(
        self, names: DateFieldNames = COMBINED_DATE_FIELDS, *, job_contact: int | None = None
    ) -> dict[str, object]:
        """The part's Pace properties; the driver adds `job` (and `jobPart` to update)."""
        fields: dict[str, object] = {
            "description": self.description,
            "additionalDescription": self.additional_description,
            "jobType": self.job_type,
            names.part_date_setup: names.value(self.date_setup),
            "productionStatus": self.production_status,
            "freightAmt": self.freight,
            "originalQuotedPrice": self.original_quoted_price,
            "originalQuotedPriceForced": True,
            "qtyOrdered": self.quantity,
        }
        if self.template_code:
            fields["itemTemplate"] = self.template_code
        if job_contact is not None:
            fields["jobContact"] = job_contact
        return fields


def job_fields(
    order: Order,
    items: Sequence[OrderItem],
    *,
    customer_id: str,
    settings: PaceSettings,
    site: SiteMapping,
    today: dt.date,
) -> JobFields:
    """The Job for `order`'s pushed `items`; `settings` carries the site's overrides."""
    pushed = _require_items(order, items)
    charges = item_charges(order, pushed)
    total = sum((_item_total(item, charges[item.seq], site) for item in pushed), start=Decimal("0"))
    template_code = pushed[0].product_integration_id.strip()
    return JobFields(
        customer=customer_id,
        description=render_description(
            settings.job_description,
            order_number=order.order_number,
            site_name=order.site_name or order.site,
        ),
        job_type=settings.job_type,
        contact_first_name=order.user.first_name.strip(),
        contact_last_name=order.user.last_name.strip(),
        po_number=next((i.po_number.strip() for i in pushed if i.po_number.strip()), "")
        or order.order_number,
        date_setup=today,
        admin_status=site.admin_status,
        promise_date=promise_date(
            requested_ship_date=order.requested_ship_date,
            order_date=order.order_date.date() if order.order_date is not None else None,
            today=today,
            days=settings.promise_days,
            holidays=settings.holidays,
            skip_weekends=settings.promise_skips_weekends,
        ),
        original_quoted_price=total,
        amount_to_invoice=total,
        template_code=template_code,
        additional_description=_job_additional_description(
            order, pushed, charges, site, template_code
        ),
    )


def job_parts(
    order: Order,
    items: Sequence[OrderItem],
    *,
    settings: PaceSettings,
    site: SiteMapping,
    today: dt.date,
) -> tuple[PartFields, ...]:
    """The Job Parts, in order; index 0 is `update_part_01` (see the module docstring)."""
    pushed = _require_items(order, items)
    charges = item_charges(order, pushed)
    parts: list[PartFields] = []
    for item in pushed:
        parts += _item_parts(order, item, charges[item.seq], settings, site, today)
    if parts:
        parts[0] = dataclasses.replace(parts[0], update_part_01=True)
    return tuple(parts)


def part_label(order: Order, item_seq: int, kit_child: int | None = None) -> str:
    """The "Order Item Identifier" of a part: "{order}-{seq}", or "{order}-{seq}.{n}" for a kit."""
    label = f"{order.order_number}-{item_seq}"
    return label if kit_child is None else f"{label}.{kit_child + 1}"


def job_contact_fields(job: str, contact_id: int, customer_id: str) -> dict[str, object]:
    """A JobContact linking the step-3 contact to the job; its id goes in `jobContact`."""
    return {"job": job, "contact": contact_id, "customer": customer_id}


# -- helpers ------------------------------------------------------------------------------------


def _require_items(order: Order, items: Sequence[OrderItem]) -> tuple[OrderItem, ...]:
    pushed = pushable_items(items)
    if not pushed:
        raise BusinessRuleError(
            f"order {order.order_number}: no item to send to EFI Pace (all denied or cancelled)"
        )
    return pushed


def _item_total(item: OrderItem, charges: ItemCharges, site: SiteMapping) -> Decimal:
    if site.include_tax_and_shipping:
        return item.price + charges.tax + charges.freight
    return item.price


def _item_parts(
    order: Order,
    item: OrderItem,
    charges: ItemCharges,
    settings: PaceSettings,
    site: SiteMapping,
    today: dt.date,
) -> list[PartFields]:
    children = [(n, child) for n, child in enumerate(item.kit_children) if child.quantity > 0]
    if not children:
        return [_plain_part(order, item, charges, settings, site, today)]
    parts = []
    for position, (n, child) in enumerate(children):
        first = position == 0
        parts.append(_kit_part(order, item, n, child, charges, first, settings, site, today))
    return parts


def _plain_part(
    order: Order,
    item: OrderItem,
    charges: ItemCharges,
    settings: PaceSettings,
    site: SiteMapping,
    today: dt.date,
) -> PartFields:
    material = None
    if site.add_material_information:
        material_id = _attribute(item.attributes, MATERIAL_ATTRIBUTE).strip()
        if material_id:
            material = MaterialFields(inventory_item=material_id, planned_quantity=item.quantity)
    return PartFields(
        item_seq=item.seq,
        kit_child=None,
        update_part_01=False,
        description=f"{part_label(order, item.seq)} {item.product_name}".strip(),
        additional_description=item.pricing_details,
        job_type=_part_job_type(item, settings),
        date_setup=today,
        production_status=site.admin_status,
        freight=charges.freight,
        original_quoted_price=_item_total(item, charges, site),
        quantity=item.quantity,
        template_code=item.product_integration_id.strip(),
        material=material,
    )


def _kit_part(
    order: Order,
    item: OrderItem,
    n: int,
    child: KitChild,
    charges: ItemCharges,
    first: bool,
    settings: PaceSettings,
    site: SiteMapping,
    today: dt.date,
) -> PartFields:
    price = child.cost
    if first and site.include_tax_and_shipping:
        price += charges.tax + charges.freight
    return PartFields(
        item_seq=item.seq,
        kit_child=n,
        update_part_01=False,
        description=f"{part_label(order, item.seq, n)} {child.name}".strip(),
        additional_description=item.pricing_details,
        job_type=settings.job_type,
        date_setup=today,
        production_status=site.admin_status,
        freight=charges.freight if first else Decimal("0"),
        original_quoted_price=price,
        quantity=child.quantity,
        template_code=child.integration_id.strip(),
    )


def _part_job_type(item: OrderItem, settings: PaceSettings) -> int:
    raw = _attribute(item.attributes, JOB_TYPE_ATTRIBUTE).strip()
    if not raw:
        return settings.job_type
    if not raw.isdigit():
        raise BusinessRuleError(
            f"item {item.seq} ({item.product_name}): product attribute {JOB_TYPE_ATTRIBUTE} "
            f"is {raw!r}, not a Pace job type number"
        )
    return int(raw)


def _attribute(attributes: Mapping[str, str], name: str) -> str:
    wanted = name.casefold()
    return next((v for k, v in attributes.items() if k.strip().casefold() == wanted), "")


def _job_additional_description(
    order: Order,
    items: Sequence[OrderItem],
    charges: Mapping[int, ItemCharges],
    site: SiteMapping,
    template_code: str,
) -> str:
    if site.set_user_to_description:
        return " ".join(
            part.strip() for part in (order.user.first_name, order.user.last_name) if part.strip()
        )
    if template_code:
        return order.notes
    return "\n".join(
        f"{item.product_name}, Price: {_money(item.price)}, "
        f"Shipping: {_money(charges[item.seq].freight)}, Tax: {_money(charges[item.seq].tax)}, "
        f"Quantity: {item.quantity}"
        for item in items
    )


def _money(amount: Decimal) -> str:
    return str(amount.quantize(_CENT, rounding=ROUND_HALF_UP))
