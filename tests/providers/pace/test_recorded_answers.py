"""The recorded Pace exchanges of fixtures/ (a typical order: find the customer, create the job,
read its status, find its parts, read a shipment's tracking, a SOAP fault) fed to the sans-IO
message code without a socket: each request is what `build_request` makes, each answer reads as
the driver needs it. Re-record with `python -m tests.providers.pace.fixtures.record`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree

from daemon.errors import NotFound
from daemon.providers.contract import push_reference
from daemon.providers.pace.sandbox.schema import Schema
from daemon.providers.pace.soap_client import SERVICES, fault_error, service_namespace
from daemon.providers.pace.soap_messages import (
    MessagePlan,
    SoapFault,
    build_request,
    node_from_zeep,
    read_answer,
)
from tests.providers.pace.fixtures.record import FIXTURES, PASSWORD, WANTED, record
from tests.providers.pace.harness import ORDER

SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
OBJECT_NS = "http://pace2020.com/epace/object"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Service -> a zeep Client of the WSDL the sandbox serves (current Pace), from a file."""
    folder = tmp_path_factory.mktemp("wsdl")
    schema = Schema("current")
    found: dict[str, Any] = {}
    for service in SERVICES:
        path = folder / f"{service}.wsdl"
        path.write_bytes(schema.wsdl_for(service, f"http://127.0.0.1:9/rpc/services/{service}"))
        found[service] = zeep.Client(str(path), settings=SETTINGS)  # type: ignore[no-untyped-call]
    yield found


def plan(clients: dict[str, Any], service: str, operation: str) -> MessagePlan:
    namespace = service_namespace(service)
    client = clients[service]
    request = client.get_element(f"{{{namespace}}}{operation}")
    response = client.get_element(f"{{{namespace}}}{operation}Response")
    return MessagePlan.of(node_from_zeep(request), node_from_zeep(response))


def recorded(name: str) -> tuple[bytes, bytes]:
    return (
        (FIXTURES / f"{name}.request.xml").read_bytes(),
        (FIXTURES / f"{name}.response.xml").read_bytes(),
    )


def test_every_named_fixture_is_there_and_no_secret_is() -> None:
    for name in WANTED:
        request, response = recorded(name)
        assert request.startswith(b"<?xml") and response.startswith(b"<?xml"), name
    for path in FIXTURES.iterdir():
        if path.suffix in (".xml", ".json"):
            assert PASSWORD.encode() not in path.read_bytes(), path.name
    statuses = json.loads((FIXTURES / "calls.json").read_text(encoding="utf-8"))["statuses"]
    assert statuses == {name: 500 if name.startswith("fault_") else 200 for name in WANTED}


def test_find_customer_by_email_finds_none_for_a_new_customer(clients: dict[str, Any]) -> None:
    request, response = recorded("find_customer")
    find = plan(clients, "FindObjects", "find")
    arguments = {"in0": "Customer", "in1": f"@email = '{ORDER.user.email}'"}
    assert build_request(find, arguments) == request
    assert read_answer(find, response) == {"string": []}  # an empty <out/>: no key


def test_find_job_parts_reads_the_keys(clients: dict[str, Any]) -> None:
    request, response = recorded("find_job_parts")
    find = plan(clients, "FindObjects", "find")
    assert build_request(find, {"in0": "JobPart", "in1": "@job = '1001'"}) == request
    assert read_answer(find, response) == {"string": ["1001:01", "1001:02"]}


def test_create_job_sends_the_reference_and_reads_the_new_job(clients: dict[str, Any]) -> None:
    request, response = recorded("create_job")
    reference = push_reference("pace", ORDER.site, ORDER.order_number)
    sent = etree.fromstring(request)
    assert sent.findtext(f".//{{{OBJECT_NS}}}importID") == reference
    assert sent.findtext(f".//{{{OBJECT_NS}}}customer") == "C00001"
    job = read_answer(plan(clients, "CreateObject", "createJob"), response)
    assert job["job"] == "1001"
    assert job["importID"] == reference
    assert job["adminStatus"] == "O"
    # the Job template's defaults, which a later update must keep (seed 004 step 4)
    assert (job["salesPerson"], job["terms"], job["shipVia"], job["csr"]) == (7, 30, 2, 4)
    assert job["promiseDateTime"] is None  # set by the update that follows


def test_read_job_status_reads_the_admin_status_and_dates(clients: dict[str, Any]) -> None:
    request, response = recorded("read_job_status")
    read = plan(clients, "ReadObject", "readJob")
    assert etree.fromstring(request).findtext(f".//{{{OBJECT_NS}}}job") == "1001"
    job = read_answer(read, response)
    assert job["adminStatus"] == "C"
    assert job["promiseDateTime"] == dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)
    assert job["poNum"] == ORDER.order_number
    assert job["reference"] is None and job["billToJobContact"] is None  # nil


def test_read_shipment_reads_the_tracking(clients: dict[str, Any]) -> None:
    _request, response = recorded("read_shipment_tracking")
    shipment = read_answer(plan(clients, "ReadObject", "readJobShipment"), response)
    assert shipment["job"] == "1001" and shipment["jobPart"] == "01"
    assert shipment["shipped"] is True
    assert shipment["trackingNumber"] == "1Z999AA10123456784"
    assert isinstance(shipment["dateTime"], dt.datetime)


def test_a_soap_fault_reads_as_not_found(clients: dict[str, Any]) -> None:
    _request, response = recorded("fault_unable_to_locate")
    with pytest.raises(SoapFault) as caught:
        read_answer(plan(clients, "ReadObject", "readJob"), response)
    assert caught.value.code == "soap:Server"
    assert caught.value.message == "Unable to locate object: Job[job=999999]"
    error = fault_error("read Job 999999", caught.value.code, caught.value.message)
    assert isinstance(error, NotFound)
    assert "Job[job=999999]" in error.message


def test_the_recorded_push_makes_each_object_once() -> None:
    calls = json.loads((FIXTURES / "calls.json").read_text(encoding="utf-8"))["calls"]
    creates = sorted(call.split()[0] for call in calls if ".create" in call)
    assert creates == [
        "CreateObject.createCarton",
        "CreateObject.createCarton",
        "CreateObject.createContact",
        "CreateObject.createContact",
        "CreateObject.createCustomer",
        "CreateObject.createJob",
        "CreateObject.createJobContact",
        "CreateObject.createJobPart",
        "CreateObject.createJobShipment",
        "CreateObject.createJobShipment",
    ]
    assert all(call.endswith(" 200") for call in calls[:-1]) and calls[-1].endswith(" 500")


def test_fixtures_folder_is_small() -> None:
    assert sum(p.stat().st_size for p in FIXTURES.iterdir() if p.is_file()) < 64 * 1024
    assert Path(FIXTURES / "README.md").exists()


def test_a_new_recording_matches_the_fixtures(tmp_path: Path) -> None:
    """The recorder still runs, and the driver and the sandbox still exchange these bytes: every
    request, and every answer that carries no clock of the sandbox's."""
    fresh = record(tmp_path)
    assert set(fresh) == set(WANTED)
    clocked = {"create_job", "read_shipment_tracking"}  # dateTimeSetup, the shipping time
    for name in WANTED:
        request, response = recorded(name)
        assert (tmp_path / f"{name}.request.xml").read_bytes() == request, name
        if name not in clocked:
            assert (tmp_path / f"{name}.response.xml").read_bytes() == response, name
    calls = json.loads((tmp_path / "calls.json").read_text(encoding="utf-8"))
    assert calls == json.loads((FIXTURES / "calls.json").read_text(encoding="utf-8"))
