"""Payloads of storefront events (webhooks, fetched orders, polls, write-backs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from daemon.errors import BadEventPayload
from daemon.events.fields import SPREAD, Fields, seq_and_op, show_value
from daemon.storefronts.contract import WEBHOOK_KIND, legacy_webhook_kind
from daemon.storefronts.registry import STOREFRONTS

__all__ = [
    "WEBHOOK_KINDS",
    "FetchFailed",
    "StorefrontOrder",
    "StorefrontPoll",
    "StorefrontWebhook",
    "WriteFailed",
    "Written",
]


#: the kinds a storefront webhook is stored under: today's, and each plug-in's older one
WEBHOOK_KINDS = frozenset({WEBHOOK_KIND, *(legacy_webhook_kind(name) for name in STOREFRONTS)})


def _provider(f: Fields, value: object) -> str:
    if not isinstance(value, str) or value not in STOREFRONTS:
        known = ", ".join(sorted(STOREFRONTS))
        raise BadEventPayload(
            f"{f.where}: 'provider' must be a known storefront provider ({known}),"
            f" got {show_value(value)}"
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
    """A fetched order: the storefront's raw answer, mapped by its plug-in (`answer`).

    The answer is stored beside the other keys, not under its own (`SPREAD`), as it always
    was; parsed, `answer` is the whole stored object."""

    KIND: ClassVar[str] = "storefront.order"
    storefront: str | None
    provider: str
    site: str
    order: str
    generation: int
    answer: Mapping[str, Any] = dataclasses.field(metadata={SPREAD: True})

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


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """The storefront took write `op` of one item (`account`: a note's own; `done`: what the
    storefront did, as its plug-in says it, for the operator)."""

    KIND: ClassVar[str] = "storefront.written"
    storefront: str | None
    site: str
    order: str
    seq: int
    op: str
    generation: int
    account: str | None = None
    done: str = ""

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        site, order = f.string("site"), f.string("order")
        seq, op = seq_and_op(f)
        return cls(
            f.opt_str("storefront"),
            site,
            order,
            seq,
            op,
            f.integer("generation"),
            f.opt_str("account") or None,
            f.text("done"),
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
        seq, op = seq_and_op(f)
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
