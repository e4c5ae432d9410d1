"""What the pure mapping makes of one order before anything is sent to Pace (`PushPlan`), and
the pure pieces of a push's result: the items' external ids, a finished push read back from its
journal, a shipping location's journal step name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.errors import ConfigError, PermanentError
from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import ItemRef, PushResult
from daemon.providers.kit import journal_text, journal_warnings
from daemon.providers.pace import settings as pace_settings
from daemon.providers.pace.customer_resolution import LocationKey
from daemon.providers.pace.job_mapping import PartFields, job_parts, part_label, pushable_items
from daemon.providers.pace.settings import PaceSettings
from daemon.providers.pace.shipment_mapping import ShipmentFields, shipments_for
from daemon.providers.pace.site_rules import SiteMapping, site_mapping_for

__all__ = [
    "PushPlan",
    "item_refs",
    "location_digest",
    "plan_push",
    "result_from_journal",
    "settings_for_site",
]


@dataclasses.dataclass(frozen=True, slots=True)
class PushPlan:
    """What the pure mapping makes of one order, before anything is sent."""

    settings: PaceSettings
    site: SiteMapping
    items: tuple[OrderItem, ...]
    parts: tuple[PartFields, ...]
    labels: tuple[str, ...]  # part_label of each part
    shipments: tuple[ShipmentFields, ...]

    def shipment_label(self, shipment: ShipmentFields) -> str:
        return self.labels[shipment.part_index]


def settings_for_site(
    account: PaceSettings, site_settings: Mapping[str, Mapping[str, Any]], order: Order
) -> PaceSettings:
    """The account's settings with the order's site activation's overrides over them."""
    raw = site_settings.get(order.site, {})
    try:
        overrides = pace_settings.parse_site_overrides(raw)
    except ConfigError as exc:
        raise PermanentError(
            f"the EFI Pace settings of site {order.site!r} are not valid: {exc.message}"
        ) from None
    return account.with_site(overrides)


def plan_push(
    settings: PaceSettings, order: Order, items: Sequence[OrderItem], today: dt.date
) -> PushPlan:
    """The parts and shipments of `items` (`settings`: the site's, see `settings_for_site`)."""
    site = site_mapping_for(settings.site_mapping, order.site_name, order.site)
    parts = job_parts(order, items, settings=settings, site=site, today=today)
    return PushPlan(
        settings=settings,
        site=site,
        items=pushable_items(items),
        parts=parts,
        labels=tuple(part_label(order, p.item_seq, p.kit_child) for p in parts),
        shipments=shipments_for(order, parts, settings),
    )


def item_refs(job: str, plan: PushPlan, numbers: Sequence[str]) -> tuple[ItemRef, ...]:
    """Each item's external id: "{job}:{part}" of its first part (a kit's first child)."""
    first: dict[int, str] = {}
    for part, number in zip(plan.parts, numbers, strict=True):
        first.setdefault(part.item_seq, number)
    return tuple(ItemRef(item.seq, f"{job}:{first[item.seq]}") for item in plan.items)


def location_digest(location: LocationKey) -> str:
    """The journal step name's part for one shipping location ("contact:<digest>")."""
    return hashlib.sha256("\x1f".join(location).encode()).hexdigest()[:16]


def result_from_journal(done: Mapping[str, Any], items: Sequence[OrderItem]) -> PushResult | None:
    """The result the "done" step recorded, if it names every one of `items`."""
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
