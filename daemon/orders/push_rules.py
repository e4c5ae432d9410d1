"""The storefront push rules (seeds 001 and 003), as one pure function.

An order is pushed to a MIS only when:
  1. it is paid, or on open terms;
  2. every item is approved, or at least one is approved and the rest are denied;
  3. no item waits for its eDocBuilder production file;
  4. no item is in an invalid status (cancelled).
Denied and cancelled items are excluded: they are never pushed, and the rest of the order is
judged without them. While any rule fails, every remaining item is held with the reasons why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from daemon.orders.model import Approval, Order, OrderItem, Payment

__all__ = ["PushDecision", "evaluate", "pushable_items"]


@dataclasses.dataclass(frozen=True, slots=True)
class PushDecision:
    """What the rules say about each item of one order.

    `ready` holds the items that may be pushed now (empty while the order is held);
    `held` maps each held item to the reasons; `excluded` maps each excluded item to why.
    """

    ready: tuple[int, ...]
    held: dict[int, tuple[str, ...]]
    excluded: dict[int, str]

    @property
    def is_ready(self) -> bool:
        """True when at least one item may be pushed now."""
        return bool(self.ready)


def evaluate(order: Order) -> PushDecision:
    """Judge every item of `order` against the push rules."""
    excluded: dict[int, str] = {}
    for item in order.items:
        if item.cancelled:
            excluded[item.seq] = "item is cancelled"
        elif item.approval is Approval.DENIED:
            excluded[item.seq] = "item was denied by the approver"
    remaining = [item for item in order.items if item.seq not in excluded]

    order_reasons: list[str] = []
    if order.payment is Payment.UNPAID:
        order_reasons.append("order is not paid and not on open terms")
    awaiting = [item.seq for item in remaining if item.approval is Approval.PENDING]
    for seq in awaiting:
        order_reasons.append(f"item {seq} awaits approval")
    for item in remaining:
        if item.edoc_pending:
            order_reasons.append(f"item {item.seq} waits for its eDocBuilder file")

    if order_reasons:
        reasons = tuple(order_reasons)
        return PushDecision(ready=(), held={i.seq: reasons for i in remaining}, excluded=excluded)
    return PushDecision(ready=tuple(i.seq for i in remaining), held={}, excluded=excluded)


def pushable_items(items: Sequence[OrderItem]) -> tuple[OrderItem, ...]:
    """The items a MIS driver sends: neither denied nor cancelled (excluded by the rules above,
    and again here, whatever the caller passes), in sequence order."""
    return tuple(
        sorted(
            (i for i in items if i.approval is not Approval.DENIED and not i.cancelled),
            key=lambda i: i.seq,
        )
    )
