"""The estimate request (Infigo: "retrieves a sample estimate request from Tharstern with default
values ... we overwrite certain parts of that estimate then return it"; seed 002: "Map attribute
values (not just whole variants)", "parts/processes", "advanced mapping")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from daemon.errors import BusinessRuleError
from daemon.orders.model import OrderItem
from daemon.providers.tharstern.estimate_request import (
    estimate_reference,
    estimate_request,
    job_from_estimate,
)
from daemon.providers.tharstern.product_routing import EstimateItem, route_items
from daemon.providers.tharstern.settings import TharsternSettings, parse_settings
from tests.providers.tharstern.samples import (
    FULL_SETTINGS,
    MINIMAL_SETTINGS,
    example_request,
    item,
    order,
)

FULL = parse_settings(FULL_SETTINGS)
REFERENCE = "esd:tharstern:shop:1001"
REQUIRED = dt.date(2024, 6, 5)


def entry_for(settings: TharsternSettings, target: OrderItem) -> EstimateItem:
    routes = route_items(order(target), (target,), settings)
    (entry,) = routes.estimates
    return entry


def request_for(
    target: OrderItem, settings: TharsternSettings = FULL, **options: Any
) -> dict[str, Any]:
    return estimate_request(
        example_request(),
        order(target),
        entry_for(settings, target),
        settings,
        customer_code=options.pop("customer_code", "WEB002"),
        reference=REFERENCE,
        required_date=REQUIRED,
        **options,
    )


def test_every_request_gets_the_order_s_values() -> None:
    request = request_for(item(2, product_name="Flyers", quantity=250), delivery_code="DEL-9")
    assert request["ProductTypeId"] == 12
    assert request["Title"] == "1001-2 Flyers"
    assert request["Quantity"] == 250
    assert request["RequiredDateTime"] == "05-Jun-24"
    assert request["Customer"] == {"Code": "WEB002", "Name": "Example Customer"}
    assert request["DeliveryCustomer"] == {"Code": "DEL-9"}
    assert request["Ref1"] == estimate_reference(REFERENCE, 2) == "esd:tharstern:shop:1001/2"
    assert request["Ref2"] == "1001"
    assert "TotalPrice" not in request  # no price given
    # what the mapping does not touch stays as the example has it
    assert request["JobType"] == "WEB-LITHO"
    assert request["FinishedSize"] == {"Code": "A4"}


def test_a_price_goes_into_total_price() -> None:
    assert request_for(item(1), price=Decimal("130.5"))["TotalPrice"] == 130.5


def test_the_example_is_not_changed() -> None:
    example = example_request()
    flyer = item(1, attributes={"Paper": "Silk 150", "Lamination": "Matt"})
    estimate_request(
        example,
        order(flyer),
        entry_for(FULL, flyer),
        FULL,
        customer_code="WEB002",
        reference=REFERENCE,
        required_date=REQUIRED,
    )
    assert example == example_request()


@pytest.mark.parametrize(
    ("attributes", "part", "expected"),
    [
        # seed 002: attribute values -> paper
        ({"Paper": "Silk 150"}, 0, {"PaperCode": "SILK150", "GSM": 150}),
        ({"paper": " silk 150 "}, 0, {"PaperCode": "SILK150", "GSM": 150}),
        ({"Paper": "Gloss 300"}, 0, {"PaperCode": "GLOSS300", "GSM": 300}),  # no rule: as is
        # -> colours
        ({"Colours": "4/4"}, 0, {"FrontProcess": "4", "BackProcess": "4"}),
    ],
)
def test_attribute_values_fill_the_part(
    attributes: dict[str, str], part: int, expected: dict[str, object]
) -> None:
    request = request_for(item(1, attributes=attributes))
    assert {k: request["Parts"][part][k] for k in expected} == expected
    assert request["Parts"][1] == example_request()["Parts"][1]


def test_a_finishing_process_and_the_product_operations() -> None:
    # seed 002: "parts/processes"; the Flyers rule appends ProcessTypeID 13 by an operation,
    # and the account's operation copies the PO number to Ref3
    request = request_for(item(1, attributes={"Lamination": "Matt"}, po_number="PO-5"))
    assert request["Processes"] == [
        {"ProcessTypeID": 20, "Value": "1"},
        {"ProcessTypeID": 12, "MaterialCode": "MATT-LAM"},
        {"ProcessTypeID": 13},
    ]
    assert request["Ref3"] == "PO-5"


def test_pages_from_the_attribute_value_on_a_named_part() -> None:
    booklet = item(1, product_name="Booklet", attributes={"Size": "A5", "Pages": "24"})
    request = request_for(booklet)
    assert request["ProductTypeId"] == 14
    assert [(p["Name"], p["Pages"]) for p in request["Parts"]] == [("Cover", 4), ("Text", 24)]


def mapped(attribute_rule: dict[str, Any], **operations: Any) -> TharsternSettings:
    rule: dict[str, Any] = {"product": "Flyers", "product_type": 12, "attributes": [attribute_rule]}
    rule.update(operations)
    return parse_settings({**MINIMAL_SETTINGS, "products": [rule]})


@pytest.mark.parametrize(
    ("rule", "attributes", "check"),
    [
        # "" value: any value of the attribute; quantity from the value
        ({"attribute": "Qty", "quantity": "value"}, {"Qty": "1000"}, ("Quantity", 1000)),
        ({"attribute": "Qty", "value": "Box", "quantity": 250}, {"Qty": "box"}, ("Quantity", 250)),
        ({"attribute": "Qty", "value": "Box", "quantity": 250}, {"Qty": "Bag"}, ("Quantity", 500)),
        (
            {"attribute": "Sides", "part": "text", "back_colours": 0},
            {"Sides": "1"},
            ("Parts", "Text", "BackProcess", "0"),
        ),
        (
            {"attribute": "Pages", "part": 1, "pages": "value"},
            {"Pages": " 48 "},
            ("Parts", "Text", "Pages", 48),
        ),
        (
            {
                "attribute": "Crease",
                "part": 1,
                "process_on_part": True,
                "process": {
                    "process_type_id": 20,
                    "cost_centre_id": 7,
                    "outwork_id": 3,
                    "value": 2,
                },
            },
            {"Crease": "Yes"},
            (
                "Parts",
                "Text",
                "Processes",
                [{"ProcessTypeID": 20, "CostCentreID": 7, "OutworkID": 3, "Value": "2"}],
            ),
        ),
    ],
)
def test_simple_mapping_cases(rule: dict[str, Any], attributes: dict[str, str], check: Any) -> None:
    request = request_for(item(1, attributes=attributes), mapped(rule))
    if check[0] == "Quantity":
        assert request["Quantity"] == check[1]
    else:
        _, name, field, value = check
        (part,) = [p for p in request["Parts"] if p["Name"] == name]
        assert part[field] == value


@pytest.mark.parametrize(
    ("rule", "attributes", "message"),
    [
        (
            {"attribute": "Paper", "part": 3, "paper_code": "X"},
            {"Paper": "x"},
            "order 1001 item 1: products[0].attributes[0]: part 3 is not in the example estimate "
            "request of this product type (it has 2 parts)",
        ),
        (
            {"attribute": "Paper", "part": "Insert", "gsm": 90},
            {"Paper": "x"},
            "order 1001 item 1: products[0].attributes[0]: no part named 'Insert' in the example "
            "estimate request (its parts: 'Cover', 'Text')",
        ),
        (
            {"attribute": "Pages", "pages": "value"},
            {"Pages": "twenty"},
            "order 1001 item 1: products[0].attributes[0]: pages is the attribute's value, and "
            "'twenty' is not a whole number",
        ),
    ],
)
def test_what_the_example_cannot_take_is_an_error_naming_the_rule(
    rule: dict[str, Any], attributes: dict[str, str], message: str
) -> None:
    with pytest.raises(BusinessRuleError) as caught:
        request_for(item(1, attributes=attributes), mapped(rule))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("rule", "key", "words"),
    [
        ({"attribute": "Paper"}, "products[0].attributes[0]", "sets nothing"),
        ({"paper_code": "X"}, "products[0].attributes[0].attribute", "required"),
        ({"attribute": "P", "pages": "many"}, "products[0].attributes[0].pages", '"value"'),
        ({"attribute": "P", "gsm": 0}, "products[0].attributes[0].gsm", "at least 1"),
        ({"attribute": "P", "part": -1, "gsm": 9}, "products[0].attributes[0].part", "0 or more"),
        (
            {"attribute": "P", "process": {"cost_centre_id": 1}},
            "products[0].attributes[0].process.process_type_id",
            "required",
        ),
        (
            {"attribute": "P", "process": {"process_type_id": 1, "colour": 2}},
            "products[0].attributes[0].process.colour",
            "unknown key",
        ),
        (
            {"attribute": "P", "gsm": 90, "colour": 2},
            "products[0].attributes[0].colour",
            "unknown key",
        ),
    ],
)
def test_attribute_rule_problems_name_their_key(rule: dict[str, Any], key: str, words: str) -> None:
    from daemon.providers.tharstern.settings import settings_problems

    problems = settings_problems(
        {
            **MINIMAL_SETTINGS,
            "products": [{"product": "F", "product_type": 1, "attributes": [rule]}],
        }
    )
    assert any(k == key and words in m for k, m in problems), problems


def test_a_stock_rule_takes_no_attribute_mapping() -> None:
    from daemon.providers.tharstern.settings import settings_problems

    problems = settings_problems(
        {
            **MINIMAL_SETTINGS,
            "products": [
                {"product": "F", "stock_item": "S", "attributes": [{"attribute": "P", "gsm": 9}]}
            ],
        }
    )
    assert (
        "products[0]",
        "attributes and operations shape an estimate request: they need product_type",
    ) in problems


def test_two_rules_for_the_same_product_and_variant() -> None:
    from daemon.providers.tharstern.settings import settings_problems

    problems = settings_problems(
        {
            **MINIMAL_SETTINGS,
            "products": [
                {"product": "F", "stock_item": "S"},
                {"product": "f", "product_type": 2},
            ],
        }
    )
    assert [k for k, _ in problems] == ["products[1]"]


@pytest.mark.parametrize(("ready", "workflow"), [(True, True), (False, False), (True, False)])
def test_job_from_estimate_takes_the_flags_from_settings(ready: bool, workflow: bool) -> None:
    # ROIOrders: {EstimateID, Ref1, Ref2, SetAsProductionReady, SubmitToWorkflow}
    settings = parse_settings(
        {**MINIMAL_SETTINGS, "production_ready": ready, "submit_to_workflow": workflow}
    )
    assert job_from_estimate(4711, REFERENCE, order(item(3)), 3, settings) == {
        "EstimateID": 4711,
        "Ref1": "esd:tharstern:shop:1001/3",
        "Ref2": "1001",
        "SetAsProductionReady": ready,
        "SubmitToWorkflow": workflow,
    }
