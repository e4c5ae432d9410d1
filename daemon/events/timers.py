"""Payloads of durable timers (the `payload` of a timer row and of its timer.fired event)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from daemon.events.fields import SPREAD, Fields, seq_and_op

__all__ = [
    "FetchLease",
    "ImportRetryTimer",
    "RetryTimer",
    "StatusPollTimer",
    "StorefrontPollTimer",
    "TimerFired",
    "WriteLease",
]


@dataclasses.dataclass(frozen=True, slots=True)
class TimerFired:
    """A durable timer came due; `payload` is its kind's (parsed by TIMER_PAYLOADS)."""

    KIND: ClassVar[str] = "timer.fired"
    timer_id: int | None
    kind: str
    subject: str | None
    due_at: float | None
    payload: dict[str, Any]

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(
            f.opt_int("timer_id"),
            f.string("kind"),
            f.opt_str("subject"),
            f.opt_number("due_at"),
            f.object("payload"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RetryTimer:
    """An item's retry is due. Without `seq`: an (order, account) timer of esd before store
    version 3 (an old timer.fired event may still be replayed)."""

    KIND: ClassVar[str] = "retry"
    site: str
    order: str
    account: str
    seq: int | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.string("site"), f.string("order"), f.string("account"), f.opt_int("seq"))


@dataclasses.dataclass(frozen=True, slots=True)
class StatusPollTimer:
    KIND: ClassVar[str] = "status_poll"
    account: str

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        return cls(Fields(data, where).string("account"))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportRetryTimer:
    KIND: ClassVar[str] = "import_retry"
    batch_id: int

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        return cls(Fields(data, where).integer("batch_id"))


@dataclasses.dataclass(frozen=True, slots=True)
class StorefrontPollTimer:
    KIND: ClassVar[str] = "storefront_poll"
    storefront: str

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        return cls(Fields(data, where).string("storefront"))


@dataclasses.dataclass(frozen=True, slots=True)
class FetchLease:
    """Read one order from its storefront (the `storefront_fetch` timer's payload)."""

    KIND: ClassVar[str] = "storefront_fetch"
    storefront: str
    site: str
    order: str
    generation: int
    why: str
    #: the timer's whole payload, bookkeeping included (re-armed as it is); stored beside
    #: the other keys, not under its own (`SPREAD`)
    data: Mapping[str, Any] = dataclasses.field(metadata={SPREAD: True})

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(
            f.string("storefront"),
            f.string("site"),
            f.string("order"),
            f.integer("generation"),
            f.text("why"),
            f.data,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class WriteLease:
    """Write one thing back to the storefront (the `storefront_write` timer's payload); the
    actor reads the whole `data` (its op's fields: mis_id, stage, tracking, text...)."""

    KIND: ClassVar[str] = "storefront_write"
    storefront: str
    site: str
    order: str
    seq: int
    op: str
    generation: int
    account: str | None
    #: the whole payload when parsed (the op's own fields when built), stored beside the
    #: other keys, not under its own (`SPREAD`)
    data: Mapping[str, Any] = dataclasses.field(metadata={SPREAD: True})

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order = f.string("site"), f.string("order")
        seq, op = seq_and_op(f)
        return cls(
            f.string("storefront"),
            site,
            order,
            seq,
            op,
            f.integer("generation"),
            f.opt_str("account") or None,
            f.data,
        )
