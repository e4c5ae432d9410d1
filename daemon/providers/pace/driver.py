"""The EFI Pace driver (seed 004): an order becomes one Job with its parts, contacts, materials,
shipments and cartons, exactly once however often the push is interrupted; status comes back by
polling.

The mapping is pure and lives beside this module (`customer_resolution`, `job_mapping`,
`shipment_mapping`, ...); this module does the look-ups the mapping asks for and the creates it
decides, through `PaceClient`. No create of Pace's is idempotent, so every create is guarded
twice, as in `daemon.providers.reference.driver`: the journal says which steps finished, and
before creating, the driver looks in Pace for what an earlier attempt may have created without
hearing the answer.

Steps, in order, each recorded with `journal.record(step, result)` the moment it completes, so a
retry ("Pressero automatically retries the last synchronization action") starts at the step that
failed:

    step                        what it does                                 journal result
    start                       fixes "today" for this push (Date Setup,     {"today"}
                                promise date): a resumed push dates alike
    customer.create             only when the customer is created: the ids   {"existing",
                                of the customers with its name and e-mail    "warnings"}
                                BEFORE the create; after a lost answer, a
                                new id not in this list is ours
    customer                    the customer state machine (seed step 3):    {"customer",
                                found, or created with its contact           "contact", "source",
                                                                             "warnings"}
    contact:<location digest>   one Contact per unique shipping location     {"contact"}
    job                         createJob with JOB_CREATE_FIELDS and the     {"job"}
                                push reference (below)
    job_contact                 the JobContact of the job's contact          {"job_contact"}
    job_fields                  updateJob with the mapped fields             {"job_contact"}
    part:<label>                part 01 updated for the first part; the      {"part": "02"}
                                others created, then updated
    material:<label>            the part's JobMaterial                       {"material"}
    shipment:<label>            one JobShipment per shipment (the label of   {"shipment"},
                                its first part); by name, the Ship Via it    by name also
                                was resolved to (below)                      {"ship_via_name",
                                                                             "ship_via",
                                                                             "ship_via_known",
                                                                             "ship_via_more"}
    carton:<label>:<n>          the shipment's n-th Carton                   {"carton"}
    content:<label>:<n>:<part>  one CartonContent per part (Enable Carton    {"content"}
                                Contents)
    done                        the result, for `find_pushed`                {"job", "items",
                                                                             "warnings"}

How each object is found again after a lost answer (the look-up before every create):

- Job: by `Job.importID` = the push reference (`esd:{account}:{site}:{order}`). importID is
  chosen because the seed-004 mapping writes nothing there and FindObjects can filter on it
  (both object schemas in `wsdl/` have it, as the swagger does): `poNum` carries the PO number,
  `description`/`description2` are templates and notes, `reference` is a free text field the
  shop's staff see and edit on the job, and `webOrderID`/`webID` belong to EFI's own web-to-print
  integrations, which a shop may run beside esd. importID is the identity of a record that came
  from another system, which is exactly what this is. [GUESS: Pace keeps the value as sent;
  no source says Pace's own import tools overwrite it on jobs they did not import.]
- JobPart: by job + its exact description ("{order}-{seq} {product}", unique in the job, see
  `job_mapping`). Part 01 (made by Pace with the job) is updated for the first part unless its
  description already names another item of this order ("{order}-{n}..."): a later push into
  the same job (an item approved after the others) must not overwrite that item's part; it gets
  a new part instead.
- JobContact: job + contact. JobMaterial: job + part + inventory item. JobShipment: job + part
  (the shipment's first part: parts of different shipments never overlap) + contact number.
  Carton: the n-th carton of the shipment, by id (cartons are created one after the other).
  CartonContent: carton + part.
- Customer: see `customer.create` above. Contacts: the location key match of
  `customer_resolution.decide_location_contact` finds what a lost create made.

Other decisions:

- Updates send every mapped field except `customer` (set by the create) and `itemTemplate`
  (re-sending our value could make Pace apply the template again); sending the create fields
  again is what overrides "template default values" (seed steps 4 and 5).
- Updates are read-modify-write, as EFI's guide and every client seen (RG, SDK-J) do them: the
  object as Pace last returned it in this push (the create's answer, the read that checked part
  01, an earlier update's answer), else read once, with the mapped fields over it, is sent
  WHOLE. The fields seed 004 does not map (the Job template's sales person, terms, ship via,
  Csr; `customer` and `itemTemplate`) go back as Pace had them. [GUESS, pace.md §2: a field
  left out of an update's object may be cleared like a nil one; no EFI source says a partial
  object keeps them. The sandbox clears them: `sandbox.UPDATE_SEMANTICS`.] The one extra call
  is the read of part 01 of a job this push created (Pace makes it with the job; no answer
  carried it), and of a job or part found again after a lost answer.
- Today is the shop's date (`timezone` setting, else the system's zone) when the push starts.
- The item's external id is "{job}:{part}" of its first part (a kit's first child).
- A customer is inactive when its `customerStatus` is "I" or "C" [GUESS: EFI documents only
  "O" (open) for customers; "I"nactive and "C"losed are the codes other Pace lists use].
- Ship Via by name (Accounts rule MatchByName, seed 004: "ship_via will be calculated based on
  Shipping Method name from Pressero") is the Pace ShipVia whose `description` is the storefront's
  shipping method name. EFI does not say whether a find's `=` ignores case; XPath's does not, so
  esd asks Pace for the exact name first (one find, quoted by `find_expressions`), then compares
  in esd: trimmed, case-insensitive, runs of whitespace as one space (as `account_rules` compares
  method names). A name that matches exactly costs that find and a read. Only when it finds no
  active Ship Via does esd read Pace's active ones (one find, sorted by description, then a read
  each, at most `SHIP_VIA_SCAN_LIMIT`) and compare them the same way; a case-only difference
  beyond that many active Ship Vias is not seen. An active Ship Via is preferred to an
  inactive one (then the lowest id); an inactive one is used when it is the only match (the shop
  named the method after it). A name with both quote characters needs XPath's concat(), which
  EFI does not list [GUESS]: if Pace refuses that find, the comparison in esd still decides.
  Each name is looked up once per push; the answer is journaled with the shipment step, so a
  resumed push (and every later shipment with that name) uses it without asking again, and the
  push's warnings name what the shipments were made with. (A push interrupted before the step is
  journaled asks again; only a Ship Via changed in Pace meanwhile could make that answer differ
  from the one a shipment created without hearing back was made with.) When nothing matches, the
  method's name goes to `JobShipment.shipViaNote`, Pace keeps its default Ship Via, and the push
  result carries one warning per name listing a few of Pace's active Ship Via descriptions.
- Status (`fetch_status`) is the Job's `adminStatus` code (what the shop moves: "O" open, "C"
  closed, ...), the same for every item; tracking numbers come from the shipped JobShipments
  that carry the item (its own part, or the shipment its location was mapped to) and their
  cartons.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import structlog

from daemon.errors import (
    BusinessRuleError,
    ConfigError,
    DriverError,
    NotFound,
    PermanentError,
)
from daemon.orders.model import Address, Order, OrderItem
from daemon.providers.contract import (
    ConnectionReport,
    Driver,
    ItemRef,
    PushJournal,
    PushResult,
    StatusReport,
    check_account,
)
from daemon.providers.kit import (
    ensure_step,
    journal_int,
    journal_optional_int,
    journal_text,
    journal_warnings,
    required_credentials_problems,
)
from daemon.providers.pace import MANIFEST
from daemon.providers.pace import settings as pace_settings
from daemon.providers.pace.customer_resolution import (
    CheckCustomer,
    CreateContact,
    CreateCustomer,
    CustomerFacts,
    CustomerNotIdentified,
    FindContactsByEmail,
    FindCustomersByEmail,
    FoundContact,
    FoundCustomer,
    LocationKey,
    PaceContact,
    UseContact,
    UseCustomer,
    customer_fields,
    decide_location_contact,
    job_contact_id,
    next_customer_step,
    orderer_contact_fields,
)
from daemon.providers.pace.find_expressions import Value
from daemon.providers.pace.job_mapping import (
    JOB_CREATE_FIELDS,
    PART_CREATE_FIELDS,
    DateFieldNames,
    MaterialFields,
    PartFields,
    date_field_names,
    date_field_names_for,
    job_contact_fields,
    job_fields,
    job_parts,
    part_label,
    pushable_items,
)
from daemon.providers.pace.lookups import natural as _natural
from daemon.providers.pace.lookups import part_number as _part_number
from daemon.providers.pace.lookups import where as _where
from daemon.providers.pace.settings import PaceSettings
from daemon.providers.pace.ship_via import SHIP_VIA_NAMES_SHOWN, SHIP_VIA_SCAN_LIMIT
from daemon.providers.pace.ship_via import ShipViaByName as _ShipViaByName
from daemon.providers.pace.ship_via import ShipVias as _ShipVias
from daemon.providers.pace.shipment_mapping import (
    CartonContentFields,
    CartonFields,
    ShipmentFields,
    shipments_for,
)
from daemon.providers.pace.site_rules import SiteMapping, site_mapping_for
from daemon.providers.pace.soap_client import PaceClient

__all__ = [
    "INACTIVE_CUSTOMER_STATUSES",
    "REFERENCE_FIELD",
    "SHIP_VIA_NAMES_SHOWN",
    "SHIP_VIA_SCAN_LIMIT",
    "PaceDriver",
    "credentials_problems",
    "driver_class",
    "settings_problems",
    "site_settings_problems",
]

#: the Job field that carries the push reference (see the module docstring for the choice)
REFERENCE_FIELD: Final = "importID"
#: Customer.customerStatus codes esd treats as inactive [GUESS, see the module docstring]
INACTIVE_CUSTOMER_STATUSES: Final = frozenset({"I", "C"})
# Only to run the settings checks without a url (the url is a credential, checked on its own).
_PLACEHOLDER_URL: Final = "https://pace.invalid"
# fields an update never re-sends (see the module docstring)
_NOT_UPDATED: Final = frozenset({"customer", "itemTemplate"})

log = structlog.get_logger(__name__)


# -- configuration --------------------------------------------------------------------------------


def settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with an account's Pace settings; `url` belongs in the credentials."""
    if not isinstance(settings, Mapping):
        return pace_settings.settings_problems(settings)
    problems: list[tuple[str, str]] = []
    if "url" in settings:
        problems.append(
            (
                "url",
                "put url in credentials ([accounts.NAME.credentials] url = "
                '"https://pace.example.com"), not in settings',
            )
        )
    rest = {key: value for key, value in settings.items() if key != "url"}
    for key, message in pace_settings.settings_problems({**rest, "url": _PLACEHOLDER_URL}):
        # The settings parser knows url as one of its keys; here it is not one.
        problems.append((key, message.replace("(known: url, ", "(known: ")))
    return problems


def site_settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with a site activation's Pace overrides."""
    return pace_settings.site_overrides_problems(settings)


def credentials_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is missing or wrong in the account's credentials; values are never quoted."""
    problems = required_credentials_problems(credentials, MANIFEST.credential_keys)
    url = credentials.get("url")
    if isinstance(url, str) and url:
        # The settings parser checks the url (root only, no login in it); its messages quote
        # the url only when it carries no login or password.
        problems += [
            (key, message)
            for key, message in pace_settings.settings_problems({"url": url})
            if key == "url"
        ]
    return problems


def _parse_account(settings: Mapping[str, Any], credentials: Mapping[str, str]) -> PaceSettings:
    check_account(settings_problems(settings), credentials_problems(credentials))
    return pace_settings.parse_settings({**settings, "url": credentials["url"]})


# -- the driver ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Customer:
    """The outcome of the customer step."""

    customer_id: str
    contact_id: int | None
    source: str
    warnings: tuple[str, ...]

    def to_journal(self) -> dict[str, Any]:
        return {
            "customer": self.customer_id,
            "contact": self.contact_id,
            "source": self.source,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_journal(cls, done: Mapping[str, Any]) -> _Customer:
        return cls(
            customer_id=journal_text(done, "customer", "customer"),
            contact_id=journal_optional_int(done, "contact", "customer"),
            source=str(done.get("source", "")),
            warnings=journal_warnings(done, "customer"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What the pure mapping makes of one order, before anything is sent."""

    settings: PaceSettings
    site: SiteMapping
    items: tuple[OrderItem, ...]
    parts: tuple[PartFields, ...]
    labels: tuple[str, ...]  # part_label of each part
    shipments: tuple[ShipmentFields, ...]

    def shipment_label(self, shipment: ShipmentFields) -> str:
        return self.labels[shipment.part_index]


class PaceDriver(Driver):
    """One account's connection to an EFI Pace server."""

    provider = "pace"
    capabilities = MANIFEST.capabilities
    #: the job's admin status is what we report; `C` (closed) ends the polling (pace.md §6)
    final_statuses = frozenset({"C"})

    def __init__(
        self,
        account: str,
        settings: Mapping[str, Any],
        credentials: Mapping[str, str],
        *,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        super().__init__(account, settings, credentials)
        self.pace = _parse_account(settings, credentials)
        zone = self.pace.zone()
        self._today = today or (lambda: dt.datetime.now(zone).date())
        self._client = PaceClient(
            self.pace.url,
            credentials["login"],
            credentials["password"],
            company=self.pace.company or None,
            timeout=self.pace.timeout_seconds,
            call_deadline_seconds=self.pace.call_deadline_seconds,
            max_answer_bytes=self.pace.max_answer_bytes,
            max_wsdl_bytes=self.pace.max_wsdl_bytes,
            timezone=zone,
        )
        self._names: DateFieldNames | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the contract ---------------------------------------------------------------------------

    async def test_connection(self) -> ConnectionReport:
        try:
            names = await self._date_names()
            await self._client.find("Job", _where("test connection", job="esd-connection-test"))
        except DriverError as exc:
            return ConnectionReport(ok=False, detail=exc.message)
        return ConnectionReport(
            ok=True,
            detail=f"EFI Pace answers at {self.pace.url} ({names.style} date fields)",
        )

    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        today = await self._start(journal)
        plan = self._plan(order, items, today)
        push = _Push(self, order, plan, journal, today, await self._date_names())
        return await push.run(reference)

    async def find_pushed(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult | None:
        done = journal.get("done")
        if done is not None:
            found = _result_from_journal(done, items)
            if found is not None:
                return found
        jobs = await self._client.find("Job", _where("find job", **{REFERENCE_FIELD: reference}))
        if not jobs:
            return None
        job = min(jobs, key=_natural)
        plan = self._plan(order, items, self._today())
        part_numbers: list[str] = []
        for part in plan.parts:
            found_parts = await self._client.find(
                "JobPart", _where("find part", job=job, description=part.description)
            )
            if not found_parts:
                return None
            part_numbers.append(_part_number(min(found_parts, key=_natural)))
        if not await self._holds_rest(job, plan, part_numbers):
            return None
        customer = journal.get("customer")
        warnings = journal_warnings(customer, "customer") if customer is not None else ()
        ship_vias = _ShipVias(
            self._client, log.bind(account=self.account, order=order.order_number)
        )
        return PushResult(
            order_external_id=job,
            items=_item_refs(job, plan, part_numbers),
            warnings=warnings + await _ship_via_warnings(plan, journal, ship_vias),
        )

    def order_of_item(self, external_id: str) -> str | None:
        """The job of a JobPart key: "1001" of "1001:02"."""
        job, colon, _part = external_id.rpartition(":")
        return job if colon and job else None

    async def fetch_status(
        self, order: Order, pushed: Sequence[ItemRef], order_external_id: str
    ) -> Sequence[StatusReport]:
        job_number = order_external_id
        job = await self._client.read("Job", job_number)
        status = str(job.get("adminStatus") or "")
        existing = set(await self._client.find("JobPart", _where("find parts", job=job_number)))
        own_part: dict[int, str] = {}
        for ref in pushed:
            if ref.external_id not in existing:
                raise NotFound(
                    f"status of order {order.order_number}: job {job_number} has no part "
                    f"{ref.external_id} (item {ref.item_seq})"
                )
            own_part[ref.item_seq] = _part_number(ref.external_id)
        parts_of_item = self._shipment_parts(order, own_part)
        shipments = [
            await self._client.read("JobShipment", key)
            for key in sorted(
                await self._client.find("JobShipment", _where("find shipments", job=job_number)),
                key=_natural,
            )
        ]
        cartons: dict[int, list[dict[str, Any]]] = {}
        for shipment in shipments:
            if shipment.get("shipped"):
                keys = await self._client.find(
                    "Carton", _where("find cartons", shipment=int(shipment["id"]))
                )
                cartons[int(shipment["id"])] = [
                    await self._client.read("Carton", key) for key in sorted(keys, key=_natural)
                ]
        reports: list[StatusReport] = []
        for ref in pushed:
            mine = [
                s
                for s in shipments
                if s.get("shipped") and s.get("jobPart") in parts_of_item[ref.item_seq]
            ]
            tracking: list[str] = []
            shipped_at: dt.datetime | None = None
            for shipment in mine:
                numbers = [shipment.get("trackingNumber")] + [
                    carton.get("trackingNumber") for carton in cartons[int(shipment["id"])]
                ]
                tracking += [str(n) for n in numbers if n and str(n) not in tracking]
                when = shipment.get("dateTime") or shipment.get("date")
                if isinstance(when, dt.datetime) and (shipped_at is None or when > shipped_at):
                    shipped_at = when
            reports.append(
                StatusReport(
                    item_seq=ref.item_seq,
                    status=status,
                    tracking=tuple(dict.fromkeys(tracking)),
                    shipped_at=shipped_at,
                )
            )
        return reports

    # -- helpers --------------------------------------------------------------------------------

    async def _start(self, journal: PushJournal) -> dt.date:
        done = journal.get("start")
        if done is not None:
            text = journal_text(done, "today", "start")
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise PermanentError("push journal step 'start' has a malformed 'today'") from None
        today = self._today()
        await journal.record("start", {"today": today.isoformat()})
        return today

    async def _date_names(self) -> DateFieldNames:
        if self._names is None:
            if self.pace.date_fields == "auto":
                self._names = date_field_names_for(await self._client.job_promise_fields())
            else:
                self._names = date_field_names(self.pace.date_fields)
        return self._names

    def _settings_for(self, order: Order) -> PaceSettings:
        raw = self.site_settings.get(order.site, {})
        try:
            overrides = pace_settings.parse_site_overrides(raw)
        except ConfigError as exc:
            raise PermanentError(
                f"the EFI Pace settings of site {order.site!r} are not valid: {exc.message}"
            ) from None
        return self.pace.with_site(overrides)

    def _plan(self, order: Order, items: Sequence[OrderItem], today: dt.date) -> _Plan:
        settings = self._settings_for(order)
        site = site_mapping_for(settings.site_mapping, order.site_name, order.site)
        parts = job_parts(order, items, settings=settings, site=site, today=today)
        return _Plan(
            settings=settings,
            site=site,
            items=pushable_items(items),
            parts=parts,
            labels=tuple(part_label(order, p.item_seq, p.kit_child) for p in parts),
            shipments=shipments_for(order, parts, settings),
        )

    def _shipment_parts(self, order: Order, own_part: Mapping[int, str]) -> dict[int, set[str]]:
        """Item seq -> the Pace part numbers of the shipments that carry it."""
        carried = {seq: {number} for seq, number in own_part.items()}
        items = [order.item(seq) for seq in own_part]
        plan = self._plan(order, items, self._today())
        for shipment in plan.shipments:
            first = own_part.get(shipment.item_seqs[0])
            if first is None:
                continue
            for seq in shipment.item_seqs:
                carried.setdefault(seq, set()).add(first)
        return carried

    async def _holds_rest(self, job: str, plan: _Plan, part_numbers: Sequence[str]) -> bool:
        """Does Pace hold the materials, shipments, cartons and contents of a complete push?"""
        client = self._client
        for index, part in enumerate(plan.parts):
            if part.material is not None and not await client.find(
                "JobMaterial",
                _where(
                    "find material",
                    job=job,
                    jobPart=part_numbers[index],
                    inventoryItem=part.material.inventory_item,
                ),
            ):
                return False
        for shipment in plan.shipments:
            found = await client.find(
                "JobShipment",
                _where("find shipment", job=job, jobPart=part_numbers[shipment.part_index]),
            )
            if not found:
                return False
            shipment_id = int(min(found, key=_natural))
            cartons = sorted(
                await client.find("Carton", _where("find cartons", shipment=shipment_id)),
                key=_natural,
            )
            if len(cartons) < len(shipment.cartons):
                return False
            for carton_key, carton in zip(cartons, shipment.cartons, strict=False):
                for content in carton.contents:
                    if not await client.find(
                        "CartonContent",
                        _where(
                            "find carton content",
                            carton=int(carton_key),
                            jobPart=part_numbers[content.part_index],
                        ),
                    ):
                        return False
        return True


class _Push:
    """One run of `push_order`: the steps of the module docstring, resumed from the journal."""

    def __init__(
        self,
        driver: PaceDriver,
        order: Order,
        plan: _Plan,
        journal: PushJournal,
        today: dt.date,
        names: DateFieldNames,
    ) -> None:
        self.driver = driver
        self.client = driver._client
        self.order = order
        self.plan = plan
        self.journal = journal
        self.today = today
        self.names = names
        self.log = log.bind(account=driver.account, site=order.site, order=order.order_number)
        self.ship_vias = _ShipVias(self.client, self.log)
        # Within one push the same Contact is found twice (the orderer by e-mail, then as a
        # shipping location's contact): read it once. Contacts this push changes are not cached.
        self._contacts: dict[str, Mapping[str, Any]] = {}
        #: the job was created by this very run: its part 01 is the template's, free for us
        self.job_created_now = False
        #: objects as Pace last returned them in this push (create, read or update answers), by
        #: type and key: an update starts from one of these instead of reading it again
        self._current: dict[tuple[str, str], Mapping[str, Any]] = {}

    async def run(self, reference: str) -> PushResult:
        customer = await self._customer()
        contacts = await self._location_contacts(customer.customer_id)
        job = await self._job(customer.customer_id, reference)
        contact = job_contact_id(
            customer.contact_id, [contacts[s.location] for s in self.plan.shipments]
        )
        job_contact = (
            await self._job_contact(job, contact, customer.customer_id)
            if contact is not None
            else None
        )
        await self._job_fields(job, customer.customer_id, job_contact)
        part_numbers = await self._parts(job, job_contact)
        await self._materials(job, part_numbers)
        for shipment in self.plan.shipments:
            await self._shipment(job, shipment, part_numbers, contacts[shipment.location])
        result = PushResult(
            order_external_id=job,
            items=_item_refs(job, self.plan, part_numbers),
            warnings=customer.warnings
            + await _ship_via_warnings(self.plan, self.journal, self.ship_vias)
            + await self._earlier_shipments_warnings(job, contacts),
        )
        await self.journal.record(
            "done",
            {
                "job": job,
                "items": {str(ref.item_seq): ref.external_id for ref in result.items},
                "warnings": list(result.warnings),
            },
        )
        self.log.info("pace.pushed", job=job, parts=len(part_numbers))
        return result

    async def _earlier_shipments_warnings(
        self, job: str, contacts: Mapping[LocationKey, int]
    ) -> tuple[str, ...]:
        """A later push into the job (an item approved after the rest) ships to an address an
        earlier push already ships to: say so. Seed 004 makes one shipment per unique address
        of a push; esd does not add the new part to the earlier shipment, which may be packed,
        shipped or invoiced by now, so the shop merges them in Pace when they travel together.
        Only a job this run did not create can have shipments of an earlier push."""
        if self.job_created_now:
            return ()
        warnings = []
        per_contact = collections.Counter(contacts[s.location] for s in self.plan.shipments)
        for shipment in self.plan.shipments:
            contact = contacts[shipment.location]
            found = await self.client.find(
                "JobShipment",
                _where("find shipments to the contact", job=job, contactNumber=contact),
            )
            if len(found) > per_contact[contact]:
                seqs = ", ".join(str(seq) for seq in shipment.item_seqs)
                place = ", ".join(
                    part for part in (shipment.ship_to.address1, shipment.ship_to.city) if part
                )
                warnings.append(
                    f"order {self.order.order_number} item {seqs}: a shipment of its own to "
                    f"{place or 'the same address'}; job {job} already ships there from an "
                    "earlier push (merge them in Pace if they travel together)"
                )
        return tuple(warnings)

    # -- customer and contacts (seed step 3) ----------------------------------------------------

    async def _customer(self) -> _Customer:
        done = self.journal.get("customer")
        if done is not None:
            return _Customer.from_journal(done)
        settings = self.plan.settings
        fields = customer_fields(self.order.user, settings, self.today)
        pending = self.journal.get("customer.create")
        if pending is None:
            step = await self._decide_customer()
            if isinstance(step, CustomerNotIdentified):
                others = [alert for alert in step.alerts if alert != step.reason]
                also = f" (also: {'; '.join(others)})" if others else ""
                raise BusinessRuleError(f"{step.reason}{also}")
            if isinstance(step, UseCustomer):
                customer = _Customer(
                    step.customer_id, step.contact_id, str(step.source), step.alerts
                )
                self.log.info(
                    "pace.customer.found", customer=step.customer_id, source=str(step.source)
                )
                await self.journal.record("customer", customer.to_journal())
                return customer
            if not str(fields["custName"]):
                raise BusinessRuleError(
                    "cannot create the EFI Pace customer: the site user has no business name, "
                    "name or e-mail"
                )
            pending = {
                "existing": await self._customers_like(fields),
                "warnings": list(step.alerts),
            }
            await self.journal.record("customer.create", pending)
        customer = await self._create_customer(fields, pending)
        await self.journal.record("customer", customer.to_journal())
        return customer

    async def _decide_customer(self) -> UseCustomer | CreateCustomer | CustomerNotIdentified:
        facts = CustomerFacts.for_order(self.order, self.plan.settings)
        while True:
            step = next_customer_step(facts)
            if isinstance(step, CheckCustomer):
                facts = facts.with_check(step.customer_id, await self._customer_valid(step))
            elif isinstance(step, FindContactsByEmail):
                facts = facts.with_contacts(await self._contacts_by_email(step.email))
            elif isinstance(step, FindCustomersByEmail):
                facts = facts.with_customers(await self._customers_by_email(step.email))
            else:
                return step

    async def _customer_valid(self, step: CheckCustomer) -> bool:
        try:
            record = await self.client.read("Customer", step.customer_id)
        except NotFound:
            return False
        return _active(record)

    async def _contacts_by_email(self, email: str) -> list[FoundContact]:
        keys = await self.client.find(
            "Contact", _where("find contacts by e-mail", email=email, active=True)
        )
        found = []
        for key in sorted(keys, key=_natural):
            contact = await self._read_contact(key)
            found.append(FoundContact(int(contact["id"]), str(contact.get("customer") or "")))
        return found

    async def _read_contact(self, key: str) -> Mapping[str, Any]:
        """A Contact, read at most once per push (see `_contacts`)."""
        if key not in self._contacts:
            self._contacts[key] = await self.client.read("Contact", key)
        return self._contacts[key]

    async def _customers_by_email(self, email: str) -> list[FoundCustomer]:
        keys = await self.client.find("Customer", _where("find customers by e-mail", email=email))
        found = []
        for key in sorted(keys, key=_natural):
            customer = await self.client.read("Customer", key)
            if _active(customer):
                found.append(
                    FoundCustomer(str(customer["id"]), str(customer.get("custName") or ""))
                )
        return found

    async def _customers_like(self, fields: Mapping[str, object]) -> list[str]:
        """Ids of the customers a create of `fields` would be indistinguishable from."""
        conditions: dict[str, Value] = {"custName": str(fields["custName"])}
        if fields.get("email"):
            conditions["email"] = str(fields["email"])
        return sorted(await self.client.find("Customer", _where("find customer", **conditions)))

    async def _create_customer(
        self, fields: Mapping[str, object], pending: Mapping[str, Any]
    ) -> _Customer:
        existing = pending.get("existing")
        if not isinstance(existing, list):
            raise PermanentError("push journal step 'customer.create' has no 'existing' list")
        ours = [key for key in await self._customers_like(fields) if key not in existing]
        if ours:
            # An earlier attempt created it but never heard back.
            customer_id = min(ours, key=_natural)
            self.log.info("pace.customer.found_created", customer=customer_id)
        else:
            created = await self.client.create("Customer", fields)
            customer_id = str(created["id"])
            self.log.info("pace.customer.created", customer=customer_id)
        contact_id = await self._orderer_contact(customer_id)
        return _Customer(
            customer_id, contact_id, "created", journal_warnings(pending, "customer.create")
        )

    async def _orderer_contact(self, customer_id: str) -> int:
        """The new customer's contact: one already there (ours, or Pace's), else created."""
        fields = orderer_contact_fields(self.order.user, customer_id)
        conditions: dict[str, Value] = {"customer": customer_id}
        if fields["email"]:
            conditions["email"] = str(fields["email"])
        keys = await self.client.find("Contact", _where("find contact", **conditions))
        if keys:
            return min(int(key) for key in keys)
        created = await self.client.create("Contact", fields)
        self.log.info("pace.contact.created", customer=customer_id, contact=created["id"])
        return int(created["id"])

    async def _location_contacts(self, customer_id: str) -> dict[LocationKey, int]:
        contacts: dict[LocationKey, int] = {}
        for shipment in self.plan.shipments:
            if shipment.location not in contacts:
                contacts[shipment.location] = await self._location_contact(shipment, customer_id)
        return contacts

    async def _location_contact(self, shipment: ShipmentFields, customer_id: str) -> int:
        """The Contact of one unique shipping location: found, or created as decided."""
        decided: list[CreateContact] = []  # what `find` decided to create, if anything

        async def find() -> int | None:
            location = shipment.ship_to
            candidates = await self._contacts_at(location, customer_id)
            decision = decide_location_contact(
                location, candidates, customer_id=customer_id, settings=self.plan.settings
            )
            if isinstance(decision, CustomerNotIdentified):
                raise BusinessRuleError(decision.reason)
            if isinstance(decision, UseContact):
                return decision.contact_id
            decided.append(decision)
            return None

        async def create() -> int:
            return await self._create_contact(decided[0])

        return await ensure_step(
            self.journal,
            f"contact:{_digest(shipment.location)}",
            "contact",
            read=journal_int,
            find=find,
            create=create,
        )

    async def _contacts_at(self, location: Address, customer_id: str) -> list[PaceContact]:
        """The customer's contacts that may be this location's (narrowed by one field)."""
        conditions: dict[str, Value] = {"customer": customer_id}
        for field, value in (
            ("email", location.email),
            ("address1", location.address1),
            ("zip", location.zip),
            ("city", location.city),
        ):
            if value.strip():
                conditions[field] = value.strip()
                break
        keys = await self.client.find("Contact", _where("find contacts", **conditions))
        return [
            PaceContact.from_pace(await self._read_contact(key))
            for key in sorted(keys, key=_natural)
        ]

    async def _create_contact(self, decision: CreateContact) -> int:
        created = await self.client.create("Contact", decision.fields)
        self.log.info("pace.contact.created", contact=created["id"])
        return int(created["id"])

    # -- the job (seed step 4) ------------------------------------------------------------------

    def _job_map(self, customer_id: str, job_contact: int | None = None) -> dict[str, object]:
        fields = job_fields(
            self.order,
            self.plan.items,
            customer_id=customer_id,
            settings=self.plan.settings,
            site=self.plan.site,
            today=self.today,
        )
        return fields.to_pace(self.names, job_contact=job_contact)

    async def _job(self, customer_id: str, reference: str) -> str:
        async def find() -> str | None:
            found = await self.client.find(
                "Job", _where("find job", **{REFERENCE_FIELD: reference})
            )
            if not found:
                return None
            job = min(found, key=_natural)
            self.log.info("pace.job.found", reference=reference, job=job)
            return job

        async def create() -> str:
            mapped = self._job_map(customer_id)
            fields: dict[str, object] = {k: mapped[k] for k in JOB_CREATE_FIELDS if k in mapped}
            fields[REFERENCE_FIELD] = reference
            created = await self.client.create("Job", fields)
            job = str(created["job"])
            self._current[("Job", job)] = created
            self.job_created_now = True
            self.log.info("pace.job.created", reference=reference, job=job)
            return job

        return await ensure_step(
            self.journal, "job", "job", read=journal_text, find=find, create=create
        )

    async def _job_contact(self, job: str, contact_id: int, customer_id: str) -> int:
        async def find() -> int | None:
            found = await self.client.find(
                "JobContact", _where("find job contact", job=job, contact=contact_id)
            )
            return min(int(key) for key in found) if found else None

        async def create() -> int:
            created = await self.client.create(
                "JobContact", job_contact_fields(job, contact_id, customer_id)
            )
            return int(created["id"])

        return await ensure_step(
            self.journal, "job_contact", "job_contact", read=journal_int, find=find, create=create
        )

    async def _job_fields(self, job: str, customer_id: str, job_contact: int | None) -> None:
        if self.journal.get("job_fields") is not None:
            return
        await self._update_whole("Job", {"job": job}, self._job_map(customer_id, job_contact))
        await self.journal.record("job_fields", {"job_contact": job_contact})

    # -- parts and materials (seed step 5) ------------------------------------------------------

    async def _parts(self, job: str, job_contact: int | None) -> list[str]:
        return [
            await self._part(job, part, label, job_contact)
            for part, label in zip(self.plan.parts, self.plan.labels, strict=True)
        ]

    async def _part(self, job: str, part: PartFields, label: str, job_contact: int | None) -> str:
        """The part's number: part 01 if it is free, else found or created; then updated."""
        fields: dict[str, object] = {}  # mapped only when the step is not journaled yet

        async def find() -> str | None:
            fields.update(part.to_pace(self.names, job_contact=job_contact))
            if part.update_part_01 and await self._part_01_is_free(job, part):
                return "01"
            return await self._find_part(job, part)

        async def create() -> str:
            return await self._create_part(job, fields)

        async def finish(number: str) -> None:
            await self._update_whole("JobPart", {"job": job, "jobPart": number}, fields)
            self.log.info("pace.part.updated", job=job, part=number, label=label)

        return await ensure_step(
            self.journal,
            f"part:{label}",
            "part",
            read=journal_text,
            find=find,
            create=create,
            finish=finish,
        )

    async def _update_whole(
        self, object_type: str, key: Mapping[str, str], changes: Mapping[str, object]
    ) -> None:
        """Read-modify-write (module docstring): `changes` over the current object, sent whole."""
        text = ":".join(key.values())
        current = self._current.pop((object_type, text), None)
        if current is None:
            current = await self.client.read(object_type, text)
        sendable = set(await self.client.update_fields(object_type))
        whole: dict[str, object] = {k: v for k, v in current.items() if k in sendable}
        whole.update(_updatable(changes))
        whole.update(key)
        self._current[(object_type, text)] = await self.client.update(object_type, whole)

    async def _part_01_is_free(self, job: str, part: PartFields) -> bool:
        """Part 01 is this part's unless another item of the order already holds it."""
        if self.job_created_now:  # Pace made part 01 with the job a moment ago: nobody holds it
            return True
        try:
            current = await self.client.read("JobPart", f"{job}:01")
        except NotFound:  # the shop deleted it: the part gets a new one
            return False
        self._current[("JobPart", f"{job}:01")] = current
        description = str(current.get("description") or "")
        if description == part.description:
            return True
        held = re.match(rf"{re.escape(self.order.order_number)}-\d+(\.\d+)?(\s|$)", description)
        return held is None

    async def _find_part(self, job: str, part: PartFields) -> str | None:
        found = await self.client.find(
            "JobPart", _where("find part", job=job, description=part.description)
        )
        return _part_number(min(found, key=_natural)) if found else None

    async def _create_part(self, job: str, fields: Mapping[str, object]) -> str:
        wanted = {key: fields[key] for key in PART_CREATE_FIELDS if key in fields}
        created = await self.client.create("JobPart", {"job": job, **wanted})
        self._current[("JobPart", f"{job}:{created['jobPart']}")] = created
        self.log.info("pace.part.created", job=job, part=created["jobPart"])
        return str(created["jobPart"])

    async def _materials(self, job: str, numbers: Sequence[str]) -> None:
        for index, part in enumerate(self.plan.parts):
            if part.material is not None:
                await self._material(
                    job, part.material, numbers[index], f"material:{self.plan.labels[index]}"
                )

    async def _material(self, job: str, material: MaterialFields, number: str, step: str) -> None:
        """The part's JobMaterial."""

        async def find() -> int | None:
            found = await self.client.find(
                "JobMaterial",
                _where(
                    "find material",
                    job=job,
                    jobPart=number,
                    inventoryItem=material.inventory_item,
                ),
            )
            return min(int(key) for key in found) if found else None

        async def create() -> int:
            created = await self.client.create(
                "JobMaterial",
                {
                    "job": job,
                    "jobPart": number,
                    "jobPartKey": f"{job}:{number}",
                    **material.to_pace(),
                },
            )
            return int(created["id"])

        await ensure_step(
            self.journal, step, "material", read=journal_int, find=find, create=create
        )

    # -- shipments, cartons, contents (seed step 6) ---------------------------------------------

    async def _shipment(
        self, job: str, shipment: ShipmentFields, numbers: Sequence[str], contact_id: int
    ) -> None:
        label = self.plan.shipment_label(shipment)
        number = numbers[shipment.part_index]
        # The Ship Via the method name resolves to: journaled with the step, else looked up
        # before the find (the create needs it, and the step records it either way).
        by_name: list[_ShipViaByName] = []

        def read(done: Mapping[str, Any], key: str, step: str) -> int:
            journaled = _ShipViaByName.from_journal(done, step)
            if journaled is not None:
                self.ship_vias.remember(journaled)
            return journal_int(done, key, step)

        async def find() -> int | None:
            if shipment.ship_via_name:
                by_name.append(await self.ship_vias.resolve(shipment.ship_via_name))
            found = await self.client.find(
                "JobShipment",
                _where("find shipment", job=job, jobPart=number, contactNumber=contact_id),
            )
            return min(int(key) for key in found) if found else None

        async def create() -> int:
            resolved = by_name[0] if by_name else None
            fields = {
                "job": job,
                "jobPart": number,
                "jobPartKey": f"{job}:{number}",
                "contactNumber": contact_id,
                **shipment.to_pace(ship_via=resolved.ship_via if resolved else None),
            }
            if resolved is not None and resolved.ship_via is None:
                fields["shipViaNote"] = shipment.ship_via_name
            created = await self.client.create("JobShipment", fields)
            shipment_id = int(created["id"])
            self.log.info("pace.shipment.created", job=job, shipment=shipment_id)
            return shipment_id

        shipment_id = await ensure_step(
            self.journal,
            f"shipment:{label}",
            "shipment",
            read=read,
            find=find,
            create=create,
            extra=lambda: by_name[0].to_journal() if by_name else {},
        )
        for n, carton in enumerate(shipment.cartons, start=1):
            carton_id = await self._carton(shipment_id, carton, f"carton:{label}:{n}", n)
            for content in carton.contents:
                await self._content(
                    job,
                    carton_id,
                    content,
                    numbers[content.part_index],
                    f"content:{label}:{n}:{self.plan.labels[content.part_index]}",
                )

    async def _carton(self, shipment_id: int, carton: CartonFields, step: str, n: int) -> int:
        """The shipment's n-th carton (cartons are created one after the other)."""

        async def find() -> int | None:
            found = sorted(
                await self.client.find("Carton", _where("find cartons", shipment=shipment_id)),
                key=_natural,
            )
            return int(found[n - 1]) if len(found) >= n else None

        async def create() -> int:
            created = await self.client.create(
                "Carton", {"shipment": shipment_id, **carton.to_pace()}
            )
            return int(created["id"])

        return await ensure_step(
            self.journal, step, "carton", read=journal_int, find=find, create=create
        )

    async def _content(
        self, job: str, carton_id: int, content: CartonContentFields, number: str, step: str
    ) -> None:
        """One CartonContent: the carton's share of one part."""

        async def find() -> int | None:
            found = await self.client.find(
                "CartonContent",
                _where("find carton content", carton=carton_id, jobPart=number),
            )
            return min(int(key) for key in found) if found else None

        async def create() -> int:
            created = await self.client.create(
                "CartonContent",
                {
                    "carton": carton_id,
                    "job": job,
                    "jobPartJob": job,
                    "jobPart": number,
                    "jobPartKey": f"{job}:{number}",
                    **content.to_pace(),
                },
            )
            return int(created["id"])

        await ensure_step(self.journal, step, "content", read=journal_int, find=find, create=create)


# -- pure helpers ----------------------------------------------------------------------------------


def _active(customer: Mapping[str, Any]) -> bool:
    status = str(customer.get("customerStatus") or "").strip().upper()
    return status not in INACTIVE_CUSTOMER_STATUSES


def _updatable(fields: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in fields.items() if key not in _NOT_UPDATED}


def _digest(location: LocationKey) -> str:
    return hashlib.sha256("\x1f".join(location).encode()).hexdigest()[:16]


def _item_refs(job: str, plan: _Plan, numbers: Sequence[str]) -> tuple[ItemRef, ...]:
    first: dict[int, str] = {}
    for part, number in zip(plan.parts, numbers, strict=True):
        first.setdefault(part.item_seq, number)
    return tuple(ItemRef(item.seq, f"{job}:{first[item.seq]}") for item in plan.items)


async def _ship_via_warnings(
    plan: _Plan, journal: PushJournal, ship_vias: _ShipVias
) -> tuple[str, ...]:
    """One warning per MatchByName name that matched no Ship Via: journaled answers first."""
    by_name = [shipment for shipment in plan.shipments if shipment.ship_via_name]
    for shipment in by_name:
        step = f"shipment:{plan.shipment_label(shipment)}"
        done = journal.get(step)
        journaled = _ShipViaByName.from_journal(done, step) if done is not None else None
        if journaled is not None:
            ship_vias.remember(journaled)
    warnings: list[str] = []
    for shipment in by_name:
        warning = (await ship_vias.resolve(shipment.ship_via_name)).warning()
        if warning is not None and warning not in warnings:
            warnings.append(warning)
    return tuple(warnings)


def _result_from_journal(done: Mapping[str, Any], items: Sequence[OrderItem]) -> PushResult | None:
    job = journal_text(done, "job", "done")
    refs = done.get("items")
    if not isinstance(refs, Mapping):
        raise PermanentError("push journal step 'done' has no 'items'")
    found = []
    for item in items:
        external = refs.get(str(item.seq))
        if not isinstance(external, str) or not external:
            return None
        found.append(ItemRef(item.seq, external))
    return PushResult(
        order_external_id=job, items=tuple(found), warnings=journal_warnings(done, "done")
    )


driver_class = PaceDriver


def alert_emails(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The seed's "Alert emails" parameter: who hears of this account's alerts."""
    found: list[tuple[str, str]] = []
    return tuple(pace_settings.alert_email_addresses(settings.get("alert_emails"), found))
