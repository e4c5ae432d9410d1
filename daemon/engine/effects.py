"""Work a handler asks of the actors: addressed messages, released only after the commit.

A handler never does I/O; it adds a message to `ctx.effects`. Each message names who it is
for (`address`: an MIS account's actor, a storefront's actor, the mailer or the engine itself)
and what to do. The messages of one transaction are kept in the order they were added, each
once; the engine hands them to the app's one dispatch (daemon.app) after the commit, so an
actor never acts on state a rollback undid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal

__all__ = [
    "Address",
    "Effect",
    "Effects",
    "Fetch",
    "Import",
    "Poll",
    "PollStorefront",
    "Reprocess",
    "SendMail",
    "Wake",
    "Write",
]

#: who a message is for: ("account", name), ("storefront", name), ("mailer", ""), ("engine", "")
Address = tuple[Literal["account", "storefront", "mailer", "engine"], str]


@dataclasses.dataclass(frozen=True, slots=True)
class Wake:
    """The account has ready items: its actor should look for work."""

    account: str

    @property
    def address(self) -> Address:
        return ("account", self.account)


@dataclasses.dataclass(frozen=True, slots=True)
class Poll:
    """The account is due a status poll."""

    account: str

    @property
    def address(self) -> Address:
        return ("account", self.account)


@dataclasses.dataclass(frozen=True, slots=True)
class Import:
    """The account's actor should run import batch `batch`."""

    account: str
    batch: int

    @property
    def address(self) -> Address:
        return ("account", self.account)


@dataclasses.dataclass(frozen=True, slots=True)
class Fetch:
    """Read one order from its storefront (the lease of `generation`)."""

    storefront: str
    site: str
    order: str
    generation: int

    @property
    def address(self) -> Address:
        return ("storefront", self.storefront)


@dataclasses.dataclass(frozen=True, slots=True)
class Write:
    """Write one thing back to the storefront (`write`: JSON of the lease's data)."""

    storefront: str
    write: str

    @property
    def address(self) -> Address:
        return ("storefront", self.storefront)


@dataclasses.dataclass(frozen=True, slots=True)
class PollStorefront:
    """Run the storefront's reconciliation poll."""

    name: str

    @property
    def address(self) -> Address:
        return ("storefront", self.name)


@dataclasses.dataclass(frozen=True, slots=True)
class SendMail:
    """An alert e-mail waits in the outbox."""

    @property
    def address(self) -> Address:
        return ("mailer", "")


@dataclasses.dataclass(frozen=True, slots=True)
class Reprocess:
    """The inbox has pending events again (a replay): the engine's processor runs once more."""

    @property
    def address(self) -> Address:
        return ("engine", "")


Effect = Wake | Poll | Import | Fetch | Write | PollStorefront | SendMail | Reprocess


class Effects:
    """The messages of one transaction, in the order added, each once."""

    __slots__ = ("_messages",)

    def __init__(self, *messages: Effect) -> None:
        self._messages: dict[Effect, None] = dict.fromkeys(messages)

    def add(self, message: Effect) -> None:
        self._messages.setdefault(message, None)

    def merge(self, other: Effects) -> None:
        for message in other:
            self.add(message)

    @property
    def reprocess(self) -> bool:
        return Reprocess() in self._messages

    def __contains__(self, message: object) -> bool:
        return message in self._messages

    def __iter__(self) -> Iterator[Effect]:
        return iter(tuple(self._messages))

    def __len__(self) -> int:
        return len(self._messages)

    def __bool__(self) -> bool:
        return bool(self._messages)

    def __repr__(self) -> str:
        return f"Effects({', '.join(map(repr, self._messages))})"
