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
- server rules are `soap:Server` faults. Their wordings are `guesses.FAULT_*`, each with its
  evidence: "Field is required: Job[customer=null]" is the one documented SOAP fault text
  (SDK-J CreateJob.java); "Unable to locate object" is seen in code (RG); "Unknown field 'x' on
  object 'JobShipment'" and "unknown or unsupported function: substring" are the REST twin's
  answers seen in low-trust code (pace.md §2, §3), used here for SOAP as a [GUESS]; all other
  wordings are [GUESS]es;
- jobs are auto-numbered from 1001 unless a number is given (which does not move the counter);
  part `01` is created with every job; int keys (Contact, JobShipment, Carton, ...) are
  server-assigned; create/read/update answer the whole object, nil for empty fields;
- update takes the WHOLE object (`UPDATE_SEMANTICS`): an optional field absent from the sent
  object, or nil in it, is cleared; a required field sent as nil (or left out) keeps its value;
- a Job's `adminStatus` and a JobPart's `productionStatus` must name a known JobStatus id
  (`guesses.JOB_STATUS_IDS`: the documented "O" open and "C" closed, and "A" from EFI's
  SDK-PHP sample; `seed_job_status` adds more); another is refused like a dangling reference;
- a Job gets its template's defaults on create (`JOB_TEMPLATE_DEFAULTS`: sales person, terms,
  ship via), which a partial update would clear;
- find understands the subset of Pace's XPath that esd sends (`parse_find_expression`): `@field`
  of the object itself, `= != < > <= >=`, `and`, `or`, parentheses, string and number literals,
  `concat()`, `date()`, `current-date()`, `contains()`, `starts-with()`, `true()`, `false()`,
  a bare boolean field as a predicate; `@f = ''` matches null, as Pace's null test does
  (documented), and `@f != x` does not match null (`guesses.NOT_EQUALS_MATCHES_NULL`, guessed).

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

The package, by seam: `envelopes` (SOAP envelopes checked and written), `schema` (the WSDLs,
validators, XSD types), `find_eval` (the find-expression subset), `rules` (Pace's object rules),
`store` (the objects and the SOAP operations on them), `faults` (the knobs), `app` (the HTTP
handler), `server` (`PaceSandbox` and its command line).

Run `python -m daemon.providers.pace.sandbox --port 0 [--pace-version legacy] [--company c]`: it
prints `{"url": "http://127.0.0.1:PORT"}` once it accepts connections, and runs until SIGTERM or
SIGINT.
"""

from daemon.providers.pace.objects import KEY_FIELDS, OBJECT_TYPES, SERVICES
from daemon.providers.pace.sandbox.faults import FAULT_KINDS, FAULT_KNOBS
from daemon.providers.pace.sandbox.find_eval import (
    FindPredicate,
    FindSyntaxError,
    parse_find_expression,
)
from daemon.providers.pace.sandbox.rules import (
    JOB_TEMPLATE_DEFAULTS,
    PACE_VERSIONS,
    REQUIRED_ON_CREATE,
    UPDATE_SEMANTICS,
)
from daemon.providers.pace.sandbox.server import PaceSandbox, main

# KEY_FIELDS, OBJECT_TYPES and SERVICES are `objects`' own, still importable from here.
__all__ = [
    "FAULT_KINDS",
    "FAULT_KNOBS",
    "JOB_TEMPLATE_DEFAULTS",
    "KEY_FIELDS",
    "OBJECT_TYPES",
    "PACE_VERSIONS",
    "REQUIRED_ON_CREATE",
    "SERVICES",
    "UPDATE_SEMANTICS",
    "FindPredicate",
    "FindSyntaxError",
    "PaceSandbox",
    "main",
    "parse_find_expression",
]
