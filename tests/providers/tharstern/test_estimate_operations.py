"""The advanced mapping (seed 002: "JSON/node mapping tweaks", "advanced mapping to shape estimate
requests (parts/processes and configurable mapping code)"): operations checked at check-config
with errors naming the operation's index and key, and applied without changing the input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from daemon.errors import BusinessRuleError
from daemon.providers.tharstern.estimate_operations import (
    apply_operations,
    operation_problems,
    parse_operations,
    source_value,
)
from daemon.providers.tharstern.json_paths import MISSING
from tests.providers.tharstern.samples import example_request, item, order

ITEM = item(1, po_number="PO-77", attributes={"Paper Type": "Silk", "Finish": ""})
ORDER = order(ITEM)


def run(*operations: dict[str, Any]) -> dict[str, Any]:
    parsed, problems = parse_operations(list(operations))
    assert problems == []
    return apply_operations(example_request(), parsed, ORDER, ITEM)


@pytest.mark.parametrize(
    ("operation", "path", "expected"),
    [
        # set: any JSON value at a path
        ({"op": "set", "path": "JobType", "value": "WEB-DIGITAL"}, "JobType", "WEB-DIGITAL"),
        ({"op": "set", "path": "Parts[1].Pages", "value": 32}, "Parts", None),
        (
            {"op": "set", "path": "FinishedSize", "value": {"Width": 99, "Depth": 210}},
            "FinishedSize",
            {"Width": 99, "Depth": 210},
        ),
        # copy: an order field, an item field, an attribute (names with spaces)
        ({"op": "copy", "path": "Ref3", "from": "item.po_number"}, "Ref3", "PO-77"),
        ({"op": "copy", "path": "Ref4", "from": "order.order_number"}, "Ref4", "1001"),
        ({"op": "copy", "path": "Ref5", "from": "item.attributes.Paper Type"}, "Ref5", "Silk"),
        ({"op": "copy", "path": "Ref5", "from": "item.attributes.paper type"}, "Ref5", "Silk"),
        (
            {"op": "copy", "path": "Customer.ContactEmail", "from": "user.email"},
            "Customer",
            {"Code": "EXAMPLE", "Name": "Example Customer", "ContactEmail": "sam@acme.example"},
        ),
        ({"op": "copy", "path": "Ref6", "from": "ship_to.city"}, "Ref6", "Leeds"),
        ({"op": "copy", "path": "TotalPrice", "from": "item.price"}, "TotalPrice", 120),
        (
            {"op": "copy", "path": "Ref7", "from": "order.order_date"},
            "Ref7",
            "2024-06-03T09:30:00+00:00",
        ),
        # copy of an empty field: the default, else nothing changes
        (
            {"op": "copy", "path": "Ref8", "from": "item.attributes.Finish", "default": "None"},
            "Ref8",
            "None",
        ),
        ({"op": "copy", "path": "Ref1", "from": "item.notes"}, "Ref1", ""),
        # append_process: to the product's processes, or a part's
        (
            {"op": "append_process", "process": {"ProcessTypeID": 13}},
            "Processes",
            [{"ProcessTypeID": 20, "Value": "1"}, {"ProcessTypeID": 13}],
        ),
        (
            {
                "op": "append_process",
                "path": "Parts[Name=Cover].Processes",
                "process": {"ProcessTypeID": 12, "MaterialCode": "GLOSS-LAM"},
            },
            "Parts[0].Processes",
            [{"ProcessTypeID": 12, "MaterialCode": "GLOSS-LAM"}],
        ),
        # remove
        ({"op": "remove", "path": "JobType"}, "JobType", MISSING),
    ],
)
def test_each_operation(operation: dict[str, Any], path: str, expected: object) -> None:
    from daemon.providers.tharstern.json_paths import parse_path, read

    result = run(operation)
    if expected is None:
        assert result["Parts"][1]["Pages"] == 32
    else:
        assert read(result, parse_path(path)) == expected


def test_operations_run_in_order_and_never_change_the_input() -> None:
    example = example_request()
    parsed, _ = parse_operations(
        [
            {"op": "set", "path": "Ref3", "value": "first"},
            {"op": "copy", "path": "Ref3", "from": "item.po_number"},
            {"op": "remove", "path": "Parts[0]"},
            {"op": "set", "path": "Parts[0].Pages", "value": 8},  # now the Text part
        ]
    )
    result = apply_operations(example, parsed, ORDER, ITEM)
    assert result["Ref3"] == "PO-77"
    assert [(p["Name"], p["Pages"]) for p in result["Parts"]] == [("Text", 8)]
    assert example == example_request()


@pytest.mark.parametrize(
    ("operations", "key", "words"),
    [
        ("set Title", "operations", "array of tables"),
        (["set"], "operations[0]", "expected a table"),
        ([{"path": "Title"}], "operations[0].op", "expected one of set, copy"),
        ([{"op": "set", "path": "Title"}], "operations[0].value", "required by set"),
        ([{"op": "set", "value": 1}], "operations[0].path", "required by set"),
        (
            [{"op": "set", "path": "Title", "value": 1, "from": "x"}],
            "operations[0].from",
            "not a key of set",
        ),
        ([{"op": "set", "path": "Parts[x]", "value": 1}], "operations[0].path", "step"),
        ([{"op": "set", "path": "Parts[]", "value": 1}], "operations[0].path", "append_process"),
        (
            [{"op": "copy", "path": "Ref3", "from": "order.po"}],
            "operations[0].from",
            "order has no field 'po'",
        ),
        (
            [{"op": "copy", "path": "Ref3", "from": "buyer.email"}],
            "operations[0].from",
            "must start with order.",
        ),
        (
            [{"op": "copy", "path": "Ref3", "from": "item.attributes."}],
            "operations[0].from",
            "names no attribute",
        ),
        (
            [{"op": "copy", "path": "Ref3", "from": "item.items"}],
            "operations[0].from",
            "item has no field",
        ),
        ([{"op": "append_process", "process": []}], "operations[0].process", "table of process"),
        (
            [{"op": "append_process", "path": "Processes[0]", "process": {"ProcessTypeID": 1}}],
            "operations[0].path",
            "must name a list",
        ),
        ([{"op": "remove", "path": "A"}, {"op": "nope"}], "operations[1].op", "expected one of"),
    ],
)
def test_problems_name_the_operation_index_and_key(
    operations: object, key: str, words: str
) -> None:
    problems = operation_problems(operations)
    assert any(k == key and words in m for k, m in problems), problems


def test_a_toml_date_must_be_written_as_text() -> None:
    import datetime as dt

    problems = operation_problems(
        [{"op": "set", "path": "RequiredDateTime", "value": dt.date(2024, 6, 5)}]
    )
    assert problems == [
        ("operations[0].value", "'2024-06-05': write dates as text, e.g. \"2024-06-05\"")
    ]


def test_an_operation_the_request_cannot_take_names_the_operation_and_item() -> None:
    parsed, _ = parse_operations(
        [{"op": "remove", "path": "JobType"}, {"op": "set", "path": "Parts[4].Pages", "value": 8}]
    )
    with pytest.raises(BusinessRuleError) as caught:
        apply_operations(example_request(), parsed, ORDER, ITEM)
    assert caught.value.message == (
        "order 1001 item 1: advanced mapping operation 1 (set Parts[4].Pages): "
        "Parts[4].Pages: Parts[4]: no such element (the list has 2)"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("item.quantity", 500),
        ("item.price", 120),
        ("order.shipping", 10),
        ("order.payment", "paid"),
        ("item.approval", "approved"),
        ("item.cancelled", False),
        ("order.requested_ship_date", MISSING),
        ("user.integration_id", MISSING),
        ("item.attributes.Nope", MISSING),
    ],
)
def test_source_values(source: str, expected: object) -> None:
    assert source_value(ORDER, ITEM, source) == expected


def test_money_with_cents_is_a_json_number() -> None:
    priced = item(1, price=Decimal("12.34"))
    assert source_value(order(priced), priced, "item.price") == 12.34
