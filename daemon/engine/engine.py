"""The engine: inbox -> handler -> statechart -> store, exactly once per event.

Two ways in:
- `ingest(event)`: an outside input (webhook, poll result, operator submit). It is stored
  durably (group commit) and acknowledged; the processor applies it later, in id order.
- `apply(event)`: an input the daemon itself produces (an actor's claim, a driver's result, a
  timer firing). It is stored AND applied in one transaction, because the producer needs the
  outcome (which items did I claim?) before it goes on.

Either way the event row, its `done` mark, the state changes and their history rows commit
together. A handler that raises rolls back its own savepoint only; the event is then marked
poisoned with the error and traceback and processing goes on with the next event: one bad
event never blocks other orders.

A full disk (`StoreUnavailable`) is not the event's fault: it is never poisoned for it. The
whole transaction rolls back, the events stay pending, and the processor and the timer loop
wait (`StoreHealth.pause`) and try again until the store can write.
"""

from __future__ import annotations

import dataclasses
import random
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import structlog

from daemon.clock import Clock
from daemon.config import Config
from daemon.engine.context import Context, order_subject
from daemon.engine.effects import Effects
from daemon.engine.item_retries import lost_retries, rearm_lost_retries
from daemon.engine.registry import HANDLERS
from daemon.errors import BadEventPayload, EsdError, EventError, StoreUnavailable
from daemon.events import RetryTimer, TimerFired, parse_timer, to_payload
from daemon.logs import REDACTOR
from daemon.reload import ConfigHolder
from daemon.statecharts import Statecharts
from daemon.store import inbox
from daemon.store.database import Database, Txn
from daemon.store.timers import due_timers, next_timer, take_timer

__all__ = ["Applied", "Engine"]

log = structlog.get_logger("esd.engine")


@dataclasses.dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of `Engine.apply`."""

    event_id: int
    duplicate: bool
    result: Any = None
    error: str | None = None


class Engine:
    """Applies events to the stored statechart subjects."""

    def __init__(
        self,
        db: Database,
        charts: Statecharts,
        config: Config | ConfigHolder,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        batch_size: int = 256,
    ) -> None:
        self.db = db
        self.charts = charts
        #: the config in force; a reload swaps it between transactions (daemon.reload)
        self.holder = ConfigHolder.of(config)
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch_size = batch_size
        self.committer = inbox.GroupCommitter(db, clock)
        self.committer.on_commit.append(self.notify_inbox)
        self._inbox_wakeup = anyio.Event()
        self._timer_wakeup = anyio.Event()
        #: called with the effects of each commit (the app routes them to the actors)
        self.dispatch: Callable[[Effects], None] = lambda effects: None
        self.processed = 0
        self.poisoned = 0
        self.rearmed = 0  # retrying items found without a timer and given one again
        self._rearm_checked_at: float | None = None

    @property
    def config(self) -> Config:
        """The config in force. Read once per event (its handler's `ctx.config`), so one
        event never sees two configs."""
        return self.holder.current

    @config.setter
    def config(self, config: Config) -> None:
        self.holder.current = config

    # --- ways in ------------------------------------------------------------------------

    def ingest(self, event: inbox.NewEvent) -> Coroutine[Any, Any, inbox.Stored]:
        """Store an outside input durably (await it); it is processed after that returns.

        The committer's own coroutine, not one wrapping it: an intake request resumes through
        one frame less."""
        return self.committer.store(event)

    async def apply(self, event: inbox.NewEvent, *, power_safe: bool = True) -> Applied:
        """Store an input of the daemon's own and apply it in the same transaction.

        `power_safe=False` commits without waiting for the disk (`Database.transaction`): only
        for inputs the daemon rebuilds by asking the MIS again after a power cut, such as a
        driver's claim, push result or polled status (the push reconciles or looks up what
        it made by its reference; the next poll reports the status again).
        """
        effects = Effects()
        async with self.db.transaction(power_safe=power_safe) as txn:
            now = self.clock.now()
            stored = await inbox.insert_event(txn, event, now)
            if stored.duplicate:
                return Applied(stored.id, True)
            record = inbox.record_of(event, stored.id, now)
            outcome = await self._process_one(txn, record, now, effects)
        self._after_commit(effects, txn.timers_changed)
        return Applied(stored.id, False, outcome.result, outcome.error)

    async def apply_when_stored(self, event: inbox.NewEvent, *, power_safe: bool = True) -> Applied:
        """`apply`, tried again while the store cannot write (an actor's claim or result must
        not be lost to a full disk). The event keeps its dedupe key across tries, so a try
        whose commit did land after all is found as a duplicate, not applied twice."""
        return await self.db.health.retrying(
            lambda: self.apply(event, power_safe=power_safe), event.kind
        )

    def notify_inbox(self) -> None:
        """New pending events exist: wake the processor."""
        self._inbox_wakeup.set()

    def notify_timers(self) -> None:
        """A timer may have been set earlier than the one waited for: re-check."""
        self._timer_wakeup.set()

    # --- the processor ------------------------------------------------------------------

    async def run_processor(self) -> None:
        """Apply pending inbox events in id order, for the daemon's lifetime."""
        while True:
            try:
                await self.process_pending()
            except StoreUnavailable:  # rolled back: the events are still pending
                await self.db.health.pause()
                continue
            await self._inbox_wakeup.wait()
            self._inbox_wakeup = anyio.Event()

    async def process_pending(self) -> int:
        """Apply every pending event now; return how many were handled."""
        handled = 0
        after = 0
        while True:
            effects = Effects()
            async with self.db.transaction() as txn:
                batch = await inbox.pending_events(txn, self.batch_size, after)
                now = self.clock.now()
                for record in batch:
                    await self._process_one(txn, record, now, effects)
            self._after_commit(effects, txn.timers_changed)
            handled += len(batch)
            if len(batch) < self.batch_size:
                if effects.reprocess:
                    after = 0
                    continue
                return handled
            after = batch[-1].id

    async def _process_one(
        self, txn: Txn, record: inbox.EventRecord, now: float, effects: Effects
    ) -> _Outcome:
        handler = HANDLERS.get(record.kind)
        ctx_effects = Effects()
        try:
            if handler is None:
                raise EventError(f"no handler for event kind {record.kind!r}")
            done = inbox.done_statement(record.id, now)
            async with self.db.savepoint(txn, finish=done):
                ctx = Context(txn, record, now, self.config, self.charts, self.rng, ctx_effects)
                result = await handler(ctx)
        except StoreUnavailable:
            raise  # the disk, not the event: the transaction rolls back, the event stays pending
        except Exception as exc:
            error = REDACTOR.redact(_describe(exc))
            trace = REDACTOR.redact(traceback.format_exc())
            await inbox.mark_poisoned(txn, record.id, error, trace, now)
            self.poisoned += 1
            log.error(
                "event.poisoned",
                event_id=record.id,
                kind=record.kind,
                source=record.source,
                error=error,
            )
            return _Outcome(None, error)
        self.processed += 1
        effects.merge(ctx_effects)
        return _Outcome(result, None)

    def _after_commit(self, effects: Effects, timers_changed: bool) -> None:
        if timers_changed:  # maybe earlier than the one the timer loop sleeps for
            self._timer_wakeup.set()
        if effects.reprocess:
            self.notify_inbox()
        if effects:
            self.dispatch(effects)

    # --- timers -------------------------------------------------------------------------

    async def run_timers(self) -> None:
        """Fire durable timers when due, for the daemon's lifetime (overdue ones at once)."""
        while True:
            try:
                await self.fire_due_timers()
                await self.rearm_lost_retries(every=REARM_CHECK_SECONDS)
                async with self.db.reading() as txn:
                    upcoming = await next_timer(txn)
            except StoreUnavailable:  # rolled back: the timers are still there, still due
                await self.db.health.pause()
                continue
            delay = 3600.0 if upcoming is None else max(0.0, upcoming.due_at - self.clock.now())
            with anyio.move_on_after(min(delay, 3600.0)):
                await self._timer_wakeup.wait()
            self._timer_wakeup = anyio.Event()

    async def fire_due_timers(self) -> int:
        """Fire every timer whose time has come; each firing is an event, stored and applied."""
        fired = 0
        while True:
            async with self.db.reading() as txn:
                upcoming = await next_timer(txn)
            if upcoming is None or upcoming.due_at > self.clock.now():
                return fired
            effects = Effects()
            async with self.db.transaction() as txn:
                now = self.clock.now()
                timers = await due_timers(txn, now)
                for timer in timers:
                    await take_timer(txn, timer.id)
                    event = inbox.NewEvent(
                        source="timer",
                        dedupe_key=f"{timer.id}@{timer.due_at!r}",
                        kind="timer.fired",
                        payload=to_payload(
                            TimerFired(
                                timer.id, timer.kind, timer.subject, timer.due_at, timer.payload
                            )
                        ),
                        subject=_timer_event_subject(timer.kind, timer.payload),
                    )
                    stored = await inbox.insert_event(txn, event, now)
                    if stored.duplicate:
                        continue
                    record = inbox.record_of(event, stored.id, now)
                    await self._process_one(txn, record, now, effects)
            self._after_commit(effects, txn.timers_changed)
            fired += len(timers)
            if not timers:
                return fired

    async def rearm_lost_retries(self, *, every: float = 0.0) -> int:
        """Re-arm retrying items that lost their timer (at start, then at most once `every`
        seconds); return how many. A read finds them; only then a write transaction."""
        now = self.clock.now()
        if self._rearm_checked_at is not None and now - self._rearm_checked_at < every:
            return 0
        self._rearm_checked_at = now
        async with self.db.reading() as txn:
            if not await lost_retries(txn):
                return 0
        async with self.db.transaction() as txn:
            rearmed = await rearm_lost_retries(txn, self.clock.now())
        self._after_commit(Effects(), txn.timers_changed)
        self.rearmed += len(rearmed)
        return len(rearmed)


#: how often the timer loop looks for retrying items without a timer (and always at start)
REARM_CHECK_SECONDS = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    result: Any
    error: str | None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EsdError):
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _timer_event_subject(kind: str, payload: dict[str, Any]) -> str | None:
    """The order a retry timer's firing is about (its trace key), read as the handler will."""
    if kind != RetryTimer.KIND:
        return None
    try:
        timer = parse_timer(kind, payload)
    except BadEventPayload:
        return None  # the timer.fired handler poisons it, naming the field that is wrong
    assert isinstance(timer, RetryTimer)
    return order_subject(timer.site, timer.order)
