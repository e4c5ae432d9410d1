"""Payloads of orders, pushes and MIS status (order.snapshot, push.*, status.report,
mis.webhook)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self, cast

from daemon.events.fields import Fields, operator_field

__all__ = [
    "LineStatus",
    "MisLineStatus",
    "MisWebhook",
    "OrderSnapshot",
    "PushClaim",
    "PushOutcome",
    "PushResult",
    "PushedItem",
    "StatusReport",
]


@dataclasses.dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An order in esd's own model (operator submit, tests); `order` is checked by Order."""

    KIND: ClassVar[str] = "order.snapshot"
    order: Any
    submitted_by: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        if not isinstance(f.data.get("order"), Mapping):
            raise f.fail("order", "an object")
        return cls(f.data["order"], operator_field(f))


@dataclasses.dataclass(frozen=True, slots=True)
class PushClaim:
    """An actor took a push slot for the (order, account)."""

    KIND: ClassVar[str] = "push.claim"
    site: str
    order: str
    account: str

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.string("site"), f.string("order"), f.string("account"))


@dataclasses.dataclass(frozen=True, slots=True)
class PushedItem:
    seq: int
    external_id: str


PushOutcome = Literal["pushed", "absent", "transient", "permanent"]


@dataclasses.dataclass(frozen=True, slots=True)
class PushResult:
    """A driver finished pushing (or reconciling, `via`) the items `seqs` it claimed."""

    KIND: ClassVar[str] = "push.result"
    OUTCOMES: ClassVar[tuple[str, ...]] = ("pushed", "absent", "transient", "permanent")
    site: str
    order: str
    account: str
    outcome: PushOutcome
    seqs: tuple[int, ...] = ()
    via: str = "push"
    order_external_id: str | None = None
    items: tuple[PushedItem, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order, account = f.string("site"), f.string("order"), f.string("account")
        outcome = cast(PushOutcome, f.one_of("outcome", cls.OUTCOMES))
        seqs = []
        for index, seq in enumerate(f.array("seqs", optional=True)):
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise f.fail(f"seqs[{index}]", "an integer")
            seqs.append(seq)
        items = (
            tuple(
                PushedItem(i.integer("seq"), str(i.data.get("external_id")))
                for i in f.objects("items")
            )
            if outcome == "pushed" and f.data.get("items")
            else ()
        )
        order_external_id = f.data.get("order_external_id")
        return cls(
            site,
            order,
            account,
            outcome,
            tuple(seqs),
            f.text("via") or "push",
            None if order_external_id is None else f"{order_external_id}",
            items,
            tuple(f"{w}" for w in f.array("warnings", optional=True)),
            f.text("error"),
            f.opt_number("retry_after"),
        )


def _tracking(f: Fields) -> tuple[str, ...]:
    value = f.data.get("tracking")
    if not value:
        return ()
    if not isinstance(value, list | tuple):
        raise f.fail("tracking", "a list")
    return tuple(f"{t}" for t in value)


@dataclasses.dataclass(frozen=True, slots=True)
class LineStatus:
    """One item's MIS status and tracking numbers."""

    seq: int
    status: str
    tracking: tuple[str, ...] = ()

    @classmethod
    def parse_fields(cls, f: Fields) -> Self:
        return cls(f.integer("seq"), f.string("status"), _tracking(f))


@dataclasses.dataclass(frozen=True, slots=True)
class StatusReport:
    """MIS status and tracking of one order's items, from a status poll."""

    KIND: ClassVar[str] = "status.report"
    site: str
    order: str
    account: str
    reports: tuple[LineStatus, ...]

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order, account = f.string("site"), f.string("order"), f.string("account")
        reports = tuple(LineStatus.parse_fields(r) for r in f.objects("reports"))
        return cls(site, order, account, reports)


@dataclasses.dataclass(frozen=True, slots=True)
class MisLineStatus:
    """One line's status as an MIS webhook names it: by the MIS's own id."""

    external_id: str
    status: str
    tracking: tuple[str, ...] = ()
    shipped_at: str | None = None

    def for_seq(self, seq: int) -> LineStatus:
        return LineStatus(seq, self.status, self.tracking)


@dataclasses.dataclass(frozen=True, slots=True)
class MisWebhook:
    """MIS status pushed by webhook."""

    KIND: ClassVar[str] = "mis.webhook"
    account: str
    dedupe_key: str | None
    reports: tuple[MisLineStatus, ...]
    #: the judge authenticated the delivery but could not read it: why, and the body as sent
    problem: str = ""
    body: str = ""

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        account = f.string("account")
        reports = tuple(
            MisLineStatus(
                r.string("external_id"), r.string("status"), _tracking(r), r.opt_str("shipped_at")
            )
            for r in f.objects("reports")
        )
        return cls(account, f.opt_str("dedupe_key"), reports, f.text("problem"), f.text("body"))
