"""What the WSDLs and the object XSD of one `pace_version` say (`Schema`): the served WSDLs,
the operations of each service, a validator of their elements (lxml XMLSchema), and each
object's fields with their XSD types; the XML text of those types both ways.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import importlib.resources
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from lxml import etree

from daemon.providers.pace.objects import KEY_FIELDS, SERVICES
from daemon.providers.pace.sandbox.namespaces import WSDL, XSD
from daemon.providers.pace.sandbox.rules import PACE_VERSIONS

__all__ = ["Schema", "decode", "elements", "encode", "key_text", "natural", "safe_parser"]

_WSDL_PACKAGE = "daemon.providers.pace"
_PLACEHOLDER_LOCATION = "http://localhost/rpc/services/{service}"


def _data_file(name: str) -> bytes:
    return (importlib.resources.files(_WSDL_PACKAGE) / "wsdl" / name).read_bytes()


def safe_parser() -> Any:
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


class Schema:
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
        root = etree.fromstring(xsd, safe_parser())
        found: dict[str, dict[str, str]] = {}
        for complex_type in root.iterfind(f"{{{XSD}}}complexType"):
            name = complex_type.get("name")
            fields = {}
            for element in complex_type.iter(f"{{{XSD}}}element"):
                fields[element.get("name")] = element.get("type").partition(":")[2]
            found[name[:1].upper() + name[1:]] = fields
        return found

    def _service(self, name: str) -> _Service:
        root = etree.fromstring(_data_file(f"{name}.wsdl"), safe_parser())
        types = root.find(f"{{{WSDL}}}types")
        # Inline the object types where the data file imports objects.xsd: the served WSDL is
        # self-contained, as Pace's are and as a client that forbids external fetches needs.
        inline_objects = False
        for imported in types.iterfind(f"{{{XSD}}}schema/{{{XSD}}}import"):
            if imported.get("schemaLocation") == "objects.xsd":
                del imported.attrib["schemaLocation"]
                inline_objects = True
        if inline_objects:
            types.append(etree.fromstring(self.objects_xsd, safe_parser()))
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
        parser = safe_parser()
        parser.resolvers.add(_InlineSchemas(documents))
        driver = etree.fromstring(f'<xsd:schema xmlns:xsd="{XSD}">{imports}</xsd:schema>', parser)
        return _Service(name, served, operations, etree.XMLSchema(driver))

    def wsdl_for(self, service: str, location: str) -> bytes:
        """The service's WSDL with its soap:address set to `location`."""
        placeholder = _PLACEHOLDER_LOCATION.format(service=service).encode()
        escaped = xml_escape(location, {'"': "&quot;"}).encode()
        return self.services[service].wsdl.replace(placeholder, escaped)


def decode(xsd_type: str, text: str | None, where: str) -> Any:
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


def encode(value: Any) -> str:
    """A stored value as XML text of its XSD type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def elements(parent: Any) -> list[Any]:
    """The element children of `parent`, without comments and processing instructions."""
    return [child for child in parent if isinstance(child.tag, str)]


def key_text(values: Sequence[object]) -> str:
    return ":".join(str(value) for value in values)


def natural(key: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in key.split(":"))
