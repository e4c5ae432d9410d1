"""The SQLite store: WAL, forward-only migrations from empty and from every earlier version."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from daemon.errors import MigrationError
from daemon.store import inbox
from daemon.store.database import Database, Txn, WriterTurns, migrations


def schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_migrations_are_numbered_without_gaps() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))


def test_from_empty_sets_wal_and_latest_version(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        assert await db.version() == len(migrations())
        async with db.exclusive() as txn:  # the writing connection
            assert await txn.scalar("PRAGMA journal_mode") == "wal"
            assert await txn.scalar("PRAGMA synchronous") == 2  # FULL
        await db.close()

    anyio.run(main)


@pytest.mark.parametrize("start", range(len(migrations()) + 1))
def test_from_every_earlier_version_reaches_the_same_schema(tmp_path: Path, start: int) -> None:
    async def main() -> None:
        fresh = await Database.open(tmp_path / "fresh.sqlite3")
        await fresh.close()
        old = await Database.open(tmp_path / "old.sqlite3", migrate=False)
        await old.migrate(target=start)
        assert await old.version() == start
        applied = await old.migrate()
        assert applied == list(range(start + 1, len(migrations()) + 1))
        await old.close()

    anyio.run(main)
    assert schema(tmp_path / "old.sqlite3") == schema(tmp_path / "fresh.sqlite3")


def test_a_store_from_a_newer_esd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")

    async def main() -> None:
        with pytest.raises(MigrationError, match="newer than this esd"):
            await Database.open(path)

    anyio.run(main)


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        with pytest.raises(RuntimeError):
            async with db.transaction() as txn:
                await inbox.insert_event(txn, inbox.NewEvent("s", "k", "x", {}), 1.0)
                raise RuntimeError("boom")
        async with db.reading() as txn:
            assert await txn.scalar("SELECT COUNT(*) FROM events") == 0
        await db.close()

    anyio.run(main)


def test_group_commit_shares_transactions_and_dedupes(tmp_path: Path) -> None:
    class Clock:
        def now(self) -> float:
            return 1.0

    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        committer = inbox.GroupCommitter(db, Clock())
        commits = 0

        def counted() -> None:
            nonlocal commits
            commits += 1

        committer.on_commit.append(counted)
        results: list[inbox.Stored] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(committer.run)

            async def produce(i: int) -> None:
                results.append(await committer.store(inbox.NewEvent("s", f"k{i % 50}", "x", {})))

            async with anyio.create_task_group() as producers:
                for i in range(100):
                    producers.start_soon(produce, i)
            tg.cancel_scope.cancel()
        assert len(results) == 100
        assert sum(not r.duplicate for r in results) == 50
        assert commits < 100, "concurrent producers shared commits"
        async with db.reading() as txn:
            assert await txn.scalar("SELECT COUNT(*) FROM events") == 50
        await db.close()

    anyio.run(main)


def test_rows_written_at_version_1_survive_every_later_migration(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "v1.sqlite3", migrate=False)
        await db.migrate(target=1)
        async with db.transaction() as txn:
            await txn.execute(
                "INSERT INTO alerts (account, subject, message, created_at) VALUES (?, ?, ?, ?)",
                ("mis", "shop/1001", "customer not found", 1.0),
            )
            await inbox.insert_event(txn, inbox.NewEvent("s", "k", "x", {"a": 1}), 1.0)
        await db.migrate()
        async with db.reading() as txn:
            alert = await txn.fetchone("SELECT * FROM alerts")
            event = await txn.fetchone("SELECT payload FROM events")
        assert alert is not None and alert["message"] == "customer not found"
        assert alert["mail_status"] == "none" and alert["recipients"] == "[]"
        assert event is not None and event[0] == '{"a":1}'
        await db.close()

    anyio.run(main)


def test_write_commits_in_one_call_or_rolls_back(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "w.sqlite3")

        def ok(raw: sqlite3.Connection) -> int:
            raw.execute("INSERT INTO timers (kind, subject, due_at) VALUES ('k', 's', 1)")
            return 7

        def boom(raw: sqlite3.Connection) -> None:
            raw.execute("INSERT INTO timers (kind, subject, due_at) VALUES ('k', 't', 1)")
            raise RuntimeError("boom")

        assert await db.write(ok) == 7
        with pytest.raises(RuntimeError):
            await db.write(boom)
        async with db.reading() as txn:
            assert await txn.scalar("SELECT group_concat(subject) FROM timers") == "s"
        await db.close()

    anyio.run(main)


def test_a_write_that_is_not_power_safe_is_committed_and_leaves_full_sync(tmp_path: Path) -> None:
    """`power_safe=False` (the push journal) skips the fsync of that one commit only: the row is
    committed (another connection sees it) and every later commit is FULL again, also after a
    failed one."""

    async def main() -> None:
        db = await Database.open(tmp_path / "n.sqlite3")
        seen: list[int] = []

        def insert(raw: sqlite3.Connection) -> None:
            seen.append(raw.execute("PRAGMA synchronous").fetchone()[0])
            raw.execute("INSERT INTO timers (kind, subject, due_at) VALUES ('k', 'n', 1)")

        def boom(raw: sqlite3.Connection) -> None:
            seen.append(raw.execute("PRAGMA synchronous").fetchone()[0])
            raise RuntimeError("boom")

        def after(raw: sqlite3.Connection) -> int:
            return int(raw.execute("PRAGMA synchronous").fetchone()[0])

        await db.write(insert, power_safe=False)
        with pytest.raises(RuntimeError):
            await db.write(boom, power_safe=False)
        assert seen == [1, 1]  # NORMAL inside those transactions
        assert await db.write(after) == 2  # FULL again
        other = sqlite3.connect(tmp_path / "n.sqlite3")
        try:
            assert other.execute("SELECT subject FROM timers").fetchall() == [("n",)]
        finally:
            other.close()
        await db.close()

    anyio.run(main)


def test_a_transaction_that_is_not_power_safe_commits_and_leaves_full_sync(
    tmp_path: Path,
) -> None:
    """`transaction(power_safe=False)` (a driver's claim and result) commits at NORMAL, seen by
    another connection; FULL holds again after it, after one that raised, and in the next
    power-safe transaction."""

    async def main() -> None:
        db = await Database.open(tmp_path / "t.sqlite3")
        try:
            levels: list[int] = []
            async with db.transaction(power_safe=False) as txn:
                levels.append(await txn.scalar("PRAGMA synchronous"))
                await txn.execute("INSERT INTO timers (kind, subject, due_at) VALUES ('k', 'a', 1)")
            with pytest.raises(RuntimeError):
                async with db.transaction(power_safe=False) as txn:
                    await txn.execute(
                        "INSERT INTO timers (kind, subject, due_at) VALUES ('k', 'b', 1)"
                    )
                    raise RuntimeError("boom")
            async with db.transaction() as txn:
                levels.append(await txn.scalar("PRAGMA synchronous"))
            async with db.exclusive() as txn:
                levels.append(await txn.scalar("PRAGMA synchronous"))
            assert levels == [1, 2, 2]
            other = sqlite3.connect(tmp_path / "t.sqlite3")
            try:
                assert other.execute("SELECT subject FROM timers").fetchall() == [("a",)]
            finally:
                other.close()
        finally:
            await db.close()

    anyio.run(main)


def test_a_prompt_transaction_on_a_free_store_runs_without_a_turn_of_the_event_loop(
    tmp_path: Path,
) -> None:
    """A claim or a result (not power-safe, inline) on a free store goes from the lock to its
    commit with no other task running in between; one that finds the lock held waits."""

    async def main() -> tuple[list[str], list[str]]:
        db = await Database.open(tmp_path / "t.sqlite3")
        ran: list[str] = []

        async def other() -> None:
            ran.append("other")

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(other)
                async with db.transaction(power_safe=False) as txn:
                    await txn.execute(
                        "INSERT INTO timers (kind, subject, due_at) VALUES ('k', 'a', 1)"
                    )
                    free = list(ran)
            held: list[str] = []
            async with anyio.create_task_group() as tg, db.transaction() as txn:

                async def prompt() -> None:
                    async with db.transaction(power_safe=False):
                        held.append("prompt")

                tg.start_soon(prompt)
                await anyio.wait_all_tasks_blocked()
                held.append("holder")
        finally:
            await db.close()
        return free, held

    assert anyio.run(main) == ([], ["holder", "prompt"])


def test_prompt_writers_take_their_turn_before_power_safe_ones_each_in_arrival_order() -> None:
    async def main() -> list[str]:
        turns, order = WriterTurns(), []

        async def writer(name: str, prompt: bool) -> None:
            await turns.acquire(prompt=prompt)
            order.append(name)
            await anyio.lowlevel.checkpoint()  # others may queue meanwhile: they wait
            turns.release()

        await turns.acquire(prompt=False)
        async with anyio.create_task_group() as tg:
            for name, prompt in (("safe 1", False), ("prompt 1", True), ("safe 2", False)):
                tg.start_soon(writer, name, prompt)
                await anyio.wait_all_tasks_blocked()
            tg.start_soon(writer, "prompt 2", True)
            await anyio.wait_all_tasks_blocked()
            turns.release()
        assert not turns.locked()
        return order

    assert anyio.run(main) == ["prompt 1", "prompt 2", "safe 1", "safe 2"]


def test_a_writer_cancelled_in_the_queue_loses_its_turn_and_the_lock_goes_on() -> None:
    """Cancelled while it waits: skipped. Cancelled once handed the turn, before it ran (a
    task cancelled by asyncio itself): it passes the turn on. The lock is free at the end."""

    async def main() -> list[str]:
        turns, order = WriterTurns(), []
        tasks: dict[str, asyncio.Task[Any]] = {}

        async def writer(name: str) -> None:
            tasks[name] = asyncio.current_task()  # type: ignore[assignment]
            try:
                await turns.acquire(prompt=True)
            except asyncio.CancelledError:
                order.append(f"{name} cancelled")
                return
            order.append(name)
            turns.release()

        await turns.acquire(prompt=False)
        async with anyio.create_task_group() as tg:
            for name in ("gone", "handed", "last"):
                tg.start_soon(writer, name)
            await anyio.wait_all_tasks_blocked()
            tasks["gone"].cancel()
            await anyio.wait_all_tasks_blocked()
            turns.release()  # hands the turn to "handed", cancelled before it runs
            tasks["handed"].cancel()
        assert not turns.locked()
        return order

    assert anyio.run(main) == ["gone cancelled", "handed cancelled", "last"]


def test_checkpoints_keep_the_wal_small_without_the_automatic_one(tmp_path: Path) -> None:
    """SQLite's automatic checkpoint is off (it could sync the disk on the event loop); ours
    run on the SQLite thread every so many commits, so thousands of commits, inline and
    power-safe, leave a WAL of a few pages, not thousands."""

    async def main() -> None:
        db = await Database.open(tmp_path / "w.sqlite3")
        try:
            async with db.exclusive() as txn:
                assert await txn.scalar("PRAGMA wal_autocheckpoint") == 0
            blob = "x" * 3000  # about a page a row
            for n in range(1500):
                async with db.transaction(power_safe=n % 3 == 0) as txn:
                    await txn.execute(
                        "INSERT INTO timers (kind, subject, due_at, payload) VALUES (?, ?, 1, ?)",
                        ("k", str(n), blob),
                    )
            wal = (tmp_path / "w.sqlite3-wal").stat().st_size
            main = (tmp_path / "w.sqlite3").stat().st_size
            # Without checkpoints the WAL holds every commit's pages (about 4 each: 6000, 24
            # MiB) and the database file none of the rows; with one every 200 commits the WAL
            # holds about 200 commits' worth (it is reused from its start, never shrunk), and
            # at least the first 1200 rows are in the database file.
            assert wal < 1500 * 4096, wal
            assert main > 1200 * 3000, main
        finally:
            await db.close()

    anyio.run(main)


def test_the_journal_writes_behind_the_driver_and_flush_waits_for_every_step(
    tmp_path: Path,
) -> None:
    """`record` returns before its write commits (the driver's next MIS call overlaps it);
    `flush` (the actor's, after each push) waits until every step is in the store, in order,
    and a write that failed is raised there, not lost."""
    from daemon.store.journal import StoreJournal
    from tests.helpers import ManualClock

    async def main() -> None:
        db = await Database.open(tmp_path / "j.sqlite3")
        journal = await StoreJournal.load(db, "shop", "1001", "pace", ManualClock())
        await journal.record("customer", {"id": "C1"})
        await journal.record("job", {"job": "J7"})
        assert journal.get("job") == {"job": "J7"}  # known at once, in memory
        await journal.flush()
        again = await StoreJournal.load(db, "shop", "1001", "pace", ManualClock())
        assert again.steps == {"customer": {"id": "C1"}, "job": {"job": "J7"}}
        await db.close()
        closed = StoreJournal(db, "shop", "1002", "pace", {}, ManualClock())
        await closed.record("customer", {"id": "C2"})  # its write fails: the store is closed
        with pytest.raises(Exception):  # noqa: B017 - whatever aiosqlite raises for a closed db
            await closed.flush()

    anyio.run(main)


async def _add_timer(txn: Txn, subject: str) -> None:
    await txn.execute("INSERT INTO timers (kind, subject, due_at) VALUES ('k', ?, 1)", (subject,))


async def _timer_subjects(db: Database) -> list[str]:
    async with db.reading() as txn:
        return [r[0] for r in await txn.fetchall("SELECT subject FROM timers ORDER BY subject")]


def test_a_reading_runs_beside_an_open_write_and_sees_only_what_is_committed(
    tmp_path: Path,
) -> None:
    """Readers have connections of their own (WAL lets them read beside the writer): a reading
    does not wait for a transaction in progress, nor sees its rows before the commit."""

    async def main() -> None:
        db = await Database.open(tmp_path / "r.sqlite3")
        try:
            with anyio.fail_after(10):  # a reading that waited for the writer's lock: a hang
                async with db.transaction() as txn:
                    await _add_timer(txn, "a")
                    assert await _timer_subjects(db) == []
            assert await _timer_subjects(db) == ["a"]
        finally:
            await db.close()

    anyio.run(main)


def test_a_reading_block_reads_one_snapshot(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "s.sqlite3")
        try:
            with anyio.fail_after(10):
                async with db.reading() as txn:
                    before = await txn.scalar("SELECT count(*) FROM timers")
                    async with db.transaction() as write:
                        await _add_timer(write, "b")
                    assert await txn.scalar("SELECT count(*) FROM timers") == before == 0
                    off_loop = await txn.off_loop().scalar("SELECT count(*) FROM timers")
                    assert off_loop == 0, "its statements on a thread read the same snapshot"
            assert await _timer_subjects(db) == ["b"], "the next block sees the commit"
        finally:
            await db.close()

    anyio.run(main)


def test_a_write_through_a_reading_is_refused_and_the_store_stays_usable(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "q.sqlite3")
        try:
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                async with db.reading() as txn:
                    await _add_timer(txn, "c")
            assert await _timer_subjects(db) == []
            async with db.transaction() as txn:
                await _add_timer(txn, "d")
            assert await _timer_subjects(db) == ["d"]
        finally:
            await db.close()

    anyio.run(main)
