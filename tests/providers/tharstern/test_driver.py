"""The Tharstern driver against its sandbox over real sockets: both paths of a push, the
Success-false quirk settled by the look-up, refusals named, the token refreshed mid-push, and
what a push costs in calls per path."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest

from daemon.errors import BusinessRuleError
from daemon.orders.model import ItemFile
from daemon.providers.contract import PushResult, StatusMode, push_reference
from daemon.providers.tharstern.driver import TharsternDriver
from daemon.providers.tharstern.push_steps import artwork_files, unsent_stock_files
from daemon.providers.tharstern.sandbox import TharsternSandbox
from tests.providers.contract.harness import MemoryJournal
from tests.providers.tharstern.harness import ARTWORK, ORDER, SETTINGS, created, make_driver

pytestmark = pytest.mark.anyio

PASSWORD = "th-driver-pw-#91x"
API = "/TharsternAPI/api/"


@pytest.fixture(scope="module")
def running() -> Iterator[TharsternSandbox]:
    with TharsternSandbox("esd", PASSWORD) as box:
        yield box


@pytest.fixture
def sandbox(running: TharsternSandbox) -> TharsternSandbox:
    running.reset()
    return running


@pytest.fixture
async def driver(sandbox: TharsternSandbox) -> AsyncIterator[TharsternDriver]:
    made = make_driver(sandbox.url, PASSWORD)
    yield made
    await made.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _push(driver: TharsternDriver, order: object = ORDER) -> PushResult:
    assert order is ORDER or hasattr(order, "items")
    pushed = ORDER if order is ORDER else order
    assert isinstance(pushed, type(ORDER))
    reference = push_reference("tharstern", pushed.site, pushed.order_number)
    return await driver.push_order(pushed, pushed.items, MemoryJournal(), reference)


async def test_a_push_takes_both_paths(driver: TharsternDriver, sandbox: TharsternSandbox) -> None:
    result = await _push(driver)
    state = sandbox.state()
    assert created(state) == {
        "contact": 1,
        "address": 2,
        "sales_order": 1,
        "estimate": 1,
        "job": 1,
        "attachment": 1,
    }
    (contact,) = state["contacts"]
    assert (contact["Email"], contact["CustomerCode"]) == ("alice@acme.example", "ESP001")
    (order,) = state["orders"]
    assert [(line["StockItemID"], line["Quantity"]) for line in order["Items"]] == [
        (501, 2),
        (502, 1),
    ]
    assert order["CustomerCode"] == "ESP001"
    (estimate,) = state["estimates"]
    assert estimate["Title"].startswith("5001-3")
    assert estimate["CustomerCode"] == "ESP001" and estimate["Quantity"] == 500
    assert estimate["DeliveryCode"] == state["addresses"][1]["Code"]
    (job,) = state["jobs"]
    assert job["EstimateID"] == estimate["ID"] and job["ProductionReady"] is True
    (attachment,) = state["attachments"]
    assert attachment["Content_URL"] == ARTWORK and attachment["RecordNo"] == str(job["JobNo"])
    refs = {ref.item_seq: ref.external_id for ref in result.items}
    assert refs == {1: order["OrderNo"], 2: order["OrderNo"], 3: str(job["JobNo"])}
    assert result.order_external_id == order["OrderNo"]


async def test_the_success_false_quirk_is_settled_by_the_look_up_not_a_retry(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    sandbox.set_faults(
        fail_next=[{"path_prefix": API + "estrequest", "method": "POST", "kind": "success_false"}]
    )
    result = await _push(driver)
    state = sandbox.state()
    assert state["faults"]["fail_next"] == []
    assert len(state["estimates"]) == 1 and len(state["jobs"]) == 1
    assert state["calls"]["POST estrequest"] == 1
    assert {ref.item_seq for ref in result.items} == {1, 2, 3}


async def test_a_push_again_from_a_lost_journal_finds_everything(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    first = await _push(driver)
    made = created(sandbox.state())
    again = await _push(driver)
    assert again == first
    assert created(sandbox.state()) == made
    reference = push_reference("tharstern", ORDER.site, ORDER.order_number)
    found = await driver.find_pushed(ORDER, ORDER.items, MemoryJournal(), reference)
    assert found == first


async def test_a_missing_customer_is_a_business_error_naming_the_code(
    sandbox: TharsternSandbox,
) -> None:
    driver = TharsternDriver(
        "tharstern",
        {**SETTINGS, "products_customer_code": "GHOST9"},
        {"url": sandbox.url, "login": "esd", "password": PASSWORD},
    )
    try:
        with pytest.raises(BusinessRuleError) as refused:
            await _push(driver)
    finally:
        await driver.aclose()
    assert "GHOST9" in str(refused.value) and "cannot" in str(refused.value)
    assert created(sandbox.state()) == {}


async def test_an_unknown_product_type_is_a_business_error_naming_it(
    sandbox: TharsternSandbox,
) -> None:
    driver = TharsternDriver(
        "tharstern",
        {
            "products_customer_code": "ESP001",
            "products": [{"product": "Flyers", "product_type": 99}],
        },
        {"url": sandbox.url, "login": "esd", "password": PASSWORD},
    )
    try:
        with pytest.raises(BusinessRuleError) as refused:
            await _push(driver)
    finally:
        await driver.aclose()
    assert "Product type 99 not found" in str(refused.value)
    assert "estimate" not in created(sandbox.state())


async def test_a_token_that_expires_mid_push_is_fetched_again(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    await driver.test_connection()
    sandbox.expire_tokens()
    await _push(driver)
    assert sandbox.state()["calls"]["GET authentication/generateapitoken"] == 2


async def test_calls_per_order_per_path(sandbox: TharsternSandbox) -> None:
    """What one order costs: the figures the bench reports (each call counted by the sandbox)."""
    stock = dataclasses.replace(ORDER, order_number="6001", items=ORDER.items[:1])
    estimate = dataclasses.replace(ORDER, order_number="6002", items=ORDER.items[2:])
    costs = {}
    for name, order in (("stock", stock), ("estimate", estimate)):
        sandbox.reset()
        driver = make_driver(sandbox.url, PASSWORD)
        try:
            await _push(driver, order)
        finally:
            await driver.aclose()
        costs[name] = sum(sandbox.state()["calls"].values())
    # stock: token, customer, contact find + add, address find + create, product, order find
    # + submit + read back; estimate: token, customer, contact find + add, address find +
    # create, estimate find, example, estrequest, job find + create, attachments find + add
    assert costs == {"stock": 10, "estimate": 13}


async def test_the_example_estimate_request_is_read_once_per_product_type(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    # the example is a template edited on a copy: a second order of the same product type
    # costs no second read (as the stock products, cached per driver)
    await _push(driver, dataclasses.replace(ORDER, order_number="6003", items=ORDER.items[2:]))
    await _push(driver, dataclasses.replace(ORDER, order_number="6004", items=ORDER.items[2:]))
    examples = {k: n for k, n in sandbox.state()["calls"].items() if k.endswith("/example")}
    assert examples == {"GET estrequest/{product_type}/example": 1}
    assert created(sandbox.state())["estimate"] == 2


async def test_status_mode_follows_the_webhook_secret(sandbox: TharsternSandbox) -> None:
    polled = make_driver(sandbox.url, PASSWORD)
    pushed_to = make_driver(sandbox.url, PASSWORD, webhook_secret="hook-secret")
    try:
        assert polled.capabilities.status is StatusMode.POLL
        assert pushed_to.capabilities.status is StatusMode.WEBHOOK
    finally:
        await polled.aclose()
        await pushed_to.aclose()


BACK = ItemFile(url="https://files.example/5001-3-back.pdf", name="back.pdf")


def test_artwork_is_the_items_files_each_url_once() -> None:
    # seed 000: "Is artwork from an order sent to Tharstern as well as the order data?"
    item = dataclasses.replace(
        ORDER.items[2],
        files=(ItemFile(url=ARTWORK), BACK, ItemFile(url=ARTWORK, name="again.pdf")),
        # attributes are options the buyer chose, never files (the old stand-in is gone)
        attributes={"Artwork URL": "https://files.example/not-a-file.pdf"},
    )
    assert artwork_files(item) == (ItemFile(url=ARTWORK), BACK)
    assert artwork_files(dataclasses.replace(item, files=())) == ()


async def test_a_file_added_later_is_attached_once_and_the_first_not_again(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    first = await _push(driver)
    item = ORDER.items[2]
    order = dataclasses.replace(
        ORDER, items=(*ORDER.items[:2], dataclasses.replace(item, files=(*item.files, BACK)))
    )
    reference = push_reference("tharstern", ORDER.site, ORDER.order_number)
    # the job lacks the back: the push is not finished, so it is not "found pushed"
    assert await driver.find_pushed(order, order.items, MemoryJournal(), reference) is None
    again = await _push(driver, order)
    assert again == first
    state = sandbox.state()
    job_no = str(state["jobs"][0]["JobNo"])
    attached = sorted(
        (a["Content_URL"], a["Filename"], a["RecordNo"]) for a in state["attachments"]
    )
    assert attached == [
        (BACK.url, "back.pdf", job_no),
        (ARTWORK, "5001-3-print.pdf", job_no),
    ]
    assert await driver.find_pushed(order, order.items, MemoryJournal(), reference) == first


async def test_an_adopted_item_is_polled_by_its_own_mis_id(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    result = await _push(driver)
    job_no = next(ref.external_id for ref in result.items if ref.item_seq == 3)
    assert driver.order_of_item(job_no) == job_no
    sandbox.add_delivery(job_no, "CN-ADOPT-1")
    (report,) = await driver.fetch_status(ORDER, [result.items[2]], job_no)
    assert (report.item_seq, report.status, report.tracking) == (3, "Despatched", ("CN-ADOPT-1",))


async def test_items_released_later_get_their_own_sales_order_from_the_same_journal(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    """The journal of an order outlives a batch: item 2, held back while 1 and 3 were pushed,
    must not be read as part of item 1's sales order."""
    journal = MemoryJournal()
    reference = push_reference("tharstern", ORDER.site, ORDER.order_number)
    first = await driver.push_order(ORDER, (ORDER.items[0], ORDER.items[2]), journal, reference)
    later = await driver.push_order(ORDER, (ORDER.items[1],), journal, reference)
    state = sandbox.state()
    assert len(state["orders"]) == 2 and len(state["addresses"]) == 2  # Alice's reused
    assert [[line["Ref1"] for line in o["Items"]] for o in state["orders"]] == [["1"], ["2"]]
    refs = {ref.item_seq: ref.external_id for ref in first.items + later.items}
    assert refs[1] != refs[2]
    assert {o["OrderNo"] for o in state["orders"]} == {refs[1], refs[2]}


async def test_a_stock_items_files_are_not_sent_and_the_operator_is_warned(
    driver: TharsternDriver, sandbox: TharsternSandbox
) -> None:
    signed = "https://files.example/cards.pdf?token=sig-77f3"
    cards = dataclasses.replace(ORDER.items[0], files=(ItemFile(url=signed),))
    order = dataclasses.replace(ORDER, items=(cards, *ORDER.items[1:]))
    result = await _push(driver, order)
    state = sandbox.state()
    (sales_order,) = state["orders"]
    (attachment,) = state["attachments"]
    assert attachment["Content_URL"] == ARTWORK, "only the estimate item's file is attached"
    (warning,) = result.warnings
    assert warning.startswith("item 1: 1 print-ready file(s) not sent to Tharstern (cards.pdf)")
    assert f"sales order {sales_order['OrderNo']} by hand" in warning
    assert "sig-77f3" not in warning, "a signed URL's token never reaches an alert"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ((), None),
        (
            (
                ItemFile(url="https://f.example/a/b.pdf"),
                ItemFile(url="https://f.example/c", name="C"),
            ),
            "item 1: 2 print-ready file(s) not sent to Tharstern (b.pdf, C)",
        ),
        (
            (ItemFile(url="https://f.example/x.pdf"), ItemFile(url="https://f.example/x.pdf")),
            "item 1: 1 print-ready file(s) not sent to Tharstern (x.pdf)",
        ),
    ],
)
def test_the_unsent_stock_files_warning(files: tuple[ItemFile, ...], expected: str | None) -> None:
    item = dataclasses.replace(ORDER.items[0], files=files)
    warning = unsent_stock_files(item, "SO001234")
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and warning.startswith(expected)
        assert warning.endswith("attach them to sales order SO001234 by hand")
