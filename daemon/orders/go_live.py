"""Going live beside the hosted Embedded Services: which items esd leaves alone or adopts.

A shop that switches from Pressero's hosted integration already has its recent orders in the
MIS (seed 003, "Switching to Embedded Services Integration"). Pure decisions, no I/O:

- the cut-off: the later of the activation's `push_orders_placed_after` and the moment the
  (site, account) activation first went live in this store. Orders placed before it are never
  pushed unless the operator asks (`esd push`). Storefront dates are whole seconds, so the
  cut-off is compared at whole seconds: an order stamped in the second esd went live counts
  as placed after it.
- adoption: an item whose storefront MisId esd did not write (it is none of the external ids
  esd recorded for that item, under any account) was pushed by someone else; it is adopted as
  pushed with that id, never pushed again, and its MisId is never overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection

from daemon.config import Activation

__all__ = ["CutOff", "cut_off", "is_foreign_mis_id", "placed_before", "skip_reason"]


@dataclasses.dataclass(frozen=True, slots=True)
class CutOff:
    """Orders placed before `at` are left alone; `source` names the setting that set it."""

    at: dt.datetime
    source: str  # "push_orders_placed_after" or "first live"


def cut_off(placed_after: dt.datetime | None, first_live: dt.datetime | None) -> CutOff | None:
    """The later of the configured cut-off and the first-live moment (None: no cut-off)."""
    candidates = [
        CutOff(_whole_second(when), source)
        for when, source in (
            (placed_after, "push_orders_placed_after"),
            (first_live, "first live"),
        )
        if when is not None
    ]
    if not candidates:
        return None
    # On a tie the configured setting is named: it is the one the operator can change.
    return max(candidates, key=lambda c: (c.at, c.source == "push_orders_placed_after"))


def placed_before(order_date: dt.datetime | None, limit: CutOff | None) -> bool:
    """Whether an order placed at `order_date` is before the cut-off (no date: it is not)."""
    if order_date is None or limit is None:
        return False
    return _utc(order_date) < limit.at


def skip_reason(
    activation: Activation,
    order_date: dt.datetime | None,
    limit: CutOff | None,
    *,
    operator_asked: bool,
) -> str | None:
    """Why an item that esd did not adopt is never pushed for this activation, or None."""
    if activation.orders == "status_only":
        return (
            'orders = "status_only": esd creates nothing in the MIS for this activation, and '
            "the storefront item carries no MisId to adopt"
        )
    if operator_asked or not placed_before(order_date, limit):
        return None
    assert order_date is not None and limit is not None
    return f"placed {_show(_utc(order_date))} before the cut-off {_show(limit.at)} ({limit.source})"


def is_foreign_mis_id(mis_id: str, esd_ids: Collection[str | None]) -> bool:
    """A storefront MisId that esd did not write (esd's own are its recorded external ids)."""
    mis_id = mis_id.strip()
    return bool(mis_id) and mis_id not in {e for e in esd_ids if e}


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _whole_second(when: dt.datetime) -> dt.datetime:
    return _utc(when).replace(microsecond=0)


def _show(when: dt.datetime) -> str:
    if when.time() == dt.time(0, 0):
        return when.date().isoformat()
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")
