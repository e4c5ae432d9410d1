"""What a handler is given (`Context`) and the few things every handler does with it: read its
typed payload, name who asked, fire a statechart trigger with its history row."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from daemon.config import Config
from daemon.engine.effects import Effects
from daemon.engine.machines import fire
from daemon.events import parse_as
from daemon.events.fields import Fields, operator_field
from daemon.statecharts import Statecharts
from daemon.store import inbox
from daemon.store.database import Txn
from daemon.store.items import ItemRow

__all__ = ["Context", "Handler", "fire_item", "operator_of", "order_subject", "with_operator"]


_P = TypeVar("_P")


@dataclasses.dataclass
class Context:
    """Everything a handler may use."""

    txn: Txn
    event: inbox.EventRecord
    now: float
    config: Config
    charts: Statecharts
    rng: random.Random
    effects: Effects

    def payload(self, cls: type[_P]) -> _P:
        """The event's payload as its kind's typed object (BadEventPayload if it is not)."""
        return parse_as(cls, self.event.kind, self.event.payload, event_id=self.event.id)


Handler = Callable[[Context], Awaitable[Any]]


def order_subject(site: str, order_number: str) -> str:
    """The event subject of one order (the operator's trace key)."""
    return f"{site}/{order_number}"


def operator_of(payload: Mapping[str, Any]) -> str | None:
    """Who gave the operator command an event records ("uid 1000 (ann)"), if one did.

    Read by the payload types' own field reader (OperatorPush/OperatorReplay's `by`,
    OrderSnapshot's `submitted_by`), from any kind: the operator's `submit` stamps
    `submitted_by` on whatever kind it stores, and its transitions name who asked."""
    return operator_field(Fields(payload, "operator_of"))


def with_operator(ctx: Context, reason: str | None) -> str | None:
    by = operator_of(ctx.event.payload)
    return reason if by is None else f"{reason or ''} (by {by})".lstrip()


async def fire_item(ctx: Context, item: ItemRow, trigger: str, reason: str | None) -> str:
    reason = with_operator(ctx, reason)
    return await fire(
        ctx.txn,
        ctx.charts.order_item,
        item.id,
        item.state,
        trigger,
        event_id=ctx.event.id,
        reason=reason,
        now=ctx.now,
    )
