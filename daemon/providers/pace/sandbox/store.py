"""The Pace sandbox's objects and Pace's rules over them (`Store`): create, read, update and
find as Pace does where pace.md says how, the faults each SOAP call gets, and the call counts,
all behind one lock.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import random
import re
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from daemon.providers.pace.guesses import (
    FAULT_ALREADY_EXISTS,
    FAULT_FIELD_REQUIRED,
    FAULT_INVALID_REFERENCE,
    FAULT_INVALID_XPATH,
    FAULT_NOT_FOUND,
    FAULT_UNKNOWN_FIELD,
    FAULT_UNKNOWN_OBJECT_TYPE,
    JOB_STATUS_IDS,
    JOB_STATUS_OPEN,
    NIL_REQUIRED_ON_UPDATE,
    OBJECT_FIELDS_QUALIFIED,
    OPEN_CUSTOMER_STATUS,
)
from daemon.providers.pace.objects import KEY_FIELDS, SERVICE_VERBS
from daemon.providers.pace.sandbox.envelopes import find_response, object_response
from daemon.providers.pace.sandbox.faults import (
    DEFAULT_FAULT_MESSAGE,
    FAULT_KNOBS,
    Fault,
    validated_faults,
)
from daemon.providers.pace.sandbox.find_eval import FindSyntaxError, parse_find_expression
from daemon.providers.pace.sandbox.namespaces import OBJECT_NS, RPC_NS, XSI
from daemon.providers.pace.sandbox.rules import (
    EPOCH,
    FIRST_ID,
    FIRST_JOB,
    JOB_TEMPLATE_DEFAULTS,
    PART_REFERENCES,
    REFERENCES,
    REQUIRED_ON_CREATE,
    STATUS_FIELDS,
    Record,
)
from daemon.providers.pace.sandbox.schema import Schema, decode, elements, key_text, natural
from daemon.testing.faults import FaultPlan

__all__ = ["Store"]


class Store:
    """Objects, faults and call counts; public methods take the lock themselves."""

    def __init__(self, schema: Schema, login: str) -> None:
        self._lock = threading.Lock()
        self.schema = schema
        self._login = login
        self._reset()

    def _reset(self) -> None:
        self.objects: dict[str, dict[str, Record]] = {name: {} for name in KEY_FIELDS}
        self.next_id: dict[str, int] = dict(FIRST_ID)
        self.next_job = FIRST_JOB
        self.next_customer = 1
        self.faults: dict[str, Any] = copy.deepcopy(dict(FAULT_KNOBS))
        #: the JobStatus ids a Job.adminStatus or JobPart.productionStatus may name
        self.job_statuses: set[str] = set(JOB_STATUS_IDS)
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
                    return FaultPlan(latency, kind, message=DEFAULT_FAULT_MESSAGE)
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
        checked = validated_faults(knobs)
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
                        copy.deepcopy(self.objects[name][key]) for key in sorted(rows, key=natural)
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
        """Validate the operation element against the WSDL (a `Fault("Client")` if it fails)."""
        with self._lock:
            validator = self.schema.services[service].validator
            if service != "FindObjects":
                self._check_field_names(operation[len(SERVICE_VERBS.get(service, "")) :], element)
            if not validator.validate(element):
                error = validator.error_log.last_error
                raise Fault("Client", f"Invalid request: {error.message if error else '?'}")

    def handle(self, service: str, operation: str, element: Any) -> Any:
        """Act on a checked operation element (see `check`) and return the response element."""
        with self._lock:
            validator = self.schema.services[service].validator
            type_name = operation[len(SERVICE_VERBS.get(service, "")) :]
            if service == "FindObjects":
                keys = self._find(operation, element)
                response = find_response(service, operation, keys)
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
                response = object_response(
                    service, operation, self.schema.fields[type_name], record
                )
            if not validator.validate(response):  # pragma: no cover - a sandbox bug
                raise RuntimeError(
                    f"invalid {operation} response: {validator.error_log.last_error}"
                )
            return response

    def _check_field_names(self, type_name: str, operation_element: Any) -> None:
        """A field its object does not have, in the REST twin's wording (pace.md §2; guessed for
        SOAP: `guesses.FAULT_UNKNOWN_FIELD`)."""
        wrappers = elements(operation_element)
        if len(wrappers) != 1:
            return  # the schema names what is wrong
        fields = self.schema.fields[type_name]
        for child in elements(wrappers[0]):
            name = etree.QName(child)
            if name.localname not in fields:
                raise Fault(
                    "Client", FAULT_UNKNOWN_FIELD.format(field=name.localname, type=type_name)
                )
            if OBJECT_FIELDS_QUALIFIED and name.namespace != OBJECT_NS:
                # [GUESS] Pace may accept unqualified fields (pace.md §11); the sandbox does not.
                raise Fault(
                    "Client",
                    f"Invalid request: field '{name.localname}' of {type_name} must be in "
                    f"namespace {OBJECT_NS}",
                )

    def _sent_object(self, type_name: str, operation_element: Any) -> dict[str, Any]:
        """The fields sent in the operation's object wrapper; None for an explicit nil."""
        (wrapper,) = elements(operation_element)
        fields = self.schema.fields[type_name]
        sent: dict[str, Any] = {}
        for child in elements(wrapper):
            name = etree.QName(child).localname
            if child.get(f"{{{XSI}}}nil") in ("true", "1"):
                sent[name] = None
            else:
                sent[name] = decode(fields[name], child.text, f"{type_name}.{name}")
        return sent

    def _key_of(self, type_name: str, record: Mapping[str, Any]) -> str:
        return key_text([record.get(field) for field in KEY_FIELDS[type_name]])

    def _locate(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        values = [sent.get(field) for field in KEY_FIELDS[type_name]]
        shown = ", ".join(
            f"{field}={'null' if v is None else v}"
            for field, v in zip(KEY_FIELDS[type_name], values, strict=True)
        )
        record = None if None in values else self.objects[type_name].get(key_text(values))
        if record is None:
            raise Fault("Server", FAULT_NOT_FOUND.format(type=type_name, key=shown))
        return record

    def _read(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        return self._locate(type_name, sent)

    def _new_record(self, type_name: str) -> Record:
        return dict.fromkeys(self.schema.fields[type_name])

    def _create(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        for field in REQUIRED_ON_CREATE[type_name]:
            if sent.get(field) in (None, ""):
                raise Fault("Server", FAULT_FIELD_REQUIRED.format(type=type_name, field=field))
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
                raise Fault(
                    "Server", FAULT_ALREADY_EXISTS.format(type="Customer", key=f"id={record['id']}")
                )
        elif type_name == "Job":
            if record["job"] is None:
                # A job number given by the caller does not move the counter (SDK-J CreateJob).
                while str(self.next_job) in self.objects["Job"]:
                    self.next_job += 1
                record["job"] = str(self.next_job)
                self.next_job += 1
            elif record["job"] in self.objects["Job"]:
                raise Fault(
                    "Server", FAULT_ALREADY_EXISTS.format(type="Job", key=f"job={record['job']}")
                )
        elif type_name == "JobPart":
            parts = [key for key in self.objects["JobPart"] if key.startswith(f"{record['job']}:")]
            if record["jobPart"] is None:
                taken = [int(p.rpartition(":")[2]) for p in parts if p.rpartition(":")[2].isdigit()]
                record["jobPart"] = f"{max(taken, default=0) + 1:02d}"
            elif self._key_of("JobPart", record) in self.objects["JobPart"]:
                raise Fault(
                    "Server", f"Object already exists: JobPart[{self._key_of('JobPart', record)}]"
                )
        elif type_name == "ShipVia":
            # Seeded only, with the shop's own id (REQUIRED_ON_CREATE has it).
            if self._key_of("ShipVia", record) in self.objects["ShipVia"]:
                raise Fault(
                    "Server", FAULT_ALREADY_EXISTS.format(type="ShipVia", key=f"id={record['id']}")
                )
        else:  # int ids are the server's to give (guesses.SENT_INT_ID_IGNORED)
            record["id"] = self.next_id[type_name]
            self.next_id[type_name] += 1

    def _fill_defaults(self, type_name: str, record: Record) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        # Legacy split fields: the day at midnight, the time of day on 1970-01-01 (pace.md §2).
        setup = {
            "dateTimeSetup": now,
            "dateSetup": dt.datetime.combine(now.date(), dt.time(), dt.UTC),
            "timeSetUp": dt.datetime.combine(EPOCH, now.time(), dt.UTC),
        }
        if type_name == "Customer":
            record["customerStatus"] = record["customerStatus"] or OPEN_CUSTOMER_STATUS
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
                record["adminStatus"] = record["adminStatus"] or JOB_STATUS_OPEN
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
        for (owner, field), target in REFERENCES.items():
            value = record.get(field)
            if owner != type_name or value is None:
                continue
            if key_text([value]) not in self.objects[target]:
                raise Fault(
                    "Server",
                    FAULT_INVALID_REFERENCE.format(
                        type=type_name, fields=f"{field}={value}", target=target
                    ),
                )
        for field in STATUS_FIELDS.get(type_name, ()):
            value = record.get(field)
            if value is not None and value not in self.job_statuses:
                raise Fault(
                    "Server",
                    FAULT_INVALID_REFERENCE.format(
                        type=type_name, fields=f"{field}={value}", target="JobStatus"
                    ),
                )
        for owner, job_field, part_field in PART_REFERENCES:
            if owner != type_name:
                continue
            job, part = record.get(job_field), record.get(part_field)
            if (
                job is not None
                and part is not None
                and f"{job}:{part}" not in self.objects["JobPart"]
            ):
                raise Fault(
                    "Server",
                    FAULT_INVALID_REFERENCE.format(
                        type=type_name,
                        fields=f"{job_field}={job}, {part_field}={part}",
                        target="JobPart",
                    ),
                )

    def _update(self, type_name: str, sent: Mapping[str, Any]) -> Record:
        record = self._locate(type_name, sent)
        changed = dict(record)
        required = REQUIRED_ON_CREATE[type_name]
        for field in record:  # the whole object: see UPDATE_SEMANTICS
            if field in KEY_FIELDS[type_name]:
                continue
            value = sent.get(field)
            if value is None and field in required and NIL_REQUIRED_ON_UPDATE == "kept":
                continue  # nil for a required field is ignored (SDK-J UpdateObjectTestCase)
            changed[field] = value
        self._check_references(type_name, changed)
        self._derive(type_name, changed)
        record.update(changed)
        return record

    def _find(self, operation: str, element: Any) -> list[str]:
        args = {etree.QName(child).localname: child for child in elements(element)}
        type_name = (args["in0"].text or "").strip()
        if type_name not in KEY_FIELDS:
            raise Fault("Server", FAULT_UNKNOWN_OBJECT_TYPE.format(type=type_name or "null"))
        text = args["in1"].text
        if args["in1"].get(f"{{{XSI}}}nil") in ("true", "1") or not (text or "").strip():
            raise Fault("Server", FAULT_INVALID_XPATH.format(problem="empty"))
        try:
            predicate = parse_find_expression(text)
        except FindSyntaxError as exc:
            raise Fault("Server", str(exc)) from None
        fields = self.schema.fields[type_name]
        for field in sorted(predicate.fields):
            if field not in fields:
                raise Fault("Server", FAULT_UNKNOWN_FIELD.format(field=field, type=type_name))
        rows = [
            (key, row) for key, row in self.objects[type_name].items() if predicate.matches(row)
        ]
        rows.sort(key=lambda item: natural(item[0]))
        sorts = args.get("in2")
        for sort in reversed(elements(sorts) if sorts is not None else []):  # last key first
            xpath = (sort.findtext(f"{{{RPC_NS}}}xpath") or "").strip()
            descending = (sort.findtext(f"{{{RPC_NS}}}descending") or "").strip() in ("true", "1")
            if not (xpath.startswith("@") and xpath[1:] in fields):
                raise Fault("Server", f"Invalid sort: {xpath!r} is not an @field of {type_name}")
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
            except Fault as exc:
                raise ValueError(exc.message) from None

    def admin_update(
        self, type_name: str, key: Mapping[str, Any], fields: Mapping[str, Any]
    ) -> Record:
        with self._lock:
            try:
                record = self._locate(type_name, key)
            except Fault as exc:
                raise LookupError(exc.message) from None
            record.update(fields)
            return copy.deepcopy(record)

    def seed_job_status(self, status: str) -> None:
        with self._lock:
            self.job_statuses.add(status)

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
            # Older servers split the date (the day) and the time of day, which sits on
            # 1970-01-01 (pace.md §2, §6; guesses.SHIPMENT_LEGACY_DATE_FIELDS), as Job.dateSetup
            # and timeSetUp do here.
            day = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
            epoch_time = dt.datetime.combine(EPOCH, now.time(), dt.UTC)
            for field, value in (("dateTime", now), ("date", day), ("time", epoch_time)):
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
