"""What the operator commands share: the daemon's parts they read and drive, the argument
checks (an unknown name is refused, naming the closest known one, before anything is stored),
and the small helpers of their answers."""

from __future__ import annotations

import difflib
import math
import pwd
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from daemon.actors.connection_health import ConnectionHealth
from daemon.actors.poll_rounds import PollRounds
from daemon.clock import iso
from daemon.engine.context import order_subject
from daemon.engine.engine import Engine
from daemon.errors import (
    BadArgument,
    NotFound,
    OperatorProtocolError,
    unknown_name,
)
from daemon.events import (
    kind_of,
    to_payload,
)
from daemon.providers.contract import Driver, ImportKind
from daemon.store import inbox
from daemon.store.database import Txn
from daemon.store.orders import (
    order_stored,
    recent_order_numbers,
    sites_of_order,
)

Progress = Callable[[Mapping[str, Any]], Awaitable[None]]


Command = Callable[[dict[str, Any], Progress], Awaitable[dict[str, Any]]]


#: a command that changes something: it is also told who asked ("uid 1000 (ann)", or None)
Change = Callable[[dict[str, Any], Progress, str | None], Awaitable[dict[str, Any]]]


#: item states in which a push is still under way (anything else: the push is settled)
PUSH_UNDER_WAY = frozenset({"ready", "pushing"})


#: settled item states that mean the push did not work
PUSH_FAILED = frozenset({"failed", "retrying"})


DEFAULT_WAIT_SECONDS = 300.0


WAIT_POLL_SECONDS = 0.1


IMPORT_KINDS = tuple(kind.value for kind in ImportKind)


def operator_name(uid: int | None) -> str | None:
    """`uid 1000 (ann)` for the socket peer's uid; None when the server could not tell."""
    if uid is None:
        return None
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:  # a uid with no passwd entry (a container's)
        return f"uid {uid}"


def operator_event(payload: object, subject: str | None = None) -> inbox.NewEvent:
    """An operator command's event: its typed payload, stored as `to_payload` has it."""
    return inbox.NewEvent(
        "operator", uuid.uuid4().hex, kind_of(payload), to_payload(payload), subject
    )


def settled(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {"seq": i.seq, "account": i.account, "state": i.state, "last_error": i.last_error}
        for i in items
    ]


def optional_str(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is not None and not isinstance(value, str):
        raise OperatorProtocolError(f'argument "{name}" must be a string')
    return value


async def sites_of_events(txn: Txn, site: str | None, order_number: str) -> list[str]:
    """The sites on which inbox events name the order (their subject, `order_subject`)."""
    if site is not None:
        found = await inbox.has_subject(txn, order_subject(site, order_number))
        return [site] if found else []
    # Only reached for an order not in the orders table: a scan of the subjects is fine there.
    suffix = order_subject("", order_number)
    return sorted({subject[: -len(suffix)] for subject in await inbox.subjects_ending(txn, suffix)})


def arg(args: Mapping[str, Any], name: str, kind: type) -> Any:
    value = args.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise OperatorProtocolError(f'argument "{name}" must be a {kind.__name__}')
    return value


def event_summary(e: inbox.EventRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "source": e.source,
        "kind": e.kind,
        "dedupe_key": e.dedupe_key,
        "status": e.status,
        "received_at": iso(e.received_at),
        "error": e.error,
        "attempts": e.attempts,
    }


class CommandBase:
    """What every operator command shares: the daemon's parts, and the argument checks that
    run before anything is stored."""

    def __init__(
        self,
        engine: Engine,
        status_extra: Callable[[], Mapping[str, Any]],
        drivers: Mapping[str, Driver] | None = None,
        *,
        connections: Mapping[str, ConnectionHealth] | None = None,
        status_rounds: Mapping[str, PollRounds] | None = None,
        poll_rounds: Mapping[str, PollRounds] | None = None,
    ) -> None:
        self.drivers = dict(drivers or {})
        #: account -> its status polls, storefront -> its reconciliation polls (for `wait`)
        self.status_rounds = dict(status_rounds or {})
        self.poll_rounds = dict(poll_rounds or {})
        #: account -> its connection health, which `test-connection` results feed
        self.connections = dict(connections or {})
        self.engine = engine
        self.db = engine.db
        self.started_at = time.time()
        self._status_extra = status_extra

    def _account_arg(self, args: Mapping[str, Any], known: Iterable[str] = ()) -> str | None:
        """The `account` argument, None when absent; a BadArgument unless it is configured
        (or in `known`: accounts items were stored under)."""
        account = optional_str(args, "account")
        names = {*self.engine.config.accounts, *known}
        if account is not None and account not in names:
            raise unknown_name("account", account, names)
        return account

    def _wait_args(self, args: Mapping[str, Any]) -> float | None:
        """The seconds to wait for the outcome (`wait`, `wait_timeout`), None: do not wait."""
        wait = args.get("wait", False)
        if not isinstance(wait, bool):
            raise OperatorProtocolError('argument "wait" must be true or false')
        timeout = args.get("wait_timeout", DEFAULT_WAIT_SECONDS)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise OperatorProtocolError('argument "wait_timeout" must be a number of seconds > 0')
        return float(timeout) if wait else None

    async def _resolve_order(
        self, txn: Txn, args: dict[str, Any], *, from_events: bool = False
    ) -> tuple[str, str]:
        """The (site, order number) the arguments name. With `from_events`, an order that was
        never stored but has inbox events (all poisoned, say) counts too: the reads show it."""
        order_number = arg(args, "order", str)
        site = args.get("site")
        if site is not None and not isinstance(site, str):
            raise OperatorProtocolError('argument "site" must be a string')
        if from_events and not await order_stored(txn, site, order_number):
            event_sites = await sites_of_events(txn, site, order_number)
            if len(event_sites) == 1:
                return event_sites[0], order_number
            if len(event_sites) > 1:
                raise OperatorProtocolError(
                    f"order {order_number} has events on several sites "
                    f"({', '.join(event_sites)}): give --site"
                )
        if site is None:
            sites = await sites_of_order(txn, order_number)
            if not sites:
                raise NotFound(f"no order {order_number}")
            if len(sites) > 1:
                raise OperatorProtocolError(
                    f"order {order_number} exists on several sites ({', '.join(sites)}): "
                    "give --site"
                )
            site = sites[0]
        elif not await order_stored(txn, site, order_number):
            raise NotFound(f"no order {order_number} on site {site}")
        return site, order_number

    async def _order_to_change(self, args: dict[str, Any]) -> tuple[str, str]:
        """The (site, order) a change names; a BadArgument naming close order numbers when
        there is no such order (nothing is stored for it)."""
        async with self.db.reading() as txn:
            try:
                return await self._resolve_order(txn, args)
            except NotFound as exc:
                missing = str(exc)
                order_number = arg(args, "order", str)
                numbers = await recent_order_numbers(txn, limit=1000)
        close = difflib.get_close_matches(order_number, numbers, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BadArgument(f"{missing}{hint}")
