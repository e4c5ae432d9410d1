"""A push found again in Pace when its journal is lost (`PaceDriver.find_pushed`): the job by
its push reference, each part by its description, then every material, shipment, carton and
carton content a complete push makes. Whatever is missing means the push is not complete (None),
and `push_order` makes the rest; `push_steps` finds each object the same way before creating it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import PushJournal, PushResult
from daemon.providers.kit import journal_warnings
from daemon.providers.pace.lookups import natural as _natural
from daemon.providers.pace.lookups import part_number as _part_number
from daemon.providers.pace.lookups import where as _where
from daemon.providers.pace.push_plan import PushPlan, item_refs, result_from_journal
from daemon.providers.pace.push_steps import REFERENCE_FIELD, ship_via_warnings
from daemon.providers.pace.ship_via import ShipVias as _ShipVias
from daemon.providers.pace.soap_client import PaceClient

__all__ = ["find_pushed"]

log = structlog.get_logger(__name__)


async def find_pushed(
    client: PaceClient,
    account: str,
    order: Order,
    items: Sequence[OrderItem],
    journal: PushJournal,
    reference: str,
    plan_for: Callable[[], PushPlan],
) -> PushResult | None:
    """The result of a complete push of `items`, from the journal or found in Pace; `plan_for`
    plans the push (only once a job with the reference is found)."""
    done = journal.get("done")
    if done is not None:
        found = result_from_journal(done, items)
        if found is not None:
            return found
    jobs = await client.find("Job", _where("find job", **{REFERENCE_FIELD: reference}))
    if not jobs:
        return None
    job = min(jobs, key=_natural)
    plan = plan_for()
    part_numbers: list[str] = []
    for part in plan.parts:
        found_parts = await client.find(
            "JobPart", _where("find part", job=job, description=part.description)
        )
        if not found_parts:
            return None
        part_numbers.append(_part_number(min(found_parts, key=_natural)))
    if not await _holds_rest(client, job, plan, part_numbers):
        return None
    customer = journal.get("customer")
    warnings = journal_warnings(customer, "customer") if customer is not None else ()
    ship_vias = _ShipVias(client, log.bind(account=account, order=order.order_number))
    return PushResult(
        order_external_id=job,
        items=item_refs(job, plan, part_numbers),
        warnings=warnings + await ship_via_warnings(plan, journal, ship_vias),
    )


async def _holds_rest(
    client: PaceClient, job: str, plan: PushPlan, part_numbers: Sequence[str]
) -> bool:
    """Does Pace hold the materials, shipments, cartons and contents of a complete push?"""
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
