"""The Pace sandbox's rules of Pace's objects: what a create must carry, how an update treats
the fields it is sent (`UPDATE_SEMANTICS`), a Job template's defaults, which fields point at
which objects, and where server-assigned ids start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from daemon.providers.pace.guesses import LEFT_OUT_ON_UPDATE, NIL_OPTIONAL_ON_UPDATE

__all__ = [
    "EPOCH",
    "FIRST_ID",
    "FIRST_JOB",
    "JOB_TEMPLATE_DEFAULTS",
    "PACE_VERSIONS",
    "PART_REFERENCES",
    "REFERENCES",
    "REQUIRED_ON_CREATE",
    "STATUS_FIELDS",
    "UPDATE_SEMANTICS",
    "Record",
]

#: object schema variants; see the module docstring
PACE_VERSIONS = ("current", "legacy")


#: fields a create must carry; Job.customer is documented (SDK-J CreateJob.java), the rest
#: [GUESS] (the refusal's wording is `guesses.FAULT_FIELD_REQUIRED`);
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
#: "Whole-object updates"; each rule is a constant of `guesses`, which the store reads):
#: - [DOC] setting a REQUIRED field to null on update is ignored, the server keeps the value
#:   (SDK-J `UpdateObjectTestCase`, idx 63337500717; `NIL_REQUIRED_ON_UPDATE`);
#: - [GUESS] nil on update clears an OPTIONAL field (SDK-J `CloseJob` sets `promiseDate(null)`
#:   and updates, to clear it; `NIL_OPTIONAL_ON_UPDATE`);
#: - [GUESS] a field LEFT OUT of the sent object is treated as nil (`LEFT_OUT_ON_UPDATE`): the
#:   update APIs take an
#:   object instance, and EFI's guide and every client that updates through them (RG, SDK-J)
#:   read the object first, change fields and pass the whole instance back (read-modify-write);
#:   no EFI source says a partial object keeps the fields it leaves out, and the zeep/axis
#:   binding of an object instance cannot tell "left out" from "nil". So the sandbox clears
#:   them, and a client that sends partial objects loses template defaults (seed 004 step 4).
#: Key fields locate the object and are never changed; derived fields are recomputed.
UPDATE_SEMANTICS: Final = (
    "whole-object"
    if LEFT_OUT_ON_UPDATE == NIL_OPTIONAL_ON_UPDATE == "cleared"
    else "unsupported: the sandbox implements whole-object updates only"
)

#: what a Job template fills on create when the job does not say (seed 004 step 4: "EFI Pace
#: uses templates to define default values for jobs"); ints, as the object XSD types them.
#: The seed's Job mapping sets none of them, so a push must keep them.
JOB_TEMPLATE_DEFAULTS: Mapping[str, int] = {"salesPerson": 7, "terms": 30, "shipVia": 2, "csr": 4}

# (type, field) -> the type it points at, checked on create and update [GUESS: Pace refuses
# dangling references (`guesses.DANGLING_REFERENCES_REFUSED`); the wording of that fault is
# unknown (`guesses.FAULT_INVALID_REFERENCE`)].
REFERENCES: Mapping[tuple[str, str], str] = {
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

#: type -> its fields that hold a JobStatus id (documented: `Job.adminStatus`, pace.md §6.3;
#: `JobPart.productionStatus`, §6.4); checked against the store's JobStatus ids like a reference
STATUS_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Job": ("adminStatus",),
    "JobPart": ("productionStatus",),
}

# (type, job field, part field): the pair must name an existing JobPart when both are set.
PART_REFERENCES = (
    ("JobShipment", "job", "jobPart"),
    ("CartonContent", "job", "jobPart"),
    ("CartonContent", "jobPartJob", "jobPart"),
    ("JobMaterial", "job", "jobPart"),
    ("JobNote", "job", "jobPart"),
)

# First server-assigned id per int-keyed type: distinct ranges make a mixed-up id visible.
FIRST_ID: Mapping[str, int] = {
    "Contact": 5001,
    "JobShipment": 7001,
    "Carton": 8001,
    "CartonContent": 9001,
    "JobMaterial": 6001,
    "JobContact": 3001,
    "JobNote": 4001,
}
FIRST_JOB = 1001

EPOCH = dt.date(1970, 1, 1)

Record = dict[str, Any]
