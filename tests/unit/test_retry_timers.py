"""Retry timers belong to the item that retries (issue 12, defect 1): never lost, never moved by
a sibling item, re-armed if ever missing. The engine with its real handlers and SQLite store."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from daemon.engine.engine import Engine
from daemon.orders.model import Approval
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database, migrations
from daemon.store.items import ItemRow, items_in_state
from daemon.store.timers import Timer, timers_of_kind
from tests.helpers import ManualClock, make_config, make_order
from tests.unit.test_engine import actor_event, ingest_and_process, run, snapshot, states

ACCOUNTS = ("mis", "mis2")
ORDERS = ("1001", "1002")


def two_accounts(tmp_path: Path) -> Any:
    return make_config(
        tmp_path,
        accounts={name: {"url": "http://127.0.0.1:9"} for name in ACCOUNTS},
    )


async def retry_timers(engine: Engine) -> list[Timer]:
    async with engine.db.reading() as txn:
        return await timers_of_kind(txn, "retry")


async def retrying(engine: Engine) -> list[ItemRow]:
    async with engine.db.reading() as txn:
        return await items_in_state(txn, "retrying")


def covers(timer: Timer, item: ItemRow) -> bool:
    """Whether firing `timer` moves `item` on, no later than the item's retry is due (by what
    the retry timer handler does with a payload, old-style or new)."""
    data = timer.payload
    return (
        (data.get("site"), data.get("order"), data.get("account"))
        == (item.site, item.order_number, item.account)
        and data.get("seq") in (None, item.seq)
        and item.next_retry_at is not None
        and timer.due_at <= item.next_retry_at
    )


async def uncovered(engine: Engine) -> list[tuple[str, int, str]]:
    """Retrying items that no timer will fire at or before their next_retry_at."""
    timers = await retry_timers(engine)
    return [
        (i.order_number, i.seq, i.account)
        for i in await retrying(engine)
        if not any(covers(t, i) for t in timers)
    ]


def test_a_sibling_items_success_does_not_cancel_a_retrying_items_timer(tmp_path: Path) -> None:
    """The interleaving of issue 12: item 1 retries; item 2 is claimed, its slow push fails
    (resetting the shared timer), item 1's retry succeeds and cancelled item 2's timer."""

    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1), "v1"))
        assert (await engine.apply(actor_event("push.claim"))).result == [1]
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[1], error="503"))
        # The order gains item 2 while item 1 waits for its retry; the actor claims item 2.
        await ingest_and_process(engine, snapshot(make_order(items=2), "v2"))
        assert (await engine.apply(actor_event("push.claim"))).result == [2]
        # Item 1's retry comes due while item 2's push is still out.
        clock.advance(30)
        assert await engine.fire_due_timers() == 1
        assert await states(engine) == {("mis", 1): "ready", ("mis", 2): "pushing"}
        # Item 2's slow push fails; the actor then claims item 1, whose push succeeds.
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[2], error="503"))
        assert (await engine.apply(actor_event("push.claim"))).result == [1]
        pushed = await engine.apply(
            actor_event(
                "push.result",
                outcome="pushed",
                seqs=[1],
                order_external_id="J1",
                items=[{"seq": 1, "external_id": "J1-01"}],
            )
        )
        assert pushed.error is None
        assert await states(engine) == {("mis", 1): "pushed", ("mis", 2): "retrying"}
        assert await uncovered(engine) == [], "item 2 lost its retry timer"
        (item2,) = await retrying(engine)
        assert item2.next_retry_at is not None
        clock.t = item2.next_retry_at
        assert await engine.fire_due_timers() == 1
        assert await states(engine) == {("mis", 1): "pushed", ("mis", 2): "ready"}
        assert await retry_timers(engine) == []

    run(tmp_path, body)


def test_a_sibling_items_failure_does_not_postpone_a_retrying_items_timer(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1), "v1"))
        await engine.apply(actor_event("push.claim"))
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[1], error="503"))
        await ingest_and_process(engine, snapshot(make_order(items=2), "v2"))
        await engine.apply(actor_event("push.claim"))
        clock.advance(20)  # item 2 fails 10 s before item 1's retry is due, with a long wait
        await engine.apply(
            actor_event("push.result", outcome="transient", seqs=[2], error="429", retry_after=900)
        )
        assert await uncovered(engine) == []
        clock.advance(10)
        assert await engine.fire_due_timers() == 1
        assert await states(engine) == {("mis", 1): "ready", ("mis", 2): "retrying"}

    run(tmp_path, body)


def test_a_retrying_item_without_a_timer_is_rearmed_once_and_then_retries(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=2)))
        await engine.apply(actor_event("push.claim"))
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[], error="503"))
        async with engine.db.transaction() as txn:  # the old bug's outcome: the timers gone
            await txn.execute("DELETE FROM timers WHERE kind = 'retry' AND subject LIKE '%/2'")
        clock.advance(3600)  # item 2's retry is long overdue
        assert await engine.rearm_lost_retries() == 1
        assert engine.rearmed == 1
        assert await engine.rearm_lost_retries() == 0, "a covered item is not re-armed again"
        timers = await retry_timers(engine)
        assert [(t.subject, t.due_at) for t in timers] == [
            ("shop/1001/mis/1", clock.now() - 3600 + 30),
            ("shop/1001/mis/2", clock.now()),
        ]
        assert await uncovered(engine) == []
        assert await engine.fire_due_timers() == 2  # item 1's own timer, and item 2's new one
        assert await states(engine) == {("mis", 1): "ready", ("mis", 2): "ready"}
        async with engine.db.reading() as txn:
            events = await inbox.list_events(txn, status="poisoned")
        assert events == []

    run(tmp_path, body)


def test_a_rearmed_item_not_yet_due_keeps_its_due_time(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await engine.apply(actor_event("push.claim"))
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[1], error="503"))
        (item,) = await retrying(engine)
        async with engine.db.transaction() as txn:
            await txn.execute("DELETE FROM timers WHERE kind = 'retry'")
        assert await engine.rearm_lost_retries() == 1
        assert [t.due_at for t in await retry_timers(engine)] == [item.next_retry_at]

    run(tmp_path, body)


def test_the_reconciliation_runs_at_most_once_per_interval(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await engine.apply(actor_event("push.claim"))
        assert await engine.rearm_lost_retries(every=60) == 0  # the first look: nothing lost
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[1], error="503"))
        async with engine.db.transaction() as txn:
            await txn.execute("DELETE FROM timers WHERE kind = 'retry'")
        assert await engine.rearm_lost_retries(every=60) == 0, "looked less than 60 s ago"
        clock.advance(60)
        assert await engine.rearm_lost_retries(every=60) == 1

    run(tmp_path, body)


#: the migration that gives each retrying item its own timer (0005_retry_timer_per_item.sql)
RETRY_TIMER_MIGRATION = next(m.version for m in migrations() if m.name == "retry_timer_per_item")


def test_a_store_with_old_order_account_timers_retries_each_item_after_the_upgrade(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "esd.sqlite3", migrate=False)
        try:
            await upgrade_test(db)
        finally:
            await db.close()  # an open store's thread would keep the test run from exiting

    async def upgrade_test(db: Database) -> None:
        before = RETRY_TIMER_MIGRATION - 1
        await db.migrate(target=before)
        clock = ManualClock()
        now = clock.now()
        async with db.transaction() as txn:
            for seq, state, next_retry_at in ((1, "retrying", now + 30), (2, "pushed", None)):
                await txn.execute(
                    "INSERT INTO items (site, order_number, seq, account, state, next_retry_at,"
                    " created_at, updated_at) VALUES ('shop', '1001', ?, 'mis', ?, ?, ?, ?)",
                    (seq, state, next_retry_at, now, now),
                )
            await txn.execute(
                "INSERT INTO items (site, order_number, seq, account, state, created_at,"
                " updated_at) VALUES ('shop', '1002', 1, 'mis', 'retrying', ?, ?)",
                (now, now),
            )
            # Before the migration: one timer per (order, account); 1002's was lost to the old bug.
            await txn.execute(
                "INSERT INTO timers (kind, subject, due_at, payload) VALUES"
                " ('retry', 'shop/1001/mis', ?, ?), ('status_poll', 'mis', ?, '{}')",
                (
                    now + 30,
                    json.dumps({"site": "shop", "order": "1001", "account": "mis"}),
                    now + 300,
                ),
            )
        assert await db.migrate(target=RETRY_TIMER_MIGRATION) == [RETRY_TIMER_MIGRATION]
        async with db.reading() as txn:
            timers = [
                (t.kind, t.subject, t.due_at, t.payload) for t in await timers_of_kind(txn, "retry")
            ]
            poll = await txn.scalar("SELECT COUNT(*) FROM timers WHERE kind = 'status_poll'")
        assert timers == [
            (
                "retry",
                "shop/1001/mis/1",
                now + 30,
                {"site": "shop", "order": "1001", "account": "mis", "seq": 1},
            ),
            (
                "retry",
                "shop/1002/mis/1",
                0,
                {"site": "shop", "order": "1002", "account": "mis", "seq": 1},
            ),
        ]
        assert poll == 1
        engine = Engine(db, load_charts(), make_config(tmp_path), clock, rng=random.Random(1))
        assert await engine.fire_due_timers() == 1  # 1002's, due at once
        clock.advance(30)
        assert await engine.fire_due_timers() == 1
        async with db.reading() as txn:
            rows = await txn.fetchall("SELECT order_number, seq, state FROM items ORDER BY id")
            poisoned = await inbox.list_events(txn, status="poisoned")
        assert [tuple(r) for r in rows] == [
            ("1001", 1, "ready"),
            ("1001", 2, "pushed"),
            ("1002", 1, "ready"),
        ]
        assert poisoned == []

    anyio.run(main)


def test_an_old_style_timer_event_replayed_still_moves_its_retrying_items(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=2)))
        await engine.apply(actor_event("push.claim"))
        await engine.apply(actor_event("push.result", outcome="transient", seqs=[], error="503"))
        fired = await engine.apply(
            inbox.NewEvent(
                "timer",
                "old@1",
                "timer.fired",
                {
                    "timer_id": 1,
                    "kind": "retry",
                    "subject": "shop/1001/mis",
                    "due_at": clock.now(),
                    "payload": {"site": "shop", "order": "1001", "account": "mis"},
                },
            )
        )
        assert fired.error is None and fired.result == [1, 2]

    run(tmp_path, body)


# --- the invariant over many interleavings ---------------------------------------------------

APPROVALS = st.sampled_from([Approval.APPROVED, Approval.APPROVED, Approval.DENIED])
ORDER = st.sampled_from(ORDERS)
ACCOUNT = st.sampled_from(ACCOUNTS)
# Weighted towards what makes items of one (order, account) retry at different times: an
# order gaining an item, or an item approved again, while its siblings retry.
STEP = st.one_of(
    st.tuples(
        st.just("snapshot"), ORDER, st.sampled_from([2, 3, 3]), st.lists(APPROVALS, min_size=3)
    ),
    st.tuples(st.just("claim"), ORDER, ACCOUNT),
    st.just(("actors",)),
    st.just(("actors",)),
    st.tuples(
        st.just("result"),
        st.integers(0, 3),  # which of the pushes under way ends
        st.sampled_from(["transient", "transient", "transient", "pushed", "permanent", "absent"]),
        st.sampled_from([None, None, 5, 900]),
    ),
    st.tuples(st.just("advance"), st.sampled_from([1, 10, 25, 31, 65, 200, 4000])),
    st.tuples(st.just("operator"), ORDER, st.sampled_from([None, *ACCOUNTS])),
)


class Interleaving:
    """Drives the engine like the actors, timer loop and operator would, checking the
    retry-timer invariant after every step."""

    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        self.engine = engine
        self.clock = clock
        self.versions = 0
        #: (order, account) -> the seqs a driver is pushing (an actor runs one push per order)
        self.claims: dict[tuple[str, str], list[int]] = {}

    async def items(self) -> list[ItemRow]:
        async with self.engine.db.reading() as txn:
            rows = await txn.fetchall("SELECT * FROM items ORDER BY id")
        return [ItemRow.from_row(r) for r in rows]

    async def step(self, step: tuple[Any, ...]) -> None:
        kind = step[0]
        if kind == "snapshot":
            _, order, count, approvals = step
            self.versions += 1
            order_now = make_order(order, items=count, approvals=approvals[:count])
            await ingest_and_process(self.engine, snapshot(order_now, f"v{self.versions}"))
        elif kind == "claim":
            _, order, account = step
            if (order, account) not in self.claims:
                claimed = await self.engine.apply(actor_event("push.claim", order, account))
                if claimed.result:
                    self.claims[(order, account)] = list(claimed.result)
        elif kind == "actors":  # every actor wakes and claims what is ready
            for order in ORDERS:
                for account in ACCOUNTS:
                    await self.step(("claim", order, account))
        elif kind == "result":
            _, which, outcome, retry_after = step
            if self.claims:
                order, account = sorted(self.claims)[which % len(self.claims)]
                seqs = self.claims.pop((order, account))
                payload: dict[str, Any] = {"outcome": outcome, "seqs": seqs, "error": "E"}
                if outcome == "pushed":
                    payload["order_external_id"] = f"J{order}"
                    payload["items"] = [{"seq": s, "external_id": f"J{order}-{s}"} for s in seqs]
                if retry_after is not None:
                    payload["retry_after"] = retry_after
                await self.engine.apply(actor_event("push.result", order, account, **payload))
        elif kind == "advance":
            await self.advance(step[1])
        elif kind == "operator":
            _, order, account = step
            self.versions += 1
            await self.engine.apply(
                inbox.NewEvent(
                    "operator",
                    f"p{self.versions}",
                    "operator.push",
                    {"site": "shop", "order": order, "account": account},
                )
            )
        await self.check()

    async def advance(self, seconds: float) -> None:
        """Time passes and the timer loop fires what came due."""
        self.clock.advance(seconds)
        before = {i.id: i for i in await self.items()}
        async with self.engine.db.reading() as txn:
            last = await txn.scalar("SELECT COALESCE(MAX(id), 0) FROM transitions")
        await self.engine.fire_due_timers()
        now = self.clock.now()
        async with self.engine.db.reading() as txn:
            moved = await txn.fetchall(
                "SELECT subject_id, trigger FROM transitions WHERE id > ? AND chart = 'order_item'",
                (last,),
            )
        for subject_id, trigger in moved:
            old = before[subject_id]
            assert trigger == "retry_due", f"a timer fired {trigger} on {old}"
            assert old.state == "retrying", f"a timer moved an item in {old.state}"
            assert old.next_retry_at is not None and old.next_retry_at <= now, (
                f"item {old.order_number}/{old.seq}@{old.account} retried early"
            )
        due = {
            i.id
            for i in before.values()
            if i.state == "retrying" and i.next_retry_at is not None and i.next_retry_at <= now
        }
        assert due <= {s for s, _ in moved}, "a retry came due and no timer fired it"

    async def check(self) -> None:
        assert await uncovered(self.engine) == [], "a retrying item has no timer that fires it"
        async with self.engine.db.reading() as txn:
            poisoned = await inbox.list_events(txn, status="poisoned")
        assert poisoned == [], [p.error for p in poisoned]

    async def drain(self) -> None:
        """Time goes on and every push succeeds: nothing stays retrying (or anywhere else)."""
        for _ in range(60):
            while self.claims:
                await self.step(("result", 0, "pushed", None))
            await self.step(("advance", 4000))
            await self.step(("actors",))
            if not self.claims and not await retrying(self.engine):
                break
        left = {i.state for i in await self.items()} - {"pushed", "failed", "excluded", "pending"}
        assert left == set(), f"items left in {left}"


@settings(
    max_examples=150,
    deadline=None,
    # No shrinking: over a real SQLite store it takes minutes; the unshrunk steps are printed.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(STEP, min_size=1, max_size=60))
def test_every_retrying_item_keeps_a_timer_that_fires_it_in_every_interleaving(
    steps: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:

        async def main() -> None:
            clock = ManualClock()
            db = await Database.open(Path(folder) / "esd.sqlite3")
            try:
                engine = Engine(
                    db, load_charts(), two_accounts(Path(folder)), clock, rng=random.Random(1)
                )
                run = Interleaving(engine, clock)
                for order in ORDERS:
                    await run.step(("snapshot", order, 2, [Approval.APPROVED] * 3))
                for step in steps:
                    await run.step(step)
                await run.drain()
            finally:
                await db.close()

        anyio.run(main)
