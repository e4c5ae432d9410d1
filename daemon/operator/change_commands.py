"""The operator commands that change something: push, replay, submit, sync, poll, import,
test-connection."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from daemon.actors.poll_rounds import PollRounds
from daemon.config import DEFAULT_ENVIRONMENT
from daemon.engine.context import order_subject
from daemon.engine.operator_events import REPLAYABLE_KINDS
from daemon.errors import (
    BadArgument,
    OperatorProtocolError,
    unknown_name,
)
from daemon.events import (
    ImportRequest,
    OperatorPoll,
    OperatorPush,
    OperatorReplay,
    OperatorSync,
)
from daemon.operator import environments
from daemon.operator.command_base import (
    IMPORT_KINDS,
    PUSH_FAILED,
    PUSH_UNDER_WAY,
    WAIT_POLL_SECONDS,
    CommandBase,
    Progress,
    arg,
    operator_event,
    optional_str,
    settled,
)
from daemon.providers.contract import ImportKind
from daemon.store import inbox
from daemon.store.imports import import_batch
from daemon.store.items import items_of_order
from daemon.store.transitions import (
    changes_of_event,
    last_transition_id,
    note_on_transitions,
)


class ChangeCommands(CommandBase):
    """The commands that change something: stored in the inbox as operator events and applied
    through the engine (with `wait`, followed until they settle)."""

    async def push(
        self, args: dict[str, Any], progress: Progress, by: str | None
    ) -> dict[str, Any]:
        site, order_number = await self._order_to_change(args)
        account = self._account_arg(args)
        wait = self._wait_args(args)
        await progress({"message": f"asking to push order {order_number} on {site}"})
        applied = await self.engine.apply(
            operator_event(
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
                followed = {(i.seq, i.account) for i in items if i.state in PUSH_UNDER_WAY}
            current = [i for i in items if (i.seq, i.account) in followed]
            for item in current:
                key = (item.seq, item.account)
                if seen.get(key) not in (None, item.state):
                    await progress({"message": f"item {item.seq} for {item.account}: {item.state}"})
                seen[key] = item.state
            if all(i.state not in PUSH_UNDER_WAY for i in current):
                break
            if anyio.current_time() >= deadline:
                return {
                    "outcome": "timeout",
                    "error": f"still under way after {timeout:g} s: "
                    + ", ".join(
                        f"item {i.seq} for {i.account} {i.state}"
                        for i in current
                        if i.state in PUSH_UNDER_WAY
                    ),
                    "settled": settled(current),
                }
            await anyio.sleep(WAIT_POLL_SECONDS)
        failed = [i for i in current if i.state in PUSH_FAILED]
        return {
            "outcome": "failed" if failed else "ok",
            "error": "; ".join(
                f"item {i.seq} for {i.account} {i.state}: {i.last_error or 'no error recorded'}"
                for i in failed
            )
            or None,
            "settled": settled(current),
        }

    async def replay(
        self, args: dict[str, Any], progress: Progress, by: str | None
    ) -> dict[str, Any]:
        """Process a stored event again: a poisoned one, or a processed input (REPLAYABLE_KINDS).
        The handlers re-judge against what is stored, so a replay that finds nothing to do
        changes nothing; the answer lists the transitions it made."""
        event_id = arg(args, "id", int)
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
        applied = await self.engine.apply(operator_event(OperatorReplay(event_id, by)))
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
        storefront = optional_str(args, "storefront")
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
        applied = await self.engine.apply(operator_event(payload))
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
        account = arg(args, "account", str)
        kind = arg(args, "kind", str)
        if account not in self.engine.config.accounts:
            raise unknown_name("account", account, self.engine.config.accounts)
        if kind not in IMPORT_KINDS:
            raise unknown_name("import kind", kind, IMPORT_KINDS)
        driver = self.drivers.get(account)
        if driver is not None and ImportKind(kind) not in driver.capabilities.imports:
            provider = self.engine.config.accounts[account].provider
            can = ", ".join(sorted(k.value for k in driver.capabilities.imports)) or "nothing"
            raise BadArgument(
                f"account {account!r} (provider {provider}) cannot import {kind}; "
                f"it can import: {can}"
            )
        wait = self._wait_args(args)
        applied = await self.engine.apply(operator_event(ImportRequest(account, kind)))
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
            await anyio.sleep(WAIT_POLL_SECONDS)

    async def test_connection(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Each account's driver checks its credentials and reachability (changes nothing);
        an account's other environment (test or live) is checked and reported beside it."""
        account = optional_str(args, "account")
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
            with anyio.fail_after(environments.CHECK_TIMEOUT_SECONDS):
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
        source = arg(args, "source", str)
        dedupe_key = arg(args, "dedupe_key", str)
        kind = arg(args, "kind", str)
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
