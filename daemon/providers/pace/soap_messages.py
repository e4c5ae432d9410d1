"""SOAP 1.1 messages of Pace's four services, built and read without sockets (sans-IO).

zeep reads each service's WSDL from the server (`soap_client`); this module turns the
declarations zeep found there into a `MessagePlan` per operation and then builds request
envelopes and reads answers straight from bytes, without zeep's per-call machinery. zeep stays the
authority on the shape: element names, their namespaces, their order, which may be nil or
repeated, and each simple value's wire form (`xmlvalue`) and Python form (`pythonvalue`) are zeep's
own objects from the server's WSDL. What this skips is zeep's generic value objects and
validation per call, which cost ~1 ms of CPU per call (the push bench: 16 calls per order);
tests check that the envelopes equal zeep's and that answers read the same as zeep reads them.

Reading refuses a DTD (no entity can be expanded, nothing is fetched: the parser resolves no
entities, loads no DTD and never touches the network). A SOAP fault becomes `SoapFault` with
Pace's code and text; anything that is not the expected answer is `UnreadableAnswer`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import zeep.xsd
from lxml import etree

__all__ = [
    "SOAP_ENV",
    "XSI",
    "HostileAnswer",
    "MessagePlan",
    "Node",
    "SoapFault",
    "UnreadableAnswer",
    "build_request",
    "node_from_zeep",
    "read_answer",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
_INTEGERS = frozenset(
    {
        "int",
        "integer",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "unsignedInt",
        "unsignedLong",
        "unsignedShort",
        "unsignedByte",
    }
)

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_BODY = f"{{{SOAP_ENV}}}Body"
_FAULT = f"{{{SOAP_ENV}}}Fault"
_NIL = f"{{{XSI}}}nil"
# What XML text must escape: lxml (and so zeep) writes a carriage return as &#13; so that the
# reader's line-end normalisation keeps it.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NEEDS_ESCAPE = frozenset("&<>\r")


class SoapFault(Exception):
    """The answer was a SOAP fault: Pace's `faultcode` and `faultstring`."""

    def __init__(self, code: str | None, message: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class UnreadableAnswer(Exception):
    """Not the SOAP answer the operation declares (not XML, another element, a bad value)."""


class HostileAnswer(Exception):
    """The answer declares a DTD: refused before any entity could be expanded."""


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """One declared element: its qualified name and either a simple type or child elements."""

    name: str
    namespace: str
    simple: Any  # a zeep simple type (xmlvalue / pythonvalue), or None for a complex element
    children: tuple[Node, ...] = ()
    many: bool = False
    nillable: bool = False
    # Derived once, for reading answers: the children by tag, and the text -> value function.
    by_tag: Mapping[str, Node] = dataclasses.field(default_factory=dict, compare=False)
    convert: Callable[[str], Any] | None = dataclasses.field(default=None, compare=False)

    @property
    def tag(self) -> str:
        return f"{{{self.namespace}}}{self.name}"

    def child(self, name: str) -> Node | None:
        for node in self.children:
            if node.name == name:
                return node
        return None


def _converter(simple: Any) -> Callable[[str], Any]:
    """Text -> value for a simple type: zeep's own `pythonvalue`, with the common XSD types done
    directly (zeep's wrappers run a regex per value; answers carry a hundred fields)."""
    local = str(getattr(getattr(simple, "qname", None), "localname", ""))
    namespace = str(getattr(getattr(simple, "qname", None), "namespace", ""))
    if namespace == XSD and local == "string":
        return str
    if namespace == XSD and local in _INTEGERS:
        return lambda text: int(text.strip())
    if namespace == XSD and local == "boolean":
        return lambda text: text.strip() in ("true", "1")
    if namespace == XSD and local == "decimal":
        return lambda text: Decimal(text.strip())
    return simple.pythonvalue  # type: ignore[no-any-return]


def node_from_zeep(element: Any, _depth: int = 0) -> Node:
    """The `Node` of a zeep element (as `client.get_element(...)` gives it), children included."""
    if _depth > 16:  # Pace's messages are 3 levels deep; a cycle would never end
        raise ValueError(f"{element.qname}: the WSDL nests elements too deeply")
    kind = element.type
    children: tuple[Node, ...] = ()
    simple: Any = None
    if isinstance(kind, zeep.xsd.ComplexType):
        children = tuple(node_from_zeep(child, _depth + 1) for _, child in kind.elements)
    else:
        simple = kind
    many = element.max_occurs == "unbounded" or (
        isinstance(element.max_occurs, int) and element.max_occurs > 1
    )
    return Node(
        name=str(element.qname.localname),
        namespace=str(element.qname.namespace or ""),
        simple=simple,
        children=children,
        many=many,
        nillable=bool(element.nillable),
        by_tag={child.tag: child for child in children},
        convert=_converter(simple) if simple is not None else None,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class MessagePlan:
    """One operation: its request element and its answer element, as the WSDL declares them."""

    request: Node
    response: Node
    prefixes: Mapping[str, str]  # namespace -> prefix, every namespace the request may use

    @classmethod
    def of(cls, request: Node, response: Node) -> MessagePlan:
        spaces: list[str] = []
        for node in _walk(request):
            if node.namespace and node.namespace not in spaces:
                spaces.append(node.namespace)
        return cls(request, response, {space: f"ns{n}" for n, space in enumerate(spaces)})

    @property
    def out(self) -> Node:
        """The answer's single child (`out` in Pace's WSDLs)."""
        if len(self.response.children) != 1:
            raise ValueError(f"{self.response.name}: expected one child element in the WSDL")
        return self.response.children[0]


def _walk(node: Node) -> Iterable[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


# -- requests -------------------------------------------------------------------------------------


def build_request(plan: MessagePlan, arguments: Mapping[str, Any]) -> bytes:
    """The SOAP envelope calling `plan`'s operation with `arguments` (its children by name).

    Values: a Mapping for a complex element, a list for a repeated one, None for xsi:nil (only
    where the WSDL allows nil), anything else goes through the element's `xmlvalue`. A missing
    argument is left out. `ValueError` names an argument the operation does not declare.
    """
    declarations = " ".join(
        f'xmlns:{prefix}="{_escape(space)}"' for space, prefix in plan.prefixes.items()
    )
    parts = [
        "<?xml version='1.0' encoding='utf-8'?>\n",
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}" xmlns:xsi="{XSI}" {declarations}>',
        "<soap-env:Body>",
    ]
    _render(plan, plan.request, arguments, parts)
    parts.append("</soap-env:Body></soap-env:Envelope>")
    return "".join(parts).encode("utf-8")


def _render(plan: MessagePlan, node: Node, value: Any, parts: list[str]) -> None:
    name = f"{plan.prefixes[node.namespace]}:{node.name}" if node.namespace else node.name
    if value is None:
        if not node.nillable:
            raise ValueError(f"{node.name}: may not be nil (WSDL)")
        parts.append(f'<{name} xsi:nil="true"/>')
        return
    if node.simple is not None:
        text = node.simple.xmlvalue(value)
        parts.append(f"<{name}>{_escape(str(text))}</{name}>")
        return
    if not isinstance(value, Mapping):
        raise ValueError(f"{node.name}: needs a mapping of its child elements")
    unknown = [key for key in value if node.child(key) is None]
    if unknown:
        raise ValueError(f"{node.name}: has no child element {unknown[0]!r} (WSDL)")
    parts.append(f"<{name}>")
    for child in node.children:
        if child.name not in value:
            continue
        given = value[child.name]
        if child.many and isinstance(given, Sequence) and not isinstance(given, str | bytes):
            for each in given:
                _render(plan, child, each, parts)
        else:
            _render(plan, child, given, parts)
    parts.append(f"</{name}>")


def _escape(text: str) -> str:
    if _NEEDS_ESCAPE.isdisjoint(text):
        return text
    return text.translate(_ESCAPES)


# -- answers --------------------------------------------------------------------------------------

_parsers = threading.local()


def _parser() -> Any:
    """A hardened parser per thread (lxml parsers are not shared between threads)."""
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _parsers.parser = parser
    return parser


def read_answer(plan: MessagePlan, body: bytes) -> Any:
    """The value of the answer's `out` element: a dict for a complex one (every declared child,
    missing ones None), a list for a repeated child, Python values for simple ones, None for nil,
    empty or absent (as zeep reads them). `SoapFault`, `HostileAnswer` or `UnreadableAnswer`
    otherwise."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableAnswer(f"not well-formed XML ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise HostileAnswer("the answer declares a DTD")
    if root.tag != _ENVELOPE:
        raise UnreadableAnswer(f"the root is {_shown(root.tag)}, not a SOAP 1.1 Envelope")
    found = root.find(_BODY)
    if found is None:
        raise UnreadableAnswer("the Envelope has no Body")
    content = [child for child in found if isinstance(child.tag, str)]
    if not content:
        raise UnreadableAnswer("the Body is empty")
    first = content[0]
    if first.tag == _FAULT:
        raise SoapFault(_fault_text(first, "faultcode"), _fault_text(first, "faultstring"))
    if first.tag != plan.response.tag:
        raise UnreadableAnswer(f"expected {plan.response.name}, got {_shown(first.tag)}")
    out_node = plan.out
    outs = [child for child in first if child.tag == out_node.tag]
    if not outs:
        return None
    return _value(out_node, outs[0])


def _fault_text(fault: Any, name: str) -> str | None:
    # SOAP 1.1 fault parts are unqualified; some servers qualify them anyway.
    for child in fault:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            return str(child.text or "")
    return None


def _value(node: Node, element: Any) -> Any:
    if element.get(_NIL) in ("true", "1"):
        return None
    if node.convert is not None:
        text = element.text
        if text is None:
            return None  # an empty element, as zeep reads it
        try:
            return node.convert(text)
        except Exception as exc:  # int(), Decimal(), zeep's and isodate's parsers
            raise UnreadableAnswer(
                f"{node.name}: {element.text!r} is not a {type(node.simple).__name__} value"
            ) from exc
    result: dict[str, Any] = {child.name: [] if child.many else None for child in node.children}
    by_tag = node.by_tag
    for item in element:
        child = by_tag.get(item.tag)
        if child is None:
            continue  # a comment, or a field this server's WSDL does not declare
        value = _value(child, item)
        if child.many:
            result[child.name].append(value)
        else:
            result[child.name] = value
    return result


def _shown(tag: Any) -> str:
    return str(tag)[:200]
