"""The recorded Tharstern exchanges of fixtures/ (sign-in, a product, the example estimate
request, an estimate, its job, a sales order, a dispatched job read back, a ModelState 400, an
estimate refused with Problems, the Success-false quirk, a webhook body) fed to esd's parsing
without a socket. Re-record with `python -m tests.providers.tharstern.fixtures.record`.

The client's envelope and error parsing (`client._envelope`) is private: each answer is read
through the smallest public surface that reaches it, a `TharsternClient` whose transport
replays the recorded bytes in memory (`httpx.MockTransport`, no socket), and the public pure
parsers (`status_poll.record_status`, `webhook_payload.parse_body`, `model_state_message`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from daemon.errors import AuthenticationFailed, BusinessRuleError, PermanentError
from daemon.providers.contract import LineStatus, push_reference
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.client import (
    EstimateAnswer,
    Product,
    TharsternClient,
    model_state_message,
)
from daemon.providers.tharstern.estimate_request import estimate_reference, job_from_estimate
from daemon.providers.tharstern.sales_order import sales_order_reference, submit_order_id
from daemon.providers.tharstern.settings import parse_settings
from daemon.providers.tharstern.status_poll import record_status
from daemon.providers.tharstern.webhook_payload import parse_body
from tests.providers.tharstern.fixtures.record import (
    CLOCKED,
    FIXTURES,
    LOGIN,
    PASSWORD,
    RECORDED_TOKEN,
    TRACKING,
    WANTED,
    WEBHOOK_SECRET,
    record,
)
from tests.providers.tharstern.harness import ORDER, SETTINGS

pytestmark = pytest.mark.anyio

T = TypeVar("T")
REFERENCE = push_reference("tharstern", ORDER.site, ORDER.order_number)
STATUSES: dict[str, int] = json.loads((FIXTURES / "calls.json").read_text(encoding="utf-8"))[
    "statuses"
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def answer_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.response.json").read_bytes()


def sent(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.request.json").read_bytes())


class Replay:
    """A transport answering the token call with `token` and every other call with the
    fixture `name` (its recorded status); what the client sent is kept."""

    def __init__(self, name: str, token: str = "token") -> None:
        self.name = name
        self.token = token
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        name = self.token if request.url.path.endswith(g.TOKEN_PATH) else self.name
        return httpx.Response(
            STATUSES[name],
            content=answer_bytes(name),
            headers={"content-type": "application/json; charset=utf-8"},
        )


async def replayed(
    name: str, call: Callable[[TharsternClient], Awaitable[T]], *, token: str = "token"
) -> tuple[T, Replay]:
    """`call` on a client whose every answer is a recorded one (no socket)."""
    replay = Replay(name, token)
    client = TharsternClient(
        "https://mis.example", LOGIN, PASSWORD, "esd", transport=httpx.MockTransport(replay)
    )
    try:
        return await call(client), replay
    finally:
        await client.aclose()


def test_every_named_fixture_is_there_and_no_secret_is() -> None:
    assert set(STATUSES) == set(WANTED)
    for name in WANTED:
        assert answer_bytes(name).startswith(b"{"), name
    for path in FIXTURES.iterdir():
        if path.suffix == ".json":
            data = path.read_bytes()
            for secret in (PASSWORD, WEBHOOK_SECRET):
                assert secret.encode() not in data, path.name
    calls = json.loads((FIXTURES / "calls.json").read_text(encoding="utf-8"))["calls"]
    assert [c for c in calls if g.TOKEN_PATH in c] == [f"GET {g.API_ROOT}/{g.TOKEN_PATH} 200"] * 2


async def test_the_token_answer_signs_in_and_is_sent_as_basic() -> None:
    _, replay = await replayed("product_stock", lambda c: c.product_by_code("BC-STOCK"))
    token_call, call = replay.sent
    assert token_call.url.params["applicationId"] == "esd"
    assert call.headers["authorization"] == g.token_authorization(RECORDED_TOKEN)


async def test_the_all_zero_token_is_bad_credentials() -> None:
    data = json.loads(answer_bytes("token_bad_credentials"))
    assert data["Status"]["Success"] is True  # not an HTTP error, not a refusal (ref 1.3)
    assert data["Details"]["Token"] == g.BAD_CREDENTIALS_TOKEN
    with pytest.raises(AuthenticationFailed) as refused:
        await replayed("token", lambda c: c.authenticate(), token="token_bad_credentials")
    assert isinstance(refused.value, PermanentError)
    assert "credentials rejected" in refused.value.message
    assert PASSWORD not in refused.value.message and LOGIN not in refused.value.message


async def test_a_stock_product() -> None:
    product, _ = await replayed("product_stock", lambda c: c.product_by_code("BC-STOCK"))
    assert product == Product(501, "BC-STOCK", 0)


async def test_the_example_estimate_request_of_the_flyers() -> None:
    example, _ = await replayed("estimate_example", lambda c: c.estimate_example(12))
    assert example["ProductTypeId"] == 12 and example["Quantity"] == 100
    assert [(p["Name"], p["PaperCode"], p["GSM"]) for p in example["Parts"]] == [
        ("Flyer", "SILK150", 150)
    ]
    # what esd sent back is the example with the order's values written in
    request = sent("estimate_created")
    assert set(request) == set(example)
    assert request["Parts"] == example["Parts"]


async def test_an_estimate_created() -> None:
    request = sent("estimate_created")
    assert request["Ref1"] == estimate_reference(REFERENCE, 3) and request["Ref2"] == "5001"
    assert (request["Quantity"], request["RequiredDateTime"]) == (500, "05-Mar-26")
    made, replay = await replayed(
        "estimate_created", lambda c: c.request_estimate(request, what="x")
    )
    assert made == EstimateAnswer(True, 1005, "E001005", ())
    assert replay.sent[-1].content == (FIXTURES / "estimate_created.request.json").read_bytes()


async def test_a_job_from_the_estimate() -> None:
    body = sent("job_from_estimate")
    assert body == job_from_estimate(1005, REFERENCE, ORDER, 3, parse_settings(SETTINGS))
    job_no, _ = await replayed("job_from_estimate", lambda c: c.create_job(body, what="x"))
    assert job_no == "20001"


async def test_a_sales_order_submitted() -> None:
    body = sent("order_submitted")
    (order,) = body["Orders"]
    assert order["UniqueSubmitOrderID"] == submit_order_id(sales_order_reference(REFERENCE, [1, 2]))
    assert [(i["StockItemID"], i["Quantity"]) for i in order["Items"]] == [(501, 2), (502, 1)]
    order_id, _ = await replayed("order_submitted", lambda c: c.submit_order(body, what="x"))
    assert order_id == 1004


async def test_a_model_state_400_is_a_business_error_naming_the_field() -> None:
    body = json.loads(answer_bytes("error_model_state"))
    field = "estRequestProduct.Quantity: The field Quantity must be a positive number."
    assert model_state_message(body) == field
    request = sent("error_model_state")
    assert request["Quantity"] == 0
    with pytest.raises(BusinessRuleError) as refused:
        await replayed("error_model_state", lambda c: c.request_estimate(request, what="est"))
    assert refused.value.message == f"est: HTTP 400: Tharstern refused the request: {field}"


async def test_an_estimate_refused_names_its_problems() -> None:
    request = sent("estimate_problems")
    refused, _ = await replayed(
        "estimate_problems", lambda c: c.request_estimate(request, what="x")
    )
    assert refused == EstimateAnswer(False, None, "", ("Customer 'NOBODY' not found",))
    # where the verdict is not asked for, Problems are the refusal's reason
    with pytest.raises(BusinessRuleError, match="Tharstern refused: Customer 'NOBODY' not found"):
        await replayed("estimate_problems", lambda c: c.create_job({}, what="x"))


async def test_success_false_although_created_reads_as_no_verdict_and_no_estimate() -> None:
    """ROIOrders: "THARSTERNS RETURNS SUCESS FALSE WHEN EST IS CREATED" (guesses): the answer
    names no estimate and no reason, so the driver settles it by a look-up."""
    request = sent("estimate_success_false")
    quirk, _ = await replayed(
        "estimate_success_false", lambda c: c.request_estimate(request, what="x")
    )
    assert quirk == EstimateAnswer(False, None, "", ())


async def test_a_despatched_job_read_by_job_no_has_its_status_and_delivery() -> None:
    job, replay = await replayed("job_despatched", lambda c: c.job("20001"))
    assert replay.sent[-1].url.params[g.JOB_NO_PARAM] == "20001"
    assert job is not None
    status, tracking, shipped = record_status(job)
    assert (status, tracking) == ("Despatched", (TRACKING,))
    assert isinstance(shipped, dt.datetime) and shipped.tzinfo is not None
    assert job["Ref1"] == estimate_reference(REFERENCE, 3)


def test_a_recorded_webhook_body() -> None:
    body = (FIXTURES / "webhook_despatched.body.json").read_bytes()
    parsed = parse_body(body)
    assert parsed.dedupe_key == "WH1" and parsed.event_types == ("JobStatusChanged",)
    (line,) = parsed.lines
    assert line.shipped_at is not None and line.shipped_at.tzinfo is not None
    assert line == LineStatus("20001", "Despatched", (TRACKING,), line.shipped_at)


def test_a_new_recording_matches_the_fixtures(tmp_path: Path) -> None:
    """The recorder still runs, and the driver and the sandbox still exchange these bytes (the
    dispatched job and the webhook carry the sandbox's clock)."""
    fresh = record(tmp_path)
    assert set(fresh) == set(WANTED)
    for path in FIXTURES.glob("*.json"):
        if path.name not in CLOCKED:
            assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
