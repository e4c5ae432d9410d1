"""The recorded reference MIS exchanges of fixtures/ (ping, find the job, create it, add a line,
read it shipped, a catalogue page, a 404) fed to the pure mapping without a socket: each
request is what the mapping builds, each answer parses as the driver needs it. Re-record with
`python -m tests.providers.reference.fixtures.record`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import httpx

from daemon.errors import NotFound
from daemon.providers.contract import push_reference
from daemon.providers.reference import mapping
from daemon.remote.http_errors import error_for_response
from tests.providers.reference.fixtures.record import FIXTURES, ORDER, PASSWORD, WANTED, record


def answer(name: str) -> object:
    return json.loads((FIXTURES / f"{name}.response.json").read_bytes())


def sent(name: str) -> object:
    return json.loads((FIXTURES / f"{name}.request.json").read_bytes())


def test_no_secret_in_any_fixture() -> None:
    for path in FIXTURES.iterdir():
        if path.suffix == ".json":
            assert PASSWORD.encode() not in path.read_bytes(), path.name


def test_ping() -> None:
    assert mapping.parse_ping(answer("ping")) == ("reference-mis", "1.0")


def test_find_jobs_finds_none_before_the_push() -> None:
    assert mapping.parse_jobs(answer("find_jobs_none")) == []


def test_create_job_sends_the_mapped_job_and_reads_its_id() -> None:
    reference = push_reference("mis", ORDER.site, ORDER.order_number)
    assert sent("create_job") == mapping.job_request(ORDER, reference, {"customer": "C100"})
    assert mapping.parse_created_id(answer("create_job"), "job_id", "created job") == "J1001"


def test_add_line_sends_the_mapped_line_and_reads_its_id() -> None:
    assert sent("add_line") == mapping.line_request(ORDER.items[0])
    assert mapping.parse_created_id(answer("add_line"), "line_id", "line") == "J1001-01"


def test_a_shipped_job_reads_as_each_line_s_status_and_tracking() -> None:
    job = mapping.parse_job(answer("job_shipped"))
    assert job.reference == push_reference("mis", ORDER.site, ORDER.order_number)
    assert [line.line_key for line in job.lines] == ["1", "2", "3"]
    line = job.line_by_key(mapping.line_key(2))
    assert line is not None
    report = mapping.status_report(2, line)
    assert (report.item_seq, report.status, report.tracking) == (2, "shipped", ("1Z0002",))
    assert isinstance(report.shipped_at, dt.datetime) and report.shipped_at.tzinfo is not None
    assert line.price == Decimal("10.00") and line.quantity == 200


def test_a_catalogue_page() -> None:
    page = mapping.parse_products_page(answer("products_page"))
    assert page.total == 25
    assert [(p.sku, p.price, p.stock) for p in page.items] == [
        ("REF-001", Decimal("9.50"), 0),
        ("REF-002", Decimal("10.75"), 7),
    ]
    record_ = mapping.product_record(page.items[1])
    assert record_.category_ids == ("flyers",)


def test_a_404_is_not_found_with_the_mis_s_message() -> None:
    body = (FIXTURES / "error_not_found.response.json").read_bytes()
    response = httpx.Response(404, content=body, headers={"content-type": "application/json"})
    error = error_for_response(response, what="read job J-404")
    assert isinstance(error, NotFound)
    assert "HTTP 404" in error.message


def test_a_new_recording_matches_the_fixtures(tmp_path: Path) -> None:
    """The recorder still runs, and the driver and the sandbox still exchange these bytes (the
    shipped job carries the sandbox's clock)."""
    fresh = record(tmp_path)
    assert set(fresh) == set(WANTED)
    for path in FIXTURES.glob("*.json"):
        if path.name != "job_shipped.response.json":
            assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
