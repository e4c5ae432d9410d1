"""Status by polling (`PaceDriver.fetch_status`): the Job's `adminStatus` code (what the shop
moves: "O" open, "C" closed, ...), the same for every item; tracking numbers come from the
shipped JobShipments that carry the item (its own part, or the shipment its location was mapped
to) and their cartons. That `shipped` = true means the shipment left the shop is guessed
(`guesses.SHIPPED_FIELD`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.errors import NotFound
from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import ItemRef, StatusReport
from daemon.providers.pace.guesses import (
    SHIPMENT_DATE_FIELD,
    SHIPMENT_LEGACY_DATE_FIELDS,
    SHIPPED_FIELD,
)
from daemon.providers.pace.lookups import natural as _natural
from daemon.providers.pace.lookups import part_number as _part_number
from daemon.providers.pace.lookups import where as _where
from daemon.providers.pace.push_plan import PushPlan
from daemon.providers.pace.soap_client import PaceClient

__all__ = ["fetch_status", "job_of_item", "shipment_parts", "shipment_shipped_at"]


def shipment_shipped_at(shipment: Mapping[str, Any]) -> dt.datetime | None:
    """When a JobShipment was shipped, as Pace answered it (UTC): its `dateTime` on newer servers;
    on older ones its `date` with the clock time of its `time`, a time of day on 1970-01-01
    (pace.md §2, §6 "Version drift"; `guesses.SHIPMENT_LEGACY_DATE_FIELDS`). A `date` without a
    `time` is taken as it is."""
    combined = shipment.get(SHIPMENT_DATE_FIELD)
    if isinstance(combined, dt.datetime):
        return combined
    date_field, time_field = SHIPMENT_LEGACY_DATE_FIELDS
    day = shipment.get(date_field)
    if not isinstance(day, dt.date):
        return None
    clock = shipment.get(time_field)
    if not isinstance(day, dt.datetime):
        day = dt.datetime.combine(day, dt.time(), dt.UTC)
    if isinstance(clock, dt.datetime):
        return dt.datetime.combine(day.date(), clock.time(), day.tzinfo)
    return day


def job_of_item(external_id: str) -> str | None:
    """The job of a JobPart key: "1001" of "1001:02"."""
    job, colon, _part = external_id.rpartition(":")
    return job if colon and job else None


def shipment_parts(plan: PushPlan, own_part: Mapping[int, str]) -> dict[int, set[str]]:
    """Item seq -> the Pace part numbers of the shipments that carry it (`plan`: of the items
    of `own_part`, item seq -> its own part number)."""
    carried = {seq: {number} for seq, number in own_part.items()}
    for shipment in plan.shipments:
        first = own_part.get(shipment.item_seqs[0])
        if first is None:
            continue
        for seq in shipment.item_seqs:
            carried.setdefault(seq, set()).add(first)
    return carried


async def fetch_status(
    client: PaceClient,
    order: Order,
    pushed: Sequence[ItemRef],
    job_number: str,
    plan_for: Callable[[Sequence[OrderItem]], PushPlan],
) -> list[StatusReport]:
    """The status and tracking of each pushed item of job `job_number`; `plan_for` plans the
    push of some of the order's items (which shipment carries which item)."""
    job = await client.read("Job", job_number)
    status = str(job.get("adminStatus") or "")
    existing = set(await client.find("JobPart", _where("find parts", job=job_number)))
    own_part: dict[int, str] = {}
    for ref in pushed:
        if ref.external_id not in existing:
            raise NotFound(
                f"status of order {order.order_number}: job {job_number} has no part "
                f"{ref.external_id} (item {ref.item_seq})"
            )
        own_part[ref.item_seq] = _part_number(ref.external_id)
    plan = plan_for([order.item(seq) for seq in own_part])
    parts_of_item = shipment_parts(plan, own_part)
    shipments = [
        await client.read("JobShipment", key)
        for key in sorted(
            await client.find("JobShipment", _where("find shipments", job=job_number)),
            key=_natural,
        )
    ]
    cartons: dict[int, list[dict[str, Any]]] = {}
    for shipment in shipments:
        if shipment.get(SHIPPED_FIELD):
            keys = await client.find("Carton", _where("find cartons", shipment=int(shipment["id"])))
            cartons[int(shipment["id"])] = [
                await client.read("Carton", key) for key in sorted(keys, key=_natural)
            ]
    reports: list[StatusReport] = []
    for ref in pushed:
        mine = [
            s
            for s in shipments
            if s.get(SHIPPED_FIELD) and s.get("jobPart") in parts_of_item[ref.item_seq]
        ]
        tracking: list[str] = []
        shipped_at: dt.datetime | None = None
        for shipment in mine:
            numbers = [shipment.get("trackingNumber")] + [
                carton.get("trackingNumber") for carton in cartons[int(shipment["id"])]
            ]
            tracking += [str(n) for n in numbers if n and str(n) not in tracking]
            when = shipment_shipped_at(shipment)
            if when is not None and (shipped_at is None or when > shipped_at):
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
