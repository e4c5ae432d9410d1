"""The daemon's answers to operator commands (shapes: docs/operator-protocol.md).

Reads come straight from the store. Commands that change something (push, replay, submit) are
inputs like any other: they are stored in the inbox as operator events and applied through the
engine, so they appear in the order's trace and in the event list, with who gave them (the
socket peer's uid). Their arguments are checked first: an unknown account, storefront, state,
order or event is a `BadArgument` naming the closest known one, and nothing is stored.

With `wait`, push and import follow what they started until it settles (or `wait_timeout`),
streaming each change as progress; the result's `outcome` says whether it worked.
"""

from __future__ import annotations

import difflib
import math
import os
import pwd
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio

from daemon import __version__
from daemon.actors.connection_health import ConnectionHealth
from daemon.actors.poll_rounds import PollRounds
from daemon.clock import iso
from daemon.config import DEFAULT_ENVIRONMENT
from daemon.engine.context import order_subject
from daemon.engine.engine import Engine
from daemon.engine.operator_events import REPLAYABLE_KINDS
from daemon.errors import (
    BadArgument,
    NotFound,
    OperatorProtocolError,
    UnknownCommand,
    unknown_name,
)
from daemon.events import (
    ImportRequest,
    OperatorPoll,
    OperatorPush,
    OperatorReplay,
    OperatorSync,
    kind_of,
    to_payload,
)
from daemon.operator import environments
from daemon.operator.protocol import Request
from daemon.orders.push_rules import evaluate
from daemon.providers.contract import Driver, ImportKind
from daemon.store import inbox
from daemon.store.alerts import alert_mail_counts
from daemon.store.database import Txn
from daemon.store.imports import import_batch
from daemon.store.items import count_items, find_items, item_accounts, item_counts, items_of_order
from daemon.store.orders import (
    order_stored,
    recent_order_numbers,
    sites_of_order,
    stored_order,
    stored_sites,
)
from daemon.store.timers import next_timer
from daemon.store.transitions import (
    changes_of_event,
    item_trace,
    last_transition_id,
    note_on_transitions,
)

__all__ = ["OperatorCommands"]

Progress = Callable[[Mapping[str, Any]], Awaitable[None]]
Command = Callable[[dict[str, Any], Progress], Awaitable[dict[str, Any]]]
#: a command that changes something: it is also told who asked ("uid 1000 (ann)", or None)
Change = Callable[[dict[str, Any], Progress, str | None], Awaitable[dict[str, Any]]]

#: item states in which a push is still under way (anything else: the push is settled)
_PUSH_UNDER_WAY = frozenset({"ready", "pushing"})
#: settled item states that mean the push did not work
_PUSH_FAILED = frozenset({"failed", "retrying"})
_DEFAULT_WAIT_SECONDS = 300.0
_WAIT_POLL_SECONDS = 0.1
_IMPORT_KINDS = tuple(kind.value for kind in ImportKind)


def operator_name(uid: int | None) -> str | None:
    """`uid 1000 (ann)` for the socket peer's uid; None when the server could not tell."""
    if uid is None:
        return None
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:  # a uid with no passwd entry (a container's)
        return f"uid {uid}"


class OperatorCommands:
    """Answers the operator socket's commands for one running daemon."""

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
        self._changes: dict[str, Change] = {
            "push": self.push,
            "replay": self.replay,
            "submit": self.submit,
        }
        self._commands: dict[str, Command] = {
            "ping": self.ping,
            "status": self.status,
            "order": self.order,
            "why": self.why,
            "list": self.list_items,
            "events": self.events,
            "event": self.event,
            "sync": self.sync,
            "poll": self.poll,
            "import": self.start_import,
            "test-connection": self.test_connection,
        }

    async def handle(self, request: Request, progress: Progress) -> Mapping[str, Any]:
        """Dispatch one request."""
        change = self._changes.get(request.cmd)
        if change is not None:
            return await change(dict(request.args), progress, operator_name(request.peer_uid))
        command = self._commands.get(request.cmd)
        if command is None:
            known = sorted({*self._commands, *self._changes})
            raise UnknownCommand(f"unknown command {request.cmd!r} (known: {', '.join(known)})")
        return await command(dict(request.args), progress)

    # --- checking arguments (before anything is stored) ----------------------------------

    def _account_arg(self, args: Mapping[str, Any], known: Iterable[str] = ()) -> str | None:
        """The `account` argument, None when absent; a BadArgument unless it is configured
        (or in `known`: accounts items were stored under)."""
        account = _optional_str(args, "account")
        names = {*self.engine.config.accounts, *known}
        if account is not None and account not in names:
            raise unknown_name("account", account, names)
        return account

    def _wait_args(self, args: Mapping[str, Any]) -> float | None:
        """The seconds to wait for the outcome (`wait`, `wait_timeout`), None: do not wait."""
        wait = args.get("wait", False)
        if not isinstance(wait, bool):
            raise OperatorProtocolError('argument "wait" must be true or false')
        timeout = args.get("wait_timeout", _DEFAULT_WAIT_SECONDS)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise OperatorProtocolError('argument "wait_timeout" must be a number of seconds > 0')
        return float(timeout) if wait else None

    # --- reads --------------------------------------------------------------------------

    async def ping(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return {"pong": True}

    async def status(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        extra = self._status_extra()
        accounts: dict[str, Any] = {}
        async with self.db.reading() as txn:
            item_numbers = await item_counts(txn)
            counts = await inbox.count_by_status(txn)
            mail_counts = await alert_mail_counts(txn)
            upcoming = await next_timer(txn)
        for name, account in self.engine.config.accounts.items():
            accounts[name] = {
                "provider": account.provider,
                "environment": account.environment,  # test or live: whose credentials
                "states": {},
                "actor": extra.get("actors", {}).get(
                    name,
                    {
                        "health": "stopped",
                        "restarts": 0,
                        "last_error": None,
                        "in_flight": 0,
                        "queued": 0,
                    },
                ),
            }
        for number in item_numbers:
            entry = accounts.setdefault(
                number.account, {"provider": "?", "states": {}, "actor": None}
            )
            entry["states"][number.state] = number.count
        return {
            "version": __version__,
            "pid": os.getpid(),
            "started_at": iso(self.started_at),
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "accounts": accounts,
            "inbox": {
                "pending": counts["pending"],
                "poisoned": counts["poisoned"],
                "processed_since_start": self.engine.processed,
                "total": sum(counts.values()),
            },
            "retries_rearmed_since_start": self.engine.rearmed,
            "next_timer": None
            if upcoming is None
            else {
                "due_at": iso(upcoming.due_at),
                "kind": upcoming.kind,
                "subject": upcoming.subject,
            },
            "rejections": dict(extra.get("rejections", {})),
            "storefronts": dict(extra.get("storefronts", {})),
            "alerts": {
                "total": sum(mail_counts.values()),
                **{f"mail_{status}": n for status, n in mail_counts.items()},
            },
            "webhooks": extra.get("webhooks"),
            "store": extra.get("store"),
            "config": extra.get("config"),
            "connections": dict(extra.get("connections", {})),
        }

    async def _resolve_order(
        self, txn: Txn, args: dict[str, Any], *, from_events: bool = False
    ) -> tuple[str, str]:
        """The (site, order number) the arguments name. With `from_events`, an order that was
        never stored but has inbox events (all poisoned, say) counts too: the reads show it."""
        order_number = _arg(args, "order", str)
        site = args.get("site")
        if site is not None and not isinstance(site, str):
            raise OperatorProtocolError('argument "site" must be a string')
        if from_events and not await order_stored(txn, site, order_number):
            event_sites = await _sites_of_events(txn, site, order_number)
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

    async def order(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args, from_events=True)
            stored = await order_stored(txn, site, order_number)
            items = await items_of_order(txn, site, order_number)
            by_id = {i.id: i for i in items}
            trace = await item_trace(txn, list(by_id))
            events = await inbox.list_events(
                txn, subject=order_subject(site, order_number), limit=500
            )
        return {
            "site": site,
            "order": order_number,
            "stored": stored,
            "items": [
                {
                    "seq": i.seq,
                    "account": i.account,
                    "state": i.state,
                    "adopted": i.adopted,
                    "external_id": i.external_id,
                    "order_external_id": i.order_external_id,
                    "last_error": i.last_error,
                    "reasons": list(i.reasons),
                    "mis_status": i.mis_status,
                    "tracking": list(i.tracking),
                    "attempts": i.attempts,
                    "next_retry_at": iso(i.next_retry_at),
                    "updated_at": iso(i.updated_at),
                }
                for i in items
            ],
            "trace": [
                {
                    "at": iso(t.at),
                    "seq": by_id[t.subject_id].seq,
                    "account": by_id[t.subject_id].account,
                    "from": t.from_state,
                    "to": t.to_state,
                    "trigger": t.trigger,
                    "event_id": t.event_id,
                    "reason": t.reason,
                }
                for t in trace
            ],
            "events": [
                {
                    "id": e.id,
                    "source": e.source,
                    "kind": e.kind,
                    "status": e.status,
                    "received_at": iso(e.received_at),
                    "error": e.error,
                }
                for e in reversed(events)
            ],
        }

    async def why(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args, from_events=True)
            items = await items_of_order(txn, site, order_number)
            stored = await stored_order(txn, site, order_number)
            poisoned = await inbox.list_events(
                txn, status="poisoned", subject=order_subject(site, order_number), limit=100
            )
        decision = evaluate(stored) if stored is not None else None
        answer = []
        for item in items:
            reasons = list(item.reasons)
            if item.state in ("failed", "retrying") and item.last_error:
                reasons = [item.last_error]
            elif decision is not None and item.state == "pending":
                reasons = list(decision.held.get(item.seq, reasons))
            answer.append(
                {"seq": item.seq, "account": item.account, "state": item.state, "reasons": reasons}
            )
        if not items:
            site_cfg = self.engine.config.sites.get(site)
            if site_cfg is not None and not site_cfg.live_accounts():
                answer.append(
                    {
                        "seq": 0,
                        "account": "",
                        "state": "-",
                        "reasons": [f"site {site} has no live account (Enable + IsLive)"],
                    }
                )
        return {
            "site": site,
            "order": order_number,
            "stored": stored is not None,
            "items": answer,
            # Events that failed to apply: nothing they asked for happened.
            "poisoned": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "error": e.error,
                    "received_at": iso(e.received_at),
                }
                for e in reversed(poisoned)
            ],
        }

    async def list_items(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        state = _optional_str(args, "state")
        states = self.engine.charts.order_item.states
        if state is not None and state not in states:
            raise unknown_name("state", state, states)
        async with self.db.reading() as txn:
            if args.get("site") is not None:
                known_sites = {*self.engine.config.sites, *await stored_sites(txn)}
                site = _optional_str(args, "site")
                if site not in known_sites:
                    raise unknown_name("site", str(site), known_sites)
            if args.get("account") is not None:
                self._account_arg(args, await item_accounts(txn))
        filters = {key: _optional_str(args, key) for key in ("state", "site", "account")}
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            raise OperatorProtocolError('argument "limit" must be an integer from 1 to 10000')
        async with self.db.reading() as txn:
            total = await count_items(txn, **filters)
            found = await find_items(txn, **filters, limit=limit)
        return {
            "items": [
                {
                    "site": i.site,
                    "order": i.order_number,
                    "seq": i.seq,
                    "account": i.account,
                    "state": i.state,
                    "updated_at": iso(i.updated_at),
                    "last_error": i.last_error,
                }
                for i in found
            ],
            "total": total,
        }

    async def events(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        status = _optional_str(args, "status")
        if status is not None and status not in ("pending", "done", "poisoned"):
            raise unknown_name("event status", status, ("pending", "done", "poisoned"))
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            raise OperatorProtocolError('argument "limit" must be an integer from 1 to 10000')
        async with self.db.reading() as txn:
            records = await inbox.list_events(txn, status=status, limit=limit)
        return {"events": [_event_summary(e) for e in records]}

    async def event(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        event_id = _arg(args, "id", int)
        async with self.db.reading() as txn:
            record = await inbox.get_event(txn, event_id)
        if record is None:
            raise NotFound(f"no event {event_id}")
        return {
            **_event_summary(record),
            "payload": record.payload,
            "traceback": record.traceback,
            "subject": record.subject,
            "processed_at": iso(record.processed_at),
        }

    # --- changes ------------------------------------------------------------------------

    async def _order_to_change(self, args: dict[str, Any]) -> tuple[str, str]:
        """The (site, order) a change names; a BadArgument naming close order numbers when
        there is no such order (nothing is stored for it)."""
        async with self.db.reading() as txn:
            try:
                return await self._resolve_order(txn, args)
            except NotFound as exc:
                missing = str(exc)
                order_number = _arg(args, "order", str)
                numbers = await recent_order_numbers(txn, limit=1000)
        close = difflib.get_close_matches(order_number, numbers, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BadArgument(f"{missing}{hint}")

    async def push(
        self, args: dict[str, Any], progress: Progress, by: str | None
    ) -> dict[str, Any]:
        site, order_number = await self._order_to_change(args)
        account = self._account_arg(args)
        wait = self._wait_args(args)
        await progress({"message": f"asking to push order {order_number} on {site}"})
        applied = await self.engine.apply(
            _operator_event(
                OperatorPush(site, order_number, account, by), order_subject(site, order_number)
            )
        )
        if applied.error:
            raise OperatorProtocolError(applied.error)
        moved = applied.result or []
        for move in moved:
            await progress(
                {
                    "message": f"item {move['seq']} for {move['account']}: "
                    f"{move['from']} -> {move['to']}"
                }
            )
        if not moved:
            await progress({"message": "nothing to push: no failed, retrying or newly ready items"})
        if wait is None:
            return {"items": moved}
        return {
            "items": moved,
            **await self._wait_for_push(site, order_number, account, wait, progress),
        }

    async def _wait_for_push(
        self, site: str, order_number: str, account: str | None, timeout: float, progress: Progress
    ) -> dict[str, Any]:
        """Follow the order's items under way (ready, pushing) until each is settled; every
        change is a progress line. `outcome` is ok (all pushed, or nothing was to push), failed
        (an item failed or is retrying: the error says why) or timeout."""
        deadline = anyio.current_time() + timeout
        seen: dict[tuple[int, str], str] = {}
        followed: set[tuple[int, str]] | None = None
        while True:
            async with self.db.reading() as txn:
                items = await items_of_order(txn, site, order_number, account)
            if followed is None:
                followed = {(i.seq, i.account) for i in items if i.state in _PUSH_UNDER_WAY}
            current = [i for i in items if (i.seq, i.account) in followed]
            for item in current:
                key = (item.seq, item.account)
                if seen.get(key) not in (None, item.state):
                    await progress({"message": f"item {item.seq} for {item.account}: {item.state}"})
                seen[key] = item.state
            if all(i.state not in _PUSH_UNDER_WAY for i in current):
                break
            if anyio.current_time() >= deadline:
                return {
                    "outcome": "timeout",
                    "error": f"still under way after {timeout:g} s: "
                    + ", ".join(
                        f"item {i.seq} for {i.account} {i.state}"
                        for i in current
                        if i.state in _PUSH_UNDER_WAY
                    ),
                    "settled": _settled(current),
                }
            await anyio.sleep(_WAIT_POLL_SECONDS)
        failed = [i for i in current if i.state in _PUSH_FAILED]
        return {
            "outcome": "failed" if failed else "ok",
            "error": "; ".join(
                f"item {i.seq} for {i.account} {i.state}: {i.last_error or 'no error recorded'}"
                for i in failed
            )
            or None,
            "settled": _settled(current),
        }

    async def replay(
        self, args: dict[str, Any], progress: Progress, by: str | None
    ) -> dict[str, Any]:
        """Process a stored event again: a poisoned one, or a processed input (REPLAYABLE_KINDS).
        The handlers re-judge against what is stored, so a replay that finds nothing to do
        changes nothing; the answer lists the transitions it made."""
        event_id = _arg(args, "id", int)
        async with self.db.reading() as txn:
            record = await inbox.get_event(txn, event_id)
            newest = await inbox.last_event_id(txn)
            before = await last_transition_id(txn)
        if record is None:
            raise BadArgument(f"no event {event_id} (event ids go up to {newest or 0})")
        if record.status == "pending":
            return {"id": event_id, "status": "pending", "error": None, "changed": []}
        if record.status == "done" and record.kind not in REPLAYABLE_KINDS:
            raise BadArgument(
                f"event {event_id} ({record.kind}) records what the daemon did: replaying it "
                f"would do it twice; only these may be replayed once processed: "
                f"{', '.join(sorted(REPLAYABLE_KINDS))}"
            )
        await progress({"message": f"replaying event {event_id} ({record.kind}, {record.status})"})
        applied = await self.engine.apply(_operator_event(OperatorReplay(event_id, by)))
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        await self.engine.process_pending()
        async with self.db.transaction() as txn:
            record = await inbox.get_event(txn, event_id)
            if by is not None:
                # The replayed event's handler wrote these rows under the event's own id; who
                # asked for the re-run is said here, in the same words as the other commands.
                await note_on_transitions(txn, event_id, before, f" (replay by {by})")
            changes = await changes_of_event(txn, event_id, before)
        assert record is not None
        changed = [
            {
                "chart": c.chart,
                "site": c.site,
                "order": c.order_number,
                "seq": c.seq,
                "account": c.account,
                "from": c.from_state or None,
                "to": c.to_state,
                "trigger": c.trigger,
            }
            for c in changes
        ]
        if not changed and record.status == "done":
            await progress({"message": "nothing changed: everything was already as it says"})
        return {"id": event_id, "status": record.status, "error": record.error, "changed": changed}

    async def sync(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Ask the MIS for status and tracking now; with `wait`, until each account's poll has
        run (`outcome`: ok only when every one answered)."""
        account = self._account_arg(args)
        return await self._ask_rounds(
            OperatorSync(account), "accounts", self.status_rounds, args,
            progress, asked="status poll", counted="orders polled",
        )  # fmt: skip

    async def poll(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Run the storefront reconciliation poll now; with `wait`, until it has run."""
        storefront = _optional_str(args, "storefront")
        if storefront is not None and storefront not in self.engine.config.storefronts:
            raise unknown_name("storefront", storefront, self.engine.config.storefronts)
        return await self._ask_rounds(
            OperatorPoll(storefront), "storefronts", self.poll_rounds, args,
            progress, asked="reconciliation poll", counted="orders listed",
        )  # fmt: skip

    async def _ask_rounds(
        self,
        payload: OperatorSync | OperatorPoll,
        key: str,
        rounds: Mapping[str, PollRounds],
        args: Mapping[str, Any],
        progress: Progress,
        *,
        asked: str,
        counted: str,
    ) -> dict[str, Any]:
        """Store the operator's event (its handler asks the actors for a round) and,
        with `wait`, follow the round of each actor it named (under `key` in the answer)."""
        wait = self._wait_args(args)
        numbers = {name: r.next_number for name, r in rounds.items()}
        applied = await self.engine.apply(_operator_event(payload))
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        await progress({"message": f"{asked} asked of {', '.join(applied.result)}"})
        result: dict[str, Any] = {key: applied.result}
        if wait is not None:
            result.update(
                await self._wait_rounds(rounds, numbers, applied.result, wait, progress, counted)
            )
        return result

    async def _wait_rounds(
        self,
        rounds: Mapping[str, PollRounds],
        numbers: Mapping[str, int],
        names: Sequence[str],
        seconds: float,
        progress: Progress,
        counted: str,
    ) -> dict[str, Any]:
        """Wait for the round each of `names` started after the request; stream each end."""
        finished: dict[str, Any] = {}
        with anyio.move_on_after(seconds):
            for name in names:
                tracker = rounds.get(name)
                if tracker is None:
                    continue
                done = await tracker.wait_for(numbers.get(name, tracker.next_number))
                finished[name] = {"done": done.done, "failures": list(done.failures)}
                how = f"{len(done.failures)} failed: {done.failures[0]}" if done.failures else "ok"
                await progress({"message": f"{name}: {done.done} {counted}, {how}"})
        waiting = [n for n in names if n in rounds and n not in finished]
        problems = [f"{n}: {f['failures'][0]}" for n, f in finished.items() if f["failures"]]
        if waiting:
            problems.append(f"not finished within {seconds:g} s: {', '.join(waiting)}")
        answer: dict[str, Any] = {
            "outcome": "failed" if problems else "ok",
            "finished": finished,
            "waiting": waiting,
        }
        if problems:
            answer["error"] = "; ".join(problems)
        return answer

    async def start_import(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Start (or resume) an import batch and stream it until it is done, failed or waiting
        to retry; with `wait`, also through its retries. `outcome`: ok only when done."""
        account = _arg(args, "account", str)
        kind = _arg(args, "kind", str)
        if account not in self.engine.config.accounts:
            raise unknown_name("account", account, self.engine.config.accounts)
        if kind not in _IMPORT_KINDS:
            raise unknown_name("import kind", kind, _IMPORT_KINDS)
        driver = self.drivers.get(account)
        if driver is not None and ImportKind(kind) not in driver.capabilities.imports:
            provider = self.engine.config.accounts[account].provider
            can = ", ".join(sorted(k.value for k in driver.capabilities.imports)) or "nothing"
            raise BadArgument(
                f"account {account!r} (provider {provider}) cannot import {kind}; "
                f"it can import: {can}"
            )
        wait = self._wait_args(args)
        applied = await self.engine.apply(_operator_event(ImportRequest(account, kind)))
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        batch_id = int(applied.result)
        await progress({"message": f"import batch {batch_id} queued"})
        settled = ("done", "failed") if wait is not None else ("done", "failed", "retrying")
        deadline = anyio.current_time() + (wait or math.inf)
        last = None
        while True:  # stream the batch's progress until it ends (or waits on a timer)
            async with self.db.reading() as txn:
                batch = await import_batch(txn, batch_id)
            assert batch is not None
            current = (batch.state, batch.pages, batch.records)
            if current != last:
                await progress(
                    {
                        "message": f"batch {batch_id}: {batch.state}, "
                        f"{batch.pages} pages, {batch.records} records"
                    }
                )
                last = current
            timed_out = anyio.current_time() >= deadline
            if batch.state in settled or timed_out:
                outcome = "ok" if batch.state == "done" else "failed"
                error = batch.last_error
                if timed_out and batch.state not in settled:
                    outcome = "timeout"
                    error = f"batch {batch_id} still {batch.state} after {wait:g} s"
                elif outcome == "failed" and not error:
                    error = f"batch {batch_id} {batch.state}"
                return {
                    "batch": batch_id,
                    "state": batch.state,
                    "pages": batch.pages,
                    "records": batch.records,
                    "last_error": batch.last_error,
                    "outcome": outcome,
                    "error": error if outcome != "ok" else None,
                }
            await anyio.sleep(_WAIT_POLL_SECONDS)

    async def test_connection(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Each account's driver checks its credentials and reachability (changes nothing);
        an account's other environment (test or live) is checked and reported beside it."""
        account = _optional_str(args, "account")
        if account is not None and account not in self.drivers:
            raise unknown_name("account", account, self.drivers)
        names = [account] if account else sorted(self.drivers)
        reports: dict[str, Any] = {}
        for name in names:
            reports[name] = await self._test_account(name, progress)
        return {"accounts": reports}

    async def _test_account(self, name: str, progress: Progress) -> dict[str, Any]:
        """The environment in use through the running driver (its result feeds the
        connection health); the others each through a driver built for the check."""
        configured = self.engine.config.accounts.get(name)
        in_use = configured.environment if configured is not None else DEFAULT_ENVIRONMENT
        await progress({"message": f"testing {name} ({in_use})"})
        try:
            with anyio.fail_after(60):
                outcome = await self.drivers[name].test_connection()
        except Exception as exc:  # a failed check is an answer, not a crash
            outcome = environments.failed(exc)
        if name in self.connections:
            self.connections[name].record_report("test_connection", outcome.ok, outcome.detail)
        checked = {in_use: environments.report(True, outcome)}
        if configured is not None:
            for other in configured.other_environments():
                if configured.credentials_of(other) is not None:
                    await progress({"message": f"testing {name} ({other}, not in use)"})
                found = await environments.check_environment(
                    configured, other, self.drivers[name].site_settings
                )
                checked[other] = environments.report(False, found)
        return {
            "ok": outcome.ok,
            "detail": outcome.detail,
            "server_version": outcome.server_version,
            "environment": in_use,
            "environments": checked,
        }

    async def submit(
        self, args: dict[str, Any], progress: Progress, by: str | None
    ) -> dict[str, Any]:
        source = _arg(args, "source", str)
        dedupe_key = _arg(args, "dedupe_key", str)
        kind = _arg(args, "kind", str)
        payload = args.get("payload")
        if not isinstance(payload, dict):
            raise OperatorProtocolError('argument "payload" must be an object')
        subject = None
        order = payload.get("order")
        if isinstance(order, dict) and isinstance(order.get("site"), str):
            subject = order_subject(order["site"], str(order.get("order_number")))
        # Stored as the operator gave it (the inbox keeps an input verbatim, as a webhook's
        # body): its kind's parser judges it when applied, and a bad one is kept, poisoned,
        # naming the field. `submitted_by` is OrderSnapshot's; `operator_of` reads it of any kind.
        if by is not None:
            payload = {**payload, "submitted_by": by}
        stored = await self.engine.ingest(
            inbox.NewEvent(source, dedupe_key, kind, payload, subject=subject)
        )
        return {"id": stored.id, "duplicate": stored.duplicate}


def _operator_event(payload: object, subject: str | None = None) -> inbox.NewEvent:
    """An operator command's event: its typed payload, stored as `to_payload` has it."""
    return inbox.NewEvent(
        "operator", uuid.uuid4().hex, kind_of(payload), to_payload(payload), subject
    )


def _settled(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {"seq": i.seq, "account": i.account, "state": i.state, "last_error": i.last_error}
        for i in items
    ]


def _optional_str(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is not None and not isinstance(value, str):
        raise OperatorProtocolError(f'argument "{name}" must be a string')
    return value


async def _sites_of_events(txn: Txn, site: str | None, order_number: str) -> list[str]:
    """The sites on which inbox events name the order (their subject, `order_subject`)."""
    if site is not None:
        found = await inbox.has_subject(txn, order_subject(site, order_number))
        return [site] if found else []
    # Only reached for an order not in the orders table: a scan of the subjects is fine there.
    suffix = order_subject("", order_number)
    return sorted({subject[: -len(suffix)] for subject in await inbox.subjects_ending(txn, suffix)})


def _arg(args: Mapping[str, Any], name: str, kind: type) -> Any:
    value = args.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise OperatorProtocolError(f'argument "{name}" must be a {kind.__name__}')
    return value


def _event_summary(e: inbox.EventRecord) -> dict[str, Any]:
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
