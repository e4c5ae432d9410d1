"""The Tharstern client against its sandbox over real sockets: token auth and its refresh, the
envelope, error classification, and no secret in any error text."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from daemon.errors import (
    AuthenticationFailed,
    BusinessRuleError,
    NetworkError,
    PermanentError,
    ServerError,
    TransientError,
)
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.client import TharsternClient, api_base, model_state_message
from daemon.providers.tharstern.sandbox import TharsternSandbox, example_request

pytestmark = pytest.mark.anyio

LOGIN = "esd@shop.example"
#: a password that cannot appear in a message by chance
PASSWORD = "th-pw-Q7#kz/9!x"
APP_ID = "esd-shop"


@pytest.fixture(scope="module")
def running() -> Iterator[TharsternSandbox]:
    with TharsternSandbox(LOGIN, PASSWORD) as box:
        yield box


@pytest.fixture
def sandbox(running: TharsternSandbox) -> TharsternSandbox:
    running.reset()
    return running


@pytest.fixture
async def client(sandbox: TharsternSandbox) -> AsyncIterator[TharsternClient]:
    made = TharsternClient(sandbox.url, LOGIN, PASSWORD, APP_ID)
    yield made
    await made.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _request(customer: str = "ESP001", quantity: int = 250) -> dict[str, object]:
    request = example_request(12)
    request["Customer"] = {"Code": customer}
    request["Quantity"] = quantity
    request["Ref1"] = "esd:th:shop:5001"
    request["Ref2"] = "5001"
    return request


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://mis.example", "https://mis.example/TharsternAPI/api"),
        ("https://mis.example/", "https://mis.example/TharsternAPI/api"),
        ("http://10.0.0.5:8080/tharsternapi", "http://10.0.0.5:8080/tharsternapi/api"),
        ("https://mis.example/TharsternAPI/api", "https://mis.example/TharsternAPI/api"),
    ],
)
def test_the_api_root_is_appended_where_the_url_lacks_it(url: str, base: str) -> None:
    assert api_base(url) == base


def test_model_state_names_each_field() -> None:
    body = {
        "Message": "The request is invalid.",
        "ModelState": {"estRequestProduct.Quantity": ["The field Quantity must be positive."]},
    }
    assert model_state_message(body) == (
        "estRequestProduct.Quantity: The field Quantity must be positive."
    )
    assert model_state_message({"Message": "x"}) is None


async def test_a_token_is_fetched_once_and_sent_with_every_call(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    assert await client.customer("ESP001") is not None
    assert await client.customer("NOPE") is None
    calls = sandbox.state()["calls"]
    assert calls[f"GET {g.TOKEN_PATH.lower()}"] == 1
    assert calls[f"GET {g.CUSTOMERS_PATH}"] == 2


async def test_an_expired_token_is_fetched_again_once(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    await client.authenticate()
    sandbox.expire_tokens()
    product = await client.product_by_code("BC-STOCK")
    assert product is not None and product.product_id == 501 and product.product_type_id == 0
    assert sandbox.state()["calls"][f"GET {g.TOKEN_PATH.lower()}"] == 2


async def test_the_all_zero_token_is_bad_credentials_and_quotes_no_secret(
    sandbox: TharsternSandbox,
) -> None:
    wrong = TharsternClient(sandbox.url, LOGIN, "not-" + PASSWORD, APP_ID)
    try:
        with pytest.raises(AuthenticationFailed) as refused:
            await wrong.customer("ESP001")
    finally:
        await wrong.aclose()
    assert isinstance(refused.value, PermanentError)
    assert "application id" in str(refused.value)
    for text in (str(refused.value), repr(refused.value), repr(wrong)):
        assert PASSWORD not in text and LOGIN not in text
    assert sandbox.state()["calls"].get(f"GET {g.CUSTOMERS_PATH}", 0) == 0


async def test_a_model_state_400_is_a_business_error_naming_the_field(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    with pytest.raises(BusinessRuleError) as refused:
        await client.request_estimate(_request(quantity=0), what="estimate item 1")
    assert "estRequestProduct.Quantity" in str(refused.value)
    assert sandbox.state()["estimates"] == []


async def test_problems_of_a_refused_estimate_come_back_readable(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    answer = await client.request_estimate(_request(customer="GHOST"), what="estimate item 1")
    assert answer.success is False and answer.estimate_id is None
    assert answer.problems == ("Customer 'GHOST' not found",)


async def test_an_estimate_then_its_job_found_again_by_keyword(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    answer = await client.request_estimate(_request(), what="estimate item 1")
    assert answer.success and answer.estimate_id is not None
    found = await client.find_estimates("5001")
    assert [e["ID"] for e in found] == [answer.estimate_id]
    job_no = await client.create_job(
        {"EstimateID": answer.estimate_id, "Ref1": "esd:th:shop:5001", "Ref2": "5001"},
        what="create job",
    )
    job = await client.job(job_no)
    assert job is not None and job["EstimateID"] == answer.estimate_id
    assert [str(j["JobNo"]) for j in await client.find_jobs("5001")] == [job_no]


async def test_the_success_false_quirk_still_makes_the_estimate(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    sandbox.set_faults(
        fail_next=[{"path_prefix": "/TharsternAPI/api/estrequest", "kind": "success_false"}]
    )
    answer = await client.request_estimate(_request(), what="estimate item 1")
    assert answer.success is False and answer.estimate_id is None and answer.problems == ()
    assert len(sandbox.state()["estimates"]) == 1  # made although the answer says not


async def test_a_refused_sales_order_names_tharsterns_reason(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    order = {"InvoiceCustomer": {"Code": "ESP001"}, "Items": [{"StockItemID": 999, "Quantity": 1}]}
    with pytest.raises(BusinessRuleError) as refused:
        await client.submit_order({"Orders": [order]}, what="submit order 5001")
    assert "Stock item 999 not found" in str(refused.value)
    order["Items"] = [{"StockItemID": 501, "Quantity": 2, "Ref1": "1"}]
    order_id = await client.submit_order({"Orders": [order]}, what="submit order 5001")
    found = await client.order(order_id)
    assert found is not None and found["OrderNo"].startswith("SO")


async def test_refusals_of_the_envelope_are_business_errors(client: TharsternClient) -> None:
    with pytest.raises(BusinessRuleError) as refused:
        await client.estimate_example(99)
    assert "Product type 99 not found" in str(refused.value)


async def test_5xx_and_dropped_connections_are_transient(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    await client.authenticate()
    sandbox.set_faults(fail_next=[{"kind": "503", "path_prefix": "/TharsternAPI/api"}] * 3)
    with pytest.raises(ServerError) as failed:
        await client.customer("ESP001")  # a read is tried three times
    assert isinstance(failed.value, TransientError)
    sandbox.set_faults(
        fail_next=[{"kind": "drop", "path_prefix": "/TharsternAPI/api/orders/submit"}]
    )
    with pytest.raises(NetworkError):  # a create is never retried in the call
        await client.submit_order(
            {
                "Orders": [
                    {
                        "InvoiceCustomer": {"Code": "ESP001"},
                        "Items": [{"StockItemID": 501, "Quantity": 1}],
                    }
                ]
            },
            what="submit order 5001",
        )
    assert sandbox.state()["orders"] == []


async def test_addresses_and_attachments_are_found_again(
    client: TharsternClient, sandbox: TharsternSandbox
) -> None:
    address = {
        "CustomerCode": "ESP001",
        "Code": "E1234abcd-1",
        "Name": "Alice Archer",
        "Address": {"AddressLines": ["1 Main St"], "City": "Leeds", "Postcode": "LS1 1AA"},
    }
    address_id = await client.create_address(address, what="create address 1")
    found = await client.find_addresses("ESP001", "E1234abcd-1")
    assert [a["ID"] for a in found] == [address_id]
    answer = await client.request_estimate(_request(), what="estimate item 1")
    assert answer.estimate_id is not None
    job_no = await client.create_job({"EstimateID": answer.estimate_id}, what="create job")
    item = {
        "Filename": "art.pdf",
        "ModuleType": {"Value": g.ATTACHMENT_MODULE_JOB},
        "RecordNo": job_no,
        "Type": {"Value": g.ATTACHMENT_TYPE_ARTWORK},
        "Content_URL": "https://files.example/art.pdf",
    }
    await client.add_attachments([item], what="attach artwork")
    held = await client.attachments(g.ATTACHMENT_MODULE_JOB, job_no)
    assert [a["Content_URL"] for a in held] == ["https://files.example/art.pdf"]
