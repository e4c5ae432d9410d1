"""The engine: inbox -> handler -> statechart -> store, one transaction per event (no sockets)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from daemon.engine.context import order_subject
from daemon.engine.engine import Engine
from daemon.errors import TransitionNotAllowed
from daemon.orders.model import Approval, Payment
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database
from daemon.store.items import items_of_order
from daemon.store.timers import next_timer
from tests.helpers import ManualClock, make_config, make_order


def run(tmp_path: Path, body: Callable[[Engine, ManualClock], Awaitable[None]], **cfg: Any) -> None:
    async def main() -> None:
        clock = ManualClock()
        db = await Database.open(tmp_path / "esd.sqlite3")
        try:
            engine = Engine(
                db, load_charts(), make_config(tmp_path, **cfg), clock, rng=random.Random(1)
            )
            await body(engine, clock)
        finally:
            await db.close()

    anyio.run(main)


def snapshot(order: Any, key: str = "k1") -> inbox.NewEvent:
    return inbox.NewEvent(
        "storefront:shop",
        key,
        "order.snapshot",
        {"order": order.to_json()},
        subject=order_subject(order.site, order.order_number),
    )


def actor_event(
    kind: str, order: str = "1001", account: str | None = "mis", **payload: Any
) -> inbox.NewEvent:
    import uuid

    return inbox.NewEvent(
        f"actor:{account}",
        uuid.uuid4().hex,
        kind,
        {"site": "shop", "order": order, "account": account, **payload},
        subject=f"shop/{order}",
    )


async def states(engine: Engine, order: str = "1001", account: str | None = None) -> dict[Any, str]:
    async with engine.db.reading() as txn:
        items = await items_of_order(txn, "shop", order, account)
    return {(i.account, i.seq): i.state for i in items}


async def ingest_and_process(engine: Engine, event: inbox.NewEvent) -> inbox.Stored:
    async with anyio.create_task_group() as tg:
        tg.start_soon(engine.committer.run)
        stored = await engine.ingest(event)
        tg.cancel_scope.cancel()
    await engine.process_pending()
    return stored


async def claim_and_report(engine: Engine, order: str = "1001", **result: Any) -> None:
    """The actor claims item 1 of `order` and reports its push's `result` (outcome, ...)."""
    await engine.apply(actor_event("push.claim", order=order))
    await engine.apply(actor_event("push.result", order=order, seqs=[1], **result))


def test_paid_order_goes_ready_pushing_pushed_with_full_history(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order()))
        assert await states(engine) == {("mis", 1): "ready", ("mis", 2): "ready"}
        claim = await engine.apply(actor_event("push.claim"))
        assert claim.result == [1, 2]
        assert set((await states(engine)).values()) == {"pushing"}
        done = await engine.apply(
            actor_event(
                "push.result",
                outcome="pushed",
                seqs=[1, 2],
                order_external_id="J1",
                items=[{"seq": 1, "external_id": "J1-01"}, {"seq": 2, "external_id": "J1-02"}],
            )
        )
        assert done.error is None
        async with engine.db.reading() as txn:
            items = await items_of_order(txn, "shop", "1001")
            trace = await txn.fetchall(
                "SELECT from_state, to_state, trigger, event_id FROM transitions"
                " WHERE subject_id = ? ORDER BY id",
                (items[0].id,),
            )
        assert [i.external_id for i in items] == ["J1-01", "J1-02"]
        assert [i.state for i in items] == ["pushed", "pushed"]
        assert [(r[0], r[1], r[2]) for r in trace] == [
            ("", "pending", "created"),
            ("pending", "ready", "rules_met"),
            ("ready", "pushing", "start_push"),
            ("pushing", "pushed", "push_succeeded"),
        ]
        assert all(r[3] is not None for r in trace), "every change names its event"

    run(tmp_path, body)


def test_duplicate_event_is_acknowledged_and_ignored(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        first = await ingest_and_process(engine, snapshot(make_order()))
        again = await ingest_and_process(engine, snapshot(make_order()))
        assert not first.duplicate and again.duplicate and again.id == first.id
        async with engine.db.reading() as txn:
            assert await txn.scalar("SELECT COUNT(*) FROM events") == 1
            assert await txn.scalar("SELECT COUNT(*) FROM transitions") == 4

    run(tmp_path, body)


def test_poisoned_event_is_kept_does_not_block_others_and_replays(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        bad = make_order("666", site="elsewhere")
        await ingest_and_process(engine, snapshot(bad, "bad"))
        await ingest_and_process(engine, snapshot(make_order("1002"), "good"))
        assert set((await states(engine, "1002")).values()) == {"ready"}
        async with engine.db.reading() as txn:
            poisoned = await inbox.list_events(txn, status="poisoned")
        assert len(poisoned) == 1
        assert "site 'elsewhere' is not configured" in (poisoned[0].error or "")
        assert "Traceback" in (poisoned[0].traceback or "")
        # The operator fixes the config (the site now exists) and replays the event.
        engine.config = make_config(
            tmp_path,
            extra='\n[sites.elsewhere]\nname = "Other"\n'
            '[[sites.elsewhere.activations]]\naccount = "mis"\n'
            "enable = true\nis_live = true\n",
        )
        replay = await engine.apply(
            inbox.NewEvent("operator", "r1", "operator.replay", {"event_id": poisoned[0].id})
        )
        assert replay.error is None
        await engine.process_pending()
        async with engine.db.reading() as txn:
            again = await inbox.get_event(txn, poisoned[0].id)
            items = await items_of_order(txn, "elsewhere", "666")
        assert again is not None and again.status == "done" and again.attempts == 2
        assert {i.state for i in items} == {"ready"}

    run(tmp_path, body)


def test_replay_of_a_processed_input_rejudges_it_and_changes_nothing(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        stored = await ingest_and_process(engine, snapshot(make_order()))
        async with engine.db.reading() as txn:
            before = await txn.fetchall("SELECT * FROM transitions ORDER BY id")
        replay = await engine.apply(
            inbox.NewEvent("operator", "r", "operator.replay", {"event_id": stored.id})
        )
        assert replay.error is None
        await engine.process_pending()
        async with engine.db.reading() as txn:
            again = await inbox.get_event(txn, stored.id)
            after = await txn.fetchall("SELECT * FROM transitions ORDER BY id")
        assert again is not None and again.status == "done" and again.attempts == 2
        assert [tuple(r) for r in after] == [tuple(r) for r in before], "a replay moved items"

    run(tmp_path, body)


def test_replay_of_what_the_daemon_did_is_refused(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        sync = await engine.apply(inbox.NewEvent("operator", "s", "operator.sync", {}))
        replay = await engine.apply(
            inbox.NewEvent("operator", "r", "operator.replay", {"event_id": sync.event_id})
        )
        assert replay.error is not None and "is done: nothing to replay" in replay.error

    run(tmp_path, body)


def test_network_error_retries_on_a_durable_timer_then_gives_up_with_one_alert(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        delays = []
        for _ in range(40):
            await engine.apply(actor_event("push.claim"))
            start = clock.now()
            await engine.apply(
                actor_event(
                    "push.result",
                    outcome="transient",
                    seqs=[1],
                    error="NetworkError: connection reset",
                )
            )
            if (await states(engine))[("mis", 1)] == "failed":
                break
            assert (await states(engine))[("mis", 1)] == "retrying"
            async with engine.db.reading() as txn:
                timer = await next_timer(txn)
            assert timer is not None and timer.kind == "retry"
            delays.append(timer.due_at - start)
            assert await engine.fire_due_timers() == 0, "not due yet"
            clock.t = timer.due_at
            assert await engine.fire_due_timers() == 1
            assert (await states(engine))[("mis", 1)] == "ready"
        assert delays[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
        assert sum(delays) == pytest.approx(86400)
        assert (await states(engine))[("mis", 1)] == "failed"
        async with engine.db.reading() as txn:
            alerts = await txn.fetchall("SELECT message FROM alerts")
            last_error = await txn.scalar("SELECT last_error FROM items")
        assert len(alerts) == 1 and "gave up after" in alerts[0][0]
        assert "connection reset" in last_error

    run(tmp_path, body)


def test_retry_after_is_honoured_when_longer_than_the_backoff(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await claim_and_report(engine, outcome="transient", error="RateLimited", retry_after=500)
        async with engine.db.reading() as txn:
            timer = await next_timer(txn)
        assert timer is not None and timer.due_at == clock.now() + 500

    run(tmp_path, body)


def test_business_error_fails_at_once_and_push_order_button_retries(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await claim_and_report(
            engine, outcome="permanent", error="BusinessRuleError: customer not found: X"
        )
        assert (await states(engine))[("mis", 1)] == "failed"
        async with engine.db.reading() as txn:
            assert await txn.scalar("SELECT COUNT(*) FROM alerts") == 1
            assert await next_timer(txn) is None
        pushed = await engine.apply(
            inbox.NewEvent(
                "operator",
                "p1",
                "operator.push",
                {"site": "shop", "order": "1001", "account": None},
            )
        )
        assert pushed.result == [{"seq": 1, "account": "mis", "from": "failed", "to": "ready"}]
        assert (await states(engine))[("mis", 1)] == "ready"

    run(tmp_path, body)


@pytest.mark.parametrize(
    ("payment", "approvals", "edoc", "expected", "reason"),
    [
        (Payment.UNPAID, [Approval.APPROVED] * 2, False, ["pending", "pending"], "not paid"),
        (Payment.OPEN_TERMS, [Approval.APPROVED] * 2, False, ["ready", "ready"], None),
        (
            Payment.PAID,
            [Approval.APPROVED, Approval.PENDING],
            False,
            ["pending", "pending"],
            "item 2 awaits approval",
        ),
        (Payment.PAID, [Approval.APPROVED, Approval.DENIED], False, ["ready", "excluded"], None),
        (Payment.PAID, [Approval.DENIED, Approval.DENIED], False, ["excluded", "excluded"], None),
        (Payment.PAID, [Approval.APPROVED] * 2, True, ["pending", "pending"], "eDocBuilder"),
    ],
)
def test_push_rules_decide_states_and_reasons(
    tmp_path: Path,
    payment: Payment,
    approvals: list[Approval],
    edoc: bool,
    expected: list[str],
    reason: str | None,
) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        order = make_order(payment=payment, approvals=approvals, edoc_pending=edoc)
        await ingest_and_process(engine, snapshot(order))
        assert list((await states(engine)).values()) == expected
        async with engine.db.reading() as txn:
            items = await items_of_order(txn, "shop", "1001")
        if reason:
            assert any(reason in r for r in items[0].reasons)

    run(tmp_path, body)


def test_later_event_releases_a_held_order(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(payment=Payment.UNPAID), "placed"))
        assert set((await states(engine)).values()) == {"pending"}
        await ingest_and_process(engine, snapshot(make_order(payment=Payment.PAID), "paid"))
        assert set((await states(engine)).values()) == {"ready"}
        async with engine.db.reading() as txn:
            assert await txn.scalar("SELECT reasons FROM items LIMIT 1") == "[]"

    run(tmp_path, body)


def test_each_live_account_gets_its_own_record_and_enable_without_live_gets_none(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        assert await states(engine) == {("a", 1): "ready", ("b", 1): "ready"}

    run(
        tmp_path,
        body,
        accounts={n: {"url": "http://127.0.0.1:9"} for n in ("a", "b", "c")},
        site_accounts=[("a", True, True), ("b", True, True), ("c", True, False)],
    )


def test_a_trigger_not_allowed_from_the_state_raises() -> None:
    chart = load_charts().order_item
    with pytest.raises(TransitionNotAllowed):
        chart.next_state("pushed", "start_push")
    with pytest.raises(TransitionNotAllowed):
        chart.next_state("ready", "no_such_trigger")
    assert chart.next_state("ready", "start_push") == "pushing"


def test_status_reports_are_data_with_history(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await claim_and_report(
            engine,
            outcome="pushed",
            order_external_id="J1",
            items=[{"seq": 1, "external_id": "L1"}],
        )
        for status, tracking in [
            ("in production", []),
            ("in production", []),
            ("shipped", ["1Z999"]),
        ]:
            await engine.apply(
                actor_event(
                    "status.report", reports=[{"seq": 1, "status": status, "tracking": tracking}]
                )
            )
        async with engine.db.reading() as txn:
            rows = await txn.fetchall(
                "SELECT status, tracking FROM item_status_history ORDER BY id"
            )
            item = (await items_of_order(txn, "shop", "1001"))[0]
        assert [(r[0], r[1]) for r in rows] == [("in production", "[]"), ("shipped", '["1Z999"]')]
        assert item.state == "pushed" and item.tracking == ("1Z999",)

    run(tmp_path, body)


def test_a_push_with_warnings_raises_one_alert_each(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await claim_and_report(
            engine,
            outcome="pushed",
            order_external_id="J1",
            items=[{"seq": 1, "external_id": "J1:01"}],
            warnings=["Customer ID 'X9' is not valid in Pace: ignored"],
        )
        assert (await states(engine))[("mis", 1)] == "pushed"
        async with engine.db.reading() as txn:
            alerts = await txn.fetchall("SELECT message FROM alerts")
        assert [a[0] for a in alerts] == ["Customer ID 'X9' is not valid in Pace: ignored"]

    run(tmp_path, body)


STOREFRONT = (
    '\n[storefronts.pressero]\nprovider = "pressero"\nurl = "http://127.0.0.1:9"\n'
    '[storefronts.pressero.credentials]\nusername = "u"\npassword = "p-store-1"\n'
)


def test_the_reconciliation_poll_reads_unseen_and_held_orders_only(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order("2001", items=1), "a"))
        await claim_and_report(
            engine,
            order="2001",
            outcome="pushed",
            order_external_id="J1",
            items=[{"seq": 1, "external_id": "L1"}],
        )
        await ingest_and_process(
            engine, snapshot(make_order("2002", items=1, payment=Payment.UNPAID), "b")
        )
        polled = await engine.apply(
            inbox.NewEvent(
                "storefront:pressero",
                "poll-1",
                "storefront.poll",
                {"storefront": "pressero", "site": "shop", "orders": ["2001", "2002", "2003"]},
            )
        )
        assert polled.result == {"fetch": 2, "finished": 1}
        async with engine.db.reading() as txn:
            subjects = [
                r[0]
                for r in await txn.fetchall(
                    "SELECT subject FROM timers WHERE kind = 'storefront_fetch' ORDER BY subject"
                )
            ]
        assert subjects == ["shop/2002", "shop/2003"], "the pushed order is not read again"

    run(tmp_path, body, extra=STOREFRONT, site_extra='storefront = "pressero"\n')


def test_a_webhook_of_a_type_esd_does_not_act_on_is_done_not_poisoned(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        event = inbox.NewEvent(
            "pressero:shop",
            "m-unknown",
            "pressero.webhook",
            {"site": "shop", "type": "OrderCommentAdded", "known": False, "order": "1001"},
            subject="shop/1001",
        )
        await engine.committer.store_many([event])
        await engine.process_pending()
        async with engine.db.reading() as txn:
            (record,) = await inbox.list_events(txn)
        assert (record.status, record.error) == ("done", None)

    run(tmp_path, body)


@pytest.mark.parametrize("kind", ["storefront.webhook", "pressero.webhook"])
def test_a_stored_webhook_of_either_kind_asks_for_the_order(tmp_path: Path, kind: str) -> None:
    """`pressero.webhook`: the kind stores in the field hold from before `storefront.webhook`
    (no `provider` in its payload); both are read and ask for the same fetch."""

    async def body(engine: Engine, clock: ManualClock) -> None:
        payload = {"site": "shop", "type": "OrderPlaced", "known": True, "order": "3001"}
        if kind == "storefront.webhook":
            payload["provider"] = "pressero"
        event = inbox.NewEvent("pressero:shop", f"m-{kind}", kind, payload, subject="shop/3001")
        await engine.committer.store_many([event])
        await engine.process_pending()
        async with engine.db.reading() as txn:
            (record,) = await inbox.list_events(txn)
            subjects = [
                r[0]
                for r in await txn.fetchall(
                    "SELECT subject FROM timers WHERE kind = 'storefront_fetch'"
                )
            ]
        assert (record.status, record.error) == ("done", None)
        assert subjects == ["shop/3001"]

    run(tmp_path, body, extra=STOREFRONT, site_extra='storefront = "pressero"\n')
