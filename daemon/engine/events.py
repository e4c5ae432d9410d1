"""Every event kind's payload as a typed, frozen object, with one parser per kind.

An event is stored as JSON (the inbox keeps what came in, verbatim, so a bad one can be shown
and replayed). A handler never reads that JSON by hand: it asks for its kind's object
(`Context.payload`), and the parser either builds it or raises one `BadEventPayload` naming
the event, the kind, the field and what was wrong ("event 7 (push.result): 'outcome' must be
one of absent, pushed, permanent, transient, got 'maybe'"). The engine keeps such an event,
marked poisoned with that error, as it keeps any event whose handler raises.

Producers build the object and store `to_payload(obj)`: the JSON has the same keys as before
these types existed, so events stored by older versions parse (a key added since is optional,
with the default the handlers used; legacy kinds such as `pressero.webhook` parse as the
storefront webhook they are).

Timer payloads (the `payload` of a `timer.fired` event, and of the timer row) have types too:
`RetryTimer`, `StatusPollTimer`, `ImportRetryTimer`, `StorefrontPollTimer`, and the leases'
`FetchLease`, `WriteLease`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Protocol, Self, TypeVar, cast

from daemon.errors import BadEventPayload
from daemon.storefronts.contract import WEBHOOK_KIND, legacy_webhook_kind
from daemon.storefronts.registry import STOREFRONTS

__all__ = [
    "PAYLOADS",
    "FetchFailed",
    "FetchLease",
    "ImportClaim",
    "ImportPage",
    "ImportRequest",
    "ImportResult",
    "ImportRetryTimer",
    "LeaseBookkeeping",
    "LineStatus",
    "MisLineStatus",
    "MisWebhook",
    "OperatorPoll",
    "OperatorPush",
    "OperatorReplay",
    "OperatorSync",
    "OrderSnapshot",
    "Payload",
    "PushClaim",
    "PushResult",
    "PushedItem",
    "RetryTimer",
    "StatusPollTimer",
    "StatusReport",
    "StorefrontOrder",
    "StorefrontPoll",
    "StorefrontPollTimer",
    "StorefrontWebhook",
    "TimerFired",
    "WriteFailed",
    "WriteLease",
    "Written",
    "parse_payload",
    "to_payload",
]


class Fields:
    """Typed reads of one JSON object, each failure naming where and which field."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise BadEventPayload(f"{where}: the payload must be an object, got {_show(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def fail(self, key: str, what: str) -> BadEventPayload:
        return BadEventPayload(
            f"{self.where}: {key!r} must be {what}, got {_show(self.data.get(key))}"
        )

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self.fail(key, "a string")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "a string or null")
        return value

    def text(self, key: str) -> str:
        """A free text that may be missing or null (an error message): '' then."""
        value = self.data.get(key)
        return "" if value is None or value == "" else f"{value}"

    def integer(self, key: str) -> int:
        value = self.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, "an integer")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, "an integer or null")
        return value

    def opt_number(self, key: str) -> float | None:
        """A number of seconds (retry_after); anything not a number counts as none given."""
        value = self.data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None

    def flag(self, key: str) -> bool:
        return bool(self.data.get(key))

    def array(self, key: str, *, optional: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "a list")
        return value

    def one_of(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(key)
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(sorted(choices)))
        return cast(str, value)

    def objects(self, key: str, *, optional: bool = False) -> list[Fields]:
        """A list of objects, each read with its index in `where`."""
        return [
            Fields(entry, f"{self.where}.{key}[{index}]")
            for index, entry in enumerate(self.array(key, optional=optional))
        ]

    def object(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "an object")
        return dict(value)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Payload(Protocol):
    """A typed payload: its kind(s) and its parser."""

    KIND: ClassVar[str]

    @classmethod
    def parse(cls, data: object, where: str) -> Self: ...


def _operator(f: Fields) -> str | None:
    by = f.data.get("by", f.data.get("submitted_by"))
    return by if isinstance(by, str) and by else None


# --- orders and pushes ---------------------------------------------------------------------


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
        return cls(f.data["order"], _operator(f))


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


# --- status ----------------------------------------------------------------------------------


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
        return cls(account, f.opt_str("dedupe_key"), reports)


# --- operator --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorPush:
    """The seeds' "Push Order" button (all accounts of the order when `account` is None)."""

    KIND: ClassVar[str] = "operator.push"
    site: str
    order: str
    account: str | None = None
    by: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.string("site"), f.string("order"), f.opt_str("account"), _operator(f))


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorReplay:
    """Put event `event_id` back in the queue."""

    KIND: ClassVar[str] = "operator.replay"
    event_id: int
    by: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.integer("event_id"), _operator(f))


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorSync:
    """Poll the MIS status of one account (all when None) now."""

    KIND: ClassVar[str] = "operator.sync"
    account: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        account = f.data.get("account")
        return cls(account if isinstance(account, str) else None)


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorPoll:
    """Run the reconciliation poll of one storefront (all when None) now."""

    KIND: ClassVar[str] = "operator.poll"
    storefront: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        name = f.data.get("storefront")
        return cls(name if isinstance(name, str) else None)


# --- imports ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ImportRequest:
    KIND: ClassVar[str] = "import.request"
    account: str
    kind: str

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.string("account"), f.string("kind"))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportClaim:
    KIND: ClassVar[str] = "import.claim"
    batch_id: int

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        return cls(Fields(data, where).integer("batch_id"))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportPage:
    """One page of MIS records; each record is an object with a `key`."""

    KIND: ClassVar[str] = "import.page"
    batch_id: int
    records: tuple[Mapping[str, Any], ...]

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        batch_id = f.integer("batch_id")
        records = []
        for record in f.objects("records"):
            if record.data.get("key") is None:
                raise record.fail("key", "present")
            records.append(record.data)
        return cls(batch_id, tuple(records))


ImportOutcome = Literal["done", "permanent", "interrupted", "transient"]


@dataclasses.dataclass(frozen=True, slots=True)
class ImportResult:
    KIND: ClassVar[str] = "import.result"
    batch_id: int
    outcome: str
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        # Any other outcome counts as transient, as it always has.
        return cls(
            f.integer("batch_id"), f.string("outcome"), f.text("error"), f.opt_number("retry_after")
        )


# --- storefronts -----------------------------------------------------------------------------

#: the kinds a storefront webhook is stored under: today's, and each plug-in's older one
WEBHOOK_KINDS = frozenset({WEBHOOK_KIND, *(legacy_webhook_kind(name) for name in STOREFRONTS)})


def _provider(f: Fields, value: object) -> str:
    if not isinstance(value, str) or value not in STOREFRONTS:
        known = ", ".join(sorted(STOREFRONTS))
        raise BadEventPayload(
            f"{f.where}: 'provider' must be a known storefront provider ({known}),"
            f" got {_show(value)}"
        )
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class StorefrontWebhook:
    """A storefront's webhook (or `<provider>.webhook`, stored before, without `provider`)."""

    KIND: ClassVar[str] = WEBHOOK_KIND
    provider: str
    site: str
    type: str
    order: str | None = None
    item_seq: int | None = None
    known: bool = True
    message_id: str | None = None
    timestamp: str | None = None
    body: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        return cls.parse_of(WEBHOOK_KIND, data, where)

    @classmethod
    def parse_of(cls, kind: str, data: object, where: str) -> Self:
        f = Fields(data, where)
        provider = f.data.get("provider")
        if provider is None and kind != WEBHOOK_KIND:
            provider = kind.removesuffix(".webhook")
        order = f.data.get("order")
        return cls(
            _provider(f, provider),
            f.text("site"),
            f.text("type"),
            order if isinstance(order, str) else None,
            f.data.get("item_seq") if isinstance(f.data.get("item_seq"), int) else None,
            f.flag("known"),
            f.opt_str("message_id"),
            f.opt_str("timestamp"),
            f.opt_str("body"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class StorefrontOrder:
    """A fetched order: the storefront's raw answer, mapped by its plug-in (`answer`)."""

    KIND: ClassVar[str] = "storefront.order"
    storefront: str | None
    provider: str
    site: str
    order: str
    generation: int
    answer: Mapping[str, Any]

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order = f.string("site"), f.string("order")
        return cls(
            f.opt_str("storefront"),
            _provider(f, f.data.get("provider")),
            site,
            order,
            f.integer("generation"),
            f.data,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FetchFailed:
    KIND: ClassVar[str] = "storefront.fetch_failed"
    storefront: str
    site: str
    order: str
    generation: int
    permanent: bool = False
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(
            f.text("storefront"),
            f.string("site"),
            f.string("order"),
            f.integer("generation"),
            f.flag("permanent"),
            f.text("error"),
            f.opt_number("retry_after"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class StorefrontPoll:
    """A reconciliation poll's list of the orders of a window."""

    KIND: ClassVar[str] = "storefront.poll"
    storefront: str | None
    site: str
    orders: tuple[str, ...]
    window_start: str | None = None
    window_end: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(
            f.opt_str("storefront"),
            f.string("site"),
            tuple(f"{o}" for o in f.array("orders")),
            f.opt_str("window_start"),
            f.opt_str("window_end"),
        )


def _seq_op(f: Fields) -> tuple[int, str]:
    return f.integer("seq"), f.string("op")


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """The storefront took write `op` of one item (`account`: a note's own)."""

    KIND: ClassVar[str] = "storefront.written"
    storefront: str | None
    site: str
    order: str
    seq: int
    op: str
    generation: int
    account: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order = f.string("site"), f.string("order")
        seq, op = _seq_op(f)
        return cls(
            f.opt_str("storefront"),
            site,
            order,
            seq,
            op,
            f.integer("generation"),
            f.opt_str("account") or None,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class WriteFailed:
    KIND: ClassVar[str] = "storefront.write_failed"
    storefront: str
    site: str
    order: str
    seq: int
    op: str
    generation: int
    account: str | None = None
    permanent: bool = False
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order = f.string("site"), f.string("order")
        seq, op = _seq_op(f)
        return cls(
            f.text("storefront"),
            site,
            order,
            seq,
            op,
            f.integer("generation"),
            f.opt_str("account") or None,
            f.flag("permanent"),
            f.text("error"),
            f.opt_number("retry_after"),
        )


# --- timers ----------------------------------------------------------------------------------


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
class LeaseBookkeeping:
    """What a lease's timer carries besides its work: the request and its failures."""

    generation: int
    attempts: int = 0
    first_failure_at: float | None = None
    last_error: str | None = None

    @classmethod
    def parse_fields(cls, f: Fields) -> Self:
        return cls(
            f.integer("generation"),
            f.opt_int("attempts") or 0,
            f.opt_number("first_failure_at"),
            f.opt_str("last_error"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FetchLease:
    """Read one order from its storefront (the `storefront_fetch` timer's payload)."""

    KIND: ClassVar[str] = "storefront_fetch"
    storefront: str
    site: str
    order: str
    generation: int
    why: str
    #: the timer's whole payload, bookkeeping included (re-armed as it is)
    data: Mapping[str, Any]

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
    data: Mapping[str, Any]

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order = f.string("site"), f.string("order")
        seq, op = _seq_op(f)
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


# --- one table -------------------------------------------------------------------------------

_P = TypeVar("_P")

#: event kind -> its payload's parser (the storefront webhook under every kind it is stored as)
PAYLOADS: Mapping[str, Callable[[object, str], object]] = {
    **{
        cls.KIND: cls.parse
        for cls in (
            OrderSnapshot,
            PushClaim,
            PushResult,
            StatusReport,
            MisWebhook,
            TimerFired,
            OperatorPush,
            OperatorReplay,
            OperatorSync,
            OperatorPoll,
            ImportRequest,
            ImportClaim,
            ImportPage,
            ImportResult,
            StorefrontOrder,
            FetchFailed,
            StorefrontPoll,
            Written,
            WriteFailed,
        )
    },
    **{kind: functools.partial(StorefrontWebhook.parse_of, kind) for kind in WEBHOOK_KINDS},
}

#: timer kind -> its payload's parser
TIMER_PAYLOADS: Mapping[str, Callable[[object, str], object]] = {
    cls.KIND: cls.parse
    for cls in (
        RetryTimer,
        StatusPollTimer,
        ImportRetryTimer,
        StorefrontPollTimer,
        FetchLease,
        WriteLease,
    )
}


def where_of(event_id: int | None, kind: str) -> str:
    """How an error names the event: "event 7 (push.result)"."""
    return f"event {event_id} ({kind})" if event_id is not None else f"({kind})"


def parse_payload(kind: str, data: object, *, event_id: int | None = None) -> object:
    """The typed payload of an event of `kind` (BadEventPayload naming kind and field)."""
    parser = PAYLOADS.get(kind)
    if parser is None:
        raise BadEventPayload(f"{where_of(event_id, kind)}: no payload type for this kind")
    return parser(data, where_of(event_id, kind))


def parse_timer(kind: str, data: object, *, event_id: int | None = None) -> object:
    """The typed payload of a timer of `kind`."""
    parser = TIMER_PAYLOADS.get(kind)
    if parser is None:
        raise BadEventPayload(f"{where_of(event_id, 'timer.fired')}: unknown timer kind {kind!r}")
    return parser(data, f"{where_of(event_id, 'timer.fired')}.payload ({kind} timer)")


def parse_as(cls: type[_P], kind: str, data: object, *, event_id: int | None = None) -> _P:
    """`parse_payload`, checked to be `cls` (what a handler of that kind expects)."""
    parsed = parse_payload(kind, data, event_id=event_id)
    if not isinstance(parsed, cls):
        raise BadEventPayload(
            f"{where_of(event_id, kind)}: a {cls.__name__} handler got a {type(parsed).__name__}"
        )
    return parsed


def to_payload(value: object) -> dict[str, Any]:
    """The JSON object a typed payload is stored as (the keys every version has written)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"not a typed payload: {value!r}")
    out: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        out[field.name] = _json_of(getattr(value, field.name))
    return out


def _json_of(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_payload(value)
    if isinstance(value, tuple | list):
        return [_json_of(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_of(v) for k, v in value.items()}
    return value
