"""Every fact about EFI Pace that the code relies on and EFI does not document, with its evidence.

No Pace WSDL is public and EFI's guide covers few objects (see `/work/shared/reference/pace.md`,
"pace.md" below, §10, §11). Each constant here carries one of the labels pace.md uses:

- "documented": EFI's own material (the Pace API Guide, EFI's SDK samples, the REST swagger a
  Pace server generates; pace.md `[DOC]`);
- "seen in code": public client code that talks to real Pace servers does it this way (pace.md
  `[CODE]`); "REST, low trust" marks what was only seen through the REST twin, in code pace.md
  calls low-trust (alitho-suite `PACE_XPATH_RESEARCH.md`);
- "guessed": nobody public says; our inference or our choice. Check it on a real server.

A few documented values sit here too, where a guess is defined against them (the job status
codes, the one known fault texts). The driver, the mappings, the client and the sandbox
(`daemon/providers/pace/sandbox/`) all read these names, so the sandbox behaves as the code
assumes Pace does, and fixing a wrong guess is a change here that both sides follow. The field
names the mappings write are documented (SWAGGER) and spelled where they are written; that the
SOAP object model uses the REST twin's names is itself guessed (pace.md §5), although every SOAP
sample checked agrees. `README.md` beside this file lists every fact with its source.
"""

from __future__ import annotations

import dataclasses
from typing import Final, Literal

__all__ = [
    "BUSINESS_FAULT_MARKERS",
    "DANGLING_REFERENCES_REFUSED",
    "DATETIME_FIELDS_FILTERABLE",
    "DEFAULT_ADMIN_STATUS",
    "FAULT_ALREADY_EXISTS",
    "FAULT_FIELD_REQUIRED",
    "FAULT_INVALID_REFERENCE",
    "FAULT_INVALID_XPATH",
    "FAULT_NOT_FOUND",
    "FAULT_UNKNOWN_FIELD",
    "FAULT_UNKNOWN_OBJECT_TYPE",
    "FAULT_UNSUPPORTED_FUNCTION",
    "INACTIVE_CUSTOMER_STATUSES",
    "JOB_STATUS_CLOSED",
    "JOB_STATUS_IDS",
    "JOB_STATUS_OPEN",
    "LEFT_OUT_ON_UPDATE",
    "NIL_OPTIONAL_ON_UPDATE",
    "NIL_REQUIRED_ON_UPDATE",
    "NOT_EQUALS_MATCHES_NULL",
    "NOT_FOUND_FAULT_MARKERS",
    "NOT_RESENT_ON_UPDATE",
    "OBJECT_FIELDS_QUALIFIED",
    "OPEN_CUSTOMER_STATUS",
    "PUSH_REFERENCE_FIELD",
    "SEED_ADMIN_STATUS",
    "SENT_INT_ID_IGNORED",
    "SHIPMENT_CONTACT_FIELD",
    "SHIPMENT_DATE_FIELD",
    "SHIPMENT_LEGACY_DATE_FIELDS",
    "SHIPPED_FIELD",
    "THIRD_PARTY_CHARGES",
    "UPDATE_ANSWER_CARRIES_OBJECT",
    "XPATH_HAS_CONCAT",
    "Evidence",
    "FaultMarker",
]

Evidence = Literal["documented", "seen in code", "seen in code (REST, low trust)", "guessed"]


@dataclasses.dataclass(frozen=True, slots=True)
class FaultMarker:
    """A lower-cased fragment of a SOAP faultstring and why esd reads it as it does."""

    text: str
    evidence: Evidence
    source: str


# -- finding a push again (pace.md §3, §6.3) ----------------------------------------------------

#: The Job field that carries esd's push reference (`esd:{account}:{site}:{order}`), written on
#: create and searched by FindObjects before every create and in `find_pushed`.
#: - documented: Job has `importID` (SWAGGER; pace.md §6.3), and both reconstructed schemas in
#:   `wsdl/` have it;
#: - guessed: that FindObjects can FILTER on it. Having a field does not prove it is filterable
#:   (pace.md §3: JobShipment `dateTime` is a field, and a find on it was refused);
#: - guessed: that Pace keeps the value as sent and its own import tools never overwrite it.
#: If a real Pace refuses the filter there is NO fallback: the look-up fails, so every push
#: fails before it creates anything (a BusinessRuleError when the fault reads like a refusal,
#: see `BUSINESS_FAULT_MARKERS`; an unrecognised soap:Server fault is retried as transient
#: until the item gives up). Nothing is ever created twice. See README "Open questions".
PUSH_REFERENCE_FIELD: Final = "importID"

# -- the job's status (pace.md §6 lookups, §6.3, §7 flow 4) -------------------------------------

#: documented: JobStatus.id "O" is open (SDK-J `CloseJob` reopens with it, RG README creates with
#: `adminStatus='O'`, BB `updateJob`)
JOB_STATUS_OPEN: Final = "O"
#: documented: JobStatus.id "C" is closed (SDK-J `CloseJob`, BB)
JOB_STATUS_CLOSED: Final = "C"
#: The JobStatus ids the sandbox knows (a real Pace has the shop's own list): "O" and "C" as
#: above, and "A", which EFI's SDK-PHP sample sends as a JobPart `productionStatus` (pace.md
#: §6.4; documented as a value in EFI's sample database, meaning unknown). Tests add others
#: with `PaceSandbox.seed_job_status`.
JOB_STATUS_IDS: Final = frozenset({JOB_STATUS_OPEN, JOB_STATUS_CLOSED, "A"})
#: Seed 004's text: "Default is “0” (New)" (Site Mapping Parameters, item 2), the DIGIT zero.
#: The same seed's example writes "adminStatus":"O", the letter, and every EFI source uses the
#: letter for open. No source shows a JobStatus "0". Still accepted when configured: a shop
#: whose Pace has a status "0" writes it in its DefaultSiteConfiguration rule.
SEED_ADMIN_STATUS: Final = "0"
#: What esd sends as Job.adminStatus and JobPart.productionStatus when no site rule sets one:
#: the documented open status. Decided from the evidence above (the seed's "0" is read as the
#: letter "O" of its own example, "New" = open); guessed that this is what the seed meant.
DEFAULT_ADMIN_STATUS: Final = JOB_STATUS_OPEN

# -- customers (pace.md §6.1) -------------------------------------------------------------------

#: documented: Customer.customerStatus "O" is open (GUIDE sample)
OPEN_CUSTOMER_STATUS: Final = "O"
#: guessed: the codes esd treats as an inactive customer. EFI documents only "O"; "I"nactive
#: and "C"losed are the codes other Pace lists use.
INACTIVE_CUSTOMER_STATUSES: Final = frozenset({"I", "C"})

# -- shipments (pace.md §6, §6.5) ---------------------------------------------------------------

#: How a JobShipment names its ship-to: `contactNumber` (int Contact.id).
#: - seen in code: BB labels `contactNumber` "Ship To";
#: - documented: EFI's only shipment sample (SDK-PHP, idx 63182218770) sets `jobContact` (the
#:   part's ship-to JobContact) and not `contactNumber`;
#: - guessed: that `contactNumber` alone makes Pace ship to that contact. esd also copies the
#:   address onto the shipment (`name`, `address1..3`, ...), so the shipment's address is right
#:   either way. Shipments are found again by job + part + this field. README "Open questions".
SHIPMENT_CONTACT_FIELD: Final = "contactNumber"
#: Seed 004's constant for JobShipment.charges when there is an account number ("If Account
#: Number is not empty, then Constant “Third Party/Ship Bill To”"). The only values seen are
#: "Prepaid/Shipper" and "Third Party" (seen in code: NestJS, pace.md §6.5); guessed that Pace
#: accepts the seed's text. Sent as the seed says.
THIRD_PARTY_CHARGES: Final = "Third Party/Ship Bill To"
#: documented: the JobShipment field `shipped` (SWAGGER); guessed: that true means the shipment
#: left the shop (esd then reports its tracking numbers)
SHIPPED_FIELD: Final = "shipped"
#: documented: newer servers keep a shipment's date and time in one field (SWAGGER)
SHIPMENT_DATE_FIELD: Final = "dateTime"
#: seen in code: older servers split it into `date` and `time` (BB definitions, pace.md §6
#: "Version drift"); `time` is an xs:dateTime on 1970-01-01 and BB recombines date + time
#: (`EpaceImport/Helper/Data.php`, pace.md §2). Guessed: that `date` carries the day only
#: (its clock part is dropped when `time` is set).
SHIPMENT_LEGACY_DATE_FIELDS: Final = ("date", "time")

# -- update semantics (pace.md §2 "Nil / omitted fields", "Whole-object updates") ---------------

#: documented: nil for a REQUIRED field on update is ignored, the server keeps the value (SDK-J
#: `UpdateObjectTestCase`, idx 63337500717)
NIL_REQUIRED_ON_UPDATE: Final = "kept"
#: guessed: nil for an OPTIONAL field on update clears it (SDK-J `CloseJob` sets
#: `promiseDate(null)` and updates, apparently to clear it)
NIL_OPTIONAL_ON_UPDATE: Final = "cleared"
#: guessed: a field LEFT OUT of an update's object is cleared like a nil one. The guide's update
#: is read-modify-write (documented), and no EFI source says a partial object keeps the fields
#: it leaves out. So the driver sends whole objects and the sandbox clears what is left out.
LEFT_OUT_ON_UPDATE: Final = "cleared"
#: guessed: an update answers the updated object in `out` (RG and BB read it; the guide prints an
#: empty `<updateCostCenterResponse/>`). The client reads the object back when the answer is
#: empty; the sandbox's `update_returns_object` knob starts from this.
UPDATE_ANSWER_CARRIES_OBJECT: Final = True
#: guessed: fields an update never sends back: `customer` (set by the create) and
#: `itemTemplate` (sending our value again might make Pace apply the template again)
NOT_RESENT_ON_UPDATE: Final = frozenset({"customer", "itemTemplate"})

# -- find expressions (pace.md §3) --------------------------------------------------------------

#: guessed: `@field != value` does not match objects where the field is null (as in SQL). No
#: source says either way; no driver find uses `!=`. The sandbox's finds behave so.
NOT_EQUALS_MATCHES_NULL: Final = False
#: guessed: Pace's XPath has concat() (EFI lists only contains, starts-with, date and
#: current-date). esd writes a value with both quote characters with it: such a find may be
#: refused, never widened. The sandbox accepts concat().
XPATH_HAS_CONCAT: Final = True
#: seen in code (REST, low trust): combined date-time fields may not be filterable (alitho-suite
#: found JobShipment `dateTime` refused). So a find never compares a datetime; dates only.
DATETIME_FIELDS_FILTERABLE: Final = False

# -- faults (pace.md §2 "Errors", §3) -----------------------------------------------------------

#: Fragments of a faultstring that mean "no such object" (`NotFound`)
NOT_FOUND_FAULT_MARKERS: Final = (
    FaultMarker(
        "unable to locate object",
        "seen in code",
        "pace.md §2: RG `Services/ReadObject.php` maps it to null",
    ),
)
#: Fragments of a faultstring that mean Pace refused the data (`BusinessRuleError`, permanent).
#: Only "field is required" is a SOAP fault text EFI shows. Every `soap:Client` fault is a
#: refusal too (guessed); any other fault is a transient `ServerError`.
BUSINESS_FAULT_MARKERS: Final = (
    FaultMarker(
        "field is required",
        "documented",
        "pace.md §2: SDK-J CreateJob.java (idx 63235356850), `Field is required: "
        "Job[customer=null]`",
    ),
    FaultMarker("is required", "guessed", "a looser form of the one above"),
    FaultMarker(
        "unknown field",
        "seen in code (REST, low trust)",
        "pace.md §2, §3: alitho-suite, `Unknown field 'x' on object 'JobShipment'`",
    ),
    FaultMarker(
        "cannot convert",
        "seen in code (REST, low trust)",
        "pace.md §2: alitho-suite, `Cannot convert children into a filter: dateTime`",
    ),
    FaultMarker(
        "unknown or unsupported function",
        "seen in code (REST, low trust)",
        "pace.md §2, §3: alitho-suite, `unknown or unsupported function: substring`",
    ),
    FaultMarker("unknown object type", "guessed", "none"),
    FaultMarker("invalid", "guessed", "none"),
    FaultMarker("not valid", "guessed", "none"),
    FaultMarker("validation", "guessed", "none"),
    FaultMarker("already exists", "guessed", "none"),
    FaultMarker("not allowed", "guessed", "none"),
)

# The sandbox's fault texts. `str.format` templates; each matches a marker above.
#: documented: SDK-J CreateJob.java prints `Field is required: Job[customer=null]`
FAULT_FIELD_REQUIRED: Final = "Field is required: {type}[{field}=null]"
#: seen in code: the prefix (RG); what follows it is guessed
FAULT_NOT_FOUND: Final = "Unable to locate object: {type}[{key}]"
#: seen in code (REST, low trust), guessed for SOAP: the REST twin's wording (alitho-suite); no
#: SOAP fault text for an unknown field is known
FAULT_UNKNOWN_FIELD: Final = "Unknown field '{field}' on object '{type}'"
#: seen in code (REST, low trust), guessed for SOAP: as above, for `substring()`
FAULT_UNSUPPORTED_FUNCTION: Final = "unknown or unsupported function: {name}"
#: guessed wordings
FAULT_UNKNOWN_OBJECT_TYPE: Final = "Unknown object type: {type}"
FAULT_INVALID_XPATH: Final = "Invalid XPath expression: {problem}"
FAULT_ALREADY_EXISTS: Final = "Object already exists: {type}[{key}]"
FAULT_INVALID_REFERENCE: Final = "Invalid reference: {type}[{fields}] (no such {target})"

# -- what the sandbox assumes of Pace's object rules --------------------------------------------

#: guessed: Pace refuses a reference to an object that does not exist (a Job.customer, a
#: Job.adminStatus that names no JobStatus, ...); its wording is `FAULT_INVALID_REFERENCE`
DANGLING_REFERENCES_REFUSED: Final = True
#: guessed: an int id sent on create is ignored; the server numbers Contacts, JobShipments, ...
SENT_INT_ID_IGNORED: Final = True
#: guessed: object fields must be in the object namespace (`elementFormDefault="qualified"`,
#: "qualify to be safe": pace.md §2, §11; the Python port sends them unqualified and says it
#: works). The client always qualifies them; the sandbox refuses unqualified ones.
OBJECT_FIELDS_QUALIFIED: Final = True
