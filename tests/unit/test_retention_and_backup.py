"""Data lifecycle on a real SQLite store: retention prunes only finished history, a backup is a
checked copy, and a migration keeps a copy of the store it upgrades."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import anyio
import pytest

from daemon.errors import MigrationError, StoreError
from daemon.store.backup import backup_file
from daemon.store.database import Database, migrations
from daemon.store.retention import prune

DAY = 86400.0
NOW = 1_800_000_000.0
OLD = NOW - 100 * DAY
RECENT = NOW - 10 * DAY


async def _event(db: Database, key: str, status: str, at: float, subject: str | None) -> int:
    async with db.transaction() as txn:
        return await txn.execute(
            "INSERT INTO events (source, dedupe_key, kind, subject, payload, status, received_at)"
            " VALUES ('t', ?, 'k', ?, '{}', ?, ?)",
            (key, subject, status, at),
        )


async def _item(db: Database, order: str, seq: int, state: str) -> int:
    async with db.transaction() as txn:
        return await txn.execute(
            "INSERT INTO items (site, order_number, seq, account, state, created_at, updated_at)"
            " VALUES ('shop', ?, ?, 'mis', ?, ?, ?)",
            (order, seq, state, OLD, OLD),
        )


async def _transition(db: Database, item: int, event: int | None, at: float) -> int:
    async with db.transaction() as txn:
        return await txn.execute(
            "INSERT INTO transitions (chart, subject_id, from_state, to_state, trigger,"
            " event_id, at) VALUES ('order_item', ?, 'a', 'b', 't', ?, ?)",
            (item, event, at),
        )


def _ids(path: Path, table: str) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {int(r[0]) for r in conn.execute(f"SELECT id FROM {table}")}


def test_retention_prunes_only_old_finished_unreferenced_history(tmp_path: Path) -> None:
    path = tmp_path / "esd.sqlite3"
    kept: dict[str, tuple[str, int]] = {}
    gone: dict[str, tuple[str, int]] = {}

    async def main() -> None:
        db = await Database.open(path)
        # Order 1: finished (pushed + excluded), all old: its history goes, but the event its
        # order row points at (the last snapshot) stays.
        pushed = await _item(db, "1", 1, "pushed")
        excluded = await _item(db, "1", 2, "excluded")
        snapshot = await _event(db, "snap-1", "done", OLD, "shop/1")
        async with db.transaction() as txn:
            await txn.execute(
                "INSERT INTO orders (site, order_number, snapshot, event_id, updated_at)"
                " VALUES ('shop', '1', '{}', ?, ?)",
                (snapshot, OLD),
            )
        kept["snapshot event"] = ("events", snapshot)
        gone["webhook of a finished order"] = (
            "events",
            await _event(db, "wh-1", "done", OLD, "shop/1"),
        )
        caused = await _event(db, "caused-1", "done", OLD, "shop/1")
        gone["event a pruned transition named"] = ("events", caused)
        gone["old transition of a finished item"] = (
            "transitions",
            await _transition(db, pushed, caused, OLD),
        )
        gone["old transition, other finished item"] = (
            "transitions",
            await _transition(db, excluded, None, OLD),
        )
        kept["recent transition of a finished item"] = (
            "transitions",
            await _transition(db, pushed, None, RECENT),
        )
        # Order 2: one item still failed (needs the operator): nothing of it goes.
        await _item(db, "2", 1, "pushed")
        failed = await _item(db, "2", 2, "failed")
        kept["webhook of an unfinished order"] = (
            "events",
            await _event(db, "wh-2", "done", OLD, "shop/2"),
        )
        kept["old transition of an unfinished order"] = (
            "transitions",
            await _transition(db, failed, None, OLD),
        )
        # Never pruned: pending and poisoned events, however old; recent done events.
        kept["pending event"] = ("events", await _event(db, "p", "pending", OLD, None))
        kept["poisoned event"] = ("events", await _event(db, "x", "poisoned", OLD, "shop/9"))
        kept["recent done event"] = ("events", await _event(db, "r", "done", RECENT, None))
        gone["old done event without subject"] = (
            "events",
            await _event(db, "o", "done", OLD, None),
        )
        # An alert's event stays.
        alerted = await _event(db, "al", "done", OLD, None)
        async with db.transaction() as txn:
            await txn.execute(
                "INSERT INTO alerts (account, subject, message, event_id, created_at)"
                " VALUES ('mis', 's', 'm', ?, ?)",
                (alerted, OLD),
            )
        kept["alerted event"] = ("events", alerted)

        # Batches of 1 row: every batch boundary is crossed, and the result is the same.
        pruned = await prune(db, before=NOW - 90 * DAY, batch=1)
        assert (pruned.transitions, pruned.events) == (2, 3)
        assert pruned.batches == 2 + 1 + 3 + 1
        again = await prune(db, before=NOW - 90 * DAY)
        assert (again.transitions, again.events) == (0, 0)
        await db.close()

    anyio.run(main)
    remaining = {(table, row) for table in ("events", "transitions") for row in _ids(path, table)}
    for what, key in kept.items():
        assert key in remaining, f"{what} was pruned"
    for what, key in gone.items():
        assert key not in remaining, f"{what} was kept"


def test_backup_is_a_checked_copy_while_the_store_is_open(tmp_path: Path) -> None:
    path = tmp_path / "esd.sqlite3"
    copy = tmp_path / "copy.sqlite3"

    async def main() -> None:
        db = await Database.open(path)
        for n in range(50):
            await _event(db, f"k{n}", "done", NOW, None)
        # The daemon keeps its connection open, with the last commits in the WAL only.
        done = await anyio.to_thread.run_sync(backup_file, path, copy)
        assert done.schema_version == len(migrations())
        assert done.bytes == copy.stat().st_size > 0
        await _event(db, "after", "done", NOW, None)
        with pytest.raises(StoreError, match="exists"):
            backup_file(path, copy)
        backup_file(path, copy, overwrite=True)
        await db.close()

    anyio.run(main)
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 51
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list(tmp_path.glob(".copy.sqlite3.partial-*"))
    with pytest.raises(StoreError, match="no store"):
        backup_file(tmp_path / "absent.sqlite3", tmp_path / "x.sqlite3")


def test_a_migration_keeps_a_copy_of_the_store_it_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "esd.sqlite3"
    latest = len(migrations())

    async def main() -> None:
        old = await Database.open(path, migrate=False)
        await old.migrate(target=latest - 1)
        await _event(old, "before-upgrade", "done", NOW, None)
        await old.close()
        upgraded = await Database.open(path)
        assert await upgraded.version() == latest
        await upgraded.close()

    anyio.run(main)
    copy = tmp_path / f"esd.sqlite3.before-v{latest}-from-v{latest - 1}"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest - 1
        assert conn.execute("SELECT dedupe_key FROM events").fetchall() == [("before-upgrade",)]
    # A fresh store has nothing to keep: no copy.
    anyio.run(_open_close, tmp_path / "fresh.sqlite3")
    assert not list(tmp_path.glob("fresh.sqlite3.before-*"))


async def _open_close(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def test_no_copy_means_no_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "esd.sqlite3"
    latest = len(migrations())
    copy = f"esd.sqlite3.before-v{latest}-from-v{latest - 1}"

    async def main() -> None:
        old = await Database.open(path, migrate=False)
        await old.migrate(target=latest - 1)
        await old.close()
        # The copy's temporary file cannot be written (a directory holds its name; works as
        # root too, unlike a read-only directory).
        (tmp_path / f".{copy}.partial-{os.getpid()}").mkdir()
        with pytest.raises(MigrationError, match="could not keep a copy first"):
            await Database.open(path)
        unchanged = await Database.open(path, migrate=False)
        assert await unchanged.version() == latest - 1
        await unchanged.close()

    anyio.run(main)
    assert not (tmp_path / copy).exists()
