"""An item's print-ready files, from Pressero's item row to `OrderItem.files` and the stored JSON.

Pressero's order-item file fields are not public (pressero.md §5 gap 1), so their names are
guesses (`guesses.ITEM_FILES_FIELD`, ...): a value of another shape costs that file, with a
warning naming the order and item, never the order.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from daemon.orders.model import ItemFile, Order, OrderItem
from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.mapping import order_from_api

PDF = "https://printshop.example/edocfiles/77/1/77-1-production.pdf"


def _entry(url: Any, name: Any = "production.pdf") -> dict[str, Any]:
    return {g.ITEM_FILE_URL_FIELD: url, g.ITEM_FILE_NAME_FIELD: name}


def _map(files: Any) -> tuple[tuple[ItemFile, ...], list[MutableMapping[str, Any]]]:
    """The files the mapping reads from one row holding `files`, and the warnings it logged."""
    row: dict[str, Any] = {"OrderItemSeq": 1, "Quantity": 10}
    if files is not ...:
        row[g.ITEM_FILES_FIELD] = files
    with capture_logs() as logs:
        order = order_from_api({"OrderNumber": 77}, [row], "shop")
    return order.item(1).files, [e for e in logs if e["log_level"] == "warning"]


# seed 000: "Is artwork from an order sent to Tharstern as well as the order data?"; seed 004:
# "All order item information and production files (if available) will transfer"
GOOD_CASES = [
    pytest.param(..., (), id="no files field: no files"),
    pytest.param(None, (), id="null: no files"),
    pytest.param([], (), id="empty list: no files"),
    pytest.param([_entry(PDF)], (ItemFile(PDF, "production.pdf"),), id="one generated PDF"),
    pytest.param(
        [_entry("http://files.example/a.pdf", None), _entry(" https://files.example/b.pdf ")],
        (
            ItemFile("http://files.example/a.pdf"),
            ItemFile("https://files.example/b.pdf", "production.pdf"),
        ),
        id="http too, no name, spaces around the URL trimmed",
    ),
    pytest.param(
        [_entry(PDF), _entry(PDF, "again.pdf")],
        (ItemFile(PDF, "production.pdf"),),
        id="the same URL twice: once",
    ),
    pytest.param(
        [{g.ITEM_FILE_URL_FIELD.upper(): PDF, g.ITEM_FILE_NAME_FIELD.lower(): "p.pdf"}],
        (ItemFile(PDF, "p.pdf"),),
        id="field names in any case",
    ),
]


@pytest.mark.parametrize(("files", "expected"), GOOD_CASES)
def test_files_are_read_from_the_item_row(files: Any, expected: tuple[ItemFile, ...]) -> None:
    read, warnings = _map(files)
    assert read == expected
    assert warnings == []


BAD_CASES = [
    pytest.param(
        "https://files.example/a.pdf", 0, "expected a list, got str", id="a string, not a list"
    ),
    pytest.param({"Url": PDF}, 0, "expected a list", id="an object, not a list"),
    pytest.param([PDF], 0, "expected an object", id="a bare URL in the list"),
    pytest.param([_entry("ftp://files.example/a.pdf")], 0, "scheme 'ftp'", id="ftp"),
    pytest.param([_entry("javascript:alert(1)")], 0, "not an http(s) URL", id="javascript"),
    pytest.param([_entry("/edocfiles/a.pdf")], 0, "scheme none", id="relative path"),
    pytest.param([_entry("https:///a.pdf")], 0, "names no host", id="no host"),
    pytest.param([_entry("https://files.example/a b.pdf")], 0, "spaces", id="space inside"),
    pytest.param([_entry("https://files.example/\x00.pdf")], 0, "control", id="control char"),
    pytest.param([_entry("")], 0, "empty string", id="empty URL"),
    pytest.param([_entry(42)], 0, "got int", id="a number as URL"),
    pytest.param([{g.ITEM_FILE_NAME_FIELD: "a.pdf"}], 0, "got NoneType", id="no URL"),
    pytest.param([_entry(PDF, 7)], 0, "expected a string, got int", id="a number as name"),
    pytest.param([_entry(PDF, "a\nb.pdf")], 0, "control characters", id="newline in name"),
    pytest.param([_entry(PDF, "\ud800.pdf")], 0, "control characters", id="lone surrogate"),
    pytest.param(
        [_entry("ftp://x.example/a.pdf"), _entry(PDF)], 1, "scheme 'ftp'", id="bad one skipped"
    ),
]


@pytest.mark.parametrize(("files", "kept", "problem"), BAD_CASES)
def test_a_bad_file_value_is_skipped_with_a_warning_naming_the_item(
    files: Any, kept: int, problem: str
) -> None:
    read, warnings = _map(files)
    assert read == ((ItemFile(PDF, "production.pdf"),) if kept else ())
    (warning,) = warnings
    assert warning["event"] == "pressero.item_file.skipped"
    assert (warning["order"], warning["item_seq"]) == (77, 1)
    assert str(warning["where"]).startswith(f"order.Items[0].{g.ITEM_FILES_FIELD}")
    assert problem in str(warning["problem"])


def test_a_skipped_url_is_not_quoted_in_the_warning() -> None:
    # a download link may carry an access token in its query
    for files in (
        [_entry("ftp://files.example/a.pdf?token=s3cr3t")],
        [_entry("https://files.example/a b.pdf?token=s3cr3t")],
        "https://files.example/a.pdf?token=s3cr3t",
        ["https://files.example/a.pdf?token=s3cr3t"],
    ):
        _read, (warning,) = _map(files)
        assert "s3cr3t" not in json.dumps(warning)


def test_files_survive_the_json_round_trip_and_older_snapshots_have_none() -> None:
    item = OrderItem(seq=1, files=(ItemFile(PDF, "production.pdf"), ItemFile(PDF + "?v=2")))
    data = Order(site="s", order_number="1", items=(item,)).to_json()
    assert data["items"][0]["files"] == [
        {"url": PDF, "name": "production.pdf"},
        {"url": PDF + "?v=2", "name": ""},
    ]
    assert Order.from_json(json.loads(json.dumps(data))).items == (item,)
    del data["items"][0]["files"]  # a snapshot stored before items had files
    assert Order.from_json(data).items == (OrderItem(seq=1),)
