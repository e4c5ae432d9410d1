"""The Pace Job and Job Part maps (seed 004 "Job Mapping Details", "Job Part Mapping Details")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from daemon.errors import BusinessRuleError
from daemon.orders.model import Approval, KitChild, Order, OrderItem, SiteUser
from daemon.providers.pace.job_mapping import (
    COMBINED_DATE_FIELDS,
    JOB_CREATE_FIELDS,
    PART_CREATE_FIELDS,
    SPLIT_DATE_FIELDS,
    DateFieldNames,
    ItemCharges,
    JobFields,
    MaterialFields,
    PartFields,
    date_field_names,
    date_field_names_for,
    item_charges,
    job_contact_fields,
    job_fields,
    job_parts,
    part_label,
    pushable_items,
)
from daemon.providers.pace.settings import PaceSettings, SiteOverrides
from daemon.providers.pace.site_rules import SiteMapping

D = Decimal
TODAY = dt.date(2024, 5, 7)  # a Tuesday; the order was placed on Monday the 6th
SETTINGS = PaceSettings(url="https://pace.example.com")
PLAIN = SiteMapping()  # defaults: adminStatus "O" (open), prices without tax and shipping
WITH_TAX = SiteMapping(admin_status="O", include_tax_and_shipping=True)

CARDS = OrderItem(
    seq=1,
    product_name="Business Cards",
    product_integration_id="BC-TPL",
    quantity=500,
    price=D("40.00"),
    pricing_details="Paper: 14pt; Sides: 2",
    attributes={"JobType": "7", "materialID": "PAPER-14"},
    po_number="",
)
FLYERS = OrderItem(
    seq=2,
    product_name="Flyers",
    quantity=1000,
    price=D("120.00"),
    pricing_details="A5, 4/4",
    po_number="PO-77",
)
DENIED = OrderItem(seq=3, product_name="Banner", price=D("999"), approval=Approval.DENIED)
CANCELLED = OrderItem(seq=4, product_name="Poster", price=D("999"), cancelled=True)
ORDER = Order(
    site="shop1",
    site_name="Acme Store",
    order_number="1001",
    order_date=dt.datetime(2024, 5, 6, 10, 0, tzinfo=dt.UTC),
    user=SiteUser(first_name="Ann", last_name="Lee", email="ann@acme.example"),
    items=(CARDS, FLYERS, DENIED, CANCELLED),
    notes="Please rush",
    shipping=D("10.00"),
    tax=D("3.00"),
)


def job(order: Order = ORDER, site: SiteMapping = PLAIN, **settings: object) -> JobFields:
    return job_fields(
        order,
        order.items,
        customer_id="ACME",
        settings=dataclasses.replace(SETTINGS, **settings),  # type: ignore[arg-type]
        site=site,
        today=TODAY,
    )


def parts(
    order: Order = ORDER, site: SiteMapping = PLAIN, **settings: object
) -> tuple[PartFields, ...]:
    return job_parts(
        order,
        order.items,
        settings=dataclasses.replace(SETTINGS, **settings),  # type: ignore[arg-type]
        site=site,
        today=TODAY,
    )


# -- Job ----------------------------------------------------------------------------------------


def test_the_job_follows_the_seed_table() -> None:
    assert job() == JobFields(
        customer="ACME",
        description="1001-Acme Store",
        job_type=1,
        contact_first_name="Ann",
        contact_last_name="Lee",
        po_number="PO-77",
        date_setup=TODAY,
        admin_status="O",
        promise_date=dt.date(2024, 5, 9),  # order date Mon 6th + 3 days
        original_quoted_price=D("160.00"),
        amount_to_invoice=D("160.00"),
        template_code="BC-TPL",
        additional_description="Please rush",
    )


@pytest.mark.parametrize(
    ("site", "total"),
    [
        (PLAIN, D("160.00")),
        # includeTaxAndShipping: + the order's tax (3.00) and shipping (10.00), not denied items
        (WITH_TAX, D("173.00")),
    ],
)
def test_job_total_with_and_without_tax_and_shipping(site: SiteMapping, total: Decimal) -> None:
    got = job(site=site)
    assert got.original_quoted_price == got.amount_to_invoice == total


@pytest.mark.parametrize(
    ("template", "order", "description"),
    [
        ("{OrderNumber}-{SiteName}", ORDER, "1001-Acme Store"),
        ("Web {ordernumber} ({SiteName})", ORDER, "Web 1001 (Acme Store)"),
        ("{OrderNumber}-{SiteName}", dataclasses.replace(ORDER, site_name=""), "1001-shop1"),
    ],
)
def test_job_description_template(template: str, order: Order, description: str) -> None:
    assert job(order, job_description=template).description == description


def test_site_level_job_type_description_and_promise_days_win() -> None:
    account = dataclasses.replace(SETTINGS, job_type=2, promise_days=10)
    site = SiteOverrides(promise_days=1, job_type=5, job_description="{SiteName}/{OrderNumber}")
    got = job_fields(
        ORDER,
        ORDER.items,
        customer_id="ACME",
        settings=account.with_site(site),
        site=PLAIN,
        today=TODAY,
    )
    assert (got.job_type, got.description, got.promise_date) == (
        5,
        "Acme Store/1001",
        dt.date(2024, 5, 7),
    )


@pytest.mark.parametrize(
    ("items", "po"),
    [
        ((CARDS, FLYERS), "PO-77"),  # the first item that has a PO #
        ((dataclasses.replace(CARDS, po_number=" PO-1 "), FLYERS), "PO-1"),
        ((CARDS,), "1001"),  # no PO #: the order number
        ((dataclasses.replace(DENIED, po_number="PO-9"), CARDS), "1001"),  # denied: ignored
    ],
)
def test_po_number(items: tuple[OrderItem, ...], po: str) -> None:
    assert job(dataclasses.replace(ORDER, items=items)).po_number == po


@pytest.mark.parametrize(
    ("requested", "order_date", "promise_days", "holidays", "expected"),
    [
        (dt.date(2024, 6, 1), ORDER.order_date, 3, frozenset(), dt.date(2024, 6, 1)),
        (None, ORDER.order_date, 3, frozenset(), dt.date(2024, 5, 9)),
        (None, ORDER.order_date, 3, frozenset({dt.date(2024, 5, 9)}), dt.date(2024, 5, 10)),
        # 5 calendar days land on a Saturday: the seed keeps it (promise_skips_weekends moves it)
        (None, ORDER.order_date, 5, frozenset(), dt.date(2024, 5, 11)),
        (None, None, 3, frozenset(), dt.date(2024, 5, 10)),  # no order date: today + 3
    ],
)
def test_scheduled_ship_and_promise(
    requested: dt.date | None,
    order_date: dt.datetime | None,
    promise_days: int,
    holidays: frozenset[dt.date],
    expected: dt.date,
) -> None:
    order = dataclasses.replace(ORDER, requested_ship_date=requested, order_date=order_date)
    assert job(order, promise_days=promise_days, holidays=holidays).promise_date == expected


def test_promise_skips_weekends_is_read_from_the_settings() -> None:
    # Order date Mon 2024-05-06 + 5 days = Sat 2024-05-11.
    assert job(promise_days=5).promise_date == dt.date(2024, 5, 11)
    assert job(promise_days=5, promise_skips_weekends=True).promise_date == dt.date(2024, 5, 13)


@pytest.mark.parametrize(
    ("items", "site", "expected"),
    [
        # setUserToDescription: first and last name, nothing else
        ((CARDS, FLYERS), SiteMapping(set_user_to_description=True), "Ann Lee"),
        # template code (first item's Integration ID) set: the order notes
        ((CARDS, FLYERS), PLAIN, "Please rush"),
        # no template code: product name, price, shipping, tax, quantity per item
        (
            (dataclasses.replace(CARDS, product_integration_id=""), FLYERS),
            PLAIN,
            "Business Cards, Price: 40.00, Shipping: 5.00, Tax: 1.50, Quantity: 500\n"
            "Flyers, Price: 120.00, Shipping: 5.00, Tax: 1.50, Quantity: 1000",
        ),
    ],
)
def test_job_additional_description(
    items: tuple[OrderItem, ...], site: SiteMapping, expected: str
) -> None:
    assert job(dataclasses.replace(ORDER, items=items), site=site).additional_description == (
        expected
    )


def test_job_to_pace_with_combined_date_fields() -> None:
    noon = dt.time(12, 0)
    assert job(site=WITH_TAX).to_pace(COMBINED_DATE_FIELDS, job_contact=31) == {
        "customer": "ACME",
        "description": "1001-Acme Store",
        "description2": "Please rush",
        "jobType": 1,
        "contactFirstName": "Ann",
        "contactLastName": "Lee",
        "poNum": "PO-77",
        "dateTimeSetup": dt.datetime.combine(TODAY, noon),
        "adminStatus": "O",
        "promiseDateTime": dt.datetime(2024, 5, 9, 12, 0),
        "scheduledShipDateTime": dt.datetime(2024, 5, 9, 12, 0),
        "scheduledShipDateForced": True,
        "originalQuotedPrice": D("173.00"),
        "originalQuotedPriceForced": True,
        "amountToInvoice": D("173.00"),
        "amountToInvoiceForced": True,
        "itemTemplate": "BC-TPL",
        "jobContact": 31,
    }


def test_job_to_pace_with_split_date_fields_and_no_template() -> None:
    order = dataclasses.replace(
        ORDER, items=(dataclasses.replace(CARDS, product_integration_id=""),)
    )
    fields = job(order).to_pace(SPLIT_DATE_FIELDS)
    assert fields["dateSetup"] == TODAY
    assert fields["promiseDate"] == dt.date(2024, 5, 9)
    # the older object model has no scheduled ship date field esd knows
    assert not {"scheduledShipDateTime", "scheduledShipDateForced", "dateTimeSetup"} & set(fields)
    assert "itemTemplate" not in fields and "jobContact" not in fields


def test_every_create_key_is_in_the_full_field_set() -> None:
    assert set(JOB_CREATE_FIELDS) <= set(job().to_pace())
    assert set(PART_CREATE_FIELDS) <= set(parts()[0].to_pace())


@pytest.mark.parametrize(
    ("style", "names"), [("combined", COMBINED_DATE_FIELDS), ("split", SPLIT_DATE_FIELDS)]
)
def test_date_field_names_for_the_setting(style: str, names: DateFieldNames) -> None:
    assert date_field_names(style) is names  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("promise_fields", "names"),
    [
        (("promiseDateTime",), COMBINED_DATE_FIELDS),
        (("promiseDate", "promiseTime"), SPLIT_DATE_FIELDS),
    ],
)
def test_date_field_names_from_the_servers_promise_fields(
    promise_fields: tuple[str, ...], names: DateFieldNames
) -> None:
    assert date_field_names_for(promise_fields) is names


def test_date_values_by_style() -> None:
    day = dt.date(2024, 5, 9)
    assert SPLIT_DATE_FIELDS.value(day) == day
    assert COMBINED_DATE_FIELDS.value(day) == dt.datetime(2024, 5, 9, 12, 0)
    early = dataclasses.replace(COMBINED_DATE_FIELDS, time_of_day=dt.time(8, 30))
    assert early.value(day) == dt.datetime(2024, 5, 9, 8, 30)


def test_job_contact_fields() -> None:
    assert job_contact_fields("J100", 12, "ACME") == {
        "job": "J100",
        "contact": 12,
        "customer": "ACME",
    }


@pytest.mark.parametrize("items", [(), (DENIED, CANCELLED)])
def test_no_item_to_push_is_a_business_error(items: tuple[OrderItem, ...]) -> None:
    order = dataclasses.replace(ORDER, items=items)
    with pytest.raises(BusinessRuleError, match="order 1001: no item to send to EFI Pace"):
        job(order)
    with pytest.raises(BusinessRuleError, match="all denied or cancelled"):
        parts(order)


# -- freight and tax per item -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shipping", "tax", "items", "expected"),
    [
        # the order's shipping and tax split evenly over the pushed items (denied ones excluded)
        (D("10.00"), D("3.00"), ORDER.items, {1: ("5.00", "1.50"), 2: ("5.00", "1.50")}),
        # leftover cents go one each to the first items: parts add up exactly
        (
            D("10.00"),
            D("0.01"),
            (CARDS, FLYERS, dataclasses.replace(FLYERS, seq=5)),
            {1: ("3.34", "0.01"), 2: ("3.33", "0.00"), 5: ("3.33", "0.00")},
        ),
        # an item's own shipping / tax from the storefront wins over the split
        (
            D("10.00"),
            D("3.00"),
            (dataclasses.replace(CARDS, shipping_cost=D("7.25"), tax=D("2.00")), FLYERS),
            {1: ("7.25", "2.00"), 2: ("0", "0")},
        ),
        (D("0"), D("0"), (CARDS,), {1: ("0.00", "0.00")}),
    ],
)
def test_item_charges(
    shipping: Decimal,
    tax: Decimal,
    items: tuple[OrderItem, ...],
    expected: dict[int, tuple[str, str]],
) -> None:
    order = dataclasses.replace(ORDER, shipping=shipping, tax=tax, items=items)
    got = item_charges(order, items)
    assert got == {seq: ItemCharges(D(f), D(t)) for seq, (f, t) in expected.items()}
    if not any(i.shipping_cost for i in items):
        assert sum(c.freight for c in got.values()) == shipping


def test_pushable_items_are_sorted_and_exclude_denied_and_cancelled() -> None:
    assert pushable_items((FLYERS, DENIED, CARDS, CANCELLED)) == (CARDS, FLYERS)


# -- Job Parts ----------------------------------------------------------------------------------


def test_one_part_per_item_and_the_first_updates_part_01() -> None:
    got = parts()
    assert got == (
        PartFields(
            item_seq=1,
            kit_child=None,
            update_part_01=True,
            description="1001-1 Business Cards",
            additional_description="Paper: 14pt; Sides: 2",
            job_type=7,  # product attribute JobType
            date_setup=TODAY,
            production_status="O",
            freight=D("5.00"),
            original_quoted_price=D("40.00"),
            quantity=500,
            template_code="BC-TPL",
            material=None,  # addMaterialInformation is off
        ),
        PartFields(
            item_seq=2,
            kit_child=None,
            update_part_01=False,
            description="1001-2 Flyers",
            additional_description="A5, 4/4",
            job_type=1,  # no JobType attribute: the job type
            date_setup=TODAY,
            production_status="O",
            freight=D("5.00"),
            original_quoted_price=D("120.00"),
            quantity=1000,
            template_code="",
        ),
    )


def test_part_prices_with_tax_and_shipping_and_the_site_status() -> None:
    got = parts(site=WITH_TAX)
    assert [(p.original_quoted_price, p.production_status) for p in got] == [
        (D("46.50"), "O"),
        (D("126.50"), "O"),
    ]


def test_part_job_type_falls_back_to_the_configured_job_type() -> None:
    assert [p.job_type for p in parts(job_type=4)] == [7, 4]


@pytest.mark.parametrize(
    ("attributes", "site", "material"),
    [
        (
            {"materialID": "PAPER-14"},
            SiteMapping(add_material_information=True),
            MaterialFields("PAPER-14", 500),
        ),
        (
            {"MaterialId": " PAPER-9 "},
            SiteMapping(add_material_information=True),
            MaterialFields("PAPER-9", 500),
        ),
        ({}, SiteMapping(add_material_information=True), None),  # product has no materialID
        ({"materialID": "PAPER-14"}, SiteMapping(add_material_information=False), None),
    ],
)
def test_materials(
    attributes: dict[str, str], site: SiteMapping, material: MaterialFields | None
) -> None:
    order = dataclasses.replace(ORDER, items=(dataclasses.replace(CARDS, attributes=attributes),))
    assert parts(order, site=site)[0].material == material
    if material is not None:
        assert material.to_pace() == {
            "inventoryItem": material.inventory_item,
            "plannedQuantity": 500,
        }


@pytest.mark.parametrize("value", ["Printing", "7a", "-1"])
def test_a_job_type_attribute_that_is_not_a_number_is_a_business_error(value: str) -> None:
    order = dataclasses.replace(
        ORDER, items=(dataclasses.replace(CARDS, attributes={"jobtype": value}),)
    )
    with pytest.raises(BusinessRuleError, match=f"item 1 \\(Business Cards\\).*{value!r}"):
        parts(order)


def test_a_blank_job_type_attribute_means_the_default() -> None:
    order = dataclasses.replace(
        ORDER, items=(dataclasses.replace(CARDS, attributes={"JobType": " "}),)
    )
    assert parts(order)[0].job_type == 1


KIT = OrderItem(
    seq=5,
    product_name="Welcome Kit",
    product_integration_id="KIT-TPL",
    quantity=10,
    price=D("30.00"),
    tax=D("2.00"),
    shipping_cost=D("4.00"),
    pricing_details="Kit of 3",
    attributes={"JobType": "9"},
    kit_children=(
        KitChild(name="Mug", quantity=10, cost=D("20.00"), integration_id="MUG"),
        KitChild(name="Sticker", quantity=0, cost=D("1.00")),
        KitChild(name="Pen", quantity=20, cost=D("9.00")),
    ),
)


@pytest.mark.parametrize(
    ("site", "prices"),
    [(PLAIN, [D("20.00"), D("9.00")]), (WITH_TAX, [D("26.00"), D("9.00")])],
)
def test_kit_children_become_parts_and_zero_quantities_are_skipped(
    site: SiteMapping, prices: list[Decimal]
) -> None:
    order = dataclasses.replace(ORDER, items=(FLYERS, KIT))
    got = parts(order, site=site)
    assert [
        (p.item_seq, p.kit_child, p.description, p.quantity, p.freight, p.template_code, p.job_type)
        for p in got
    ] == [
        (2, None, "1001-2 Flyers", 1000, D("0"), "", 1),
        (5, 0, "1001-5.1 Mug", 10, D("4.00"), "MUG", 1),
        (5, 2, "1001-5.3 Pen", 20, D("0"), "", 1),
    ]
    assert [p.original_quoted_price for p in got[1:]] == prices
    assert [p.update_part_01 for p in got] == [True, False, False]
    assert {p.additional_description for p in got[1:]} == {"Kit of 3"}


def test_a_kit_as_the_first_item_updates_part_01_with_its_first_child() -> None:
    got = parts(dataclasses.replace(ORDER, items=(KIT,)))
    assert [(p.description, p.update_part_01) for p in got] == [
        ("1001-5.1 Mug", True),
        ("1001-5.3 Pen", False),
    ]


def test_a_kit_whose_children_are_all_zero_is_one_part_of_its_own() -> None:
    empty = dataclasses.replace(
        KIT, kit_children=tuple(dataclasses.replace(c, quantity=0) for c in KIT.kit_children)
    )
    got = parts(dataclasses.replace(ORDER, items=(empty,)))
    assert [(p.description, p.kit_child, p.quantity, p.job_type) for p in got] == [
        ("1001-5 Welcome Kit", None, 10, 9)
    ]


def test_part_to_pace() -> None:
    first, second = parts(site=WITH_TAX)
    assert first.to_pace(COMBINED_DATE_FIELDS, job_contact=31) == {
        "description": "1001-1 Business Cards",
        "additionalDescription": "Paper: 14pt; Sides: 2",
        "jobType": 7,
        "dateTimeSetup": dt.datetime(2024, 5, 7, 12, 0),
        "productionStatus": "O",
        "freightAmt": D("5.00"),
        "originalQuotedPrice": D("46.50"),
        "originalQuotedPriceForced": True,
        "qtyOrdered": 500,
        "itemTemplate": "BC-TPL",
        "jobContact": 31,
    }
    split = second.to_pace(SPLIT_DATE_FIELDS)
    assert split["dateSetup"] == TODAY
    assert (
        "itemTemplate" not in split and "jobContact" not in split and "dateTimeSetup" not in split
    )


@pytest.mark.parametrize(
    ("seq", "kit_child", "label"), [(1, None, "1001-1"), (5, 0, "1001-5.1"), (5, 2, "1001-5.3")]
)
def test_part_label(seq: int, kit_child: int | None, label: str) -> None:
    assert part_label(ORDER, seq, kit_child) == label
