"""The reference provider's pure parts: request bodies, answer parsing, settings checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from daemon.errors import ConfigError
from daemon.orders.model import Order, OrderItem, SiteUser
from daemon.providers import registry
from daemon.providers.contract import ProductRecord, StatusReport
from daemon.providers.reference.driver import (
    ReferenceDriver,
    credentials_problems,
    settings_problems,
)
from daemon.providers.reference.mapping import (
    Job,
    Line,
    Product,
    WireFormatError,
    job_request,
    line_key,
    line_request,
    parse_created_id,
    parse_job,
    parse_jobs,
    parse_ping,
    parse_products_page,
    product_record,
    status_report,
)

SETTINGS = {"customer": "C100"}
REF = "esd:acme:shop1:1001"


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            Order(site="shop1", order_number="1001"),
            {
                "reference": REF,
                "customer": "C100",
                "description": "shop1 order 1001",
                "due_date": None,
            },
        ),
        (
            Order(
                site="shop1",
                site_name="Acme Store",
                order_number="1001",
                requested_ship_date=dt.date(2025, 3, 9),
                user=SiteUser(integration_id="C200"),
            ),
            {
                "reference": REF,
                "customer": "C200",
                "description": "Acme Store order 1001",
                "due_date": "2025-03-09",
            },
        ),
        (
            Order(site="shop1", order_number="1001", user=SiteUser(user_id="u1")),
            {
                "reference": REF,
                "customer": "C100",
                "description": "shop1 order 1001",
                "due_date": None,
            },
        ),
    ],
)
def test_job_request(order: Order, expected: dict[str, Any]) -> None:
    assert job_request(order, REF, SETTINGS) == expected


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            OrderItem(seq=1, product_name="Flyers A5", quantity=250, price=Decimal("49.00")),
            {"line_key": "1", "description": "1 Flyers A5", "quantity": 250, "price": "49.00"},
        ),
        (
            OrderItem(
                seq=12,
                product_name="Poster",
                quantity=3,
                price=Decimal("10.5"),
                shipping_cost=Decimal("4.25"),
            ),
            {"line_key": "12", "description": "12 Poster", "quantity": 3, "price": "14.75"},
        ),
        (
            OrderItem(seq=2, product_name="Free sample"),
            {"line_key": "2", "description": "2 Free sample", "quantity": 1, "price": "0"},
        ),
    ],
)
def test_line_request(item: OrderItem, expected: dict[str, Any]) -> None:
    assert line_request(item) == expected


@pytest.mark.parametrize(("seq", "key"), [(1, "1"), (10, "10"), (0, "0")])
def test_line_key(seq: int, key: str) -> None:
    assert line_key(seq) == key


LINE = {
    "line_id": "J1001-01",
    "line_key": "1",
    "description": "1 Flyers",
    "quantity": 250,
    "price": "49.00",
    "status": "shipped",
    "tracking": ["1Z999"],
    "shipped_at": "2025-03-10T12:00:00+00:00",
}
JOB = {
    "job_id": "J1001",
    "reference": REF,
    "customer": "C100",
    "description": "shop1 order 1001",
    "due_date": "2025-03-09",
    "status": "open",
    "lines": [LINE],
    "created_at": "2025-03-01T10:00:00+00:00",
}


def test_parse_job() -> None:
    job = parse_job(JOB)
    assert job == Job(
        job_id="J1001",
        reference=REF,
        customer="C100",
        description="shop1 order 1001",
        due_date=dt.date(2025, 3, 9),
        status="open",
        lines=(
            Line(
                line_id="J1001-01",
                line_key="1",
                description="1 Flyers",
                quantity=250,
                price=Decimal("49.00"),
                status="shipped",
                tracking=("1Z999",),
                shipped_at=dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC),
            ),
        ),
        created_at="2025-03-01T10:00:00+00:00",
    )
    assert job.line_by_key("1") is job.lines[0]
    assert job.line_by_key("2") is None
    assert job.line_by_id("J1001-01") is job.lines[0]
    assert job.line_by_id("J1001-02") is None


def test_line_by_key_takes_the_oldest() -> None:
    second = {**LINE, "line_id": "J1001-02"}
    job = parse_job({**JOB, "lines": [LINE, second]})
    found = job.line_by_key("1")
    assert found is not None
    assert found.line_id == "J1001-01"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "job: expected an object, got list"),
        ({**JOB, "job_id": 7}, "job.job_id: expected a string"),
        ({**JOB, "lines": None}, "job.lines: expected a list"),
        ({**JOB, "due_date": "9 March"}, "job.due_date: '9 March' is not a date"),
        ({**JOB, "due_date": 20250309}, "job.due_date: expected a date string or null"),
        ({**JOB, "lines": [{**LINE, "quantity": "2"}]}, "job.lines[0].quantity: expected an"),
        ({**JOB, "lines": [{**LINE, "quantity": True}]}, "job.lines[0].quantity: expected an"),
        ({**JOB, "lines": [{**LINE, "price": "cheap"}]}, "job.lines[0].price: 'cheap' is not"),
        ({**JOB, "lines": [{**LINE, "price": "NaN"}]}, "job.lines[0].price: 'NaN' is not a fin"),
        ({**JOB, "lines": [{**LINE, "tracking": "1Z"}]}, "job.lines[0].tracking: expected a list"),
        ({**JOB, "lines": [{**LINE, "shipped_at": "later"}]}, "job.lines[0].shipped_at: 'later'"),
        ({**JOB, "lines": [{**LINE, "shipped_at": 5}]}, "job.lines[0].shipped_at: expected a"),
    ],
)
def test_parse_job_names_the_wrong_field(data: object, where: str) -> None:
    with pytest.raises(WireFormatError) as caught:
        parse_job(data)
    assert str(caught.value).startswith(where)


def test_parse_jobs() -> None:
    jobs = parse_jobs({"items": [JOB, {**JOB, "job_id": "J1002", "lines": []}]})
    assert [job.job_id for job in jobs] == ["J1001", "J1002"]
    assert parse_jobs({"items": []}) == []
    with pytest.raises(WireFormatError, match=r"^jobs.items: expected a list"):
        parse_jobs({"jobs": []})
    with pytest.raises(WireFormatError, match=r"^jobs.items\[1\].job_id"):
        parse_jobs({"items": [JOB, {**JOB, "job_id": None}]})


def test_parse_small_answers() -> None:
    assert parse_ping({"product": "reference-mis", "version": "1.0"}) == ("reference-mis", "1.0")
    assert parse_created_id({"job_id": "J1"}, "job_id", "created job") == "J1"
    with pytest.raises(WireFormatError, match=r"^created job.job_id: expected a string"):
        parse_created_id({"id": "J1"}, "job_id", "created job")
    with pytest.raises(WireFormatError, match=r"^ping: expected an object"):
        parse_ping("pong")


def test_parse_products_page_and_records() -> None:
    page = parse_products_page(
        {
            "items": [
                {"sku": "A", "name": "Cards", "price": "9.50", "stock": 4, "category": "cards"},
                {"sku": "B", "name": "Quote me", "price": None, "stock": None, "category": ""},
            ],
            "total": 25,
        }
    )
    assert page.total == 25
    assert page.items == (
        Product("A", "Cards", Decimal("9.50"), 4, "cards"),
        Product("B", "Quote me", None, None, ""),
    )
    assert [product_record(p) for p in page.items] == [
        ProductRecord(
            sku="A", name="Cards", price=Decimal("9.50"), stock=4, category_ids=("cards",)
        ),
        ProductRecord(sku="B", name="Quote me"),
    ]
    with pytest.raises(WireFormatError, match=r"^products.total: expected an integer"):
        parse_products_page({"items": []})
    with pytest.raises(WireFormatError, match=r"^products.items\[0\].stock: expected an integer"):
        parse_products_page({"items": [{"sku": "A", "name": "n", "stock": 1.5}], "total": 1})


def test_status_report() -> None:
    line = parse_job(JOB).lines[0]
    assert status_report(3, line) == StatusReport(
        item_seq=3,
        status="shipped",
        tracking=("1Z999",),
        shipped_at=dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize(
    ("settings", "problems"),
    [
        ({"customer": "C100"}, []),
        ({"customer": "C100", "timeout_seconds": 2.5}, []),
        ({"customer": "C100", "timeout_seconds": 3}, []),
        ({}, [("customer", "required: the MIS customer id that orders are booked to")]),
        ({"customer": ""}, [("customer", "must be a non-empty string")]),
        ({"customer": 100}, [("customer", "must be a non-empty string")]),
        (
            {"customer": "C1", "timeout_seconds": 0},
            [("timeout_seconds", "must be a number of seconds greater than 0")],
        ),
        (
            {"customer": "C1", "timeout_seconds": "5"},
            [("timeout_seconds", "must be a number of seconds greater than 0")],
        ),
        (
            {"customer": "C1", "timeout_seconds": True},
            [("timeout_seconds", "must be a number of seconds greater than 0")],
        ),
        (
            {"customer": "C1", "timeout_seconds": float("inf")},
            [("timeout_seconds", "must be a number of seconds greater than 0")],
        ),
        (
            {"customer": "C1", "url": "http://x", "Customer": "C2"},
            [
                (
                    "Customer",
                    "unknown setting (known: customer, timeout_seconds, status, "
                    "call_deadline_seconds, max_answer_bytes)",
                ),
                (
                    "url",
                    "unknown setting (known: customer, timeout_seconds, status, "
                    "call_deadline_seconds, max_answer_bytes)",
                ),
            ],
        ),
        ([("customer", "C1")], [("", "expected a table of settings, got list")]),
    ],
)
def test_settings_problems(settings: Any, problems: list[tuple[str, str]]) -> None:
    assert settings_problems(settings) == problems
    assert registry.settings_problems("reference", settings) == problems


@pytest.mark.parametrize(
    ("credentials", "problems"),
    [
        ({"url": "http://127.0.0.1:1", "login": "esd", "password": "pw"}, []),
        (
            {"url": "http://127.0.0.1:1", "login": "esd"},
            [("password", "required: a non-empty string")],
        ),
        (
            {"url": "ftp://mis", "login": "esd", "password": "pw"},
            [("url", "must start with http:// or https://")],
        ),
    ],
)
def test_credentials_problems(credentials: dict[str, str], problems: list[tuple[str, str]]) -> None:
    assert credentials_problems(credentials) == problems


def test_driver_refuses_bad_settings_without_quoting_secrets() -> None:
    with pytest.raises(ConfigError) as caught:
        ReferenceDriver("acme", {"timeout_seconds": -1}, {"url": "ftp://x", "password": "hunter2"})
    where = [problem.key for problem in caught.value.problems]
    assert where == [
        "settings.customer",
        "settings.timeout_seconds",
        "credentials.login",
        "credentials.url",
    ]
    assert "hunter2" not in str(caught.value)


def test_registry_finds_the_driver() -> None:
    assert registry.driver_class("reference") is ReferenceDriver
    assert ReferenceDriver.provider == "reference"
