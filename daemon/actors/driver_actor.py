"""One configured service account as an actor: its own task, mailbox, concurrency and rate limit.

The actor owns every conversation with its MIS driver. It never changes state itself: it claims
work and reports results through `Engine.apply`, so each step is an event in the inbox and a
history row. Its mailbox carries only hints (`Wake`, `Poll`, `RunImport`); the work itself is
read from the store, so a lost hint (a crash, a full restart) loses nothing: on start the actor
first reconciles what it left in `pushing`, then looks for ready work.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio
import structlog
from anyio.abc import TaskGroup

from daemon.actors.connection_health import ConnectionHealth
from daemon.actors.mailbox import Mailbox
from daemon.actors.poll_rounds import PollRounds, Round
from daemon.actors.rate_limit import ConcurrencyLimit, TokenBucket
from daemon.actors.supervisor import Health
from daemon.config import Account
from daemon.engine.context import order_subject
from daemon.engine.engine import Engine
from daemon.errors import DriverError, PermanentError, StoreUnavailable, TransientError
from daemon.events import (
    ImportClaim,
    ImportPage,
    ImportResult,
    LineStatus,
    PushClaim,
    PushedItem,
    StatusPollTimer,
    StatusReport,
    kind_of,
    to_payload,
)
from daemon.events import PushResult as PushResultEvent
from daemon.logs import REDACTOR
from daemon.orders.model import Order
from daemon.providers.contract import (
    Driver,
    ImportKind,
    ItemRef,
    PushResult,
    StatusMode,
    push_reference,
)
from daemon.store.imports import import_batch, unfinished_batches
from daemon.store.inbox import NewEvent
from daemon.store.items import items_of_order, orders_in_state, orders_to_poll
from daemon.store.journal import StoreJournal
from daemon.store.orders import OrderKey, stored_order
from daemon.store.timers import cancel_timer, ensure_timer

__all__ = ["DriverActor", "Poll", "RunImport", "Wake"]

log = structlog.get_logger("esd.actor")


@dataclasses.dataclass(frozen=True, slots=True)
class Wake:
    """Ready items may be waiting."""


@dataclasses.dataclass(frozen=True, slots=True)
class Poll:
    """Fetch status and tracking of pushed items."""


@dataclasses.dataclass(frozen=True, slots=True)
class RunImport:
    """Run (or resume) an import batch."""

    batch_id: int


Message = Wake | Poll | RunImport


class DriverActor:
    """The actor of one service account."""

    def __init__(
        self,
        account: Account,
        driver: Driver,
        engine: Engine,
        *,
        push_seconds: Callable[[float], None] | None = None,
    ) -> None:
        self._account = account
        self.driver = driver
        self.engine = engine
        self.health = Health(account.name)
        alerts = engine.config.alerts
        #: whether the MIS answers (fed by every call of the driver's)
        self.connection = ConnectionHealth(
            "mis",
            account.name,
            down_after_seconds=alerts.down_after_seconds,
            down_after_failures=alerts.down_after_failures,
        )
        #: status polls, numbered, for `esd sync --wait`
        self.status_rounds = PollRounds()
        #: observes each push's duration (the daemon's metrics histogram)
        self._push_seconds = push_seconds
        self._limiter = ConcurrencyLimit(account.concurrency)
        self._bucket = TokenBucket(account.rate_per_second)
        self._mailbox = Mailbox[Message]()
        #: orders a push holds, from the claim until its result is recorded
        self._in_flight: set[tuple[str, str]] = set()
        #: slots of `concurrency` taken (see `_run_slot`)
        self._slots = 0
        #: the last look for ready orders may have left some: a slot's end looks again
        self._backlog = False
        self._accepting = True
        self._idle = anyio.Event()
        self._idle.set()

    @property
    def account(self) -> Account:
        """This account as the config in force has it (a reload may change its poll
        interval; its name, provider and concurrency stay until a restart)."""
        return self.engine.config.accounts.get(self._account.name, self._account)

    # --- the mailbox --------------------------------------------------------------------

    def tell(self, message: Message) -> None:
        """Post a message; never blocks."""
        self._mailbox.tell(message)

    @property
    def queued(self) -> int:
        return self._mailbox.queued

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def close(self) -> None:
        """Close the mailbox (the daemon is stopping)."""
        self._mailbox.close()

    def stop_accepting(self) -> None:
        """Drain: finish what runs, start nothing new."""
        self._accepting = False

    async def wait_idle(self) -> None:
        """Return once no push is in flight."""
        await self._idle.wait()

    # --- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """The actor's life (restarted by the supervisor after a crash)."""
        self._in_flight.clear()
        self._slots = 0
        self._idle.set()
        async with anyio.create_task_group() as tg:
            await self.reconcile()
            await self._resume_imports()
            declared = self.driver.capabilities
            if declared.status is StatusMode.POLL or (
                declared.status is StatusMode.WEBHOOK and declared.poll_fallback
            ):
                await self._ensure_poll_timer()
            else:  # e.g. webhook mode: a poll timer left from an earlier config must not fire
                await self._drop_poll_timer()
            self.tell(Wake())
            async for message in self._mailbox:
                if not self._accepting:
                    continue
                if isinstance(message, Wake):
                    await self._start_ready(tg)
                elif isinstance(message, Poll):
                    tg.start_soon(self.poll_status)
                elif isinstance(message, RunImport):
                    tg.start_soon(self.run_import, message.batch_id)

    async def _resume_imports(self) -> None:
        async with self.engine.db.reading() as txn:
            batches = await unfinished_batches(txn, self.account.name)
        for batch in batches:
            if batch.state == "running":  # the daemon stopped mid-import: back to pending
                await self._apply(ImportResult(batch.id, "interrupted"), None)
            self.tell(RunImport(batch.id))

    async def _apply(self, payload: object, subject: str | None, *, power_safe: bool = True) -> Any:
        """Store and apply one typed input of this actor's (a claim, a result, a page); while
        the store cannot write (a full disk) it waits and tries again: a result is never lost."""
        kind, data = kind_of(payload), to_payload(payload)
        applied = await self.engine.apply_when_stored(
            NewEvent(f"actor:{self.account.name}", uuid.uuid4().hex, kind, data, subject),
            power_safe=power_safe,
        )
        return applied.result

    async def _ensure_poll_timer(self) -> None:
        async with self.engine.db.transaction() as txn:
            due = self.engine.clock.now() + self.account.status_poll_seconds
            timer = StatusPollTimer(self.account.name)
            await ensure_timer(txn, "status_poll", self.account.name, due, to_payload(timer))
        self.engine.notify_timers()

    async def _drop_poll_timer(self) -> None:
        async with self.engine.db.transaction() as txn:
            await cancel_timer(txn, "status_poll", self.account.name)

    async def _start_ready(self, tg: TaskGroup) -> None:
        # Only as many pushes as there are free slots, oldest order first: a backlog of
        # thousands of ready orders is not thousands of waiting tasks, and a Wake reads a few
        # rows, not all of them (reading every ready order at every push's end cost more than
        # the push in the push bench). A slot goes on with the next ready order itself.
        free = int(self._limiter.total_tokens) - self._slots
        if free <= 0:
            self._backlog = True
            return
        for key in await self._ready_orders(free):
            self._slots += 1
            self._hold(key)
            tg.start_soon(self._run_slot, tg, key)

    async def _ready_orders(self, wanted: int) -> list[OrderKey]:
        """Up to `wanted` orders with ready items that no push holds, oldest first."""
        limit = wanted + len(self._in_flight)  # held orders may still show as ready
        async with self.engine.db.reading() as txn:
            ready = await orders_in_state(txn, self.account.name, "ready", limit=limit)
        self._backlog = len(ready) == limit
        return [key for key in ready if key not in self._in_flight][:wanted]

    def _hold(self, key: tuple[str, str]) -> None:
        self._in_flight.add(key)
        if self._idle.is_set():  # a waiter holds the unset event: it must stay the one set
            self._idle = anyio.Event()

    def _let_go(self, key: tuple[str, str]) -> None:
        self._in_flight.discard(key)
        if not self._in_flight:
            self._idle.set()

    # --- pushing ------------------------------------------------------------------------

    async def _run_slot(self, tg: TaskGroup, key: tuple[str, str]) -> None:
        """One slot of the account's concurrency: push `key`'s order, then the oldest ready
        order no push holds, and so on until none is left or the daemon drains.

        A slot is the MIS's time: the next push starts as soon as the last one's MIS work
        ends, and the last result is recorded beside it (`_record`, once the next claim is
        stored, so the claim does not queue behind it). Flushing the journal, recording the
        result and the Wake that started the next push took 3-5 ms of each 134-144 ms push,
        with the slot idle (the push bench, Tharstern stock orders, concurrency 1 and 8)."""
        claimed: anyio.Event | None = None
        try:
            while True:
                try:
                    outcome = await self._push_in_slot(key, claimed)
                except BaseException:
                    self._let_go(key)  # the actor restarts; reconcile asks the MIS
                    raise
                claimed = None
                if outcome is None:
                    self._let_go(key)
                else:
                    claimed = anyio.Event()
                    tg.start_soon(self._record, key, outcome, claimed)
                # One turn of the event loop a push: the locks and limits a push takes do not
                # yield when free, and a push that fails before any call (a mapping error)
                # would otherwise go through a backlog of thousands with nothing else running.
                await anyio.lowlevel.checkpoint()
                next_key = None
                if self._accepting:
                    found = await self._ready_orders(1)
                    next_key = found[0] if found else None
                if next_key is None:
                    break
                key = next_key
                self._hold(key)
        finally:
            if claimed is not None:
                claimed.set()
            self._slots -= 1
        if self._backlog:
            self.tell(Wake())

    async def _push_in_slot(
        self, key: tuple[str, str], claimed: anyio.Event | None
    ) -> _Outcome | None:
        """Claim and push one order in a slot; `claimed` (the last push's result waiting to be
        recorded) is set once this claim is stored, or before any wait for the limiter or the
        rate limit, or if nothing comes of it."""
        try:
            if claimed is not None and not (
                self._limiter.available_tokens >= 1 and self._bucket.has_token()
            ):
                claimed.set()  # a poll or an import holds the slot: the result must not wait
            async with self._limiter:
                if not self._accepting:
                    return None
                await self._bucket.acquire()
                return await self._claim_and_push(*key, claimed=claimed)
        finally:
            if claimed is not None:
                claimed.set()

    async def _record(self, key: tuple[str, str], outcome: _Outcome, claimed: anyio.Event) -> None:
        """Record a push's result once the next push of its slot has claimed."""
        try:
            await claimed.wait()
            if outcome.journal is not None:
                await outcome.journal.flush()
            await self._emit(outcome.result)
        finally:
            self._let_go(key)
        self.tell(Wake())  # the order's other items may have become ready meanwhile

    async def _emit(self, payload: PushClaim | PushResultEvent | StatusReport) -> Any:
        """Store and apply an input about one (order, account), with the order's subject.

        Not power-safe (no wait for the disk, two of them a push): a claim or result a power
        cut takes back leaves the items ready or pushing, and the push after the restart finds
        what this one made (each step looks it up by the push reference before creating) or
        reconcile asks the MIS; a lost status report is the next poll's again.
        """
        subject = order_subject(payload.site, payload.order)
        return await self._apply(payload, subject, power_safe=False)

    async def _order(self, site: str, order_number: str) -> Order:
        async with self.engine.db.reading() as txn:
            order = await stored_order(txn, site, order_number)
        if order is None:  # its items exist, so the order was stored: only a bug gets here
            raise LookupError(f"order {order_number} of site {site} is not stored")
        return order

    async def push(self, site: str, order_number: str) -> bool:
        """Claim the ready items of one order and push them; True if more may be ready."""
        outcome = await self._claim_and_push(site, order_number)
        if outcome is None:
            return False
        if outcome.journal is not None:
            await outcome.journal.flush()
        await self._emit(outcome.result)
        return True

    async def _claim_and_push(
        self, site: str, order_number: str, *, claimed: anyio.Event | None = None
    ) -> _Outcome | None:
        """Claim the ready items of one order and push them: the push.result payload and the
        journal to flush before it is recorded, or None if nothing was ready. `claimed` is set
        once the claim is stored."""
        claim = PushClaim(site, order_number, self.account.name)
        seqs: list[int] = await self._emit(claim) or []
        if claimed is not None:
            claimed.set()
        if not seqs:
            return None
        log.info(
            "push.started", account=self.account.name, site=site, order=order_number, items=seqs
        )
        result_payload: PushResultEvent
        journal: StoreJournal | None = None
        try:
            order = await self._order(site, order_number)
            items = [order.item(seq) for seq in seqs]
            journal = await StoreJournal.load(
                self.engine.db, site, order_number, self.account.name, self.engine.clock
            )
            reference = push_reference(self.account.name, site, order_number)
            started = time.monotonic()
            try:
                with self.connection.call("push"):
                    result = await self.driver.push_order(order, items, journal, reference)
            finally:
                if self._push_seconds is not None:
                    self._push_seconds(time.monotonic() - started)
            result_payload = _pushed(claim, seqs, result, "push")
        except StoreUnavailable:
            raise  # not the push's failure: the supervisor restarts us, reconcile finds it
        except Exception as exc:
            result_payload = _push_failed(claim, seqs, exc)
            # journalctl shows why a push failed, as `esd order` does (the text is redacted
            # and an HTML error page is already summarised by then).
            log.warning(
                "push.failed",
                account=self.account.name,
                site=site,
                order=order_number,
                outcome=result_payload.outcome,
                error=result_payload.error,
            )
        return _Outcome(result_payload, journal)

    async def reconcile(self) -> None:
        """Ask the MIS what it holds for every order this account left in `pushing`."""
        async with self.engine.db.reading() as txn:
            pushing = await orders_in_state(txn, self.account.name, "pushing")
        for site, order_number in pushing:
            async with self.engine.db.reading() as txn:
                items = [
                    i
                    for i in await items_of_order(txn, site, order_number, self.account.name)
                    if i.state == "pushing"
                ]
            seqs = [i.seq for i in items]
            claim = PushClaim(site, order_number, self.account.name)
            payload: PushResultEvent
            try:
                order = await self._order(site, order_number)
                journal = await StoreJournal.load(
                    self.engine.db, site, order_number, self.account.name, self.engine.clock
                )
                with self.connection.call("reconcile"):
                    found = await self.driver.find_pushed(
                        order,
                        [order.item(s) for s in seqs],
                        journal,
                        push_reference(self.account.name, site, order_number),
                    )
                payload = (
                    _pushed(claim, seqs, found, "reconcile")
                    if found
                    else PushResultEvent(*_order_of(claim), "absent", tuple(seqs), "reconcile")
                )
            except StoreUnavailable:
                raise
            except Exception as exc:
                payload = _push_failed(claim, seqs, exc)
            log.info(
                "push.reconciled",
                account=self.account.name,
                site=site,
                order=order_number,
                outcome=payload.outcome,
            )
            await self._emit(payload)

    # --- status -------------------------------------------------------------------------

    async def poll_status(self) -> int:
        """Fetch status and tracking of unfinished pushed items; return how many orders."""
        with self.status_rounds.round() as current:
            polled = await self._poll_status(current)
            current.done = polled
            return polled

    async def _poll_status(self, current: Round) -> int:
        async with self.engine.db.reading() as txn:
            unfinished = await orders_to_poll(txn, self.account.name, self.driver.final_statuses)
        polled = 0
        asked = 0
        for site, order_number in unfinished:
            async with self._limiter:
                await self._bucket.acquire()
                async with self.engine.db.reading() as txn:
                    items = [
                        i
                        for i in await items_of_order(txn, site, order_number, self.account.name)
                        if i.state == "pushed" and i.external_id
                    ]
                # Adopted items carry only their storefront MisId: the driver names its order.
                by_mis_order: dict[str, list[ItemRef]] = {}
                for i in items:
                    mis_order = i.order_external_id or self.driver.order_of_item(str(i.external_id))
                    if mis_order is None:
                        log.warning(
                            "status.no_mis_order",
                            account=self.account.name,
                            site=site,
                            order=order_number,
                            seq=i.seq,
                            mis_id=i.external_id,
                        )
                        continue
                    by_mis_order.setdefault(mis_order, []).append(
                        ItemRef(i.seq, str(i.external_id))
                    )
                if not by_mis_order:
                    continue
                try:
                    order = await self._order(site, order_number)
                    asked += 1
                    with self.connection.call("status"):
                        reports = [
                            report
                            for mis_order, refs in sorted(by_mis_order.items())
                            for report in await self.driver.fetch_status(order, refs, mis_order)
                        ]
                except DriverError as exc:
                    error = REDACTOR.redact(str(exc))
                    current.failed(f"order {order_number}: {error}")
                    log.warning(
                        "status.poll_failed",
                        account=self.account.name,
                        site=site,
                        order=order_number,
                        error=error,
                    )
                    continue
                await self._emit(
                    StatusReport(
                        site,
                        order_number,
                        self.account.name,
                        tuple(LineStatus(r.item_seq, r.status, tuple(r.tracking)) for r in reports),
                    )
                )
                polled += 1
        if not asked:
            # Nothing to ask: the poll still checks the MIS answers, so an unreachable MIS
            # shows (and alerts) even when no order is waiting for it.
            unreachable = await self.probe()
            if unreachable is not None:
                current.failed(unreachable)
        return polled

    async def probe(self) -> str | None:
        """Check the connection (the driver's test_connection, which changes nothing); what
        failed (redacted), or None."""
        async with self._limiter:
            await self._bucket.acquire()
            try:
                report = await self.driver.test_connection()
            except Exception as exc:
                self.connection.record_exception("probe", exc)
                error = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
                log.warning("connection.probe_failed", account=self.account.name, error=error)
                return error
        self.connection.record_report("probe", report.ok, report.detail)
        if not report.ok:
            error = REDACTOR.redact(report.detail)
            log.warning("connection.probe_failed", account=self.account.name, error=error)
            return error
        return None

    # --- imports ------------------------------------------------------------------------

    async def run_import(self, batch_id: int) -> None:
        """Run one import batch: claim it, stream its pages into the store, report the end."""
        if not await self._apply(ImportClaim(batch_id), None):
            return
        async with self.engine.db.reading() as txn:
            batch = await import_batch(txn, batch_id)
        payload: ImportResult
        try:
            async with self._limiter:
                if batch is None:  # claimed a moment ago: only a bug gets here
                    raise LookupError(f"import batch {batch_id} is not stored")
                pages = _import_pages(self.driver, ImportKind(batch.kind))
                with self.connection.call("import"):
                    async for page in pages:
                        await self._bucket.acquire()
                        await self._apply(
                            ImportPage(batch_id, tuple(_record(r) for r in page)), None
                        )
            payload = ImportResult(batch_id, "done")
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._apply(ImportResult(batch_id, "interrupted"), None)
            raise
        except Exception as exc:
            failure = _failure(exc)
            payload = ImportResult(batch_id, failure.outcome, failure.error, failure.retry_after)
        await self._apply(payload, None)


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    """A push's push.result payload, and its journal: the steps it recorded are flushed before
    the result is (a crash between the two finds them, not the MIS, on the next push)."""

    result: PushResultEvent
    journal: StoreJournal | None


def _order_of(claim: PushClaim) -> tuple[str, str, str]:
    return claim.site, claim.order, claim.account


def _pushed(claim: PushClaim, seqs: list[int], result: PushResult, via: str) -> PushResultEvent:
    return PushResultEvent(
        *_order_of(claim),
        "pushed",
        tuple(seqs),
        via,
        result.order_external_id,
        tuple(PushedItem(i.item_seq, i.external_id) for i in result.items),
        tuple(REDACTOR.redact(w) for w in result.warnings),
    )


def _push_failed(claim: PushClaim, seqs: list[int], exc: BaseException) -> PushResultEvent:
    failure = _failure(exc)
    return PushResultEvent(
        *_order_of(claim),
        failure.outcome,
        tuple(seqs),
        error=failure.error,
        retry_after=failure.retry_after,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Failure:
    """A driver failure as a push.result or import.result reports it."""

    outcome: Literal["transient", "permanent"]
    error: str
    retry_after: float | None = None


def _failure(exc: BaseException) -> _Failure:
    """Classify a driver failure: transient (retry later) or permanent (operator must act)."""
    if isinstance(exc, TransientError):
        return _Failure(
            "transient", REDACTOR.redact(f"{type(exc).__name__}: {exc}"), exc.retry_after
        )
    if isinstance(exc, PermanentError):
        return _Failure("permanent", REDACTOR.redact(f"{type(exc).__name__}: {exc}"))
    # Anything else is a driver bug: permanent, with the traceback kept for the developer.
    log.error(
        "driver.bug",
        error=REDACTOR.redact(repr(exc)),
        traceback=REDACTOR.redact("".join(traceback.format_exception(exc))),
    )
    return _Failure("permanent", REDACTOR.redact(f"driver bug: {type(exc).__name__}: {exc}"))


def _import_pages(driver: Driver, kind: ImportKind) -> Any:
    return {
        ImportKind.PRODUCTS: driver.fetch_products,
        ImportKind.CATEGORIES: driver.fetch_categories,
        ImportKind.PRICES: driver.fetch_prices,
        ImportKind.STOCK: driver.fetch_stock,
    }[kind]()


def _record(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        data[field.name] = (
            value
            if isinstance(value, str | int | float | type(None))
            else (
                list(value)
                if isinstance(value, tuple)
                else dict(value)
                if isinstance(value, Mapping)
                else str(value)
            )
        )
    key_field = next(f for f in ("sku", "category_id") if f in data)
    data["key"] = f"{data[key_field]}" + (f"@{data['quantity']}" if "quantity" in data else "")
    return data
