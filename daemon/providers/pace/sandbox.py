"""A fake EFI Pace SOAP server on loopback, with fault injection, for tests and the demo.

`PaceSandbox` serves the RECONSTRUCTED WSDLs of `daemon/providers/pace/wsdl/` (see their header
comments for what each element rests on) and answers SOAP 1.1 envelopes for FindObjects (find,
findAndSort, findSortAndLimit), ReadObject (read<Type>), CreateObject (create<Type>) and
UpdateObject (update<Type>), for Customer, Contact, Job, JobPart, JobShipment, Carton,
CartonContent, JobMaterial, JobContact and JobNote; ShipVia (the shop's setup data, added with
`seed_ship_via`) is only found and read. It behaves like Pace where pace.md says how:

- every request is VALIDATED against the WSDL's schema (lxml XMLSchema built from the WSDL's
  types and the object XSD): an unknown field, a wrong type or a malformed envelope is a
  `soap:Client` fault naming it; DOCTYPEs in requests are refused;
- server rules are `soap:Server` faults with Pace's wording where it is known:
  "Field is required: Job[customer=null]" (SDK-J CreateJob.java), "Unable to locate object: ..."
  (pace.md §2), "Unknown field 'x' on object 'JobShipment'" and "unknown or unsupported function:
  substring" (pace.md §2, §3); other wordings are [GUESS]es;
- jobs are auto-numbered from 1001 unless a number is given (which does not move the counter);
  part `01` is created with every job; int keys (Contact, JobShipment, Carton, ...) are
  server-assigned; create/read/update answer the whole object, nil for empty fields;
- update takes the WHOLE object (`UPDATE_SEMANTICS`): an optional field absent from the sent
  object, or nil in it, is cleared; a required field sent as nil (or left out) keeps its value;
- a Job gets its template's defaults on create (`JOB_TEMPLATE_DEFAULTS`: sales person, terms,
  ship via), which a partial update would clear;
- find understands the subset of Pace's XPath that esd sends (`parse_find_expression`): `@field`
  of the object itself, `= != < > <= >=`, `and`, `or`, parentheses, string and number literals,
  `concat()`, `date()`, `current-date()`, `contains()`, `starts-with()`, `true()`, `false()`,
  a bare boolean field as a predicate; `@f = ''` matches null, as Pace's null test does.

`pace_version` picks the object schema: "current" (combined `promiseDateTime`, as in the REST
swagger) or "legacy" (`promiseDate` + `promiseTime`, as in older SOAP installs); pace.md §6
"Version drift". `company` moves the services to `/rpc/company:{company}/services/` (the plain
`/rpc/services/` path then answers 404, so a test proves the client uses the company path).

Endpoints (HTTP Basic auth on all of them):

    GET  {root}/{Service}?wsdl      the WSDL, self-contained (the object XSD of `pace_version`
                                    inlined), its soap:address set to the URL asked on
    POST {root}/{Service}           a SOAP 1.1 envelope
    where {root} is /rpc/services or /rpc/company:{company}/services

Faults (`FAULT_KNOBS`, changed with `set_faults`), decided per SOAP call when it arrives:
`latency_ms` (the time from a request's arrival to Pace acting on it, the sandbox's own parsing
and checking included, as a remote Pace's answer time includes its own; a client with a shorter
timeout sees a timeout), `drop_rate` (the connection is
cut before acting), `error_rate` (HTTP 503 from "the proxy"), `fault_rate` (a `soap:Server`
fault, as a failing database would give), `drop_after_commit_rate` (the call acts, then the
connection is cut: the lost answer), `update_returns_object` (False answers updates with an empty
response, as EFI's guide prints one), and `fail_next`: a queue of one-shot faults, each
`{"operation": "createJob" | "wsdl" | None, "kind": ..., "message": ...}` with a kind of
`FAULT_KINDS`; "entity_bomb" and "external_entity" answer an XML payload with a DTD, which a
safe client must refuse; "drip" sends the answer (or the WSDL) one byte every
`drip_interval_ms` (a call acts first), "huge" sends `huge_bytes` of an unfinished envelope,
chunked, instead (`streamed()` tells how much went out and whether the client hung up
first). A dropped connection is really cut (the transport is aborted without a byte
written), as in `daemon.providers.reference.sandbox`.

Run `python -m daemon.providers.pace.sandbox --port 0 [--pace-version legacy] [--company c]`: it
prints `{"url": "http://127.0.0.1:PORT"}` once it accepts connections, and runs until SIGTERM or
SIGINT.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
import datetime as dt
import importlib.resources
import operator
import random
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal
from xml.sax.saxutils import escape as xml_escape

from lxml import etree

from daemon.providers.pace.objects import (
    KEY_FIELDS,
    OBJECT_TYPES,
    SERVICE_VERBS,
    SERVICES,
    service_namespace,
)
from daemon.testing.asgi import (
    BodyTooLarge,
    Headers,
    Receive,
    Scope,
    Send,
    StreamLog,
    authorized,
    basic_authorization,
    hang_up,
    read_body,
    respond,
    send_dripped,
    send_huge,
    still_there_after,
)
from daemon.testing.faults import FaultPlan, check_fault_knobs, fail_next_entries
from daemon.testing.loopback_http import (
    LoopbackSandbox,
    ThreadedServer,
    sandbox_arguments,
    serve_until_signalled,
)

# KEY_FIELDS, OBJECT_TYPES and SERVICES are `objects`' own, still importable from here.
__all__ = [
    "FAULT_KINDS",
    "FAULT_KNOBS",
    "KEY_FIELDS",
    "OBJECT_TYPES",
    "PACE_VERSIONS",
    "REQUIRED_ON_CREATE",
    "SERVICES",
    "FindPredicate",
    "FindSyntaxError",
    "PaceSandbox",
    "main",
    "parse_find_expression",
]

#: object schema variants; see the module docstring
PACE_VERSIONS = ("current", "legacy")


#: fields a create must carry; Job.customer is Pace's (SDK-J CreateJob.java), the rest [GUESS];
#: a ShipVia is only ever seeded (`PaceSandbox.seed_ship_via`), with the id the shop gave it
REQUIRED_ON_CREATE: Mapping[str, tuple[str, ...]] = {
    "Customer": ("custName",),
    "Contact": ("customer",),
    "Job": ("customer",),
    "JobPart": ("job",),
    "JobShipment": ("job",),
    "Carton": ("shipment",),
    "CartonContent": ("carton",),
    "JobMaterial": ("job",),
    "JobContact": ("job", "contact"),
    "JobNote": ("job",),
    "ShipVia": ("id", "description"),
}

#: How update treats the fields of the sent object (pace.md §2 "Nil / omitted fields" and
#: "Whole-object updates"):
#: - [DOC] setting a REQUIRED field to null on update is ignored, the server keeps the value
#:   (SDK-J `UpdateObjectTestCase`, idx 63337500717);
#: - [GUESS] nil on update clears an OPTIONAL field (SDK-J `CloseJob` sets `promiseDate(null)`
#:   and updates, to clear it);
#: - [GUESS] a field LEFT OUT of the sent object is treated as nil: the update APIs take an
#:   object instance, and EFI's guide and every client that updates through them (RG, SDK-J)
#:   read the object first, change fields and pass the whole instance back (read-modify-write);
#:   no EFI source says a partial object keeps the fields it leaves out, and the zeep/axis
#:   binding of an object instance cannot tell "left out" from "nil". So the sandbox clears
#:   them, and a client that sends partial objects loses template defaults (seed 004 step 4).
#: Key fields locate the object and are never changed; derived fields are recomputed.
UPDATE_SEMANTICS: Final = "whole-object"

#: what a Job template fills on create when the job does not say (seed 004 step 4: "EFI Pace
#: uses templates to define default values for jobs"); ints, as the object XSD types them.
#: The seed's Job mapping sets none of them, so a push must keep them.
JOB_TEMPLATE_DEFAULTS: Mapping[str, int] = {"salesPerson": 7, "terms": 30, "shipVia": 2, "csr": 4}

# (type, field) -> the type it points at, checked on create and update [GUESS: Pace refuses
# dangling references; the wording of that fault is unknown].
_REFERENCES: Mapping[tuple[str, str], str] = {
    ("Contact", "customer"): "Customer",
    ("Job", "customer"): "Customer",
    ("Job", "jobContact"): "JobContact",
    ("Job", "shipToJobContact"): "JobContact",
    ("Job", "billToJobContact"): "JobContact",
    ("JobPart", "job"): "Job",
    ("JobShipment", "job"): "Job",
    ("JobShipment", "contactNumber"): "Contact",
    ("JobShipment", "jobContact"): "JobContact",
    ("Carton", "shipment"): "JobShipment",
    ("CartonContent", "carton"): "Carton",
    ("CartonContent", "job"): "Job",
    ("JobMaterial", "job"): "Job",
    ("JobContact", "job"): "Job",
    ("JobContact", "contact"): "Contact",
    ("JobNote", "job"): "Job",
}

# (type, job field, part field): the pair must name an existing JobPart when both are set.
_PART_REFERENCES = (
    ("JobShipment", "job", "jobPart"),
    ("CartonContent", "job", "jobPart"),
    ("CartonContent", "jobPartJob", "jobPart"),
    ("JobMaterial", "job", "jobPart"),
    ("JobNote", "job", "jobPart"),
)

# First server-assigned id per int-keyed type: distinct ranges make a mixed-up id visible.
_FIRST_ID: Mapping[str, int] = {
    "Contact": 5001,
    "JobShipment": 7001,
    "Carton": 8001,
    "CartonContent": 9001,
    "JobMaterial": 6001,
    "JobContact": 3001,
    "JobNote": 4001,
}
_FIRST_JOB = 1001

#: what one `fail_next` entry can do to the next matching request
FAULT_KINDS = (
    "drop",
    "drop_after_commit",
    "503",
    "fault",
    "entity_bomb",
    "external_entity",
    "not_xml",
    "drip",
    "huge",
)
_WSDL_FAULT_KINDS = ("drop", "503", "entity_bomb", "external_entity", "not_xml", "drip", "huge")

#: fault knob -> default; `set_faults` changes only the knobs given
FAULT_KNOBS: Mapping[str, object] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "fault_rate": 0.0,
    "drop_rate": 0.0,
    "drop_after_commit_rate": 0.0,
    "update_returns_object": True,
    "drip_interval_ms": 500,
    "huge_bytes": 200_000_000,
    "seed": 0,
    "fail_next": [],
}

_DEFAULT_FAULT_MESSAGE = "Internal error: could not get a database connection (injected fault)"

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
OBJECT_NS = "http://pace2020.com/epace/object"
RPC_NS = "http://rpc.services.appbox.pace2020.com"
FIND_ITEM_NS = "http://pace2020.com/epace/FindObjects"

_WSDL_PACKAGE = "daemon.providers.pace"
_EPOCH = dt.date(1970, 1, 1)
_PLACEHOLDER_LOCATION = "http://localhost/rpc/services/{service}"
_MAX_BODY = 4 * 1024 * 1024
_PATH = re.compile(r"^/rpc(?:/company:(?P<company>[^/]+))?/services/(?P<name>[A-Za-z]+)$")

Record = dict[str, Any]


# =============================================================================================
# The find-expression subset
# =============================================================================================


class FindSyntaxError(ValueError):
    """A find expression the sandbox cannot read (Pace would fault too)."""


_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
      (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<dotdot>\.\.)
    | (?P<punct>[@/(),-])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_TRAILING_SPACE = re.compile(r"[ \t\r\n]*")


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, number, op, dotdot, punct, name, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found = []
    at = 0
    while True:
        if _TRAILING_SPACE.fullmatch(text, at):
            found.append(_Token("end", "", len(text)))
            return found
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            raise FindSyntaxError(
                f"Invalid XPath expression at position {at}: {text[at : at + 20]!r}"
            )
        kind = match.lastgroup
        found.append(_Token(kind, match.group(kind), match.start(kind)))
        at = match.end()


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Literal:
    value: str | Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: _Node
    right: _Node


@dataclasses.dataclass(frozen=True, slots=True)
class _Junction:
    op: Literal["and", "or"]
    parts: tuple[_Node, ...]


_Node = _Field | _Literal | _Call | _Compare | _Junction

# function -> (min args, max args)
_FUNCTIONS: Mapping[str, tuple[int, int]] = {
    "concat": (2, 1000),
    "date": (3, 3),
    "current-date": (0, 0),
    "contains": (2, 2),
    "starts-with": (2, 2),
    "true": (0, 0),
    "false": (0, 0),
}


class _Parser:
    """Recursive descent over `_tokens`: or > and > comparison > operand."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokens(text)
        self._i = 0

    def parse(self) -> _Node:
        node = self._or()
        if self._peek().kind != "end":
            self._fail("unexpected text")
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._i]

    def _next(self) -> _Token:
        token = self._tokens[self._i]
        self._i += 1
        return token

    def _fail(self, what: str) -> None:
        token = self._peek()
        shown = token.text or "end of expression"
        raise FindSyntaxError(
            f"Invalid XPath expression: {what} at position {token.at} ({shown!r})"
        )

    def _expect(self, kind: str, text: str | None = None) -> _Token:
        token = self._peek()
        if token.kind != kind or (text is not None and token.text != text):
            self._fail(f"expected {text or kind}")
        return self._next()

    def _is_keyword(self, word: str) -> bool:
        token = self._peek()
        return token.kind == "name" and token.text == word

    def _or(self) -> _Node:
        parts = [self._and()]
        while self._is_keyword("or"):
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _Junction("or", tuple(parts))

    def _and(self) -> _Node:
        parts = [self._comparison()]
        while self._is_keyword("and"):
            self._next()
            parts.append(self._comparison())
        return parts[0] if len(parts) == 1 else _Junction("and", tuple(parts))

    def _comparison(self) -> _Node:
        left = self._operand()
        if self._peek().kind == "op":
            op = self._next().text
            return _Compare(op, left, self._operand())
        return left

    def _operand(self) -> _Node:
        token = self._peek()
        if token.kind == "punct" and token.text == "(":
            self._next()
            inner = self._or()
            self._expect("punct", ")")
            return inner
        if token.kind == "string":
            self._next()
            return _Literal(token.text[1:-1])
        if token.kind == "number":
            self._next()
            return _Literal(Decimal(token.text))
        if token.kind == "punct" and token.text == "-":
            self._next()
            number = self._expect("number")
            return _Literal(-Decimal(number.text))
        if token.kind == "punct" and token.text == "@":
            self._next()
            return _Field(self._expect("name").text)
        if token.kind == "dotdot" or (
            token.kind == "name" and self._tokens[self._i + 1].text == "/"
        ):
            raise FindSyntaxError(
                f"Invalid XPath expression: the sandbox only reads @field of the object itself "
                f"(position {token.at})"
            )
        if token.kind == "name" and self._tokens[self._i + 1].text == "(":
            return self._call()
        self._fail("expected @field, a literal or a function")
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self) -> _Call:
        name = self._next().text
        if name not in _FUNCTIONS:
            raise FindSyntaxError(f"unknown or unsupported function: {name}")
        self._expect("punct", "(")
        args: list[_Node] = []
        if not (self._peek().kind == "punct" and self._peek().text == ")"):
            args.append(self._or())
            while self._peek().kind == "punct" and self._peek().text == ",":
                self._next()
                args.append(self._or())
        self._expect("punct", ")")
        low, high = _FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise FindSyntaxError(
                f"Invalid XPath expression: wrong number of arguments to {name}()"
            )
        if name == "date":
            for arg in args:
                if not (isinstance(arg, _Literal) and isinstance(arg.value, Decimal)):
                    raise FindSyntaxError("Invalid XPath expression: date() takes three numbers")
        return _Call(name, tuple(args))


def _fields_of(node: _Node) -> Iterator[str]:
    if isinstance(node, _Field):
        yield node.name
    elif isinstance(node, _Call):
        for arg in node.args:
            yield from _fields_of(arg)
    elif isinstance(node, _Compare):
        yield from _fields_of(node.left)
        yield from _fields_of(node.right)
    elif isinstance(node, _Junction):
        for part in node.parts:
            yield from _fields_of(part)


class FindPredicate:
    """A parsed find expression; `matches(record)` says whether an object is found."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._root = _Parser(text).parse()
        #: the fields the expression reads (the server checks them against the object type)
        self.fields = frozenset(_fields_of(self._root))

    def matches(self, record: Mapping[str, object]) -> bool:
        """Does the object `record` (field -> value; None for null) match?"""
        return _truth(self._root, record)


def parse_find_expression(text: str) -> FindPredicate:
    """Parse Pace find-expression `text`; raise FindSyntaxError if it is not in the subset."""
    return FindPredicate(text)


# Values while evaluating: None (null), str, Decimal, dt.date, bool (from fields and functions).
_Value = None | str | Decimal | dt.date | bool


def _value(node: _Node, record: Mapping[str, object]) -> _Value:
    if isinstance(node, _Field):
        return _from_field(record.get(node.name))
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Call):
        return _call_value(node, record)
    return _truth(node, record)


def _from_field(raw: object) -> _Value:
    if raw is None or raw == "":
        return None  # Pace stores empty as null: '' and null are the same thing to a find
    if isinstance(raw, bool | str | Decimal | dt.date):
        return raw
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw))
    return str(raw)


def _call_value(node: _Call, record: Mapping[str, object]) -> _Value:
    name = node.name
    if name == "true":
        return True
    if name == "false":
        return False
    if name == "current-date":
        return dt.datetime.now(dt.UTC).date()
    if name == "date":
        y, m, d = (int(_number(_value(arg, record)) or 0) for arg in node.args)
        try:
            return dt.date(y, m, d)
        except ValueError:
            raise FindSyntaxError(f"Invalid XPath expression: no such date {y}-{m}-{d}") from None
    texts = [_string(_value(arg, record)) for arg in node.args]
    if name == "concat":
        return "".join(texts)
    if name == "contains":
        return texts[1] in texts[0]
    return texts[0].startswith(texts[1])  # starts-with


def _string(value: _Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _day(value: _Value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return _day(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _number(value: _Value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _compare(op: str, left: _Value, right: _Value) -> bool:
    if left is None or right is None:
        # SQL-like: null matches nothing but the null test `@f = ''` (pace.md §3).
        other = right if left is None else left
        return op == "=" and (other is None or other == "")
    a: Any
    b: Any
    if isinstance(left, dt.date) or isinstance(right, dt.date):
        a, b = _day(left), _day(right)
    elif isinstance(left, Decimal) or isinstance(right, Decimal):
        a, b = _number(left), _number(right)
    else:  # strings and booleans compare as strings ("true" = @active)
        a, b = _string(left), _string(right)
    if a is None or b is None:
        return op == "!="
    try:
        return bool(_OPERATORS[op](a, b))
    except TypeError:
        return False


_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _truth(node: _Node, record: Mapping[str, object]) -> bool:
    if isinstance(node, _Junction):
        if node.op == "and":
            return all(_truth(part, record) for part in node.parts)
        return any(_truth(part, record) for part in node.parts)
    if isinstance(node, _Compare):
        return _compare(node.op, _value(node.left, record), _value(node.right, record))
    value = _value(node, record)
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return value != 0
    return value is not None and value != ""


# =============================================================================================
# The schema: WSDL files, object fields, validators
# =============================================================================================


def _data_file(name: str) -> bytes:
    return (importlib.resources.files(_WSDL_PACKAGE) / "wsdl" / name).read_bytes()


def _safe_parser() -> Any:
    # A fresh parser per document: lxml parsers must not be shared across threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class _InlineSchemas(etree.Resolver):  # type: ignore[misc]
    """Serves the WSDL's inline schemas to lxml's XMLSchema loader."""

    def __init__(self, documents: Mapping[str, bytes]) -> None:
        super().__init__()
        self._documents = documents

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        document = self._documents.get(url)
        if document is None:
            return None  # lxml then fails the import: no file or network access
        return self.resolve_string(document, context)


@dataclasses.dataclass(frozen=True, slots=True)
class _Service:
    name: str
    wsdl: bytes
    operations: frozenset[str]
    validator: Any  # lxml XMLSchema of the service's operation elements


class _Schema:
    """What the WSDLs and the object XSD of one `pace_version` say."""

    def __init__(self, pace_version: str) -> None:
        if pace_version not in PACE_VERSIONS:
            raise ValueError(
                f"pace_version: {pace_version!r} is not one of {', '.join(PACE_VERSIONS)}"
            )
        self.objects_xsd = _data_file(f"objects.{pace_version}.xsd")
        #: object type -> field -> XSD type local name ("string", "int", "dateTime", ...)
        self.fields: dict[str, dict[str, str]] = self._object_fields(self.objects_xsd)
        missing = set(KEY_FIELDS) - set(self.fields)
        if missing:  # pragma: no cover - the data files and this module disagree
            raise RuntimeError(f"objects.{pace_version}.xsd lacks types {sorted(missing)}")
        self.services = {name: self._service(name) for name in SERVICES}

    @staticmethod
    def _object_fields(xsd: bytes) -> dict[str, dict[str, str]]:
        root = etree.fromstring(xsd, _safe_parser())
        found: dict[str, dict[str, str]] = {}
        for complex_type in root.iterfind(f"{{{XSD}}}complexType"):
            name = complex_type.get("name")
            fields = {}
            for element in complex_type.iter(f"{{{XSD}}}element"):
                fields[element.get("name")] = element.get("type").partition(":")[2]
            found[name[:1].upper() + name[1:]] = fields
        return found

    def _service(self, name: str) -> _Service:
        root = etree.fromstring(_data_file(f"{name}.wsdl"), _safe_parser())
        types = root.find(f"{{{WSDL}}}types")
        # Inline the object types where the data file imports objects.xsd: the served WSDL is
        # self-contained, as Pace's are and as a client that forbids external fetches needs.
        inline_objects = False
        for imported in types.iterfind(f"{{{XSD}}}schema/{{{XSD}}}import"):
            if imported.get("schemaLocation") == "objects.xsd":
                del imported.attrib["schemaLocation"]
                inline_objects = True
        if inline_objects:
            types.append(etree.fromstring(self.objects_xsd, _safe_parser()))
        served = bytes(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))
        operations = frozenset(
            op.get("name") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")
        )
        # lxml's XMLSchema reads one schema document: a driver importing each inline schema,
        # served to it from memory by _InlineSchemas (no file or network access).
        documents: dict[str, bytes] = {}
        for schema in types.iterfind(f"{{{XSD}}}schema"):
            schema = copy.deepcopy(schema)
            for imported in schema.iterfind(f"{{{XSD}}}import"):
                imported.set("schemaLocation", f"inline:{imported.get('namespace')}")
            documents[f"inline:{schema.get('targetNamespace')}"] = etree.tostring(schema)
        imports = "".join(
            f'<xsd:import namespace="{url[len("inline:") :]}" schemaLocation="{url}"/>'
            for url in documents
        )
        parser = _safe_parser()
        parser.resolvers.add(_InlineSchemas(documents))
        driver = etree.fromstring(f'<xsd:schema xmlns:xsd="{XSD}">{imports}</xsd:schema>', parser)
        return _Service(name, served, operations, etree.XMLSchema(driver))

    def wsdl_for(self, service: str, location: str) -> bytes:
        """The service's WSDL with its soap:address set to `location`."""
        placeholder = _PLACEHOLDER_LOCATION.format(service=service).encode()
        escaped = xml_escape(location, {'"': "&quot;"}).encode()
        return self.services[service].wsdl.replace(placeholder, escaped)


def _decode(xsd_type: str, text: str | None, where: str) -> Any:
    """A schema-valid XML text as the Python value the store keeps."""
    text = text or ""
    if xsd_type == "string":
        return text
    value = text.strip()
    if xsd_type in ("int", "long"):
        return int(value)
    if xsd_type in ("decimal", "double"):
        return Decimal(value)
    if xsd_type == "boolean":
        return value in ("true", "1")
    if xsd_type == "dateTime":
        parsed = dt.datetime.fromisoformat(value)
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    raise RuntimeError(f"{where}: XSD type {xsd_type} is not handled")  # pragma: no cover


def _encode(value: Any) -> str:
    """A stored value as XML text of its XSD type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _elements(parent: Any) -> list[Any]:
    """The element children of `parent`, without comments and processing instructions."""
    return [child for child in parent if isinstance(child.tag, str)]


def _key_text(values: Sequence[object]) -> str:
    return ":".join(str(value) for value in values)


def _natural(key: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in key.split(":"))


# =============================================================================================
# Faults
# =============================================================================================


class _Fault(Exception):
    """A SOAP fault to answer: `code` "Client" (a bad request) or "Server" (a refusal)."""

    def __init__(self, code: Literal["Client", "Server"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _validated_faults(knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Check fault knobs; raise ValueError naming the first wrong one."""
    return check_fault_knobs(knobs, FAULT_KNOBS, _validated_fail_next)


def _validated_fail_next(value: object) -> list[dict[str, Any]]:
    entries = []
    checked = fail_next_entries(
        value, {"operation"}, FAULT_KINDS, default_message=_DEFAULT_FAULT_MESSAGE
    )
    for where, entry, kind, message in checked:
        operation = entry.get("operation")
        if operation is not None and not isinstance(operation, str):
            raise ValueError(f"{where}.operation: must be a string or null")
        if operation == "wsdl" and kind not in _WSDL_FAULT_KINDS:
            raise ValueError(
                f"{where}.kind: a WSDL fetch can only get {', '.join(_WSDL_FAULT_KINDS)}"
            )
        entries.append({"operation": operation, "kind": kind, "message": message})
    return entries


# =============================================================================================
# The store: Pace's objects and rules
# =============================================================================================


class _Store:
    """Objects, faults and call counts; public methods take the lock themselves."""

    def __init__(self, schema: _Schema, login: str) -> None:
        self._lock = threading.Lock()
        self.schema = schema
        self._login = login
        self._reset()

    def _reset(self) -> None:
        self.objects: dict[str, dict[str, Record]] = {name: {} for name in KEY_FIELDS}
        self.next_id: dict[str, int] = dict(_FIRST_ID)
        self.next_job = _FIRST_JOB
        self.next_customer = 1
        self.faults: dict[str, Any] = copy.deepcopy(dict(FAULT_KNOBS))
        self.rng = random.Random(self.faults["seed"])
        self.calls: collections.Counter[str] = collections.Counter()
        self.wsdl_fetches: collections.Counter[str] = collections.Counter()
        # SOAP answers sent under a latency: how many, and their summed arrival -> answer time
        self.answered = {"calls": 0, "seconds": 0.0}

    # -- faults and counts ---------------------------------------------------------------------

    def plan(self, service: str, operation: str) -> FaultPlan:
        """Count a SOAP call and decide what the faults do to it."""
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            faults = self.faults
            latency = faults["latency_ms"] / 1000
            plan = self._next_queued(operation, latency)
            if plan is not None:
                return plan
            # Dice are rolled in a fixed order, only for knobs that are on, so a seed replays.
            for knob, kind in (
                ("drop_rate", "drop"),
                ("error_rate", "503"),
                ("fault_rate", "fault"),
            ):
                if faults[knob] and self.rng.random() < faults[knob]:
                    return FaultPlan(latency, kind, message=_DEFAULT_FAULT_MESSAGE)
            after = faults["drop_after_commit_rate"]
            return FaultPlan(latency, drop_after=bool(after) and self.rng.random() < after)

    def plan_wsdl(self, name: str) -> FaultPlan:
        """Count a WSDL fetch; only a `fail_next` entry for "wsdl" touches it."""
        with self._lock:
            self.wsdl_fetches[name] += 1
            return self._next_queued("wsdl", 0.0) or FaultPlan()

    def _next_queued(self, operation: str, latency: float) -> FaultPlan | None:
        queue: list[dict[str, Any]] = self.faults["fail_next"]
        for i, entry in enumerate(queue):
            wanted = entry["operation"]
            if wanted == operation or (wanted is None and operation != "wsdl"):
                del queue[i]
                return FaultPlan.queued(entry, latency, faults=self.faults)
        return None

    def set_faults(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        checked = _validated_faults(knobs)
        with self._lock:
            self.faults.update(checked)
            if "seed" in checked:
                self.rng = random.Random(checked["seed"])
            return copy.deepcopy(self.faults)

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "objects": {
                    name: [
                        copy.deepcopy(self.objects[name][key]) for key in sorted(rows, key=_natural)
                    ]
                    for name, rows in self.objects.items()
                },
                "faults": copy.deepcopy(self.faults),
                "calls": dict(self.calls),
                "wsdl_fetches": dict(self.wsdl_fetches),
                "answered": dict(self.answered),
            }

    def count_answer(self, seconds: float) -> None:
        """One SOAP answer sent `seconds` after its request arrived (under a latency)."""
        with self._lock:
            self.answered["calls"] += 1
            self.answered["seconds"] += seconds

    # -- the SOAP operations ---------------------------------------------------------------------

    def check(self, service: str, operation: str, element: Any) -> None:
        """Validate the operation element against the WSDL (a `_Fault("Client")` if it fails)."""
        with self._lock:
            validator = self.schema.services[service].validator
            if service != "FindObjects":
                self._check_field_names(operation[len(SERVICE_VERBS.get(service, "")) :], element)
            if not validator.validate(element):
                error = validator.error_log.last_error
                raise _Fault("Client", f"Invalid request: {error.message if error else '?'}")

    def handle(self, service: str, operation: str, element: Any) -> Any:
        """Act on a checked operation element (see `check`) and return the response element."""
        with self._lock:
            validator = self.schema.services[service].validator
            type_name = operation[len(SERVICE_VERBS.get(service, "")) :]
            if service == "FindObjects":
                keys = self._find(operation, element)
                response = _find_response(service, operation, keys)
            else:
                sent = self._sent_object(type_name, element)
                if service == "ReadObject":
                    record = self._read(type_name, sent)
                elif service == "CreateObject":
                    record = self._create(type_name, sent)
                else:
                    record = self._update(type_name, sent)
                    if not self.faults["update_returns_object"]:
                        record = None
                response = _object_response(
                    service, operation, self.schema.fields[type_name], record
                )
            if not validator.validate(response):  # pragma: no cover - a sandbox bug
                raise RuntimeError(
                    f"invalid {operation} response: {validator.error_log.last_error}"
                )
            return response

    def _check_field_names(self, type_name: str, operation_element: Any) -> None:
        """Pace's wording for a field its object does not have (pace.md §2, REST)."""
        wrappers = _elements(operation_element)
        if len(wrappers) != 1:
            return  # the schema names what is wrong
        fields = self.schema.fields[type_name]
        for child in _elements(wrappers[0]):
            name = etree.QName(child)
            if name.localname not in fields:
                raise _Fault("Client", f"Unknown field '{name.localname}' on object '{type_name}'")
            if name.namespace != OBJECT_NS:
                # [GUESS] Pace may accept unqualified fields (pace.md §11); the sandbox does not.
                raise _Fault(
                    "Client",
                    f"Invalid request: field '{name.localname}' of {type_name} must be in "
                    f"namespace {OBJECT_NS}",
                )

    def _sent_object(self, type_name: str, operation_element: Any) -> dict[str, Any]:
        """The fields sent in the operation's object wrapper; None for an explicit nil."""
        (wrapper,) = _elements(operation_element)
        fields = self.schema.fields[type_name]
        sent: dict[str, Any] = {}
        for child in _elements(wrapper):
            name = etree.QName(child).localname
            if child.get(f"{{{XSI}}}nil") in ("true", "1"):
                sent[name] = None
            else:
                sent[name] = _decode(fields[name], child.text, f"{type_name}.{name}")
        return sent

    def _key_of(self, type_name: str, record: Mapping[str, Any]) -> str:
        return _key_text([record.get(field) for field in KEY_FIELDS[type_name]])

    def _locate(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        values = [sent.get(field) for field in KEY_FIELDS[type_name]]
        shown = ", ".join(
            f"{field}={'null' if v is None else v}"
            for field, v in zip(KEY_FIELDS[type_name], values, strict=True)
        )
        record = None if None in values else self.objects[type_name].get(_key_text(values))
        if record is None:
            raise _Fault("Server", f"Unable to locate object: {type_name}[{shown}]")
        return record

    def _read(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        return self._locate(type_name, sent)

    def _new_record(self, type_name: str) -> Record:
        return dict.fromkeys(self.schema.fields[type_name])

    def _create(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        for field in REQUIRED_ON_CREATE[type_name]:
            if sent.get(field) in (None, ""):
                raise _Fault("Server", f"Field is required: {type_name}[{field}=null]")
        record = self._new_record(type_name)
        record.update({k: v for k, v in sent.items() if v is not None})
        self._check_references(type_name, record)
        self._assign_key(type_name, record)
        self._fill_defaults(type_name, record)
        self.objects[type_name][self._key_of(type_name, record)] = record
        if type_name == "Job":
            self._create_first_part(record)
        return record

    def _assign_key(self, type_name: str, record: Record) -> None:
        if type_name == "Customer":
            if record["id"] is None:
                while f"C{self.next_customer:05d}" in self.objects["Customer"]:
                    self.next_customer += 1
                record["id"] = f"C{self.next_customer:05d}"
            elif record["id"] in self.objects["Customer"]:
                raise _Fault("Server", f"Object already exists: Customer[id={record['id']}]")
        elif type_name == "Job":
            if record["job"] is None:
                # A job number given by the caller does not move the counter (SDK-J CreateJob).
                while str(self.next_job) in self.objects["Job"]:
                    self.next_job += 1
                record["job"] = str(self.next_job)
                self.next_job += 1
            elif record["job"] in self.objects["Job"]:
                raise _Fault("Server", f"Object already exists: Job[job={record['job']}]")
        elif type_name == "JobPart":
            parts = [key for key in self.objects["JobPart"] if key.startswith(f"{record['job']}:")]
            if record["jobPart"] is None:
                taken = [int(p.rpartition(":")[2]) for p in parts if p.rpartition(":")[2].isdigit()]
                record["jobPart"] = f"{max(taken, default=0) + 1:02d}"
            elif self._key_of("JobPart", record) in self.objects["JobPart"]:
                raise _Fault(
                    "Server", f"Object already exists: JobPart[{self._key_of('JobPart', record)}]"
                )
        elif type_name == "ShipVia":
            # Seeded only, with the shop's own id (REQUIRED_ON_CREATE has it).
            if self._key_of("ShipVia", record) in self.objects["ShipVia"]:
                raise _Fault("Server", f"Object already exists: ShipVia[id={record['id']}]")
        else:  # int ids are the server's to give [GUESS: a sent id is ignored]
            record["id"] = self.next_id[type_name]
            self.next_id[type_name] += 1

    def _fill_defaults(self, type_name: str, record: Record) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        # Legacy split fields: the day at midnight, the time of day on 1970-01-01 (pace.md §2).
        setup = {
            "dateTimeSetup": now,
            "dateSetup": dt.datetime.combine(now.date(), dt.time(), dt.UTC),
            "timeSetUp": dt.datetime.combine(_EPOCH, now.time(), dt.UTC),
        }
        if type_name == "Customer":
            record["customerStatus"] = record["customerStatus"] or "O"
            record["dateSetup"] = record["dateSetup"] or now
        elif type_name in ("Contact", "ShipVia"):
            if record["active"] is None:
                record["active"] = True
        elif type_name in ("Job", "JobPart"):
            for field, value in setup.items():
                if field in record and record[field] is None:
                    record[field] = value
            if type_name == "Job":
                for field, default in JOB_TEMPLATE_DEFAULTS.items():
                    if field in record and record[field] is None:
                        record[field] = default
                record["adminStatus"] = record["adminStatus"] or "O"
                record["enteredBy"] = record["enteredBy"] or self._login
            else:
                job = self.objects["Job"][record["job"]]
                record["productionStatus"] = record["productionStatus"] or job["adminStatus"]
        elif type_name == "JobShipment":
            job = self.objects["Job"][record["job"]]
            record["customer"] = record["customer"] or job["customer"]
            if record["shipped"] is None:
                record["shipped"] = False
        self._derive(type_name, record)

    def _derive(self, type_name: str, record: Record) -> None:
        """Fields Pace computes from others: JobPart.primaryKey, *.jobPartKey."""
        if type_name == "JobPart":
            record["primaryKey"] = self._key_of("JobPart", record)
        if "jobPartKey" in record:
            job = record.get("job") or record.get("jobPartJob")
            part = record.get("jobPart")
            record["jobPartKey"] = f"{job}:{part}" if job and part else None

    def _create_first_part(self, job: Record) -> None:
        # Part 01 comes with every job (SDK-PHP sample comment; SDK-J reads part "01" next).
        part = self._new_record("JobPart")
        part.update(job=job["job"], jobPart="01", description=job["description"])
        part["jobType"] = job["jobType"]
        self._fill_defaults("JobPart", part)
        self.objects["JobPart"][self._key_of("JobPart", part)] = part

    def _check_references(self, type_name: str, record: Mapping[str, Any]) -> None:
        for (owner, field), target in _REFERENCES.items():
            value = record.get(field)
            if owner != type_name or value is None:
                continue
            if _key_text([value]) not in self.objects[target]:
                raise _Fault(
                    "Server", f"Invalid reference: {type_name}[{field}={value}] (no such {target})"
                )
        for owner, job_field, part_field in _PART_REFERENCES:
            if owner != type_name:
                continue
            job, part = record.get(job_field), record.get(part_field)
            if (
                job is not None
                and part is not None
                and f"{job}:{part}" not in self.objects["JobPart"]
            ):
                raise _Fault(
                    "Server",
                    f"Invalid reference: {type_name}[{job_field}={job}, {part_field}={part}] "
                    "(no such JobPart)",
                )

    def _update(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        record = self._locate(type_name, sent)
        changed = dict(record)
        required = REQUIRED_ON_CREATE[type_name]
        for field in record:  # the whole object: see UPDATE_SEMANTICS
            if field in KEY_FIELDS[type_name]:
                continue
            value = sent.get(field)
            if value is None and field in required:
                continue  # nil for a required field is ignored (SDK-J UpdateObjectTestCase)
            changed[field] = value
        self._check_references(type_name, changed)
        self._derive(type_name, changed)
        record.update(changed)
        return record

    def _find(self, operation: str, element: Any) -> list[str]:
        args = {etree.QName(child).localname: child for child in _elements(element)}
        type_name = (args["in0"].text or "").strip()
        if type_name not in KEY_FIELDS:
            raise _Fault("Server", f"Unknown object type: {type_name or 'null'}")
        text = args["in1"].text
        if args["in1"].get(f"{{{XSI}}}nil") in ("true", "1") or not (text or "").strip():
            raise _Fault("Server", "Invalid XPath expression: empty")
        try:
            predicate = parse_find_expression(text)
        except FindSyntaxError as exc:
            raise _Fault("Server", str(exc)) from None
        fields = self.schema.fields[type_name]
        for field in sorted(predicate.fields):
            if field not in fields:
                raise _Fault("Server", f"Unknown field '{field}' on object '{type_name}'")
        rows = [
            (key, row) for key, row in self.objects[type_name].items() if predicate.matches(row)
        ]
        rows.sort(key=lambda item: _natural(item[0]))
        sorts = args.get("in2")
        for sort in reversed(_elements(sorts) if sorts is not None else []):  # last key first
            xpath = (sort.findtext(f"{{{RPC_NS}}}xpath") or "").strip()
            descending = (sort.findtext(f"{{{RPC_NS}}}descending") or "").strip() in ("true", "1")
            if not (xpath.startswith("@") and xpath[1:] in fields):
                raise _Fault("Server", f"Invalid sort: {xpath!r} is not an @field of {type_name}")
            name = xpath[1:]
            rows.sort(key=lambda item: _sort_key(item[1][name]), reverse=descending)
        keys = [key for key, _ in rows]
        if operation == "findSortAndLimit":
            offset, limit = int(args["in3"].text), int(args["in4"].text)
            keys = keys[max(offset, 0) :][: max(limit, 0)]
        return keys

    # -- admin (no faults, no counts) ------------------------------------------------------------

    def seed(self, type_name: str, fields: Mapping[str, Any]) -> Record:
        known = self.schema.fields[type_name]
        for name, value in fields.items():
            if name not in known:
                raise ValueError(f"{type_name}.{name}: not a field of this sandbox's {type_name}")
            if isinstance(value, str) and not _xml_safe(value):
                raise ValueError(f"{type_name}.{name}: contains characters XML cannot carry")
        with self._lock:
            try:
                return copy.deepcopy(self._create(type_name, fields))
            except _Fault as exc:
                raise ValueError(exc.message) from None

    def admin_update(
        self, type_name: str, key: Mapping[str, Any], fields: Mapping[str, Any]
    ) -> Record:
        with self._lock:
            try:
                record = self._locate(type_name, key)
            except _Fault as exc:
                raise LookupError(exc.message) from None
            record.update(fields)
            return copy.deepcopy(record)

    def add_tracking(
        self,
        job: str,
        tracking_number: str,
        job_part: str,
        shipment_id: int | None,
        tracking_link: str | None,
    ) -> Record:
        with self._lock:
            if job not in self.objects["Job"]:
                raise LookupError(f"Unable to locate object: Job[job={job}]")
            if shipment_id is not None:
                shipment = self.objects["JobShipment"].get(str(shipment_id))
                if shipment is None or shipment["job"] != job:
                    raise LookupError(f"no shipment {shipment_id} in job {job}")
            else:
                mine = [
                    s
                    for s in self.objects["JobShipment"].values()
                    if s["job"] == job and s["jobPart"] in (job_part, None)
                ]
                if mine:
                    shipment = min(mine, key=lambda s: int(s["id"]))
                else:
                    shipment = self._create(
                        "JobShipment", {"job": job, "jobPart": job_part, "autoCreated": True}
                    )
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            shipment.update(
                shipped=True, trackingNumber=tracking_number, trackingLink=tracking_link
            )
            # Legacy time-of-day fields sit on 1970-01-01 (pace.md §2).
            epoch_time = dt.datetime.combine(_EPOCH, now.time(), dt.UTC)
            for field, value in (("dateTime", now), ("date", now), ("time", epoch_time)):
                if field in shipment:
                    shipment[field] = value
            for carton in self.objects["Carton"].values():
                if carton["shipment"] == shipment["id"] and not carton["trackingNumber"]:
                    carton["trackingNumber"] = tracking_number
            return copy.deepcopy(shipment)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | Decimal):
        return (1, Decimal(value))
    if isinstance(value, dt.datetime):
        return (2, value.timestamp())
    return (3, str(value))


_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> bool:
    return _NOT_XML_CHAR.search(text) is None


# =============================================================================================
# SOAP envelopes
# =============================================================================================


def _envelope() -> tuple[Any, Any]:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "xsi": XSI})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    return root, body


def _object_response(
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
            element.text = _encode(value)
    return response


def _find_response(service: str, operation: str, keys: Sequence[str]) -> Any:
    namespace = service_namespace(service)
    response = etree.Element(f"{{{namespace}}}{operation}Response", nsmap={None: namespace})
    out = etree.SubElement(response, f"{{{namespace}}}out")
    for key in keys:
        item = etree.SubElement(out, f"{{{FIND_ITEM_NS}}}string", nsmap={None: FIND_ITEM_NS})
        item.text = key
    return response


def _serialized(response: Any) -> bytes:
    root, body = _envelope()
    body.append(response)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _fault_body(code: str, message: str) -> bytes:
    root, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _hostile_body(kind: str, operation: str, service: str) -> bytes:
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


def _operation_element(service: str, body: bytes, operations: frozenset[str]) -> Any:
    """The operation element of a SOAP 1.1 request; a `_Fault("Client")` if there is none."""
    try:
        tree = etree.fromstring(body, _safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise _Fault("Client", f"Invalid SOAP request: not well-formed XML ({exc})") from None
    if tree.docinfo.doctype:
        raise _Fault("Client", "Invalid SOAP request: a DOCTYPE is not allowed")
    root = tree.getroot()
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise _Fault("Client", "Invalid SOAP request: SOAP 1.2 is not served, send SOAP 1.1")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise _Fault("Client", "Invalid SOAP request: the root is not a SOAP 1.1 Envelope")
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        raise _Fault("Client", "Invalid SOAP request: the Envelope needs exactly one Body")
    elements = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(elements) != 1:
        raise _Fault("Client", "Invalid SOAP request: the Body needs exactly one operation element")
    element = elements[0]
    name = etree.QName(element)
    if name.namespace != service_namespace(service) or name.localname not in operations:
        raise _Fault(
            "Client", f"Invalid operation: {{{name.namespace}}}{name.localname} on {service}"
        )
    return element


# =============================================================================================
# HTTP: the ASGI app
# =============================================================================================


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    content_type: bytes = b"text/xml; charset=utf-8"
    headers: Headers = dataclasses.field(default_factory=list)


def _text(status: int, message: str, headers: Headers | None = None) -> _Answer:
    # Jetty-ish plain pages: what a proxy or the servlet container answers, not SOAP.
    page = f"<html><body><h2>HTTP ERROR {status}</h2><p>{xml_escape(message)}</p></body></html>"
    return _Answer(status, page.encode(), b"text/html; charset=utf-8", headers or [])


class _SandboxApp:
    """The raw ASGI app: routing, auth, faults around `_Store`."""

    def __init__(self, store: _Store, login: str, password: str, company: str | None) -> None:
        self._store = store
        self._company = company
        self._authorization = basic_authorization(login, password)
        # client (host, port) -> its transport; touched only on the server's event loop
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}
        self.streams = StreamLog()
        # How much earlier than the deadline to wake, learned from the answers sent: acting and
        # answering take time, and epoll wakes a timer up to 1 ms late (millisecond timeouts).
        self._early = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        arrived = asyncio.get_running_loop().time()
        try:
            body = await read_body(receive, _MAX_BODY)
        except BodyTooLarge as exc:
            await _respond(send, _text(413, str(exc)))
            return
        if body is None:  # the client left before sending its request
            return
        found = _PATH.match(scope["path"])
        if found is None or found.group("company") != self._company:
            await _respond(send, _text(404, f"No such service: {scope['path']}"))
            return
        if not authorized(scope, self._authorization):
            challenge = [(b"www-authenticate", b'Basic realm="Pace"')]
            await _respond(send, _text(401, "Unauthorized", challenge))
            return
        name = found.group("name")
        method = scope["method"]
        if method == "GET":
            await self._get(scope, receive, send, name)
        elif method == "POST" and name in SERVICES:
            await self._soap(scope, receive, send, name, body, arrived)
        elif name in SERVICES:
            allow = [(b"allow", b"GET, POST")]
            await _respond(send, _text(405, f"Method not allowed: {method}", allow))
        else:
            await _respond(send, _text(404, f"No such service: {name}"))

    async def _get(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        schema = self._store.schema
        query = scope["query_string"].decode("latin-1")
        if name in SERVICES and query.lower() == "wsdl":
            host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode("latin-1")
            location = f"http://{host}{scope['path']}"
            document = schema.wsdl_for(name, location)
        else:
            await _respond(send, _text(404, f"No such document: {name}?{query}"))
            return
        plan = self._store.plan_wsdl(name)
        if plan.before == "drop":
            await self._hang_up(scope, receive)
        elif plan.before == "503":
            await _respond(send, _text(503, "Service Unavailable (injected fault)"))
        elif plan.before in ("entity_bomb", "external_entity"):
            await _respond(send, _Answer(200, _hostile_body(plan.before, "wsdl", name)))
        elif plan.before == "not_xml":
            await _respond(send, _text(200, "Please log in"))
        elif plan.before == "drip":
            await self._drip(send, receive, _Answer(200, document), plan)
        elif plan.before == "huge":
            await self._huge(send, receive, plan)
        else:
            await _respond(send, _Answer(200, document))

    async def _soap(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        service: str,
        body: bytes,
        arrived: float,
    ) -> None:
        schema_service = self._store.schema.services[service]
        try:
            element = _operation_element(service, body, schema_service.operations)
        except _Fault as fault:
            await _respond(send, _Answer(500, _fault_body(fault.code, fault.message)))
            return
        operation = etree.QName(element).localname
        plan = self._store.plan(service, operation)
        try:
            self._store.check(service, operation, element)
            invalid = None
        except _Fault as fault:
            invalid = fault  # answered after the latency, as every answer is
        # The latency is the answer time, counted from the request's arrival: reading, parsing,
        # checking and acting on it are part of it, as they are of a remote Pace's.
        loop = asyncio.get_running_loop()
        wait = plan.latency - self._early - (loop.time() - arrived)
        if plan.latency > 0 and not await still_there_after(max(wait, 0.0), receive):
            return  # the client gave up waiting; nothing was done
        if plan.before == "drop":
            await self._hang_up(scope, receive)
            return
        if plan.before == "503":
            await _respond(send, _text(503, "Service Unavailable (injected fault)"))
            return
        if plan.before == "fault":
            await _respond(send, _Answer(500, _fault_body("Server", plan.message)))
            return
        if plan.before in ("entity_bomb", "external_entity"):
            await _respond(send, _Answer(200, _hostile_body(plan.before, operation, service)))
            return
        if plan.before == "not_xml":
            await _respond(send, _text(200, "Please log in"))
            return
        if plan.before == "huge":
            await self._huge(send, receive, plan)
            return
        try:
            if invalid is not None:
                raise invalid
            answer = _Answer(200, _serialized(self._store.handle(service, operation, element)))
        except _Fault as fault:
            answer = _Answer(500, _fault_body(fault.code, fault.message))
        if plan.drop_after:
            await self._hang_up(scope, receive)
            return
        if plan.before == "drip":
            await self._drip(send, receive, answer, plan)
            return
        await _respond(send, answer)
        if plan.latency > 0:
            took = loop.time() - arrived
            self._store.count_answer(took)
            late = took - plan.latency
            self._early = min(max(self._early + 0.25 * late, 0.0), plan.latency / 2)

    async def _hang_up(self, scope: Scope, receive: Receive) -> None:
        """Close the client's TCP connection without answering."""
        await hang_up(self.transports, scope, receive)

    async def _drip(self, send: Send, receive: Receive, answer: _Answer, plan: FaultPlan) -> None:
        await send_dripped(
            send,
            receive,
            answer.status,
            answer.body,
            answer.content_type,
            plan.drip_interval,
            self.streams,
        )

    async def _huge(self, send: Send, receive: Receive, plan: FaultPlan) -> None:
        prefix = (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        )
        content_type = b"text/xml; charset=utf-8"
        await send_huge(send, receive, prefix, plan.huge_bytes, content_type, self.streams)


async def _respond(send: Send, answer: _Answer) -> None:
    await respond(send, answer.status, answer.body, answer.content_type, answer.headers)


class PaceSandbox(LoopbackSandbox):
    """A fake Pace served over HTTP on loopback from a background thread."""

    label = "Pace sandbox"

    def __init__(
        self,
        login: str = "esd",
        password: str = "secret",
        *,
        pace_version: str = "current",
        company: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if company is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", company):
            raise ValueError(f"company: {company!r} must be letters, digits, '_', '.' or '-'")
        self.login = login
        self.pace_version = pace_version
        self.company = company
        self._store = _Store(_Schema(pace_version), login)
        self._app = _SandboxApp(self._store, login, password, company)
        self._streams = self._app.streams
        self._http = ThreadedServer(
            self._app, self._app.transports, host=host, port=port, name="Pace sandbox"
        )

    @property
    def services_url(self) -> str:
        """Where the services are: {url}/rpc/services or {url}/rpc/company:{company}/services."""
        middle = f"/company:{self.company}" if self.company else ""
        return f"{self.url}/rpc{middle}/services"

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change the given fault knobs (see `FAULT_KNOBS`); return all of them."""
        return self._store.set_faults(knobs)

    def state(self) -> dict[str, Any]:
        """A copy of everything: {"objects": {type: [object, ...]}, "faults", "calls",
        "wsdl_fetches"}; objects in key order, calls keyed "CreateObject.createJob"."""
        return {"pace_version": self.pace_version, "company": self.company, **self._store.state()}

    def objects(self, object_type: str) -> list[dict[str, Any]]:
        """A copy of every object of `object_type`, in key order."""
        if object_type not in KEY_FIELDS:
            raise ValueError(f"object_type: {object_type!r} is not one of {', '.join(KEY_FIELDS)}")
        return list(self._store.state()["objects"][object_type])

    def reset(self) -> None:
        """Back to empty: no objects, no faults, no counts."""
        self._store.reset()
        self._streams.clear()

    def seed_customer(self, customer_id: str, cust_name: str, **fields: Any) -> dict[str, Any]:
        """Add a Customer as the print shop would (no faults, not counted); return it."""
        return self._store.seed("Customer", {"id": customer_id, "custName": cust_name, **fields})

    def seed_contact(self, customer: str, **fields: Any) -> dict[str, Any]:
        """Add a Contact of `customer`; its int id is assigned; return it."""
        return self._store.seed("Contact", {"customer": customer, **fields})

    def seed_ship_via(self, id: int, description: str, **fields: Any) -> dict[str, Any]:
        """Add a Ship Via as the shop sets them up (its own int `id`; active unless told
        otherwise); return it. Pace's ShipVia objects are what an Accounts rule `MatchByName`
        finds by `description`."""
        if isinstance(id, bool) or not isinstance(id, int):
            raise ValueError(f"ShipVia.id: must be an int, got {type(id).__name__}")
        return self._store.seed("ShipVia", {"id": id, "description": description, **fields})

    def set_job_status(self, job: str, status: str) -> dict[str, Any]:
        """Set the Job's adminStatus (JobStatus.id, e.g. "O" open, "C" closed); return the job."""
        return self._store.admin_update("Job", {"job": job}, {"adminStatus": status})

    def add_shipment_tracking(
        self,
        job: str,
        tracking_number: str,
        *,
        job_part: str = "01",
        shipment_id: int | None = None,
        tracking_link: str | None = None,
    ) -> dict[str, Any]:
        """Ship: the job's shipment (given, or the first of `job_part`, or a new one) gets the
        tracking number, `shipped` and its date; its cartons without one get the number too."""
        return self._store.add_tracking(job, tracking_number, job_part, shipment_id, tracking_link)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a sandbox until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    parser = sandbox_arguments(
        "python -m daemon.providers.pace.sandbox", "Run a fake EFI Pace SOAP server on loopback."
    )
    parser.add_argument("--login", default="esd")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--pace-version", choices=PACE_VERSIONS, default="current")
    parser.add_argument("--company", default=None, help="serve under /rpc/company:NAME/services")
    args = parser.parse_args(argv)
    sandbox = PaceSandbox(
        args.login,
        args.password,
        pace_version=args.pace_version,
        company=args.company,
        host=args.host,
        port=args.port,
    )
    serve_until_signalled(sandbox)


if __name__ == "__main__":
    main()
