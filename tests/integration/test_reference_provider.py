"""The reference driver against a real ReferenceSandbox over loopback HTTP.

Proves the driver's promise: however a push is interrupted (an error, a lost answer, a crash
that loses the journal), pushing again never makes a second job or a second line.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from decimal import Decimal
from typing import Any

import httpx
import pytest

from daemon.errors import (
    AuthenticationFailed,
    BusinessRuleError,
    NetworkError,
    RateLimited,
    ServerError,
)
from daemon.orders.model import Order, OrderItem, SiteUser
from daemon.providers.contract import ItemRef, PushResult, push_reference
from daemon.providers.reference.client import ReferenceClient
from daemon.providers.reference.driver import ReferenceDriver
from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.remote.in_call_retry import READ_ATTEMPTS

pytestmark = pytest.mark.anyio

LOGIN = "esd"
PASSWORD = "pw-7f3a9c-never-shown"
ORDER = Order(
    site="shop1",
    order_number="1001",
    items=(
        OrderItem(seq=1, product_name="Flyers A5", quantity=250, price=Decimal("49.00")),
        OrderItem(
            seq=2,
            product_name="Poster A2",
            quantity=3,
            price=Decimal("30.00"),
            shipping_cost=Decimal("4.50"),
        ),
    ),
)
REFERENCE = push_reference("acme", ORDER.site, ORDER.order_number)
CREATES = ("POST /api/jobs", "POST /api/jobs/{job_id}/lines")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ReferenceSandbox]:
    with ReferenceSandbox(LOGIN, PASSWORD) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running_sandbox: ReferenceSandbox) -> ReferenceSandbox:
    running_sandbox.reset()
    return running_sandbox


class MemoryJournal:
    """A PushJournal kept in a dict; a crash that loses it is `MemoryJournal()`."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, Any]] = {}

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.steps.get(step)

    async def record(self, step: str, result: Mapping[str, Any]) -> None:
        self.steps[step] = dict(result)


@contextlib.asynccontextmanager
async def driver_for(
    sandbox: ReferenceSandbox, *, password: str = PASSWORD, **settings: Any
) -> AsyncIterator[ReferenceDriver]:
    credentials = {"url": sandbox.url, "login": LOGIN, "password": password}
    driver = ReferenceDriver("acme", {"customer": "C100", **settings}, credentials)
    try:
        yield driver
    finally:
        await driver.aclose()


def jobs(sandbox: ReferenceSandbox) -> list[dict[str, Any]]:
    return sandbox.state()["jobs"]  # type: ignore[no-any-return]


def calls(sandbox: ReferenceSandbox) -> dict[str, int]:
    return sandbox.state()["calls"]  # type: ignore[no-any-return]


def assert_pushed_once(sandbox: ReferenceSandbox, result: PushResult) -> None:
    """Exactly one job for the order, with exactly one line per item, matching `result`."""
    (job,) = jobs(sandbox)
    assert job["reference"] == REFERENCE
    assert result.order_external_id == job["job_id"]
    assert [line["line_key"] for line in job["lines"]] == ["1", "2"]
    assert result.items == tuple(
        ItemRef(int(line["line_key"]), line["line_id"]) for line in job["lines"]
    )


async def test_push_creates_one_job_and_one_line_per_item(sandbox: ReferenceSandbox) -> None:
    journal = MemoryJournal()
    async with driver_for(sandbox) as driver:
        result = await driver.push_order(ORDER, ORDER.items, journal, REFERENCE)
    assert result == PushResult("J1001", (ItemRef(1, "J1001-01"), ItemRef(2, "J1001-02")))
    assert_pushed_once(sandbox, result)
    (job,) = jobs(sandbox)
    assert job["customer"] == "C100"
    assert job["description"] == "shop1 order 1001"
    assert [(line["description"], line["quantity"], line["price"]) for line in job["lines"]] == [
        ("1 Flyers A5", 250, "49.00"),
        ("2 Poster A2", 3, "34.50"),
    ]
    assert journal.steps == {
        "job": {"job_id": "J1001"},
        "line:1": {"line_id": "J1001-01"},
        "line:2": {"line_id": "J1001-02"},
    }


async def test_push_books_to_the_users_own_customer(sandbox: ReferenceSandbox) -> None:
    order = Order(site="shop1", order_number="1002", user=SiteUser(integration_id="C200"))
    async with driver_for(sandbox) as driver:
        await driver.push_order(order, (), MemoryJournal(), "esd:acme:shop1:1002")
    assert [job["customer"] for job in jobs(sandbox)] == ["C200"]


async def test_push_again_with_the_same_journal_calls_nothing(sandbox: ReferenceSandbox) -> None:
    journal = MemoryJournal()
    async with driver_for(sandbox) as driver:
        first = await driver.push_order(ORDER, ORDER.items, journal, REFERENCE)
        before = calls(sandbox)
        again = await driver.push_order(ORDER, ORDER.items, journal, REFERENCE)
    assert again == first
    assert calls(sandbox) == before
    assert_pushed_once(sandbox, again)


async def test_push_again_with_an_empty_journal_finds_everything(
    sandbox: ReferenceSandbox,
) -> None:
    async with driver_for(sandbox) as driver:
        first = await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
        before = calls(sandbox)
        again = await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    assert again == first
    after = calls(sandbox)
    assert all(after.get(create) == before.get(create) for create in CREATES)
    assert_pushed_once(sandbox, again)


@pytest.mark.parametrize("kind", ["drop_after_commit", "drop"])
@pytest.mark.parametrize("journal_survives", [True, False])
async def test_lost_job_answer_never_makes_a_second_job(
    sandbox: ReferenceSandbox, kind: str, journal_survives: bool
) -> None:
    sandbox.set_faults(fail_next=[{"path_prefix": "/api/jobs", "method": "POST", "kind": kind}])
    journal = MemoryJournal()
    async with driver_for(sandbox) as driver:
        with pytest.raises(NetworkError, match="create job esd:acme:shop1:1001"):
            await driver.push_order(ORDER, ORDER.items, journal, REFERENCE)
        assert len(jobs(sandbox)) == (1 if kind == "drop_after_commit" else 0)
        assert journal.steps == {}
        retry_journal = journal if journal_survives else MemoryJournal()
        result = await driver.push_order(ORDER, ORDER.items, retry_journal, REFERENCE)
    assert_pushed_once(sandbox, result)
    assert calls(sandbox)["POST /api/jobs"] == (1 if kind == "drop_after_commit" else 2)


@pytest.mark.parametrize("journal_survives", [True, False])
async def test_lost_line_answer_never_makes_a_second_line(
    sandbox: ReferenceSandbox, journal_survives: bool
) -> None:
    # "/api/jobs/J" matches only line creates: the job create is POST /api/jobs.
    sandbox.set_faults(
        fail_next=[{"path_prefix": "/api/jobs/J", "method": "POST", "kind": "drop_after_commit"}]
    )
    journal = MemoryJournal()
    async with driver_for(sandbox) as driver:
        with pytest.raises(NetworkError, match="add line 1 to job J1001"):
            await driver.push_order(ORDER, ORDER.items, journal, REFERENCE)
        assert journal.steps == {"job": {"job_id": "J1001"}}
        assert [len(job["lines"]) for job in jobs(sandbox)] == [1]
        retry_journal = journal if journal_survives else MemoryJournal()
        result = await driver.push_order(ORDER, ORDER.items, retry_journal, REFERENCE)
    assert_pushed_once(sandbox, result)
    assert calls(sandbox)["POST /api/jobs/{job_id}/lines"] == 2  # line 1 once, line 2 once
    assert calls(sandbox)["POST /api/jobs"] == 1


async def test_find_pushed(sandbox: ReferenceSandbox) -> None:
    sandbox.set_faults(fail_next=[{"path_prefix": "/api/jobs/J", "method": "POST", "kind": "503"}])
    async with driver_for(sandbox) as driver:
        assert await driver.find_pushed(ORDER, ORDER.items, MemoryJournal(), REFERENCE) is None
        with pytest.raises(ServerError):
            await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
        # a job without its lines is not a complete push
        assert await driver.find_pushed(ORDER, ORDER.items, MemoryJournal(), REFERENCE) is None
        pushed = await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
        found = await driver.find_pushed(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    assert found == pushed
    assert_pushed_once(sandbox, pushed)


@pytest.mark.parametrize(
    ("fault", "error", "fragments"),
    [
        ({"kind": "503"}, ServerError, ["create job", "HTTP 503"]),
        ({"kind": "429"}, RateLimited, ["HTTP 429", "retry after 7s"]),
        ({"kind": "422", "message": "job books closed"}, BusinessRuleError, ["job books closed"]),
    ],
)
async def test_injected_errors_are_classified(
    sandbox: ReferenceSandbox, fault: dict[str, str], error: type[Exception], fragments: list[str]
) -> None:
    sandbox.set_faults(retry_after=7, fail_next=[{"method": "POST", **fault}])
    async with driver_for(sandbox) as driver:
        with pytest.raises(error) as caught:
            await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    for fragment in fragments:
        assert fragment in str(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 7.0
    assert jobs(sandbox) == []


async def test_unknown_customer_is_a_business_rule_error(sandbox: ReferenceSandbox) -> None:
    async with driver_for(sandbox, customer="C999") as driver:
        with pytest.raises(BusinessRuleError) as caught:
            await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    assert str(caught.value).endswith("HTTP 422: refused: customer not found: C999")


async def test_missing_field_is_named(sandbox: ReferenceSandbox) -> None:
    client = ReferenceClient(sandbox.url, LOGIN, PASSWORD)
    try:
        with pytest.raises(BusinessRuleError, match="Field is required: customer"):
            await client.create_job(
                {"reference": "r", "customer": "", "description": "d", "due_date": None}
            )
        job_id = await client.create_job(
            {"reference": "r", "customer": "C100", "description": "d", "due_date": "2025-01-31"}
        )
        with pytest.raises(BusinessRuleError, match="Field must be a positive integer: quantity"):
            await client.add_line(
                job_id, {"line_key": "1", "description": "x", "quantity": 0, "price": "1"}
            )
        with pytest.raises(BusinessRuleError, match="Field must be a decimal string: price"):
            await client.add_line(
                job_id, {"line_key": "1", "description": "x", "quantity": 1, "price": "free"}
            )
    finally:
        await client.aclose()
    assert [job["due_date"] for job in jobs(sandbox)] == ["2025-01-31"]


async def test_unknown_job_is_not_found(sandbox: ReferenceSandbox) -> None:
    from daemon.errors import NotFound

    client = ReferenceClient(sandbox.url, LOGIN, PASSWORD)
    try:
        with pytest.raises(NotFound, match="read job J4040: HTTP 404: not found: job not found"):
            await client.get_job("J4040")
    finally:
        await client.aclose()


async def test_bad_password_is_authentication_failed_and_never_shown(
    sandbox: ReferenceSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "wrong-pw-41d8cd98"
    async with driver_for(sandbox, password=wrong) as driver:
        with pytest.raises(AuthenticationFailed) as caught:
            await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
        report = await driver.test_connection()
    assert not report.ok
    assert "HTTP 401" in report.detail
    for text in (str(caught.value), report.detail, *capsys.readouterr()):
        assert wrong not in text
        assert PASSWORD not in text
    assert jobs(sandbox) == []


async def test_test_connection(sandbox: ReferenceSandbox) -> None:
    async with driver_for(sandbox) as driver:
        report = await driver.test_connection()
    assert report.ok
    assert report.server_version == "1.0"
    assert "reference-mis" in report.detail


async def test_unreachable_mis_is_a_network_error() -> None:
    sandbox = ReferenceSandbox(LOGIN, PASSWORD)
    sandbox.start()
    url = sandbox.url
    sandbox.stop()  # nothing listens on that port any more
    client = ReferenceClient(url, LOGIN, PASSWORD)
    try:
        with pytest.raises(NetworkError, match="ping: ConnectError"):
            await client.ping()
    finally:
        await client.aclose()


async def test_latency_knob_is_honoured(sandbox: ReferenceSandbox) -> None:
    sandbox.set_faults(latency_ms=30_000)
    async with driver_for(sandbox, timeout_seconds=0.2) as driver:
        with pytest.raises(NetworkError, match="ReadTimeout"):
            await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    # each try arrived and was held; the client gave up, so nothing was created
    assert calls(sandbox) == {"GET /api/jobs": READ_ATTEMPTS}
    assert jobs(sandbox) == []


async def test_a_dropped_read_is_retried_in_the_call(sandbox: ReferenceSandbox) -> None:
    sandbox.set_faults(
        fail_next=[
            {"path_prefix": "/api/jobs", "method": "GET", "kind": "drop"},
            {"path_prefix": "/api/jobs", "method": "GET", "kind": "503"},
        ]
    )
    async with driver_for(sandbox) as driver:
        result = await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    assert len(jobs(sandbox)) == 1 and result.order_external_id == jobs(sandbox)[0]["job_id"]
    assert calls(sandbox)["GET /api/jobs"] == 3


async def test_a_create_is_never_retried_in_the_call(sandbox: ReferenceSandbox) -> None:
    sandbox.set_faults(fail_next=[{"path_prefix": "/api/jobs", "method": "POST", "kind": "503"}])
    async with driver_for(sandbox) as driver:
        with pytest.raises(ServerError):
            await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
    assert calls(sandbox)["POST /api/jobs"] == 1


async def test_status_with_tracking(sandbox: ReferenceSandbox) -> None:
    async with driver_for(sandbox) as driver:
        pushed = await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
        sandbox.set_line_status("J1001", "J1001-02", "shipped", ["1Z999AA10123456784"])
        reports = await driver.fetch_status(ORDER, pushed.items, pushed.order_external_id)
    assert [(r.item_seq, r.status, r.tracking) for r in reports] == [
        (1, "new", ()),
        (2, "shipped", ("1Z999AA10123456784",)),
    ]
    assert reports[0].shipped_at is None
    assert reports[1].shipped_at is not None


async def test_status_of_a_vanished_line_is_not_found(sandbox: ReferenceSandbox) -> None:
    from daemon.errors import NotFound

    async with driver_for(sandbox) as driver:
        pushed = await driver.push_order(ORDER, ORDER.items, MemoryJournal(), REFERENCE)
        ghost = (*pushed.items, ItemRef(3, "J1001-99"))
        with pytest.raises(NotFound, match="job J1001 has no line J1001-99"):
            await driver.fetch_status(ORDER, ghost, pushed.order_external_id)


async def test_products_come_in_pages_of_ten(sandbox: ReferenceSandbox) -> None:
    async with driver_for(sandbox) as driver:
        pages = [page async for page in driver.fetch_products()]
    assert [len(page) for page in pages] == [10, 10, 5]
    records = [record for page in pages for record in page]
    assert len({record.sku for record in records}) == 25
    assert records[0].sku == "REF-001"
    assert records[0].price == Decimal("9.50")
    assert records[0].category_ids == ("business-cards",)
    assert calls(sandbox) == {"GET /api/products": 3}


def test_sandbox_drop_really_cuts_the_connection(sandbox: ReferenceSandbox) -> None:
    body = {"reference": "r", "customer": "C100", "description": "d", "due_date": None}
    with httpx.Client(base_url=sandbox.url, auth=(LOGIN, PASSWORD)) as http:
        assert http.get("/api/ping").status_code == 200  # a kept-alive connection to cut
        for kind, jobs_after in (("drop", 0), ("drop_after_commit", 1)):
            sandbox.set_faults(fail_next=[{"kind": kind}])
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                http.post("/api/jobs", json=body)
            assert len(jobs(sandbox)) == jobs_after
        assert http.get("/api/ping").status_code == 200  # and the next request works


def test_sandbox_random_faults_replay_with_a_seed(sandbox: ReferenceSandbox) -> None:
    def outcomes() -> list[int]:
        with httpx.Client(base_url=sandbox.url, auth=(LOGIN, PASSWORD)) as http:
            return [http.get("/api/ping").status_code for _ in range(30)]

    sandbox.set_faults(error_rate=0.3, rate_limit_rate=0.3, seed=42)
    first = outcomes()
    sandbox.set_faults(seed=42)
    assert outcomes() == first
    assert {200, 503, 429} <= set(first)


def test_sandbox_admin_api_over_http(sandbox: ReferenceSandbox) -> None:
    with httpx.Client(base_url=sandbox.url) as http:
        bad = http.post("/_admin/faults", json={"error_rat": 1})
        assert bad.status_code == 422
        assert bad.json()["error"].startswith("faults.error_rat: unknown knob")
        assert http.post("/_admin/faults", json={"error_rate": 1}).json()["error_rate"] == 1
        assert http.get("/api/ping", auth=(LOGIN, PASSWORD)).status_code == 503
        assert http.get("/api/ping").status_code == 503  # faults strike before auth
        assert http.post("/_admin/reset").status_code == 200
        assert http.get("/api/ping").status_code == 401
        created = http.post(
            "/api/jobs",
            auth=(LOGIN, PASSWORD),
            json={"reference": "r", "customer": "C200", "description": "d", "due_date": None},
        ).json()
        line = http.post(
            f"/api/jobs/{created['job_id']}/lines",
            auth=(LOGIN, PASSWORD),
            json={"line_key": "1", "description": "x", "quantity": 1, "price": "2.50"},
        ).json()
        shipped = http.post(
            f"/_admin/jobs/{created['job_id']}/lines/{line['line_id']}/status",
            json={"status": "shipped", "tracking": ["T1"]},
        )
        assert shipped.status_code == 200
        state = http.get("/_admin/state").json()
        missing = http.post("/_admin/jobs/J1/lines/J1-01/status", json={"status": "x"})
    assert missing.status_code == 404
    assert state["jobs"][0]["lines"][0]["tracking"] == ["T1"]
    assert state["calls"] == {
        "GET /api/ping": 1,
        "POST /api/jobs": 1,
        "POST /api/jobs/{job_id}/lines": 1,
    }
    assert sorted(state["customers"]) == ["C100", "C200"]
    assert len(state["products"]) == 25


def test_sandbox_python_api_checks_its_input(sandbox: ReferenceSandbox) -> None:
    with pytest.raises(ValueError, match=r"faults.fail_next\[0\].kind: must be one of"):
        sandbox.set_faults(fail_next=[{"kind": "explode"}])
    with pytest.raises(ValueError, match=r"faults\.drop_rate: must be a fraction from 0 to 1"):
        sandbox.set_faults(drop_rate=2)
    with pytest.raises(LookupError, match="job not found: J1"):
        sandbox.set_line_status("J1", "J1-01", "shipped")


def test_sandbox_seeds() -> None:
    products = [{"sku": "S1", "name": "Only", "price": "1.00", "stock": 1, "category": "c"}]
    with (
        ReferenceSandbox(seed_customers=["K1"], seed_products=products) as sandbox,
        httpx.Client(base_url=sandbox.url, auth=("esd", "secret")) as http,
    ):
        job = {"reference": "r", "customer": "C100", "description": "d", "due_date": None}
        refused = http.post("/api/jobs", json=job)
        accepted = http.post("/api/jobs", json={**job, "customer": "K1"})
        page = http.get("/api/products", params={"page": 1, "page_size": 10}).json()
    assert refused.status_code == 422
    assert refused.json() == {"error": "customer not found: C100"}
    assert accepted.status_code == 201
    assert page == {"items": products, "total": 1}


def test_python_m_entry_point_serves_until_terminated() -> None:
    command = [
        sys.executable,
        "-m",
        "daemon.providers.reference.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--login",
        LOGIN,
        "--password",
        PASSWORD,
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            ready = json.loads(process.stdout.readline())
            answer = httpx.get(f"{ready['url']}/api/ping", auth=(LOGIN, PASSWORD))
            assert answer.json() == {"product": "reference-mis", "version": "1.0"}
        finally:
            process.terminate()
            code = process.wait(timeout=15)
    assert set(ready) == {"url"}
    assert code == 0
