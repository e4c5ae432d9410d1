"""Payloads of operator commands (operator.push, .replay, .sync, .poll)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Self

from daemon.events.fields import Fields, operator_field

__all__ = ["OperatorPoll", "OperatorPush", "OperatorReplay", "OperatorSync"]


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
        return cls(f.string("site"), f.string("order"), f.opt_str("account"), operator_field(f))


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorReplay:
    """Put event `event_id` back in the queue."""

    KIND: ClassVar[str] = "operator.replay"
    event_id: int
    by: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.integer("event_id"), operator_field(f))


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
