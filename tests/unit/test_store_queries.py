"""The store's query functions that callers outside the store now use instead of their own SQL
(issue 13, part 5): each against a real SQLite store in a tmp dir, no mocks.

Rows the functions only read (orders, transitions, import batches) are written here with plain
statements, as the engine writes them; the rest through the store's own writers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from daemon.orders.model import Order
from daemon.store import inbox
from daemon.store.alerts import (
    NewAlert,
    alert_mail_counts,
    due_alert_mails,
    insert_alert,
    latest_alert,
    mark_alert_mail_failed,
    mark_alert_mailed,
    next_alert_mail_at,
)
from daemon.store.database import Database, Txn
from daemon.store.imports import import_batch, unfinished_batches
from daemon.store.items import (
    count_items,
    create_item,
    find_items,
    item_accounts,
    item_counts,
    orders_in_state,
    orders_to_poll,
    update_item,
)
from daemon.store.orders import (
    OrderKey,
    order_stored,
    recent_order_numbers,
    save_snapshot,
    sites_of_order,
    stored_order,
    stored_sites,
)
from daemon.store.timers import bring_forward, count_due, ensure_timer, set_timer, timers_of_kind
from daemon.store.transitions import (
    changes_of_event,
    item_trace,
    last_transition_id,
    note_on_transitions,
)
from tests.helpers import make_order


def run_in_store(tmp_path: Path, body: Callable[[Database], Awaitable[None]]) -> None:
    """Run `body` against a fresh store, closed whatever happens (an open one hangs pytest)."""

    async def main() -> None:
        db = await Database.open(tmp_path / "esd.sqlite3")
        try:
            await body(db)
        finally:
            await db.close()

    anyio.run(main)


async def store_order(txn: Txn, site: str, number: str, updated_at: float) -> None:
    await txn.execute(
        "INSERT INTO orders (site, order_number, snapshot, updated_at) VALUES (?, ?, ?, ?)",
        (site, number, json.dumps(make_order(number, site=site).to_json()), updated_at),
    )


async def store_transition(
    txn: Txn, chart: str, subject_id: int, to_state: str, event_id: int | None, reason: str | None
) -> int:
    return await txn.execute(
        "INSERT INTO transitions (chart, subject_id, from_state, to_state, trigger, event_id,"
        " reason, at) VALUES (?, ?, '', ?, 'go', ?, ?, 1.0)",
        (chart, subject_id, to_state, event_id, reason),
    )


# --- orders ---------------------------------------------------------------------------------


def test_orders_are_found_by_site_and_number(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            await store_order(txn, "shop", "1001", 10.0)
            await store_order(txn, "other", "1001", 30.0)
            await store_order(txn, "shop", "1002", 20.0)
        async with db.reading() as txn:
            order = await stored_order(txn, "shop", "1002")
            assert order is not None and order.order_number == "1002" and order.site == "shop"
            assert await stored_order(txn, "shop", "9999") is None
            assert await order_stored(txn, "shop", "1001")
            assert not await order_stored(txn, "shop", "9999")
            assert await order_stored(txn, None, "1002"), "None: on any site"
            assert not await order_stored(txn, None, "9999")
            assert await sites_of_order(txn, "1001") == ["other", "shop"]
            assert await sites_of_order(txn, "9999") == []
            assert sorted(await stored_sites(txn)) == ["other", "shop"]
            assert await recent_order_numbers(txn, limit=2) == ["1001", "1002"], "newest first"

    run_in_store(tmp_path, body)


# --- items ----------------------------------------------------------------------------------


def test_orders_in_state_come_once_each_oldest_item_first(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            await create_item(txn, "shop", "B", 1, "mis", "ready", 1.0)
            await create_item(txn, "shop", "A", 1, "mis", "ready", 1.0)
            await create_item(txn, "shop", "B", 2, "mis", "ready", 1.0)
            await create_item(txn, "shop", "C", 1, "mis", "pushing", 1.0)
            await create_item(txn, "shop", "D", 1, "other", "ready", 1.0)
        async with db.reading() as txn:
            assert await orders_in_state(txn, "mis", "ready") == [
                OrderKey("shop", "B"),
                OrderKey("shop", "A"),
            ]
            assert await orders_in_state(txn, "mis", "pushing") == [("shop", "C")]
            assert await orders_in_state(txn, "mis", "failed") == []

    run_in_store(tmp_path, body)


def test_orders_in_state_with_a_limit_read_past_orders_of_many_items(tmp_path: Path) -> None:
    """The first `limit` orders, oldest item first, however many items each has and however
    many orders wait behind them (the reads go page by page along the index)."""

    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            for seq in range(1, 41):  # one order of 40 items fills the first pages
                await create_item(txn, "shop", "BIG", seq, "mis", "ready", 1.0)
            for n in range(300):
                await create_item(txn, "shop", f"O{n:03}", 1, "mis", "ready", 1.0)
                await create_item(txn, "shop", f"X{n:03}", 1, "other", "ready", 1.0)
            await create_item(txn, "shop", "O000", 2, "mis", "pushing", 1.0)
        async with db.reading() as txn:
            assert await orders_in_state(txn, "mis", "ready", limit=1) == [("shop", "BIG")]
            three = await orders_in_state(txn, "mis", "ready", limit=3)
            assert three == [("shop", "BIG"), ("shop", "O000"), ("shop", "O001")]
            every = await orders_in_state(txn, "mis", "ready")
            assert len(every) == 301 and every[0] == ("shop", "BIG") and every[-1][1] == "O299"
            assert len(set(every)) == 301
            assert await orders_in_state(txn, "mis", "ready", limit=500) == every
            assert await orders_in_state(txn, "mis", "pushing", limit=2) == [("shop", "O000")]

    run_in_store(tmp_path, body)


def test_orders_to_poll_skip_final_statuses_whatever_their_case(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            for number, status in (("1", None), ("2", "Closed"), ("3", "In Production")):
                item = await create_item(txn, "shop", number, 1, "mis", "pushed", 1.0)
                await update_item(txn, item.id, 1.0, {"mis_status": status})
            await create_item(txn, "shop", "4", 1, "mis", "ready", 1.0)
        async with db.reading() as txn:
            polled = await orders_to_poll(txn, "mis", {"CLOSED"})
            assert sorted(polled) == [("shop", "1"), ("shop", "3")]
            everything = await orders_to_poll(txn, "mis", ())
            assert sorted(everything) == [("shop", "1"), ("shop", "2"), ("shop", "3")]
            assert await orders_to_poll(txn, "other", ()) == []

    run_in_store(tmp_path, body)


def test_items_are_counted_and_listed_by_every_filter(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            await create_item(txn, "shop", "1", 1, "mis", "ready", 1.0)
            await create_item(txn, "shop", "1", 2, "mis", "failed", 3.0)
            await create_item(txn, "other", "2", 1, "mis", "failed", 2.0)
            await create_item(txn, "shop", "3", 1, "b", "failed", 2.0)
        async with db.reading() as txn:
            counts = {(c.account, c.state): c.count for c in await item_counts(txn)}
            assert counts == {("mis", "ready"): 1, ("mis", "failed"): 2, ("b", "failed"): 1}
            assert sorted(await item_accounts(txn)) == ["b", "mis"]
            assert await count_items(txn) == 4
            assert await count_items(txn, state="failed") == 3
            assert await count_items(txn, state="failed", site="shop", account="mis") == 1
            failed = await find_items(txn, state="failed", limit=10)
            # newest change first; equal times: the later row first
            assert [(i.order_number, i.seq) for i in failed] == [("1", 2), ("3", 1), ("2", 1)]
            assert len(await find_items(txn, limit=2)) == 2
            assert await find_items(txn, site="nowhere") == []

    run_in_store(tmp_path, body)


# --- timers ---------------------------------------------------------------------------------


def test_ensure_timer_creates_once_and_keeps_the_time_of_one_that_exists(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            assert await ensure_timer(txn, "status_poll", "mis", 100.0, {"account": "mis"})
            assert txn.timers_changed
        async with db.transaction() as txn:
            assert not await ensure_timer(txn, "status_poll", "mis", 5.0, {"account": "x"})
            assert not txn.timers_changed, "nothing changed: the timer loop need not look"
            [timer] = await timers_of_kind(txn, "status_poll")
        assert (timer.due_at, timer.payload) == (100.0, {"account": "mis"})

    run_in_store(tmp_path, body)


def test_bring_forward_moves_only_a_later_timer_and_creates_none(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            await set_timer(txn, "status_poll", "late", 500.0)
            await set_timer(txn, "status_poll", "soon", 50.0)
        async with db.transaction() as txn:
            assert await bring_forward(txn, "status_poll", "late", 100.0)
            assert not await bring_forward(txn, "status_poll", "soon", 100.0), "never later"
            assert not await bring_forward(txn, "status_poll", "absent", 100.0)
            assert txn.timers_changed
            due = {t.subject: t.due_at for t in await timers_of_kind(txn, "status_poll")}
        assert due == {"late": 100.0, "soon": 50.0}

    run_in_store(tmp_path, body)


def test_count_due_counts_timers_due_by_now(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            for subject, due_at in (("a", 1.0), ("b", 10.0), ("c", 11.0)):
                await set_timer(txn, "retry", subject, due_at)
        async with db.reading() as txn:
            assert await count_due(txn, 10.0) == 2
            assert await count_due(txn, 0.5) == 0

    run_in_store(tmp_path, body)


# --- inbox ----------------------------------------------------------------------------------


def test_event_subjects_are_matched_by_exact_suffix(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.reading() as txn:
            assert await inbox.last_event_id(txn) is None
        async with db.transaction() as txn:
            for n, subject in enumerate(
                ["shop/A_1", "two/A_1", "shop/AB1", "shop/a_1", "/A_1", "shop/A%1", None]
            ):
                event = inbox.NewEvent("test", str(n), "k", {}, subject=subject)
                last = await inbox.insert_event(txn, event, 1.0)
        async with db.reading() as txn:
            assert await inbox.last_event_id(txn) == last.id
            # `_` and `%` are not wildcards, case counts, and the bare suffix names no site
            assert sorted(await inbox.subjects_ending(txn, "/A_1")) == ["shop/A_1", "two/A_1"]
            assert await inbox.subjects_ending(txn, "/A%1") == ["shop/A%1"]
            assert await inbox.has_subject(txn, "shop/AB1")
            assert not await inbox.has_subject(txn, "shop/ab1")

    run_in_store(tmp_path, body)


# --- transitions ----------------------------------------------------------------------------


def test_trace_and_changes_of_an_event(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            event = await inbox.insert_event(txn, inbox.NewEvent("t", "1", "k", {}), 1.0)
            item = await create_item(txn, "shop", "1", 1, "mis", "ready", 1.0)
            other = await create_item(txn, "shop", "2", 1, "mis", "ready", 1.0)
            await store_transition(txn, "order_item", item.id, "ready", event.id, None)
            before = await last_transition_id(txn)
            await store_transition(txn, "order_item", item.id, "pushing", event.id, "claimed")
            await store_transition(txn, "import_batch", item.id, "running", event.id, None)
            await store_transition(txn, "order_item", other.id, "pushing", None, None)
        async with db.transaction() as txn:
            assert await item_trace(txn, []) == []
            trace = await item_trace(txn, [item.id])
            assert [t.to_state for t in trace] == ["ready", "pushing"]
            await note_on_transitions(txn, event.id, before, " (replay by uid 0)")
            changes = await changes_of_event(txn, event.id, before)
            reasons = [t.reason for t in await item_trace(txn, [item.id])]
        assert reasons == [None, "claimed (replay by uid 0)"], "only the later ones, trimmed"
        assert [(c.chart, c.to_state, c.order_number, c.seq) for c in changes] == [
            ("order_item", "pushing", "1", 1),
            ("import_batch", "running", None, None),  # another chart names no item
        ]

    run_in_store(tmp_path, body)


# --- import batches -------------------------------------------------------------------------


def test_unfinished_batches_are_pending_or_running_oldest_first(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            for account, state in (("mis", "running"), ("mis", "done"), ("b", "pending")):
                await txn.execute(
                    "INSERT INTO import_batches (account, kind, state, created_at, updated_at)"
                    " VALUES (?, 'products', ?, 1.0, 1.0)",
                    (account, state),
                )
            await txn.execute(
                "INSERT INTO import_batches (account, kind, state, created_at, updated_at)"
                " VALUES ('mis', 'prices', 'pending', 2.0, 2.0)"
            )
        async with db.reading() as txn:
            batches = await unfinished_batches(txn, "mis")
            assert [(b.id, b.kind, b.state) for b in batches] == [
                (1, "products", "running"),
                (4, "prices", "pending"),
            ]
            batch = await import_batch(txn, 2)
            assert batch is not None and (batch.state, batch.pages, batch.records) == ("done", 0, 0)
            assert await import_batch(txn, 99) is None

    run_in_store(tmp_path, body)


# --- alerts ---------------------------------------------------------------------------------


def test_alert_outbox_round_trip(tmp_path: Path) -> None:
    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            first = await insert_alert(
                txn,
                NewAlert(
                    "mis",
                    "connection down",
                    "m",
                    10.0,
                    recipients=("a@example.org",),
                    mail_status="pending",
                    mail_next_at=10.0,
                ),
            )
            later = await insert_alert(
                txn, NewAlert("mis", "x", "m", 20.0, mail_status="pending", mail_next_at=50.0)
            )
            await insert_alert(txn, NewAlert("mis", "connection recovered", "m", 30.0))
            await insert_alert(txn, NewAlert("other", "connection down", "m", 40.0))
        async with db.transaction() as txn:
            [due] = await due_alert_mails(txn, now=20.0)
            assert (due.id, due.recipients, due.mail_attempts) == (first, ("a@example.org",), 0)
            assert await next_alert_mail_at(txn) == 10.0
            latest = await latest_alert(txn, "mis", ("connection down", "connection recovered"))
            assert latest is not None and latest.subject == "connection recovered"
            assert await latest_alert(txn, "nobody", ("connection down",)) is None
            await mark_alert_mailed(txn, first, 21.0)
            await mark_alert_mail_failed(
                txn, later, give_up=False, attempts=1, next_at=60.0, error="refused"
            )
        async with db.transaction() as txn:
            assert await due_alert_mails(txn, now=55.0) == [], "sent, and the retry is later"
            assert await next_alert_mail_at(txn) == 60.0
            [retry] = await due_alert_mails(txn, now=60.0)
            assert (retry.mail_attempts, retry.mail_error) == (1, "refused")
            await mark_alert_mail_failed(
                txn, later, give_up=True, attempts=2, next_at=None, error="refused"
            )
            assert await next_alert_mail_at(txn) is None
            assert await alert_mail_counts(txn) == {"sent": 1, "failed": 1, "none": 2}
            sent = await latest_alert(txn, "mis", ("connection down",))
        assert sent is not None and (sent.mail_status, sent.mailed_at) == ("sent", 21.0)
        assert sent.mail_attempts == 1 and sent.mail_error is None

    run_in_store(tmp_path, body)


def test_a_snapshot_saved_with_its_order_is_read_back_without_decoding(tmp_path: Path) -> None:
    """The engine stores an order it has decoded: the push's read gets that very Order, equal
    to what decoding the stored text gives."""

    async def body(db: Database) -> None:
        order = make_order("7002", site="shop")
        async with db.transaction() as txn:
            event = await inbox.insert_event(txn, inbox.NewEvent("t", "1", "k", {}), 1.0)
            await save_snapshot(txn, "shop", "7002", order.to_json(), event.id, 2.0, decoded=order)
        async with db.reading() as txn:
            read = await stored_order(txn, "shop", "7002")
            text = await txn.scalar("SELECT snapshot FROM orders WHERE order_number = '7002'")
        assert read is order
        assert Order.from_json(json.loads(text)) == order

    run_in_store(tmp_path, body)


def test_a_stored_order_decodes_once_while_its_snapshot_text_stays_the_same(
    tmp_path: Path,
) -> None:
    """The same snapshot text gives the same (frozen) Order; a new snapshot a new one."""

    async def body(db: Database) -> None:
        async with db.transaction() as txn:
            await store_order(txn, "shop", "7001", 10.0)
        async with db.reading() as txn:
            first = await stored_order(txn, "shop", "7001")
            again = await stored_order(txn, "shop", "7001")
        assert first is not None and again is first
        changed = make_order("7001", site="shop")
        changed = dataclasses.replace(changed, notes="rush, please")
        async with db.transaction() as txn:
            await txn.execute(
                "UPDATE orders SET snapshot = ? WHERE site = ? AND order_number = ?",
                (json.dumps(changed.to_json()), "shop", "7001"),
            )
        async with db.reading() as txn:
            newer = await stored_order(txn, "shop", "7001")
        assert newer is not None and newer is not first and newer.notes == "rush, please"
        assert newer == changed

    run_in_store(tmp_path, body)
