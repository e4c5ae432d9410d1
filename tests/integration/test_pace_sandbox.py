"""The Pace sandbox over real sockets, spoken to in raw SOAP (no zeep), as EFI's guide writes it.

Proves what the SOAP client's tests rely on: the WSDLs served, the schema validation, Pace's
faults, auto-numbering with part 01, the find subset, the fault knobs and the admin methods.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from daemon.providers.pace.find_expressions import all_of, equals, is_true
from daemon.providers.pace.sandbox import JOB_TEMPLATE_DEFAULTS, PaceSandbox
from tests.pace_helpers import pace_sandbox_fixtures

LOGIN = "esd"
PASSWORD = "pace-pw-4b1d-never-shown"
AUTH = (LOGIN, PASSWORD)
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDLSOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
OBJ = "http://pace2020.com/epace/object"
SERVICES = ("FindObjects", "ReadObject", "CreateObject", "UpdateObject")


running_sandbox, running_legacy, sandbox, legacy = pace_sandbox_fixtures(LOGIN, PASSWORD)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def envelope(body: str) -> bytes:
    """A request the way the guide and Blackbox_Epace write them: default namespaces."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}" '
        f'xmlns:xsi="{XSI}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()


def op(service: str, operation: str, inner: str) -> str:
    return f'<{operation} xmlns="urn://pace2020.com/epace/sdk/{service}">{inner}</{operation}>'


def fields(**values: str | None) -> str:
    parts = []
    for name, value in values.items():
        if value is None:
            parts.append(f'<{name} xmlns="{OBJ}" xsi:nil="true"/>')
        else:
            parts.append(f'<{name} xmlns="{OBJ}">{value}</{name}>')
    return "".join(parts)


def post(
    http: httpx.Client,
    box: PaceSandbox,
    service: str,
    body: str | bytes,
    *,
    auth: tuple[str, str] | None = AUTH,
    timeout: float | None = None,
) -> httpx.Response:
    content = envelope(body) if isinstance(body, str) else body
    return http.post(
        f"{box.services_url}/{service}",
        content=content,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        auth=httpx.BasicAuth(*auth) if auth else httpx.USE_CLIENT_DEFAULT,
        timeout=timeout if timeout is not None else 10,
    )


def out_fields(response: httpx.Response) -> dict[str, str | None]:
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    (answer,) = root.find(f"{{{SOAP}}}Body")  # type: ignore[misc]
    out = answer.find(f"{{{answer.tag.partition('}')[0][1:]}}}out")
    assert out is not None
    return {
        child.tag.partition("}")[2]: None if child.get(f"{{{XSI}}}nil") == "true" else child.text
        for child in out
    }


def find_keys(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [
        item.text or ""
        for item in ET.fromstring(response.content).iter()
        if item.tag.endswith("}string")
    ]


def fault(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith("text/xml")
    node = ET.fromstring(response.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert node is not None
    return node.findtext("faultcode") or "", node.findtext("faultstring") or ""


def object_call(
    http: httpx.Client, box: PaceSandbox, service: str, object_type: str, **values: str | None
) -> httpx.Response:
    """read<Type>, create<Type> or update<Type> (by `service`) of an object with `values`."""
    verb = {"ReadObject": "read", "CreateObject": "create", "UpdateObject": "update"}[service]
    element = object_type[:1].lower() + object_type[1:]
    inner = f"<{element}>{fields(**values)}</{element}>"
    return post(http, box, service, op(service, f"{verb}{object_type}", inner))


def create_job(http: httpx.Client, box: PaceSandbox, **values: str | None) -> httpx.Response:
    return object_call(http, box, "CreateObject", "Job", **values)


def created(
    http: httpx.Client, box: PaceSandbox, object_type: str, **values: str | None
) -> dict[str, str | None]:
    """create<Type> of an object with `values`, which must succeed: the object as created."""
    return out_fields(object_call(http, box, "CreateObject", object_type, **values))


# -- WSDLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_wsdl_is_self_contained_and_names_the_url_asked_on(
    sandbox: PaceSandbox, http: httpx.Client, service: str
) -> None:
    response = http.get(f"{sandbox.services_url}/{service}?wsdl", auth=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert b"RECONSTRUCTED, NOT EFI'S FILE" in response.content
    root = ET.fromstring(response.content)
    address = root.find(f"{{{WSDL}}}service/{{{WSDL}}}port/{{{WSDLSOAP}}}address")
    assert address is not None and address.get("location") == f"{sandbox.services_url}/{service}"
    imports = list(root.iter(f"{{{XSD}}}import"))
    assert imports and all(i.get("schemaLocation") is None for i in imports)
    namespaces = {s.get("targetNamespace") for s in root.iter(f"{{{XSD}}}schema")}
    assert f"urn://pace2020.com/epace/sdk/{service}" in namespaces
    assert (OBJ in namespaces) is (service != "FindObjects")
    assert sandbox.state()["wsdl_fetches"] == {service: 1}


def job_fields(box: PaceSandbox, http: httpx.Client) -> list[str]:
    root = ET.fromstring(http.get(f"{box.services_url}/CreateObject?wsdl", auth=AUTH).content)
    for complex_type in root.iter(f"{{{XSD}}}complexType"):
        if complex_type.get("name") == "job":
            return [e.get("name") or "" for e in complex_type.iter(f"{{{XSD}}}element")]
    raise AssertionError("no job type")


def test_pace_version_picks_the_date_time_fields(
    sandbox: PaceSandbox, legacy: PaceSandbox, http: httpx.Client
) -> None:
    current = job_fields(sandbox, http)
    old = job_fields(legacy, http)
    assert {"promiseDateTime", "dateTimeSetup"} <= set(current)
    assert not {"promiseDate", "promiseTime", "timeSetUp"} & set(current)
    assert {"promiseDate", "promiseTime", "dateSetup", "timeSetUp"} <= set(old)
    assert "promiseDateTime" not in old
    assert current[0] == old[0] == "job"  # the key first


def test_company_sandbox_serves_only_its_company_path(http: httpx.Client) -> None:
    with PaceSandbox(LOGIN, PASSWORD, company="acme") as box:
        assert box.services_url == f"{box.url}/rpc/company:acme/services"
        assert (
            http.get(f"{box.url}/rpc/company:acme/services/ReadObject?wsdl", auth=AUTH).status_code
            == 200
        )
        assert http.get(f"{box.url}/rpc/services/ReadObject?wsdl", auth=AUTH).status_code == 404
        assert (
            http.get(f"{box.url}/rpc/company:other/services/ReadObject?wsdl", auth=AUTH).status_code
            == 404
        )
    with pytest.raises(ValueError, match="company"):
        PaceSandbox(LOGIN, PASSWORD, company="a/b")


@pytest.mark.parametrize("auth", [None, (LOGIN, "wrong"), ("someone", PASSWORD)])
def test_every_request_needs_the_credentials(
    sandbox: PaceSandbox, http: httpx.Client, auth: tuple[str, str] | None
) -> None:
    sandbox.seed_customer("C1", "Acme")
    wsdl = http.get(f"{sandbox.services_url}/CreateObject?wsdl", auth=auth)
    body = op("CreateObject", "createJob", f"<job>{fields(customer='C1')}</job>")
    soap = post(http, sandbox, "CreateObject", body, auth=auth)
    for response in (wsdl, soap):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="Pace"'
        assert PASSWORD not in response.text
    assert sandbox.objects("Job") == []
    assert sandbox.state()["calls"] == {}


# -- creating, reading, updating ------------------------------------------------------------------


def test_jobs_are_numbered_and_come_with_part_01(sandbox: PaceSandbox, http: httpx.Client) -> None:
    sandbox.seed_customer("C1", "Acme")
    first = out_fields(create_job(http, sandbox, customer="C1", description="Web order 1001"))
    assert first["job"] == "1001"
    assert first["customer"] == "C1"
    assert first["adminStatus"] == "O"
    assert first["enteredBy"] == LOGIN
    assert first["promiseDateTime"] is None  # every field answered, nil when empty
    assert first["dateTimeSetup"] is not None and first["dateTimeSetup"].endswith("Z")
    (part,) = sandbox.objects("JobPart")
    assert (part["job"], part["jobPart"], part["primaryKey"]) == ("1001", "01", "1001:01")
    assert part["description"] == "Web order 1001"
    assert part["productionStatus"] == "O"
    # A given number is kept and does not move the counter (SDK-J CreateJob).
    assert out_fields(create_job(http, sandbox, job="J-77", customer="C1"))["job"] == "J-77"
    assert out_fields(create_job(http, sandbox, customer="C1"))["job"] == "1002"
    assert [j["job"] for j in sandbox.objects("Job")] == ["1001", "1002", "J-77"]
    assert fault(create_job(http, sandbox, job="J-77", customer="C1")) == (
        "soap:Server",
        "Object already exists: Job[job=J-77]",
    )
    assert sandbox.state()["calls"] == {"CreateObject.createJob": 4}


@pytest.mark.parametrize("customer", [None, ""])
def test_missing_customer_is_paces_field_required_fault(
    sandbox: PaceSandbox, http: httpx.Client, customer: str | None
) -> None:
    response = create_job(http, sandbox, customer=customer, description="x")
    assert fault(response) == ("soap:Server", "Field is required: Job[customer=null]")
    assert sandbox.objects("Job") == []


def test_dangling_reference_is_refused(sandbox: PaceSandbox, http: httpx.Client) -> None:
    code, message = fault(create_job(http, sandbox, customer="NOPE"))
    assert (code, message) == (
        "soap:Server",
        "Invalid reference: Job[customer=NOPE] (no such Customer)",
    )


def test_parts_shipments_cartons_and_contents(sandbox: PaceSandbox, http: httpx.Client) -> None:
    sandbox.seed_customer("C1", "Acme")
    create_job(http, sandbox, customer="C1", description="d")
    part = created(http, sandbox, "JobPart", job="1001", description="second", qtyOrdered="3")
    assert (part["jobPart"], part["primaryKey"], part["qtyOrdered"]) == ("02", "1001:02", "3")
    shipment = created(http, sandbox, "JobShipment", job="1001", jobPart="02", name="Ann")
    assert (shipment["id"], shipment["jobPartKey"], shipment["customer"]) == (
        "7001",
        "1001:02",
        "C1",
    )
    carton = created(http, sandbox, "Carton", count="1", quantity="3", shipment="7001")
    assert carton["id"] == "8001"
    content = created(
        http, sandbox, "CartonContent", carton="8001", job="1001", jobPart="02", quantity="3"
    )
    assert (content["id"], content["jobPartKey"]) == ("9001", "1001:02")
    code, message = fault(object_call(http, sandbox, "CreateObject", "Carton", count="1"))
    assert (code, message) == ("soap:Server", "Field is required: Carton[shipment=null]")
    code, message = fault(
        object_call(http, sandbox, "CreateObject", "JobShipment", job="1001", jobPart="09")
    )
    assert (code, message) == (
        "soap:Server",
        "Invalid reference: JobShipment[job=1001, jobPart=09] (no such JobPart)",
    )


def test_read_and_update(sandbox: PaceSandbox, http: httpx.Client) -> None:
    sandbox.seed_customer("C1", "Acme")
    create_job(http, sandbox, customer="C1", description="first")
    read = out_fields(object_call(http, sandbox, "ReadObject", "JobPart", job="1001", jobPart="01"))
    assert read["description"] == "first"

    def update(**values: str | None) -> httpx.Response:
        return object_call(http, sandbox, "UpdateObject", "Job", job="1001", **values)

    job = out_fields(object_call(http, sandbox, "ReadObject", "Job", job="1001"))
    # The Job template's defaults (seed 004 step 4: the push must keep them).
    assert {k: job[k] for k in JOB_TEMPLATE_DEFAULTS} == {
        k: str(v) for k, v in JOB_TEMPLATE_DEFAULTS.items()
    }
    # Whole-object update (UPDATE_SEMANTICS): an optional field left out is cleared ...
    partial = out_fields(update(poNum="PO-9"))
    assert partial["poNum"] == "PO-9"
    assert (partial["description"], partial["salesPerson"], partial["terms"]) == (None,) * 3
    # ... sent back as read, it is kept; nil clears it; a required field's nil is ignored.
    assert out_fields(update(description="again", poNum="PO-9"))["description"] == "again"
    assert out_fields(update(description=None, poNum="PO-9"))["description"] is None
    kept = out_fields(update(customer=None, poNum="PO-9"))
    assert (kept["customer"], kept["poNum"]) == ("C1", "PO-9")
    assert out_fields(update(poNum="PO-9"))["customer"] == "C1", "a required field left out: kept"
    assert fault(object_call(http, sandbox, "ReadObject", "Job", job="999")) == (
        "soap:Server",
        "Unable to locate object: Job[job=999]",
    )
    assert fault(object_call(http, sandbox, "UpdateObject", "Job", poNum="x"))[1] == (
        "Unable to locate object: Job[job=null]"
    )
    sandbox.set_faults(update_returns_object=False)
    root = ET.fromstring(update(poNum="PO-10").content)
    assert [child.tag for child in root.iter() if child.tag.endswith("out")] == []
    assert sandbox.objects("Job")[0]["poNum"] == "PO-10"


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "body", "code", "message"),
    [
        (
            "CreateObject",
            op(
                "CreateObject",
                "createJob",
                f"<job>{fields(customer='C1', promiseDate='2024-01-01T00:00:00Z')}</job>",
            ),
            "soap:Client",
            "Unknown field 'promiseDate' on object 'Job'",
        ),
        (
            "CreateObject",
            op("CreateObject", "createJob", f"<job>{fields(customer='C1', jobType='ten')}</job>"),
            "soap:Client",
            "'ten' is not a valid value of the atomic type 'xs:int'",
        ),
        (
            "CreateObject",
            op("CreateObject", "createJob", "<job><customer>C1</customer></job>"),
            "soap:Client",
            "field 'customer' of Job must be in namespace",
        ),
        (
            "CreateObject",
            op("CreateObject", "createJob", f"<job>{fields(description='d', customer='C1')}</job>"),
            "soap:Client",
            "This element is not expected",
        ),
        (
            "CreateObject",
            op("CreateObject", "createJob", ""),
            "soap:Client",
            "Missing child element",
        ),
        (
            "ReadObject",
            op("CreateObject", "createJob", "<job/>"),
            "soap:Client",
            "Invalid operation",
        ),
        (
            "CreateObject",
            op("CreateObject", "createWidget", "<widget/>"),
            "soap:Client",
            "Invalid operation",
        ),
        (
            "FindObjects",
            op("FindObjects", "find", "<in0>Job</in0>"),
            "soap:Client",
            "Invalid request",
        ),
        ("CreateObject", b"not xml at all", "soap:Client", "not well-formed XML"),
        (
            "CreateObject",
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            "soap:Client",
            "SOAP 1.2 is not served",
        ),
    ],
)
def test_requests_are_validated_against_the_wsdl_schema(
    sandbox: PaceSandbox,
    http: httpx.Client,
    service: str,
    body: str | bytes,
    code: str,
    message: str,
) -> None:
    sandbox.seed_customer("C1", "Acme")
    got_code, got_message = fault(post(http, sandbox, service, body))
    assert got_code == code
    assert message in got_message
    assert sandbox.objects("Job") == []


def test_legacy_schema_refuses_the_newer_field(legacy: PaceSandbox, http: httpx.Client) -> None:
    legacy.seed_customer("C1", "Acme")
    body = op(
        "CreateObject",
        "createJob",
        f"<job>{fields(customer='C1', promiseDateTime='2024-01-01T00:00:00Z')}</job>",
    )
    assert fault(post(http, legacy, "CreateObject", body)) == (
        "soap:Client",
        "Unknown field 'promiseDateTime' on object 'Job'",
    )
    ok = out_fields(
        create_job(
            http,
            legacy,
            customer="C1",
            promiseDate="2024-05-01T00:00:00Z",
            promiseTime="1970-01-01T15:30:00Z",
        )
    )
    assert (ok["promiseDate"], ok["promiseTime"]) == (
        "2024-05-01T00:00:00.000Z",
        "1970-01-01T15:30:00.000Z",
    )
    assert ok["timeSetUp"] is not None and ok["timeSetUp"].startswith("1970-01-01T")


def test_a_doctype_in_a_request_is_refused_unexpanded(
    sandbox: PaceSandbox, http: httpx.Client
) -> None:
    sandbox.seed_customer("C1", "Acme")
    body = (
        b'<?xml version="1.0"?><!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM "file:///etc/hostname">'
        b'<!ENTITY a "aaaaaaaaaa">]>'
    ) + envelope(
        op("CreateObject", "createJob", f"<job>{fields(customer='C1', description='&x;&a;')}</job>")
    )[38:]
    code, message = fault(post(http, sandbox, "CreateObject", body))
    assert (code, message) == ("soap:Client", "Invalid SOAP request: a DOCTYPE is not allowed")
    assert sandbox.objects("Job") == []


# -- find -------------------------------------------------------------------------------------


def find(
    http: httpx.Client,
    box: PaceSandbox,
    object_type: str,
    expression: str,
    extra: str = "",
    operation: str = "find",
) -> httpx.Response:
    expression = expression.replace("&", "&amp;").replace("<", "&lt;")
    return post(
        http,
        box,
        "FindObjects",
        op("FindObjects", operation, f"<in0>{object_type}</in0><in1>{expression}</in1>{extra}"),
    )


def test_find_matches_exactly_even_with_hostile_quotes(
    sandbox: PaceSandbox, http: httpx.Client
) -> None:
    hostile = "o'b\"rien@example.com"
    sandbox.seed_customer("C1", "One", email=hostile)
    sandbox.seed_customer("C2", "Two", email="x@example.com")
    sandbox.seed_customer("C3", "Three")
    assert find_keys(find(http, sandbox, "Customer", str(equals("email", hostile)))) == ["C1"]
    widened = str(equals("email", "x' or @email != '"))
    assert find_keys(find(http, sandbox, "Customer", widened)) == []
    assert find_keys(find(http, sandbox, "Customer", "@email = ''")) == ["C3"]  # the null test
    both = all_of(equals("customer", "C1"), equals("email", hostile))
    sandbox.seed_contact("C1", email=hostile, firstName="Ann")
    sandbox.seed_contact("C2", email=hostile, firstName="Bob")
    assert find_keys(find(http, sandbox, "Contact", str(both))) == ["5001"]


def test_find_sort_and_limit(sandbox: PaceSandbox, http: httpx.Client) -> None:
    for i, name in enumerate(["b", "c", "a"], start=1):
        sandbox.seed_customer(f"C{i}", name, customerType=1)
    sort = (
        '<in2><XPathDataSort xmlns="http://rpc.services.appbox.pace2020.com">'
        "<descending>true</descending><xpath>@custName</xpath></XPathDataSort></in2>"
    )
    assert find_keys(find(http, sandbox, "Customer", "@customerType = 1", sort, "findAndSort")) == [
        "C2",
        "C1",
        "C3",
    ]
    limited = find(
        http,
        sandbox,
        "Customer",
        "@customerType = 1",
        f"{sort}<in3>1</in3><in4>1</in4>",
        "findSortAndLimit",
    )
    assert find_keys(limited) == ["C1"]
    no_sort = '<in2 xsi:nil="true"/><in3>0</in3><in4>2</in4>'
    assert find_keys(
        find(http, sandbox, "Customer", "@customerType = 1", no_sort, "findSortAndLimit")
    ) == ["C1", "C2"]


@pytest.mark.parametrize(
    ("object_type", "expression", "message"),
    [
        ("Customer", "@emial = 'x'", "Unknown field 'emial' on object 'Customer'"),
        ("Customer", "substring(@id, 1, 1) = 'C'", "unknown or unsupported function: substring"),
        ("Customer", "customer/@custName = 'x'", "only reads @field of the object itself"),
        ("Customer", "@email = ", "Invalid XPath expression"),
        ("Widget", "@id = 1", "Unknown object type: Widget"),
    ],
)
def test_find_faults(
    sandbox: PaceSandbox, http: httpx.Client, object_type: str, expression: str, message: str
) -> None:
    code, got = fault(find(http, sandbox, object_type, expression))
    assert code == "soap:Server"
    assert message in got


# -- faults -----------------------------------------------------------------------------------


def test_error_rate_is_a_plain_503(sandbox: PaceSandbox, http: httpx.Client) -> None:
    sandbox.seed_customer("C1", "Acme")
    sandbox.set_faults(error_rate=1.0)
    response = create_job(http, sandbox, customer="C1")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert sandbox.objects("Job") == []


def test_fault_rate_and_queued_faults_are_soap_faults(
    sandbox: PaceSandbox, http: httpx.Client
) -> None:
    sandbox.seed_customer("C1", "Acme")
    sandbox.set_faults(fault_rate=1.0)
    assert fault(create_job(http, sandbox, customer="C1")) == (
        "soap:Server",
        "Internal error: could not get a database connection (injected fault)",
    )
    sandbox.set_faults(
        fault_rate=0.0,
        fail_next=[
            {
                "operation": "createJob",
                "kind": "fault",
                "message": "Field is required: Job[customer=null]",
            }
        ],
    )
    assert (
        fault(create_job(http, sandbox, customer="C1"))[1]
        == "Field is required: Job[customer=null]"
    )
    assert out_fields(create_job(http, sandbox, customer="C1"))["job"] == "1001"  # one-shot


def test_drop_cuts_the_connection_before_acting(sandbox: PaceSandbox, http: httpx.Client) -> None:
    sandbox.seed_customer("C1", "Acme")
    sandbox.set_faults(fail_next=[{"operation": "createJob", "kind": "drop"}])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        create_job(http, sandbox, customer="C1")
    assert sandbox.objects("Job") == []


def test_drop_after_commit_acts_then_cuts(sandbox: PaceSandbox, http: httpx.Client) -> None:
    sandbox.seed_customer("C1", "Acme")
    sandbox.set_faults(drop_after_commit_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        create_job(http, sandbox, customer="C1")
    assert [j["job"] for j in sandbox.objects("Job")] == ["1001"]
    assert [p["primaryKey"] for p in sandbox.objects("JobPart")] == ["1001:01"]


def test_a_client_that_times_out_during_latency_creates_nothing(
    sandbox: PaceSandbox, http: httpx.Client
) -> None:
    sandbox.seed_customer("C1", "Acme")
    sandbox.set_faults(latency_ms=300)
    with pytest.raises(httpx.TimeoutException):
        post(
            http,
            sandbox,
            "CreateObject",
            op("CreateObject", "createJob", f"<job>{fields(customer='C1')}</job>"),
            timeout=0.05,
        )
    # A later call waits the same latency, so it answers after the first call's wait is over.
    assert find_keys(find(http, sandbox, "Job", "@customer = 'C1'")) == []
    assert sandbox.objects("Job") == []


@pytest.mark.parametrize("kind", ["entity_bomb", "external_entity"])
def test_hostile_kinds_answer_a_dtd(sandbox: PaceSandbox, http: httpx.Client, kind: str) -> None:
    sandbox.set_faults(fail_next=[{"operation": "find", "kind": kind}])
    response = find(http, sandbox, "Job", "@job = '1'")
    assert response.status_code == 200
    assert b"<!DOCTYPE" in response.content and b"<!ENTITY" in response.content


def test_set_faults_names_a_wrong_knob(sandbox: PaceSandbox) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"nope": 1}, "faults.nope: unknown knob"),
        ({"fault_rate": 2}, "faults.fault_rate: must be a fraction"),
        ({"latency_ms": -1}, "faults.latency_ms: must be a number >= 0"),
        ({"update_returns_object": 1}, "faults.update_returns_object: must be true or false"),
        ({"fail_next": [{"kind": "boom"}]}, "faults.fail_next[0].kind"),
        ({"fail_next": [{"kind": "fault", "operation": "wsdl"}]}, "a WSDL fetch can only get"),
    ]
    for knobs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            sandbox.set_faults(**knobs)


# -- admin --------------------------------------------------------------------------------------


def test_admin_status_and_tracking(
    sandbox: PaceSandbox, legacy: PaceSandbox, http: httpx.Client
) -> None:
    with pytest.raises(ValueError, match=r"Customer\.colour: not a field"):
        sandbox.seed_customer("C9", "Bad", colour="red")
    sandbox.seed_customer("C1", "Acme")
    assert sandbox.seed_contact("C1", email="a@b.com")["id"] == 5001
    create_job(http, sandbox, customer="C1")
    assert sandbox.set_job_status("1001", "C")["adminStatus"] == "C"
    with pytest.raises(LookupError, match="Unable to locate object: Job"):
        sandbox.set_job_status("999", "C")
    shipment = sandbox.add_shipment_tracking("1001", "1Z999", tracking_link="https://t/1Z999")
    assert (shipment["shipped"], shipment["trackingNumber"], shipment["jobPart"]) == (
        True,
        "1Z999",
        "01",
    )
    assert isinstance(shipment["dateTime"], dt.datetime)
    object_call(http, sandbox, "CreateObject", "Carton", shipment=str(shipment["id"]))
    again = sandbox.add_shipment_tracking("1001", "1Z000", shipment_id=shipment["id"])
    assert again["id"] == shipment["id"]
    assert [c["trackingNumber"] for c in sandbox.objects("Carton")] == ["1Z000"]

    legacy.seed_customer("C1", "Acme")
    create_job(http, legacy, customer="C1")
    old = legacy.add_shipment_tracking("1001", "1Z1")
    assert old["time"].date() == dt.date(1970, 1, 1) and "dateTime" not in old
    # Older servers split the two (pace.md §6): the date carries the day only.
    assert old["date"].time() == dt.time(0, 0)


def test_a_job_status_must_be_a_known_job_status_id(
    sandbox: PaceSandbox, http: httpx.Client
) -> None:
    # Documented JobStatus ids: "O" open, "C" closed (pace.md §6, §7 flow 4); seed 004's text
    # says 'Default is “0” (New)', a digit no EFI source shows.
    sandbox.seed_customer("C1", "Acme")
    assert create_job(http, sandbox, adminStatus="O", customer="C1").status_code == 200
    assert fault(create_job(http, sandbox, adminStatus="0", customer="C1")) == (
        "soap:Server",
        "Invalid reference: Job[adminStatus=0] (no such JobStatus)",
    )
    code, message = fault(
        object_call(
            http,
            sandbox,
            "UpdateObject",
            "JobPart",
            job="1001",
            jobPart="01",
            productionStatus="0",
        )
    )
    assert (code, message) == (
        "soap:Server",
        "Invalid reference: JobPart[productionStatus=0] (no such JobStatus)",
    )
    sandbox.seed_job_status("0")  # a shop whose Pace has a status "0"
    assert create_job(http, sandbox, adminStatus="0", customer="C1").status_code == 200
    with pytest.raises(ValueError, match=r"JobStatus\.id"):
        sandbox.seed_job_status("")


def read_ship_via(http: httpx.Client, box: PaceSandbox, ship_via: str) -> httpx.Response:
    return object_call(http, box, "ReadObject", "ShipVia", id=ship_via)


def test_ship_vias_are_seeded_found_and_read_never_created(
    sandbox: PaceSandbox, legacy: PaceSandbox, http: httpx.Client
) -> None:
    assert sandbox.seed_ship_via(3, "UPS Ground", provider=2) == {
        "id": 3,
        "active": True,  # unless told otherwise
        "altDescription": None,
        "availableInEcommerce": None,
        "description": "UPS Ground",
        "provider": 2,
    }
    hostile = 'Joe\'s "Fast" Courier'
    sandbox.seed_ship_via(4, hostile, active=False)
    sandbox.seed_ship_via(5, "ups ground")
    cases: list[tuple[tuple[Any, str], dict[str, Any], str]] = [
        ((3, "Again"), {}, "Object already exists: ShipVia[id=3]"),
        ((6, ""), {}, "Field is required: ShipVia[description=null]"),
        (("7", "Text id"), {}, "ShipVia.id: must be an int, got str"),
        ((8, "Bad"), {"colour": "red"}, "ShipVia.colour: not a field"),
    ]
    for args, extra, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            sandbox.seed_ship_via(*args, **extra)
    assert [s["id"] for s in sandbox.objects("ShipVia")] == [3, 4, 5]

    def found(expression: str) -> list[str]:
        return find_keys(find(http, sandbox, "ShipVia", expression))

    assert found(str(equals("description", "UPS Ground"))) == ["3"]  # case heeded, as XPath
    assert found(str(equals("description", hostile))) == ["4"]  # concat() of the quotes
    assert found(str(equals("description", "x' or @description != '"))) == []
    assert found(str(is_true("active"))) == ["3", "5"]
    assert found("@provider = 2 and @active") == ["3"]
    assert (
        "Unknown field 'custName' on object 'ShipVia'"
        in fault(find(http, sandbox, "ShipVia", "@custName = 'x'"))[1]
    )

    read = out_fields(read_ship_via(http, sandbox, "4"))
    assert (read["id"], read["description"], read["active"]) == ("4", hostile, "false")
    assert fault(read_ship_via(http, sandbox, "9")) == (
        "soap:Server",
        "Unable to locate object: ShipVia[id=9]",
    )
    # The shop's setup data: esd only reads it, so the WSDLs have no create or update for it.
    for service, operation in (
        ("CreateObject", "createShipVia"),
        ("UpdateObject", "updateShipVia"),
    ):
        body = op(service, operation, f"<shipVia>{fields(id='3', description='x')}</shipVia>")
        code, message = fault(post(http, sandbox, service, body))
        assert code == "soap:Client"
        assert message.startswith("Invalid operation:") and message.endswith(
            f"}}{operation} on {service}"
        )
    assert sandbox.objects("ShipVia")[0]["description"] == "UPS Ground"

    legacy.seed_ship_via(3, "UPS Ground")  # both Pace versions have the type
    assert find_keys(find(http, legacy, "ShipVia", "@description = 'UPS Ground'")) == ["3"]
    assert out_fields(read_ship_via(http, legacy, "3"))["description"] == "UPS Ground"
    sandbox.reset()
    assert sandbox.objects("ShipVia") == []


def test_python_m_prints_its_url_and_serves() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daemon.providers.pace.sandbox",
            "--port",
            "0",
            "--password",
            PASSWORD,
            "--pace-version",
            "legacy",
            "--company",
            "acme",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        with httpx.Client(timeout=10) as client:
            response = client.get(f"{url}/rpc/company:acme/services/CreateObject?wsdl", auth=AUTH)
        assert response.status_code == 200
        assert b'name="promiseTime"' in response.content
    finally:
        process.terminate()
        assert process.wait(10) == 0
        if process.stdout is not None:
            process.stdout.close()
