"""What Pace's object types and SOAP services are: the names the client and the sandbox share.

Pace's SOAP API has four object services (pace.md §1), each with one operation per object type
named verb + type (`readJob`, `createJobPart`, `updateJobShipment`) but FindObjects, whose
operations (`find`, `findAndSort`, `findSortAndLimit`) take the type as an argument. An object
travels in an element named after its type in lower camel case (`<jobPart>` for a JobPart).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "KEY_FIELDS",
    "OBJECT_TYPES",
    "SERVICES",
    "SERVICE_VERBS",
    "object_element",
    "service_namespace",
]

#: the SOAP services esd uses (and the sandbox serves)
SERVICES = ("FindObjects", "ReadObject", "CreateObject", "UpdateObject")

#: service -> the verb its operations start with (FindObjects' operations are not per type)
SERVICE_VERBS: Mapping[str, str] = {
    "ReadObject": "read",
    "CreateObject": "create",
    "UpdateObject": "update",
}

#: object type -> its primary key field(s); a compound key is written joined with ":",
#: "1001:01" for a JobPart (pace.md §6)
KEY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Customer": ("id",),
    "Contact": ("id",),
    "Job": ("job",),
    "JobPart": ("job", "jobPart"),
    "JobShipment": ("id",),
    "Carton": ("id",),
    "CartonContent": ("id",),
    "JobMaterial": ("id",),
    "JobContact": ("id",),
    "JobNote": ("id",),
    "ShipVia": ("id",),
}

#: the object types esd knows, in `KEY_FIELDS` order
OBJECT_TYPES = tuple(KEY_FIELDS)


def service_namespace(service: str) -> str:
    """The namespace of a service's operation elements (pace.md §2)."""
    return f"urn://pace2020.com/epace/sdk/{service}"


def object_element(object_type: str) -> str:
    """The name of the element an object of `object_type` travels in: "JobPart" -> "jobPart"."""
    return object_type[:1].lower() + object_type[1:]
