"""soap_messages against zeep: the same envelopes as zeep's serializer, the same readings as
zeep's deserializer, for every kind of call the Pace client makes, on both Pace versions' WSDLs.

The WSDLs are the ones the Pace sandbox serves (reconstructed, see daemon/providers/pace/wsdl),
loaded by zeep from a file; no socket is opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zeep
import zeep.helpers
import zeep.xsd
from lxml import etree

from daemon.providers.pace import soap_messages
from daemon.providers.pace.sandbox import PACE_VERSIONS
from daemon.providers.pace.sandbox.schema import Schema
from daemon.providers.pace.soap_client import SERVICES, service_namespace
from daemon.providers.pace.soap_messages import (
    SOAP_ENV,
    XSI,
    HostileAnswer,
    MessagePlan,
    SoapFault,
    UnreadableAnswer,
    build_request,
    node_from_zeep,
    read_answer,
)

OBJECT_NS = "http://pace2020.com/epace/object"
SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
HOSTILE = "o'b\"rien & <co> ]]> \r\nline two\ttab é 中"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], Any]]:
    """(pace_version, service) -> a zeep Client of that WSDL, as the sandbox serves it."""
    folder = tmp_path_factory.mktemp("wsdl")
    found: dict[tuple[str, str], Any] = {}
    for version in PACE_VERSIONS:
        schema = Schema(version)
        for service in SERVICES:
            path = Path(folder, f"{version}-{service}.wsdl")
            path.write_bytes(schema.wsdl_for(service, f"http://127.0.0.1:9/rpc/services/{service}"))
            found[(version, service)] = zeep.Client(str(path), settings=SETTINGS)  # type: ignore[no-untyped-call]
    yield found


def plan_for(client: Any, service: str, operation: str) -> MessagePlan:
    namespace = service_namespace(service)
    request = client.get_element(f"{{{namespace}}}{operation}")
    response = client.get_element(f"{{{namespace}}}{operation}Response")
    return MessagePlan.of(node_from_zeep(request), node_from_zeep(response))


def shape(element: Any) -> tuple[Any, ...]:
    """An element as comparable data: tag, attributes, text, children (prefixes ignored)."""
    children = [child for child in element if isinstance(child.tag, str)]
    return (
        element.tag,
        sorted(element.attrib.items()),
        element.text or "" if not children else "",
        [shape(child) for child in children],
    )


def zeep_envelope(client: Any, operation: str, arguments: Mapping[str, Any]) -> Any:
    return client.create_message(client.service, operation, **arguments)


def ours(plan: MessagePlan, arguments: Mapping[str, Any]) -> Any:
    return etree.fromstring(build_request(plan, arguments))


def sample_values(plan: MessagePlan, per_type: int = 3) -> dict[str, Any]:
    """Values for the object fields of a create/update plan: a few fields of every XSD type
    (found from the WSDL, so both versions' names work), one of each set to nil."""
    (wrapper,) = plan.request.children
    samples: dict[str, list[Any]] = {
        "string": [HOSTILE, "plain", ""],
        "int": [7, -3, 0],
        "long": [7_000_000_000, 1, 0],
        "decimal": ["12.50", "0.0001", "-3"],
        "double": ["1.5", "2", "-0.25"],
        "boolean": [True, False, True],
        "dateTime": [
            dt.datetime(2026, 11, 23, 14, 5, 9, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
            dt.datetime(1970, 1, 1, 8, 30, tzinfo=dt.UTC),
        ],
    }
    used: dict[str, int] = {}
    values: dict[str, Any] = {}
    for field in wrapper.children:
        kind = str(field.simple.qname.localname) if field.simple is not None else ""
        if kind not in samples or used.get(kind, 0) > per_type:
            continue
        n = used.get(kind, 0)
        used[kind] = n + 1
        values[field.name] = None if n == per_type else samples[kind][n]
    assert {"string", "int", "boolean"} <= set(used), used
    if plan.request.name in ("createJob", "updateJob"):
        assert {"decimal", "dateTime"} <= set(used), used
    return values


def zeep_values(values: Mapping[str, Any]) -> dict[str, Any]:
    # zeep leaves a None element out; xsi:nil is zeep.xsd.Nil.
    return {name: zeep.xsd.Nil if value is None else value for name, value in values.items()}


FIND_CASES = [
    ("find", {"in0": "Contact", "in1": f"@email = '{HOSTILE}'"}),
    (
        "findAndSort",
        {
            "in0": "Job",
            "in1": "@customer = 'C1' and @adminStatus != 'X'",
            "in2": {
                "XPathDataSort": [
                    {"descending": True, "xpath": "@job"},
                    {"descending": False, "xpath": "@description"},
                ]
            },
        },
    ),
    (
        "findSortAndLimit",
        {"in0": "JobPart", "in1": "@job = '1001'", "in2": None, "in3": 0, "in4": 1},
    ),
    (
        "findSortAndLimit",
        {
            "in0": "Job",
            "in1": "@importID = 'esd:x'",
            "in2": {"XPathDataSort": [{"descending": True, "xpath": "@job"}]},
            "in3": 5,
            "in4": 10,
        },
    ),
]


READ_CASES = [
    ("readJob", {"job": {"job": "1001"}}),
    ("readJobPart", {"jobPart": {"job": "1001", "jobPart": "01"}}),
    ("readContact", {"contact": {"id": 42}}),
    ("readCustomer", {"customer": {"id": HOSTILE}}),
]


@pytest.mark.parametrize("version", PACE_VERSIONS)
@pytest.mark.parametrize(
    ("service", "operation", "arguments"),
    [("FindObjects", *case) for case in FIND_CASES]
    + [("ReadObject", *case) for case in READ_CASES],
)
def test_find_and_read_envelopes_are_zeeps(
    clients: dict[tuple[str, str], Any],
    version: str,
    service: str,
    operation: str,
    arguments: dict[str, Any],
) -> None:
    client = clients[(version, service)]
    plan = plan_for(client, service, operation)
    assert shape(ours(plan, arguments)) == shape(zeep_envelope(client, operation, arguments))


WRITE_CASES = [
    ("CreateObject", "createJob", "job"),
    ("CreateObject", "createJobPart", "jobPart"),
    ("CreateObject", "createJobShipment", "jobShipment"),
    ("CreateObject", "createContact", "contact"),
    ("UpdateObject", "updateJob", "job"),
    ("UpdateObject", "updateJobPart", "jobPart"),
]


@pytest.mark.parametrize("version", PACE_VERSIONS)
@pytest.mark.parametrize(("service", "operation", "wrapper"), WRITE_CASES)
def test_create_and_update_envelopes_are_zeeps(
    clients: dict[tuple[str, str], Any], version: str, service: str, operation: str, wrapper: str
) -> None:
    client = clients[(version, service)]
    plan = plan_for(client, service, operation)
    values = sample_values(plan)
    mine = ours(plan, {wrapper: values})
    theirs = zeep_envelope(client, operation, {wrapper: zeep_values(values)})
    assert shape(mine) == shape(theirs)
    # and the texts that need escaping came through whole
    texts = [e.text for e in mine.iter() if e.text and "rien" in e.text]
    assert texts == [HOSTILE.replace("\r\n", "\r\n")]


def test_a_carriage_return_survives_the_round_trip(clients: dict[tuple[str, str], Any]) -> None:
    plan = plan_for(clients[("current", "FindObjects")], "FindObjects", "find")
    body = build_request(plan, {"in0": "Job", "in1": "a\rb\r\nc"})
    assert b"&#13;" in body
    assert etree.fromstring(body).findtext(".//{*}in1") == "a\rb\r\nc"


def test_build_refuses_what_the_wsdl_does_not_declare(clients: dict[tuple[str, str], Any]) -> None:
    client = clients[("current", "FindObjects")]
    plan = plan_for(client, "FindObjects", "findSortAndLimit")
    with pytest.raises(ValueError, match="in9"):
        build_request(plan, {"in0": "Job", "in9": "x"})
    with pytest.raises(ValueError, match="in3: may not be nil"):
        build_request(plan, {"in0": "Job", "in1": "@job = '1'", "in2": None, "in3": None})
    create = plan_for(clients[("current", "CreateObject")], "CreateObject", "createJob")
    with pytest.raises(ValueError, match="job: needs a mapping"):
        build_request(create, {"job": "1001"})


# -- answers --------------------------------------------------------------------------------------


def answer(
    response_tag: str, out: Any | None, *, field_ns_on_each: bool = False, nil_out: bool = False
) -> bytes:
    """A SOAP answer around `out`: {field: text or None (nil)} or a list of key strings."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "xsi": XSI})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    namespace = response_tag[1:].partition("}")[0]
    spaces = {None: namespace} if field_ns_on_each else {None: namespace, "o": OBJECT_NS}
    response = etree.SubElement(body, response_tag, nsmap=spaces)
    holder = etree.SubElement(response, f"{{{namespace}}}out")
    if nil_out:
        holder.set(f"{{{XSI}}}nil", "true")
    elif isinstance(out, list):
        for key in out:
            item = etree.SubElement(
                holder, "{http://pace2020.com/epace/FindObjects}string", nsmap={None: ""}
            )
            item.text = key
    elif out is not None:
        for name, text in out.items():
            nsmap = {None: OBJECT_NS} if field_ns_on_each else None
            element = etree.SubElement(holder, f"{{{OBJECT_NS}}}{name}", nsmap=nsmap)
            if text is None:
                element.set(f"{{{XSI}}}nil", "true")
            else:
                element.text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def zeep_reading(client: Any, operation: str, body: bytes) -> Any:
    binding = client.service._binding
    result = binding.get(operation).process_reply(etree.fromstring(body))
    return zeep.helpers.serialize_object(result, target_cls=dict)  # type: ignore[no-untyped-call]


def sample_texts(plan: MessagePlan) -> dict[str, str | None]:
    """Wire texts for an object answer: a few fields of every type, whitespace and nil too."""
    texts = {
        "string": ["  spaced  ", HOSTILE.replace("\r", ""), ""],
        "int": ["42", " 7 ", "-1"],
        "long": ["9000000000", "0", "1"],
        "decimal": ["12.50", " 3 ", "-0.001"],
        "double": ["1.5", "2", "-0.25"],
        "boolean": ["true", "0", " 1 "],
        "dateTime": [
            "2026-11-23T14:05:09.123Z",
            "2026-01-02T03:04:05Z",
            "1970-01-01T08:30:00.000Z",
        ],
    }
    out_type = plan.out
    used: dict[str, int] = {}
    found: dict[str, str | None] = {}
    for field in out_type.children:
        kind = str(field.simple.qname.localname) if field.simple is not None else ""
        if kind not in texts or used.get(kind, 0) > 3:
            continue
        n = used.get(kind, 0)
        used[kind] = n + 1
        found[field.name] = None if n == 3 else texts[kind][n]
    return found


@pytest.mark.parametrize("version", PACE_VERSIONS)
@pytest.mark.parametrize("each", [False, True], ids=["ns-once", "ns-on-each-field"])
@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("ReadObject", "readJob"),
        ("ReadObject", "readContact"),
        ("CreateObject", "createJobPart"),
        ("UpdateObject", "updateJob"),
    ],
)
def test_object_answers_read_as_zeep_reads_them(
    clients: dict[tuple[str, str], Any], version: str, each: bool, service: str, operation: str
) -> None:
    client = clients[(version, service)]
    plan = plan_for(client, service, operation)
    texts = sample_texts(plan)
    body = answer(plan.response.tag, texts, field_ns_on_each=each)
    mine = read_answer(plan, body)
    assert mine == zeep_reading(client, operation, body)
    assert isinstance(mine, dict) and len(mine) == len(plan.out.children)
    python_type = {
        "string": str,
        "int": int,
        "long": int,
        "decimal": Decimal,
        "double": float,
        "boolean": bool,
        "dateTime": dt.datetime,
    }
    kinds = {f.name: str(f.simple.qname.localname) for f in plan.out.children}
    for name, text in texts.items():
        if text is None or text == "":
            assert mine[name] is None, name
        else:
            assert isinstance(mine[name], python_type[kinds[name]]), (name, mine[name])


@pytest.mark.parametrize("keys", [[], ["1001"], ["1001:01", "1001:02", HOSTILE.replace("\r", "")]])
def test_find_answers_read_as_zeep_reads_them(
    clients: dict[tuple[str, str], Any], keys: list[str]
) -> None:
    client = clients[("current", "FindObjects")]
    plan = plan_for(client, "FindObjects", "find")
    body = answer(plan.response.tag, keys)
    mine = read_answer(plan, body)
    theirs = zeep_reading(client, "find", body)
    assert mine == {"string": keys}
    # zeep gives an ArrayOfString unwrapped (a list), or None when it is empty
    assert (theirs if isinstance(theirs, list) else (theirs or {}).get("string") or []) == keys


def test_a_nil_or_missing_out_reads_as_none(clients: dict[tuple[str, str], Any]) -> None:
    client = clients[("current", "UpdateObject")]
    plan = plan_for(client, "UpdateObject", "updateJob")
    assert read_answer(plan, answer(plan.response.tag, None, nil_out=True)) is None
    empty = (
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>'
        f'<updateJobResponse xmlns="{service_namespace("UpdateObject")}"/></s:Body></s:Envelope>'
    ).encode()
    assert read_answer(plan, empty) is None


def test_a_fault_is_a_soap_fault_with_paces_words(clients: dict[tuple[str, str], Any]) -> None:
    plan = plan_for(clients[("current", "CreateObject")], "CreateObject", "createJob")
    body = (
        f'<?xml version="1.0"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault>'
        "<faultcode>soap:Server</faultcode>"
        "<faultstring>Field is required: Job[customer=null]</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
    with pytest.raises(SoapFault) as caught:
        read_answer(plan, body)
    assert caught.value.code == "soap:Server"
    assert caught.value.message == "Field is required: Job[customer=null]"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"Please log in", "not well-formed"),
        (b"<html><body>proxy</body></html>", "not a SOAP 1.1 Envelope"),
        (f'<e:Envelope xmlns:e="{SOAP_ENV}"/>'.encode(), "no Body"),
        (f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body/></e:Envelope>'.encode(), "Body is empty"),
        (
            f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body><readJobResponse xmlns="urn:x"/>'
            "</e:Body></e:Envelope>".encode(),
            "expected createJobResponse",
        ),
    ],
)
def test_what_is_not_the_answer_is_unreadable(
    clients: dict[tuple[str, str], Any], body: bytes, words: str
) -> None:
    plan = plan_for(clients[("current", "CreateObject")], "CreateObject", "createJob")
    with pytest.raises(UnreadableAnswer, match=words):
        read_answer(plan, body)


def test_a_value_that_is_not_its_type_is_unreadable(clients: dict[tuple[str, str], Any]) -> None:
    plan = plan_for(clients[("current", "ReadObject")], "ReadObject", "readContact")
    int_field = next(
        f.name
        for f in plan.out.children
        if f.simple is not None and f.simple.qname.localname == "int"
    )
    with pytest.raises(UnreadableAnswer, match=int_field):
        read_answer(plan, answer(plan.response.tag, {int_field: "seven"}))


def test_fields_the_wsdl_does_not_declare_are_left_out(clients: dict[tuple[str, str], Any]) -> None:
    plan = plan_for(clients[("current", "ReadObject")], "ReadObject", "readContact")
    read = read_answer(plan, answer(plan.response.tag, {"firstName": "Pat", "shoeSize": "44"}))
    assert read["firstName"] == "Pat" and "shoeSize" not in read


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE e [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/hostname">]>',
    ],
)
def test_a_dtd_is_refused_and_nothing_is_expanded(
    clients: dict[tuple[str, str], Any], doctype: str
) -> None:
    plan = plan_for(clients[("current", "ReadObject")], "ReadObject", "readContact")
    body = (
        f'<?xml version="1.0"?>{doctype}<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body>'
        f'<readContactResponse xmlns="{service_namespace("ReadObject")}"><out>&b;</out>'
        "</readContactResponse></e:Body></e:Envelope>"
    ).encode()
    with pytest.raises((HostileAnswer, UnreadableAnswer)):
        read_answer(plan, body)


def test_the_reader_parser_is_hardened() -> None:
    parser = soap_messages._parser()
    assert parser.resolvers is not None  # an lxml parser
    # resolve_entities=False, no_network=True: an external entity is never fetched.
    body = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>'
    root = etree.fromstring(body, parser)
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    assert [type(node).__name__ for node in root] == ["_Entity"]  # left as a reference
    assert not hostname or hostname not in etree.tostring(root).decode()
