"""PaceClient (zeep over httpx) against a real PaceSandbox on loopback.

Covers the calls the Pace driver makes (create customer, contact, job; part 01 appears; update
part 01; add part 02; find by e-mail, hostile quotes included; read), the field names chosen from
the server's WSDL for both Pace versions, every failure class, the refusal of DTD/entity
payloads, and that no secret reaches an error text or a log line.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import structlog

from daemon.errors import (
    AuthenticationFailed,
    BusinessRuleError,
    DriverError,
    NetworkError,
    NotFound,
    PermanentError,
    ServerError,
)
from daemon.providers.pace.find_expressions import all_of, equals, is_true
from daemon.providers.pace.sandbox import PaceSandbox
from daemon.providers.pace.soap_client import PaceClient, Sort, fault_error
from daemon.remote.in_call_retry import READ_ATTEMPTS
from tests.pace_helpers import pace_sandbox_fixtures

pytestmark = pytest.mark.anyio

LOGIN = "esd"
PASSWORD = "pace-pw-9c2e-never-shown"
TOKEN = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
HOSTILE_EMAIL = "o'b\"rien@example.com"


running_sandbox, running_legacy, sandbox, legacy = pace_sandbox_fixtures(LOGIN, PASSWORD)


@contextlib.asynccontextmanager
async def client_for(
    box: PaceSandbox, *, password: str = PASSWORD, **options: Any
) -> AsyncIterator[PaceClient]:
    async with PaceClient(box.url, LOGIN, password, company=box.company, **options) as client:
        yield client


def calls(box: PaceSandbox) -> dict[str, int]:
    return box.state()["calls"]  # type: ignore[no-any-return]


# -- the driver's conversation ------------------------------------------------------------------


async def test_customer_contact_job_parts_and_finds(sandbox: PaceSandbox) -> None:
    async with client_for(sandbox) as pace:
        customer = await pace.create(
            "Customer",
            {
                "custName": "O'Brien & Sons",
                "email": HOSTILE_EMAIL,
                "customerType": 1,
                "dateSetup": dt.date(2024, 5, 1),
            },
        )
        assert customer["id"] == "C00001"
        assert customer["customerStatus"] == "O"  # a server default
        contact = await pace.create(
            "Contact",
            {
                "customer": customer["id"],
                "firstName": "Ann",
                "email": HOSTILE_EMAIL,
                "shipTo": True,
            },
        )
        assert (contact["id"], contact["active"]) == (5001, True)

        job = await pace.create(
            "Job",
            {
                "customer": customer["id"],
                "description": "1001-Shop",
                "jobType": 1,
                "poNum": "PO-1",
                "amountToInvoice": Decimal("49.50"),
                "promiseDateTime": dt.datetime(2024, 5, 3, 17, 0, tzinfo=dt.UTC),
            },
        )
        assert job["job"] == "1001"
        assert job["amountToInvoice"] == Decimal("49.50")
        assert job["promiseDateTime"] == dt.datetime(2024, 5, 3, 17, 0, tzinfo=dt.UTC)
        assert await pace.find("JobPart", equals("job", job["job"])) == ["1001:01"]

        # Read-modify-write: the whole object goes back, or what it leaves out is cleared.
        current = await pace.read("JobPart", "1001:01")
        sendable = set(await pace.update_fields("JobPart"))
        whole = {k: v for k, v in current.items() if k in sendable}
        part = await pace.update("JobPart", {**whole, "qtyOrdered": 250})
        assert (part["qtyOrdered"], part["description"]) == (250, "1001-Shop")
        partial = await pace.update("JobPart", {"job": "1001", "jobPart": "01", "qtyOrdered": 250})
        assert (partial["qtyOrdered"], partial["description"]) == (250, None)
        second = await pace.create(
            "JobPart", {"job": "1001", "description": "Poster", "qtyOrdered": 3}
        )
        assert second["jobPart"] == "02"
        assert (await pace.read("JobPart", "1001:02"))["description"] == "Poster"
        assert (await pace.read("Contact", 5001))["firstName"] == "Ann"
        assert (await pace.read("Contact", "5001"))["email"] == HOSTILE_EMAIL

        assert await pace.find("Customer", equals("email", HOSTILE_EMAIL)) == ["C00001"]
        assert await pace.find("Customer", equals("email", "o'b")) == []
        assert await pace.find("Customer", equals("email", "x' or @email != '")) == []
        found = await pace.find(
            "Contact",
            all_of(equals("customer", "C00001"), equals("email", HOSTILE_EMAIL), is_true("active")),
        )
        assert found == ["5001"]
        assert await pace.find(
            "JobPart", equals("job", "1001"), sort=[Sort("jobPart", descending=True)]
        ) == ["1001:02", "1001:01"]
        assert await pace.find("JobPart", equals("job", "1001"), limit=1) == ["1001:01"]
    parts = sandbox.objects("JobPart")
    assert [(p["primaryKey"], p["qtyOrdered"]) for p in parts] == [("1001:01", 250), ("1001:02", 3)]
    assert calls(sandbox)["CreateObject.createJob"] == 1


async def test_update_tolerates_an_empty_answer(sandbox: PaceSandbox) -> None:
    sandbox.seed_customer("C1", "Acme")
    sandbox.set_faults(update_returns_object=False)
    async with client_for(sandbox) as pace:
        await pace.create("Job", {"customer": "C1", "description": "old"})
        updated = await pace.update("Job", {"job": "1001", "description": "new", "poNum": None})
    assert updated["description"] == "new"
    assert calls(sandbox)["ReadObject.readJob"] == 1


async def test_values_are_converted_by_field_type(
    sandbox: PaceSandbox, legacy: PaceSandbox
) -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    sandbox.seed_customer("C1", "Acme")
    async with client_for(sandbox, timezone=plus_two) as pace:
        job = await pace.create(
            "Job",
            {
                "customer": "C1",
                "promiseDateTime": dt.datetime(2024, 5, 3, 9, 0),
            },  # shop's wall time
        )
        assert job["promiseDateTime"] == dt.datetime(2024, 5, 3, 7, 0, tzinfo=dt.UTC)
        day = await pace.update("Job", {"job": job["job"], "promiseDateTime": dt.date(2024, 5, 4)})
        assert day["promiseDateTime"] == dt.datetime(2024, 5, 3, 22, 0, tzinfo=dt.UTC)
    legacy.seed_customer("C1", "Acme")
    async with client_for(legacy) as pace:
        job = await pace.create(
            "Job",
            {"customer": "C1", "promiseDate": dt.date(2024, 5, 4), "promiseTime": dt.time(15, 30)},
        )
        assert job["promiseTime"] == dt.datetime(1970, 1, 1, 15, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"customer": "C1", "jobType": "1"}, "field jobType: needs an int, got str"),
        ({"customer": "C1", "jobType": True}, "field jobType: needs an int, got bool"),
        ({"customer": "C1", "amountToInvoice": Decimal("Infinity")}, "is not a finite number"),
        ({"customer": "C1", "description": 5}, "field description: needs a str"),
        ({"customer": "C1", "promiseDateTime": "2024-05-01"}, "needs a datetime, date or time"),
    ],
)
async def test_wrong_python_types_are_refused_before_sending(
    sandbox: PaceSandbox, fields: dict[str, Any], message: str
) -> None:
    async with client_for(sandbox) as pace:
        with pytest.raises(ValueError, match=message):
            await pace.create("Job", fields)
    assert calls(sandbox) == {}


async def test_characters_xml_cannot_carry_are_a_business_error(sandbox: PaceSandbox) -> None:
    async with client_for(sandbox) as pace:
        with pytest.raises(BusinessRuleError, match=r"field address1: character U\+0001"):
            await pace.create("Customer", {"custName": "A", "address1": "Main St\x01"})
    assert calls(sandbox) == {}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.read("Widget", "1"), "is not one of Customer"),
        (lambda p: p.read("job; drop", "1"), "is not a type name"),
        (lambda p: p.read("JobPart", "1001"), "key '1001' must be job:jobPart"),
        (lambda p: p.read("Contact", "abc"), "key id must be an integer"),
        (lambda p: p.update("Job", {"description": "x"}), "key field 'job' is missing"),
        (lambda p: p.find("Job", "@job = '1'"), "build it with daemon.providers.pace"),
        (lambda p: p.find("Job", equals("job", "1"), limit=0), "must be 1 or more"),
    ],
)
async def test_bad_calls_name_the_problem(sandbox: PaceSandbox, call: Any, message: str) -> None:
    async with client_for(sandbox) as pace:
        with pytest.raises((ValueError, TypeError), match=message):
            await call(pace)


@pytest.mark.parametrize(
    "url",
    ["", "ftp://pace", "http://user:pw@pace.example", "http://pace.example/?x=1", "pace.example"],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="Pace url"):
        PaceClient(url, LOGIN, PASSWORD)


# -- field names from the server's WSDL ---------------------------------------------------------


async def test_promise_fields_come_from_the_servers_wsdl(
    sandbox: PaceSandbox, legacy: PaceSandbox
) -> None:
    async with client_for(sandbox) as current_pace, client_for(legacy) as legacy_pace:
        assert await current_pace.job_promise_fields() == ("promiseDateTime",)
        assert await legacy_pace.job_promise_fields() == ("promiseDate", "promiseTime")
        assert (await legacy_pace.fields("Job"))[0] == "job"
        assert await legacy_pace.pick_fields(
            "Carton", ("actualDateTime",), ("actualDate", "actualTime")
        ) == (
            "actualDate",
            "actualTime",
        )
        with pytest.raises(PermanentError, match="has none of the fields shipDate"):
            await current_pace.pick_fields("JobShipment", ("shipDate",))
        legacy.seed_customer("C1", "Acme")
        with pytest.raises(BusinessRuleError, match="no field 'promiseDateTime'"):
            await legacy_pace.create(
                "Job", {"customer": "C1", "promiseDateTime": dt.date(2024, 5, 1)}
            )
    assert calls(legacy) == {}  # refused before anything was sent


async def test_company_path(sandbox: PaceSandbox) -> None:
    with PaceSandbox(LOGIN, PASSWORD, company="acme") as box:
        box.seed_customer("C1", "Acme")
        async with client_for(box) as pace:
            assert (await pace.create("Job", {"customer": "C1"}))["job"] == "1001"
        async with PaceClient(box.url, LOGIN, PASSWORD) as lost:
            with pytest.raises(NotFound, match="check the URL and company"):
                await lost.fields("Job")


# -- errors -----------------------------------------------------------------------------------


async def test_pace_business_faults_keep_paces_words(sandbox: PaceSandbox) -> None:
    async with client_for(sandbox) as pace:
        with pytest.raises(BusinessRuleError) as required:
            await pace.create("Job", {"description": "no customer"})
        assert (
            str(required.value) == "create Job: Pace refused: Field is required: Job[customer=null]"
        )
        with pytest.raises(BusinessRuleError, match=r"Invalid reference: Job\[customer=NOPE\]"):
            await pace.create("Job", {"customer": "NOPE"})
        with pytest.raises(NotFound, match=r"Unable to locate object: Job\[job=999\]"):
            await pace.read("Job", "999")
        with pytest.raises(BusinessRuleError, match="Unknown field 'emial'"):
            await pace.find("Customer", equals("emial", "x"))
    assert calls(sandbox)["ReadObject.readJob"] == 1  # a business fault is not retried


async def test_wrong_password_is_authentication_failed(sandbox: PaceSandbox) -> None:
    async with client_for(sandbox, password="wrong-password") as pace:
        with pytest.raises(AuthenticationFailed, match="HTTP 401"):
            await pace.fields("Job")
    assert sandbox.state()["wsdl_fetches"] == {}


async def test_server_faults_and_503s_are_transient(sandbox: PaceSandbox) -> None:
    sandbox.seed_customer("C1", "Acme")
    async with client_for(sandbox) as pace:
        assert await pace.find("Job", equals("customer", "C1")) == []  # loads the WSDLs
        await pace.fields("Job")
        sandbox.set_faults(fault_rate=1.0)
        with pytest.raises(ServerError, match="Pace server fault: Internal error: could not get"):
            await pace.create("Job", {"customer": "C1"})
        assert calls(sandbox)["CreateObject.createJob"] == 1  # a create is never retried
        sandbox.set_faults(fault_rate=0.0, error_rate=1.0)
        with pytest.raises(ServerError, match="find Job: HTTP 503: server error"):
            await pace.find("Job", equals("customer", "C1"))
        assert calls(sandbox)["FindObjects.find"] == 1 + READ_ATTEMPTS  # a read is, a few times
        not_xml = {"operation": "find", "kind": "not_xml"}
        sandbox.set_faults(error_rate=0.0, fail_next=[not_xml] * READ_ATTEMPTS)
        with pytest.raises(ServerError, match="find Job: unreadable answer from Pace"):
            await pace.find("Job", equals("customer", "C1"))
    assert sandbox.objects("Job") == []


async def test_dropped_connections_are_network_errors(sandbox: PaceSandbox) -> None:
    sandbox.seed_customer("C1", "Acme")
    async with client_for(sandbox) as pace:
        sandbox.set_faults(fail_next=[{"operation": "createJob", "kind": "drop"}])
        with pytest.raises(NetworkError):
            await pace.create("Job", {"customer": "C1"})
        assert sandbox.objects("Job") == []
        # The lost answer: Pace made the job, the client cannot know; the driver must look.
        sandbox.set_faults(fail_next=[{"operation": "createJob", "kind": "drop_after_commit"}])
        with pytest.raises(NetworkError):
            await pace.create("Job", {"customer": "C1", "poNum": "PO-7"})
        assert await pace.find("Job", equals("poNum", "PO-7")) == ["1001"]
        # A read that loses its connection once is retried in the call.
        sandbox.set_faults(fail_next=[{"operation": "readJob", "kind": "drop"}])
        assert (await pace.read("Job", "1001"))["poNum"] == "PO-7"
    async with client_for(sandbox) as fresh:  # so is a WSDL load
        sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": "drop"}])
        assert await fresh.job_promise_fields() == ("promiseDateTime",)
    assert sandbox.state()["faults"]["fail_next"] == []


async def test_latency_beyond_the_timeout_is_a_network_error(sandbox: PaceSandbox) -> None:
    sandbox.seed_customer("C1", "Acme")
    async with client_for(sandbox, timeout=0.05) as pace:
        await pace.fields("Job")
        sandbox.set_faults(latency_ms=2000)
        with pytest.raises(NetworkError, match=r"create Job: \w*Timeout"):
            await pace.create("Job", {"customer": "C1"})


@pytest.mark.parametrize("kind", ["entity_bomb", "external_entity"])
async def test_dtd_and_entity_answers_are_refused(sandbox: PaceSandbox, kind: str) -> None:
    sandbox.seed_customer("C1", "Acme")
    async with client_for(sandbox) as pace:
        sandbox.set_faults(fail_next=[{"operation": "readCustomer", "kind": kind}])
        with pytest.raises(PermanentError) as refused:
            await pace.read("Customer", "C1")
        assert type(refused.value) is PermanentError
        assert "refused the answer: it declares a DTD" in str(refused.value)
        assert "ha" * 3 not in str(refused.value)
        assert calls(sandbox)["ReadObject.readCustomer"] == 1  # not retried: not a blip
    async with client_for(sandbox) as fresh:
        sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": kind}])
        with pytest.raises(PermanentError, match="load CreateObject WSDL: refused"):
            await fresh.fields("Job")


@pytest.mark.parametrize(
    ("code", "message", "error", "text"),
    [
        ("soap:Server", "Unable to locate object: Job[job=1]", NotFound, "read: Pace: Unable"),
        ("soap:Server", "Field is required: Job[customer=null]", BusinessRuleError, "Pace refused"),
        ("soap:Server", "Unknown field 'x' on object 'Job'", BusinessRuleError, "Pace refused"),
        ("soap:Server", "Cannot convert children into a filter: dateTime", BusinessRuleError, ""),
        ("soap:Server", "unknown or unsupported function: substring", BusinessRuleError, ""),
        ("soap:Client", "Unmarshalling Error: unexpected element", BusinessRuleError, ""),
        ("soap:Server", "java.sql.SQLException: Connection reset", ServerError, "server fault"),
        ("soap:Server", None, ServerError, "no fault message"),
        (None, "x" * 2000, ServerError, "…"),
    ],
)
def test_fault_classification(
    code: str | None, message: str | None, error: type[DriverError], text: str
) -> None:
    result = fault_error("read", code, message)
    assert type(result) is error
    assert text in str(result)
    assert len(str(result)) < 600


async def test_no_secret_in_errors_or_logs(
    sandbox: PaceSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.seed_customer("C1", "Acme")
    errors: list[BaseException] = []
    with structlog.testing.capture_logs() as events:
        async with client_for(sandbox, password="wrong-" + PASSWORD) as wrong:
            with pytest.raises(AuthenticationFailed) as denied:
                await wrong.fields("Job")
            errors.append(denied.value)
        async with client_for(sandbox) as pace:
            await pace.create("Job", {"customer": "C1"})
            # A fault that echoes the password (as a buggy server might) is scrubbed.
            sandbox.set_faults(
                fail_next=[
                    {
                        "operation": "createJob",
                        "kind": "fault",
                        "message": f"bad {PASSWORD} {TOKEN}",
                    },
                    {"operation": "createJob", "kind": "503"},
                    {"operation": "createJob", "kind": "drop"},
                ]
            )
            for expected in (ServerError, ServerError, NetworkError):
                with pytest.raises(expected) as failed:
                    await pace.create("Job", {"customer": "C1"})
                errors.append(failed.value)
    assert "***" in str(errors[1])
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(event) for event in events] + [record.getMessage() for record in caplog.records]
    for text in texts:
        assert PASSWORD not in text
        assert TOKEN not in text
        assert "Authorization" not in text
