"""SOAP 1.1 envelopes, both ways: a request's operation element checked out of its envelope
(`operation_element`: well-formed, no DOCTYPE, SOAP 1.1, one Body, one known operation), and
the answers (objects, found keys, faults, and the hostile payloads of the DTD faults).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from daemon.providers.pace.objects import service_namespace
from daemon.providers.pace.sandbox.faults import Fault
from daemon.providers.pace.sandbox.namespaces import (
    FIND_ITEM_NS,
    OBJECT_NS,
    SOAP12_ENV,
    SOAP_ENV,
    XSI,
)
from daemon.providers.pace.sandbox.schema import encode, safe_parser

__all__ = [
    "fault_body",
    "find_response",
    "hostile_body",
    "object_response",
    "operation_element",
    "serialized",
]


def _envelope() -> tuple[Any, Any]:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "xsi": XSI})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    return root, body


def object_response(
    service: str, operation: str, fields: Mapping[str, str], record: Mapping[str, Any] | None
) -> Any:
    namespace = service_namespace(service)
    # The object namespace is declared once, not on each of the object's hundred fields.
    spaces = {None: namespace, "ns1": OBJECT_NS}
    response = etree.Element(f"{{{namespace}}}{operation}Response", nsmap=spaces)
    if record is None:
        return response
    out = etree.SubElement(response, f"{{{namespace}}}out")
    for field in fields:
        element = etree.SubElement(out, f"{{{OBJECT_NS}}}{field}")
        value = record.get(field)
        if value is None:
            element.set(f"{{{XSI}}}nil", "true")
        else:
            element.text = encode(value)
    return response


def find_response(service: str, operation: str, keys: Sequence[str]) -> Any:
    namespace = service_namespace(service)
    response = etree.Element(f"{{{namespace}}}{operation}Response", nsmap={None: namespace})
    out = etree.SubElement(response, f"{{{namespace}}}out")
    for key in keys:
        item = etree.SubElement(out, f"{{{FIND_ITEM_NS}}}string", nsmap={None: FIND_ITEM_NS})
        item.text = key
    return response


def serialized(response: Any) -> bytes:
    root, body = _envelope()
    body.append(response)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def fault_body(code: str, message: str) -> bytes:
    root, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def hostile_body(kind: str, operation: str, service: str) -> bytes:
    """An answer with a DTD: a billion-laughs bomb or an external entity (file:///etc/hostname)."""
    if kind == "entity_bomb":
        entities = '<!ENTITY a "ha">' + "".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
        )
        payload = "&i;"
    else:
        entities = '<!ENTITY x SYSTEM "file:///etc/hostname">'
        payload = "&x;"
    namespace = service_namespace(service)
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE soap:Envelope [{entities}]>\n'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<{operation}Response xmlns="{namespace}"><out>{payload}</out></{operation}Response>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def operation_element(service: str, body: bytes, operations: frozenset[str]) -> Any:
    """The operation element of a SOAP 1.1 request; a `Fault("Client")` if there is none."""
    try:
        tree = etree.fromstring(body, safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise Fault("Client", f"Invalid SOAP request: not well-formed XML ({exc})") from None
    if tree.docinfo.doctype:
        raise Fault("Client", "Invalid SOAP request: a DOCTYPE is not allowed")
    root = tree.getroot()
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise Fault("Client", "Invalid SOAP request: SOAP 1.2 is not served, send SOAP 1.1")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise Fault("Client", "Invalid SOAP request: the root is not a SOAP 1.1 Envelope")
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        raise Fault("Client", "Invalid SOAP request: the Envelope needs exactly one Body")
    elements = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(elements) != 1:
        raise Fault("Client", "Invalid SOAP request: the Body needs exactly one operation element")
    element = elements[0]
    name = etree.QName(element)
    if name.namespace != service_namespace(service) or name.localname not in operations:
        raise Fault(
            "Client", f"Invalid operation: {{{name.namespace}}}{name.localname} on {service}"
        )
    return element
