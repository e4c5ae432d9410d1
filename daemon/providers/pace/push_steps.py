"""The push steps of one order: an order becomes one Job with its parts, contacts, materials,
shipments and cartons, exactly once however often the push is interrupted. `Push.run` is the
whole push; each create is one `daemon.providers.kit.ensure_step` (journal -> find -> create ->
record). The customer and contact steps are `push_customer`'s.

No create of Pace's is idempotent, so every create is guarded twice, as in
`daemon.providers.reference.driver`: the journal says which steps finished, and before creating,
the push looks in Pace for what an earlier attempt may have created without hearing the answer.

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
                                was resolved to (ship_via)                   {"ship_via_name",
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
  chosen because the seed-004 mapping writes nothing there and the field exists (the swagger
  and both object schemas in `wsdl/` have it; that FindObjects can filter on it is a guess,
  `guesses.PUSH_REFERENCE_FIELD`, which also says what happens if Pace refuses the filter: there
  is no fallback): `poNum` carries the PO number,
  `description`/`description2` are templates and notes, `reference` is a free text field the
  shop's staff see and edit on the job, and `webOrderID`/`webID` belong to EFI's own web-to-print
  integrations, which a shop may run beside esd. importID is the identity of a record that came
  from another system, which is exactly what this is. [GUESS: Pace keeps the value as sent;
  no source says Pace's own import tools overwrite it on jobs they did not import.]
- JobShipment: linked to its ship-to Contact by `contactNumber` (`guesses.SHIPMENT_CONTACT_FIELD`:
  seen in code; EFI's sample sets `jobContact` instead).
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
  (re-sending our value could make Pace apply the template again [GUESS,
  `guesses.NOT_RESENT_ON_UPDATE`]); sending the create fields
  again is what overrides "template default values" (seed steps 4 and 5).
- Updates are read-modify-write, as EFI's guide and every client seen (RG, SDK-J) do them: the
  object as Pace last returned it in this push (the create's answer, the read that checked part
  01, an earlier update's answer), else read once, with the mapped fields over it, is sent
  WHOLE. The fields seed 004 does not map (the Job template's sales person, terms, ship via,
  Csr; `customer` and `itemTemplate`) go back as Pace had them. [GUESS, pace.md §2: a field
  left out of an update's object may be cleared like a nil one; no EFI source says a partial
  object keeps them (`guesses.LEFT_OUT_ON_UPDATE`). The sandbox clears them.] The one extra call
  is the read of part 01 of a job this push created (Pace makes it with the job; no answer
  carried it), and of a job or part found again after a lost answer.
- The item's external id is "{job}:{part}" of its first part (a kit's first child).
"""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import structlog

from daemon.errors import NotFound
from daemon.orders.model import Order
from daemon.providers.contract import PushJournal, PushResult
from daemon.providers.kit import ensure_step, journal_int, journal_text
from daemon.providers.pace.customer_resolution import LocationKey, job_contact_id
from daemon.providers.pace.guesses import (
    NOT_RESENT_ON_UPDATE,
    PUSH_REFERENCE_FIELD,
    SHIPMENT_CONTACT_FIELD,
)
from daemon.providers.pace.job_mapping import (
    JOB_CREATE_FIELDS,
    PART_CREATE_FIELDS,
    DateFieldNames,
    MaterialFields,
    PartFields,
    job_contact_fields,
    job_fields,
)
from daemon.providers.pace.lookups import natural as _natural
from daemon.providers.pace.lookups import part_number as _part_number
from daemon.providers.pace.lookups import where as _where
from daemon.providers.pace.push_customer import CustomerSteps
from daemon.providers.pace.push_plan import PushPlan, item_refs
from daemon.providers.pace.ship_via import ShipViaByName as _ShipViaByName
from daemon.providers.pace.ship_via import ShipVias as _ShipVias
from daemon.providers.pace.shipment_mapping import (
    CartonContentFields,
    CartonFields,
    ShipmentFields,
)
from daemon.providers.pace.soap_client import PaceClient

__all__ = ["REFERENCE_FIELD", "Push", "ship_via_warnings"]

#: the Job field that carries the push reference (see the module docstring for the choice)
REFERENCE_FIELD: Final = PUSH_REFERENCE_FIELD
# fields an update never re-sends (see the module docstring)
_NOT_UPDATED: Final = NOT_RESENT_ON_UPDATE

log = structlog.get_logger(__name__)


class Push:
    """One run of `push_order`: the steps of the module docstring, resumed from the journal."""

    def __init__(
        self,
        client: PaceClient,
        account: str,
        order: Order,
        plan: PushPlan,
        journal: PushJournal,
        today: dt.date,
        names: DateFieldNames,
    ) -> None:
        self.client = client
        self.order = order
        self.plan = plan
        self.journal = journal
        self.today = today
        self.names = names
        self.log = log.bind(account=account, site=order.site, order=order.order_number)
        self.ship_vias = _ShipVias(self.client, self.log)
        self.customers = CustomerSteps(client, order, plan, journal, today, self.log)
        #: the job was created by this very run: its part 01 is the template's, free for us
        self.job_created_now = False
        #: objects as Pace last returned them in this push (create, read or update answers), by
        #: type and key: an update starts from one of these instead of reading it again
        self._current: dict[tuple[str, str], Mapping[str, Any]] = {}

    async def run(self, reference: str) -> PushResult:
        customer = await self.customers.customer()
        contacts = await self.customers.location_contacts(customer.customer_id)
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
            items=item_refs(job, self.plan, part_numbers),
            warnings=customer.warnings
            + await ship_via_warnings(self.plan, self.journal, self.ship_vias)
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
                _where(
                    "find shipments to the contact", job=job, **{SHIPMENT_CONTACT_FIELD: contact}
                ),
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
                _where(
                    "find shipment", job=job, jobPart=number, **{SHIPMENT_CONTACT_FIELD: contact_id}
                ),
            )
            return min(int(key) for key in found) if found else None

        async def create() -> int:
            resolved = by_name[0] if by_name else None
            fields = {
                "job": job,
                "jobPart": number,
                "jobPartKey": f"{job}:{number}",
                SHIPMENT_CONTACT_FIELD: contact_id,
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


def _updatable(fields: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in fields.items() if key not in _NOT_UPDATED}


async def ship_via_warnings(
    plan: PushPlan, journal: PushJournal, ship_vias: _ShipVias
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
