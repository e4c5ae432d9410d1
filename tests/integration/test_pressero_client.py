"""PresseroClient against a real PresseroSandbox over loopback HTTP.

The sandbox is seeded with the mapping fixtures (orders 1001 and 1002) and a malformed order
1003; its clock is a `ManualClock`, so token expiry is moved by hand, not waited for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import structlog

from daemon.errors import (
    AuthenticationFailed,
    BadEventPayload,
    BusinessRuleError,
    DriverError,
    NetworkError,
    NotFound,
    ServerError,
)
from daemon.orders.model import Address
from daemon.storefronts.pressero.client import PresseroClient
from daemon.storefronts.pressero.mapping import Shipment, WorkflowStage, order_from_api
from daemon.storefronts.pressero.sandbox import (
    DEFAULT_SITES,
    STANDARD_STAGES,
    STANDARD_WORKFLOW_ID,
    PresseroSandbox,
)
from tests.helpers import ManualClock

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "storefronts" / "pressero" / "fixtures"
USERNAME = "esd-admin@printshop.example"
PASSWORD = "pw-9c1e7b-never-shown"
SUBSCRIBER = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
SITE = DEFAULT_SITES[0]
AUTH = "POST /api/V2/Authentication"
DETAILS = "GET /api/v2/orders/{order_number}/Details"
ITEMS = "GET /api/v2/orders/{order_number}/items"
SEARCH = "POST /api/v2/Orders/Search"
STAGES = "GET /api/workflows/{workflow_id}/Stages"
UPDATE = "PUT /api/v2/Orders/{order_number}/Item/{item_number}"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def seeded_orders() -> list[dict[str, Any]]:
    broken_row = {**fixture("order_1001_items.json")[0], "OrderNumber": 1003, "Quantity": "lots"}
    return [
        {**fixture("order_1001_details.json"), "Items": fixture("order_1001_items.json")},
        {**fixture("order_1002_details.json"), "Items": fixture("order_1002_items.json")["Items"]},
        {"OrderNumber": 1003, "OrderDate": "2025-03-06T10:00:00", "Items": [broken_row]},
    ]


CLOCK = ManualClock()


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[PresseroSandbox]:
    with PresseroSandbox(
        USERNAME, PASSWORD, subscriber_id=SUBSCRIBER, orders=seeded_orders(), clock=CLOCK.now
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running_sandbox: PresseroSandbox) -> PresseroSandbox:
    running_sandbox.reset()
    return running_sandbox


class RecordingTransport(httpx.AsyncHTTPTransport):
    """A real transport that remembers each Authorization header it sent (the tokens)."""

    def __init__(self) -> None:
        super().__init__()
        self.authorizations: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "authorization" in request.headers:
            self.authorizations.append(request.headers["authorization"])
        return await super().handle_async_request(request)


@contextlib.asynccontextmanager
async def client_for(
    sandbox: PresseroSandbox, *, password: str = PASSWORD, **options: Any
) -> AsyncIterator[PresseroClient]:
    async with PresseroClient(sandbox.url, USERNAME, password, SUBSCRIBER, **options) as client:
        yield client


def calls(sandbox: PresseroSandbox) -> dict[str, int]:
    return sandbox.state()["calls"]  # type: ignore[no-any-return]


def row(sandbox: PresseroSandbox, order_number: int, seq: int) -> dict[str, Any]:
    (order,) = [o for o in sandbox.state()["orders"] if o["OrderNumber"] == order_number]
    (found,) = [r for r in order["Items"] if r["OrderItemSeq"] == seq]
    return found  # type: ignore[no-any-return]


# -- auth ---------------------------------------------------------------------------------------


async def test_logs_in_once_and_reuses_the_token(sandbox: PresseroSandbox) -> None:
    transport = RecordingTransport()
    async with client_for(sandbox, transport=transport) as client:
        await client.order_details(1001)
        await client.order_details(1002)
    assert calls(sandbox)[AUTH] == 1
    assert len(set(transport.authorizations)) == 1
    assert transport.authorizations[0].startswith("token ")


async def test_an_expired_token_means_one_login_and_success(sandbox: PresseroSandbox) -> None:
    sandbox.set_faults(token_ttl_seconds=600)
    async with client_for(sandbox) as client:
        await client.order_details(1001)
        CLOCK.advance(601)  # the sandbox's token is now too old
        details = await client.order_details(1001)
    assert details["OrderNumber"] == 1001
    assert calls(sandbox)[AUTH] == 2
    assert calls(sandbox)[DETAILS] == 3  # ok, 401, ok


async def test_a_token_refused_again_after_login_is_authentication_failed(
    sandbox: PresseroSandbox,
) -> None:
    twice = [{"kind": "401", "path_prefix": "/api/v2/orders"}] * 2
    sandbox.set_faults(fail_next=twice)
    async with client_for(sandbox) as client:
        with pytest.raises(AuthenticationFailed, match=r"^read order 1001: HTTP 401"):
            await client.order_details(1001)
    assert calls(sandbox)[AUTH] == 2  # logged in again once, not in a loop


async def test_concurrent_calls_share_one_new_login(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        await client.authenticate()
        sandbox.expire_tokens()
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(client.order_details, 1001)
    assert calls(sandbox)[AUTH] == 2


async def test_the_client_renews_an_old_token_before_using_it(sandbox: PresseroSandbox) -> None:
    clock = ManualClock()
    async with client_for(sandbox, token_max_age=300, clock=clock.now) as client:
        await client.order_details(1001)
        clock.advance(301)
        await client.order_details(1001)
    assert calls(sandbox)[AUTH] == 2
    assert calls(sandbox)[DETAILS] == 2  # no 401 was needed


@pytest.mark.parametrize(
    ("password", "subscriber"), [("wrong-password-123", SUBSCRIBER), (PASSWORD, "other-sub")]
)
async def test_bad_credentials_are_authentication_failed(
    sandbox: PresseroSandbox, password: str, subscriber: str
) -> None:
    async with PresseroClient(sandbox.url, USERNAME, password, subscriber) as client:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.order_details(1001)
    assert str(caught.value) == (
        "log in to Pressero: HTTP 401: credentials rejected "
        "(check username, password and subscriber id)"
    )
    assert calls(sandbox).get(DETAILS) is None


# -- orders -------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [1001, 1002])
async def test_order_and_items_map_to_the_seeded_order(
    sandbox: PresseroSandbox, number: int
) -> None:
    items = fixture(f"order_{number}_items.json")
    expected = order_from_api(fixture(f"order_{number}_details.json"), items, "acme", "Acme")
    async with client_for(sandbox) as client:
        order = await client.order(number, "acme", "Acme")
    assert order == expected
    assert len(order.items) >= 3


async def test_a_malformed_order_is_bad_event_payload(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        with pytest.raises(BadEventPayload, match=r"^order\.Items\[0\]\.Quantity: expected"):
            await client.order(1003, "acme")


async def test_an_unknown_order_is_not_found(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        with pytest.raises(NotFound, match=r"^read order 4242: HTTP 404: not found"):
            await client.order(4242, "acme")


async def test_search_pages_through_every_row(sandbox: PresseroSandbox) -> None:
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    end = dt.datetime(2025, 3, 31, tzinfo=dt.UTC)
    async with client_for(sandbox) as client:
        rows = [row async for row in client.search_order_items(start, end, page_size=3)]
    # 1001: 3 rows, 1002: 5 rows (kit children are rows too), 1003: 1 row
    assert [(r.order_number, r.item_seq) for r in rows] == [
        (1001, 1),
        (1001, 2),
        (1001, 3),
        (1002, 1),
        (1002, 2),
        (1002, 3),
        (1002, 4),
        (1002, 5),
        (1003, 1),
    ]
    assert calls(sandbox)[SEARCH] == 3


async def test_search_window_and_filters(sandbox: PresseroSandbox) -> None:
    base = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    placed = {
        sandbox.place_order(order_date=base + dt.timedelta(hours=hours)): hours
        for hours in (-2, 0, 1, 3)
    }
    async with client_for(sandbox) as client:
        window = await client.orders_between(base, base + dt.timedelta(hours=1))
        wanted = [(k, v) for k, v in placed.items() if v == 3]
        (only,) = wanted
        filtered = [
            r
            async for r in client.search_order_items(
                base - dt.timedelta(days=1),
                base + dt.timedelta(days=1),
                filters=[("OrderNumber", str(only[0]), "equals")],
            )
        ]
    assert [(r.order_number, placed[r.order_number]) for r in window] == [
        (n, h) for n, h in placed.items() if h in (0, 1)
    ]  # both ends included
    assert all(r.site_id == SITE.site_id for r in window)
    assert [r.order_number for r in filtered] == [only[0]]


# -- write-backs --------------------------------------------------------------------------------


async def test_set_item_status_by_stage_name_with_notes(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        stage = await client.set_item_status(1001, 2, "prepress", notes="MIS job J-5531")
        await client.set_item_status(1001, 1, "Press")
    assert stage == WorkflowStage("4d03ab0c-5297-454d-ad9a-056ff6f7611d", "Prepress", "Prepress")
    assert row(sandbox, 1001, 2)["WorkflowStagePrinter"] == "Prepress"
    assert row(sandbox, 1001, 1)["WorkflowStageId"] == "7769967f-dc67-492f-8fd1-2cbe0a41f270"
    assert sandbox.state()["status_history"] == [
        {"OrderNumber": 1001, "OrderItemSeq": 2, "Stage": "Prepress", "Notes": "MIS job J-5531"},
        {"OrderNumber": 1001, "OrderItemSeq": 1, "Stage": "Press", "Notes": ""},
    ]
    assert calls(sandbox)[STAGES] == 1  # the workflow's stages are cached


async def test_an_unknown_stage_names_the_known_ones(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        with pytest.raises(BusinessRuleError) as caught:
            await client.set_item_status(1001, 1, "Laminating")
    message = str(caught.value)
    assert message.startswith(
        f"set status of order 1001 item 1 to 'Laminating': workflow {STANDARD_WORKFLOW_ID} "
        "has no such stage; known stages: 'Estimate Request', 'Estimate Clarification'"
    )
    assert all(repr(name) in message for name, _ in STANDARD_STAGES)
    assert calls(sandbox)[STAGES] == 2  # looked again in case the stage is new
    assert row(sandbox, 1001, 1)["WorkflowStagePrinter"] == "Order Received"


async def test_an_unknown_item_is_not_found_naming_the_items(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        with pytest.raises(NotFound, match=r"order 1001 has no item 9 \(items: 1, 2, 3\)$"):
            await client.set_item_status(1001, 9, "Press")


async def test_set_item_mis_id(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        await client.set_item_mis_id(1001, 2, "J-5531")
    assert row(sandbox, 1001, 2)["MisId"] == "J-5531"
    assert row(sandbox, 1001, 1)["MisId"] == ""
    assert calls(sandbox)[UPDATE] == 1


async def test_a_refused_item_update_is_a_business_rule_error(sandbox: PresseroSandbox) -> None:
    async with client_for(sandbox) as client:
        with pytest.raises(BusinessRuleError, match="field 'Quantity' cannot be updated"):
            await client.update_item(1001, 1, {"Quantity": "5"})


async def test_add_shipment_with_tracking(sandbox: PresseroSandbox) -> None:
    to = Address(first_name="Ana", last_name="Ortiz", address1="1 Acme Plaza", zip="60601")
    async with client_for(sandbox) as client:
        await client.add_shipment(
            1001,
            [1, 2],
            tracking="1Z999AA10123456784",
            ship_date=dt.date(2025, 3, 12),
            cost=Decimal("18.40"),
            address=to,
        )
        shipments = await client.item_shipments(1001, 2)
    state = sandbox.state()["shipments"]
    assert [(s["OrderItemSeq"], s["ShipTracking"], s["ShipMethod"]) for s in state] == [
        (1, "1Z999AA10123456784", "UPS Ground"),  # the first item's method
        (2, "1Z999AA10123456784", "UPS Ground"),
    ]
    assert shipments == (
        Shipment(
            shipment_id=state[1]["ShipmentId"],
            order_item_id="a1b2c3d4-0002-4000-8000-00000000a002",
            ship_date=dt.date(2025, 3, 12),
            method="UPS Ground",
            tracking="1Z999AA10123456784",
            cost=Decimal("18.4"),
        ),
    )
    assert row(sandbox, 1001, 1)["ShipmentTracking"] == "1Z999AA10123456784"


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "503"])
async def test_a_server_error_is_server_error(sandbox: PresseroSandbox, kind: str) -> None:
    sandbox.set_faults(fail_next=[{"kind": kind, "path_prefix": "/api/v2/orders"}])
    async with client_for(sandbox) as client:
        with pytest.raises(ServerError, match=f"^read order 1001: HTTP {kind}: server error"):
            await client.order_details(1001)


async def test_a_failing_login_is_server_error(sandbox: PresseroSandbox) -> None:
    sandbox.set_faults(error_rate=1)
    async with client_for(sandbox) as client:
        with pytest.raises(ServerError, match=r"^log in to Pressero: HTTP 503"):
            await client.order_details(1001)


async def test_a_dropped_connection_is_network_error(sandbox: PresseroSandbox) -> None:
    sandbox.set_faults(fail_next=[{"kind": "drop", "path_prefix": "/api/v2/orders"}])
    async with client_for(sandbox) as client:
        with pytest.raises(NetworkError, match=r"^read order 1001: "):
            await client.order_details(1001)
        assert (await client.order_details(1001))["OrderNumber"] == 1001  # and it recovers


async def test_a_slow_answer_is_a_timeout(sandbox: PresseroSandbox) -> None:
    # The answer comes long after the timeout; the timeout is long enough for a loaded machine
    # to accept the connection (0.2 s once gave a ConnectTimeout on 2 busy cores).
    sandbox.set_faults(latency_ms=10_000)
    async with client_for(sandbox, timeout=1.0) as client:
        with pytest.raises(NetworkError, match="ReadTimeout"):
            await client.authenticate()


async def test_an_unreachable_pressero_is_network_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with PresseroClient(f"http://127.0.0.1:{port}", USERNAME, PASSWORD) as client:
        with pytest.raises(NetworkError, match=r"^log in to Pressero: ConnectError"):
            await client.order_details(1001)


async def test_no_secret_reaches_an_error_or_a_log(sandbox: PresseroSandbox) -> None:
    transport = RecordingTransport()
    errors: list[DriverError] = []
    faults: list[dict[str, Any]] = [
        {"fail_next": [{"kind": "401", "path_prefix": "/api/v2/orders"}] * 2},
        {"fail_next": [{"kind": "503", "path_prefix": "/api/v2/orders"}]},
        {"fail_next": [{"kind": "drop", "path_prefix": "/api/v2/orders"}]},
        {"fail_next": [{"kind": "400", "path_prefix": "/api/v2/orders"}]},
    ]
    with structlog.testing.capture_logs() as logs:
        async with client_for(sandbox, transport=transport) as client:
            for knobs in faults:
                sandbox.set_faults(**knobs)
                with pytest.raises(DriverError) as caught:
                    await client.order_details(1001)
                errors.append(caught.value)
            with pytest.raises(DriverError) as caught:
                await client.set_item_status(1001, 1, "Nope")
            errors.append(caught.value)
        async with client_for(sandbox, password="wrong-" + PASSWORD) as client:
            with pytest.raises(DriverError) as caught:
                await client.order_details(1001)
            errors.append(caught.value)
    tokens = {header.split(" ", 1)[1] for header in transport.authorizations}
    assert len(tokens) >= 2
    secrets = [PASSWORD, *tokens]
    texts = [str(e) for e in errors] + [repr(e.__cause__) for e in errors] + [repr(logs)]
    assert [secret for secret in secrets for text in texts if secret in text] == []
    assert "HTTP 400" in str(errors[3])  # and the errors do say what went wrong


async def test_a_login_answer_without_a_token_quotes_nothing() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Token": {"leaked": "tok-3b9f-secret"}})

    transport = httpx.MockTransport(answer)
    async with PresseroClient("http://pressero.test", USERNAME, PASSWORD, transport=transport) as c:
        with pytest.raises(ServerError) as caught:
            await c.order_details(1001)
    assert str(caught.value) == "log in to Pressero: the answer has no Token"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
