"""Actors: supervision with backoff, driver bugs contained, token bucket (an in-test driver)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from daemon.actors import driver_actor
from daemon.actors.driver_actor import DriverActor
from daemon.actors.rate_limit import ConcurrencyLimit, TokenBucket
from daemon.actors.supervisor import Health, supervise
from daemon.engine import effects as fx
from daemon.engine.engine import Engine
from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import (
    Capabilities,
    ConnectionReport,
    Driver,
    ItemRef,
    PushJournal,
    PushResult,
    StatusMode,
)
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database
from daemon.store.items import items_of_order
from tests.helpers import ManualClock, make_config, make_order


class ScriptedDriver(Driver):
    """A driver whose push does what the test says."""

    provider = "scripted"
    capabilities = Capabilities(status=StatusMode.MANUAL)

    def __init__(self, behaviour: list[Any]) -> None:
        super().__init__("mis", {}, {})
        self.behaviour = behaviour
        self.pushed: list[str] = []

    async def test_connection(self) -> ConnectionReport:
        return ConnectionReport(True, "ok")

    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        step = self.behaviour.pop(0) if self.behaviour else "ok"
        if isinstance(step, BaseException):
            raise step
        self.pushed.append(order.order_number)
        return PushResult(
            "J-" + order.order_number, tuple(ItemRef(i.seq, f"L{i.seq}") for i in items)
        )

    async def find_pushed(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult | None:
        return None


def test_supervisor_restarts_a_crashing_actor_with_backoff() -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise RuntimeError(f"crash {calls}")

    health = Health("mis")
    anyio.run(lambda: supervise(health, flaky, initial_backoff=0.001, max_backoff=0.002))
    assert calls == 4
    assert health.restarts == 3
    assert health.last_error == "RuntimeError: crash 3"
    assert health.state == "stopped"


def test_supervisor_stops_on_cancel() -> None:
    health = Health("mis")

    async def main() -> None:
        with anyio.move_on_after(0.05):
            await supervise(health, anyio.sleep_forever)

    anyio.run(main)
    assert health.state == "stopped" and health.restarts == 0


async def _engine(tmp_path: Path, *, concurrency: int = 4) -> Engine:
    db = await Database.open(tmp_path / "esd.sqlite3")
    config = make_config(
        tmp_path, accounts={"mis": {"url": "http://127.0.0.1:9", "concurrency": concurrency}}
    )
    return Engine(db, load_charts(), config, ManualClock(), rng=random.Random(0))


async def _store_orders(engine: Engine, *numbers: str) -> None:
    """One-item orders `numbers` arrive from the storefront (keyed by number) and are judged."""
    for number in numbers:
        await engine.committer.store_many(
            [
                inbox.NewEvent(
                    "storefront:shop",
                    number,
                    "order.snapshot",
                    {"order": make_order(number, items=1).to_json()},
                )
            ]
        )
    await engine.process_pending()


async def _run_actor_until(actor: DriverActor, engine: Engine, done: Any) -> None:
    def wake_only(effects: fx.Effects) -> None:
        for message in effects:
            if isinstance(message, fx.Wake):
                actor.tell(driver_actor.Wake())

    engine.dispatch = wake_only
    async with anyio.create_task_group() as tg:
        tg.start_soon(supervise, actor.health, actor.run)
        with anyio.fail_after(10):
            while not await done():
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    actor.close()


@pytest.mark.parametrize(
    ("failure", "state", "error"),
    [
        (ValueError("bad index"), "failed", "driver bug: ValueError: bad index"),
        (
            __import__("daemon.errors", fromlist=["x"]).NetworkError("reset"),
            "retrying",
            "NetworkError: reset",
        ),
        (
            __import__("daemon.errors", fromlist=["x"]).BusinessRuleError("no customer"),
            "failed",
            "BusinessRuleError: no customer",
        ),
    ],
)
def test_driver_failures_are_classified_and_the_actor_lives_on(
    tmp_path: Path, failure: Exception, state: str, error: str
) -> None:
    async def main() -> None:
        engine = await _engine(tmp_path)
        driver = ScriptedDriver([failure])
        actor = DriverActor(engine.config.accounts["mis"], driver, engine)
        await _store_orders(engine, "1", "2")

        async def settled() -> bool:
            async with engine.db.reading() as txn:
                first = await items_of_order(txn, "shop", "1")
                second = await items_of_order(txn, "shop", "2")
            return first[0].state == state and second[0].state == "pushed"

        await _run_actor_until(actor, engine, settled)
        async with engine.db.reading() as txn:
            item = (await items_of_order(txn, "shop", "1"))[0]
        assert item.last_error == error
        assert actor.health.restarts == 0
        await engine.db.close()

    anyio.run(main)


def test_a_crash_in_the_actor_loop_is_restarted_and_work_continues(tmp_path: Path) -> None:
    async def main() -> None:
        engine = await _engine(tmp_path)
        driver = ScriptedDriver([])
        actor = DriverActor(engine.config.accounts["mis"], driver, engine)
        original = actor._start_ready
        crashes = 0

        async def crash_once(tg: Any) -> None:
            nonlocal crashes
            if crashes == 0:
                crashes += 1
                raise RuntimeError("actor bug")
            await original(tg)

        actor._start_ready = crash_once  # type: ignore[method-assign]
        await engine.committer.store_many(
            [
                inbox.NewEvent(
                    "storefront:shop",
                    "o",
                    "order.snapshot",
                    {"order": make_order("7", items=1).to_json()},
                )
            ]
        )
        await engine.process_pending()

        async def pushed() -> bool:
            async with engine.db.reading() as txn:
                return (await items_of_order(txn, "shop", "7"))[0].state == "pushed"

        await _run_actor_until(actor, engine, pushed)
        assert actor.health.restarts == 1
        assert actor.health.last_error == "RuntimeError: actor bug"
        await engine.db.close()

    anyio.run(main)


def test_token_bucket_allows_a_burst_then_paces() -> None:
    async def main() -> tuple[int, bool]:
        bucket = TokenBucket(rate=0.001, burst=5)  # one token per 1000 s after the burst
        immediate = 0
        for _ in range(5):
            with anyio.move_on_after(5):
                await bucket.acquire()
                immediate += 1
        with anyio.move_on_after(0.05) as scope:
            await bucket.acquire()
        return immediate, scope.cancelled_caught

    immediate, blocked = anyio.run(main)
    assert immediate == 5
    assert blocked, "the sixth call waits for a refill"


async def _entered_before_others_ran(enter: Callable[[], Any]) -> bool:
    """Whether `enter()` (an async context manager) let its caller in before a task started
    just before it had a turn: True when it did not yield to the event loop."""
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        async with enter():
            first = not ran
    return first


def test_free_limits_let_a_push_through_without_a_turn_of_the_event_loop() -> None:
    """At concurrency 8 a turn waits behind every other push's ready work."""

    async def main() -> tuple[bool, bool]:
        limit, bucket = ConcurrencyLimit(2), TokenBucket(rate=1000.0)

        @contextlib.asynccontextmanager
        async def token() -> AsyncIterator[None]:
            await bucket.acquire()
            yield

        return await _entered_before_others_ran(lambda: limit), await _entered_before_others_ran(
            token
        )

    assert anyio.run(main) == (True, True)


def test_a_concurrency_limit_lets_waiters_in_first_come_first_served() -> None:
    async def main() -> list[str]:
        limit, order = ConcurrencyLimit(1), []
        release = anyio.Event()

        async def holder(name: str, hold: anyio.Event | None) -> None:
            async with limit:
                order.append(name)
                if hold is not None:
                    await hold.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(holder, "first", release)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(holder, "second", None)
            await anyio.wait_all_tasks_blocked()
            assert limit.available_tokens == 0
            release.set()
            # A newcomer as the first holder lets go: the waiting second is ahead of it.
            async with limit:
                order.append("newcomer")
        return order

    assert anyio.run(main) == ["first", "second", "newcomer"]


def test_status_polling_stops_at_the_drivers_final_statuses(tmp_path: Path) -> None:
    class PaceLike(ScriptedDriver):
        final_statuses = frozenset({"C"})

        def __init__(self) -> None:
            super().__init__([])
            self.asked: list[str] = []

        async def fetch_status(
            self, order: Order, pushed: Sequence[ItemRef], order_external_id: str
        ) -> Sequence[Any]:
            from daemon.providers.contract import StatusReport

            self.asked.append(order.order_number)
            return [StatusReport(p.item_seq, "C") for p in pushed]

    async def main() -> None:
        engine = await _engine(tmp_path)
        driver = PaceLike()
        actor = DriverActor(engine.config.accounts["mis"], driver, engine)
        await _store_orders(engine, "1", "2")
        for number in ("1", "2"):
            await actor.push("shop", number)
        assert await actor.poll_status() == 2
        assert await actor.poll_status() == 0, "closed ('C', any case) is not asked again"
        assert sorted(driver.asked) == ["1", "2"]
        actor.close()
        await engine.db.close()

    anyio.run(main)


async def _actor_inputs(engine: Engine) -> list[tuple[str, str]]:
    """The actor's claims and results, in the order they were stored: (kind, order)."""
    async with engine.db.reading() as txn:
        rows = await txn.fetchall(
            "SELECT kind, subject FROM events WHERE source LIKE 'actor:%' ORDER BY id"
        )
    return [(str(r[0]), str(r[1]).rsplit("/", 1)[-1]) for r in rows]


def test_a_slot_claims_the_next_order_before_it_records_the_last_result(tmp_path: Path) -> None:
    """At concurrency 1, a push's slot goes on with the next ready order as soon as the MIS
    work ends; the result is recorded beside it, after the next claim, and none is lost."""

    async def main() -> None:
        engine = await _engine(tmp_path, concurrency=1)
        account = engine.config.accounts["mis"]
        driver = ScriptedDriver([])
        actor = DriverActor(account, driver, engine)
        await _store_orders(engine, "1", "2", "3")

        async def all_pushed() -> bool:
            async with engine.db.reading() as txn:
                states = [(await items_of_order(txn, "shop", n))[0].state for n in ("1", "2", "3")]
            return states == ["pushed"] * 3

        await _run_actor_until(actor, engine, all_pushed)
        assert driver.pushed == ["1", "2", "3"]
        assert await _actor_inputs(engine) == [
            ("push.claim", "1"),
            ("push.claim", "2"),
            ("push.result", "1"),
            ("push.claim", "3"),
            ("push.result", "2"),
            ("push.result", "3"),
        ]
        await engine.db.close()

    anyio.run(main)


def test_a_backlog_of_pushes_that_never_wait_still_lets_other_tasks_run(tmp_path: Path) -> None:
    """Free locks and limits do not yield: a slot going through ready orders whose pushes
    never wait (failing before any call would be such) still gives the loop a turn a push."""

    async def main() -> list[int]:
        engine = await _engine(tmp_path, concurrency=1)
        driver = ScriptedDriver([])
        actor = DriverActor(engine.config.accounts["mis"], driver, engine)
        await _store_orders(engine, *(str(n) for n in range(1, 31)))
        seen: list[int] = []

        async def all_pushed() -> bool:
            return len(driver.pushed) == 30

        async def watcher() -> None:
            while len(driver.pushed) < 30:
                seen.append(len(driver.pushed))
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher)
            await _run_actor_until(actor, engine, all_pushed)
        await engine.db.close()
        return seen

    seen = anyio.run(main)
    assert any(0 < pushed < 30 for pushed in seen), "other tasks ran only before and after"


def test_a_result_is_recorded_while_a_poll_holds_the_next_slot(tmp_path: Path) -> None:
    """The next order of a slot waits for the limiter while a poll (or an import) holds it;
    the last push's result does not wait with it."""

    class Gated(ScriptedDriver):
        def __init__(self) -> None:
            super().__init__([])
            self.entered = anyio.Event()
            self.go = anyio.Event()

        async def push_order(
            self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
        ) -> PushResult:
            if order.order_number == "1":
                self.entered.set()
                await self.go.wait()
            return await super().push_order(order, items, journal, reference)

    async def main() -> None:
        engine = await _engine(tmp_path, concurrency=1)
        account = engine.config.accounts["mis"]
        driver = Gated()
        actor = DriverActor(account, driver, engine)
        await _store_orders(engine, "1", "2")

        async def state_of(number: str) -> str:
            async with engine.db.reading() as txn:
                return (await items_of_order(txn, "shop", number))[0].state

        async def scenario() -> bool:
            await driver.entered.wait()
            async with anyio.create_task_group() as polls:
                held = anyio.Event()
                release = anyio.Event()

                async def poll_like() -> None:
                    async with actor._limiter:  # queued behind push 1, as a status poll is
                        held.set()
                        await release.wait()

                polls.start_soon(poll_like)
                await anyio.wait_all_tasks_blocked()
                driver.go.set()
                await held.wait()
                with anyio.fail_after(10):
                    while await state_of("1") != "pushed":
                        await anyio.sleep(0.01)
                assert await state_of("2") == "ready", "order 2 waits for the slot"
                release.set()
            return True

        async def done() -> bool:
            return await state_of("2") == "pushed"

        async with anyio.create_task_group() as tg:
            tg.start_soon(_run_actor_until, actor, engine, done)
            assert await scenario()
        assert driver.pushed == ["1", "2"]
        await engine.db.close()

    anyio.run(main)
