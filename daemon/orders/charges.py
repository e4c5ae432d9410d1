"""The freight and tax each pushed item carries, shared by the MIS mappings (EFI Pace seed 004
"calculated, based on total items in order"; Tharstern's "price with tax and shipping").

Freight per item: the item's own shipping cost when the storefront gives any pushed item one;
otherwise the order's shipping split evenly over the pushed items (by line, not by quantity), in
cents, the leftover cents going one each to the first items, so the parts add up to the order's
shipping exactly. Tax the same way. Only pushable items (neither denied nor cancelled) count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from daemon.orders.model import Order, OrderItem
from daemon.orders.push_rules import pushable_items

__all__ = ["ItemCharges", "item_charges", "split_evenly"]

_CENT: Final = Decimal("0.01")


@dataclasses.dataclass(frozen=True, slots=True)
class ItemCharges:
    """The freight and tax one item carries in the MIS."""

    freight: Decimal
    tax: Decimal


def item_charges(order: Order, items: Sequence[OrderItem]) -> dict[int, ItemCharges]:
    """Freight and tax per pushed item, by seq (see the module docstring for the split)."""
    pushed = pushable_items(items)
    freight = _per_item(order.shipping, [i.shipping_cost for i in pushed])
    tax = _per_item(order.tax, [i.tax for i in pushed])
    return {
        item.seq: ItemCharges(freight=f, tax=t)
        for item, f, t in zip(pushed, freight, tax, strict=True)
    }


def split_evenly(total: Decimal, count: int) -> list[Decimal]:
    """`total` in `count` shares of whole cents adding up to it (the first get the leftovers)."""
    if count == 0:
        return []
    cents = int((total / _CENT).to_integral_value(rounding=ROUND_HALF_UP))
    share, leftover = divmod(cents, count)
    return [(Decimal(share + (1 if i < leftover else 0)) * _CENT) for i in range(count)]


def _per_item(total: Decimal, own: Sequence[Decimal]) -> list[Decimal]:
    if any(value != 0 for value in own):
        return list(own)
    return split_evenly(total, len(own))
